"""Istio routing config as plain records: VirtualServices and DestinationRules.

Hosts resolve as Istio does for mesh services: a short name (`reviews`)
against the object's namespace; `reviews.default`, `reviews.default.svc` and
`reviews.default.svc.cluster.local` name the service `reviews` in `default`.
Wildcards and external names are not mesh services and are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

VIRTUAL_SERVICE, DESTINATION_RULE = "VirtualService", "DestinationRule"


@dataclass(frozen=True)
class RouteDestination:
    """One weighted destination of a route; `weight` as written (Istio's int)."""

    service: str
    namespace: str
    subset: str | None
    weight: int | None


@dataclass(frozen=True)
class Mirror:
    """A shadow copy of a route's requests (`mirror` + `mirrorPercentage`, or `mirrors`)."""

    service: str
    namespace: str
    subset: str | None
    percent: float


@dataclass(frozen=True)
class Route:
    """One `spec.http[i]` (or tcp/tls) route, in evaluation order.

    `matches` describes the match blocks in words; empty means the route
    takes every request that reaches it (the catch-all)."""

    path: str
    matches: tuple[str, ...]
    destinations: tuple[RouteDestination, ...]
    mirrors: tuple[Mirror, ...] = ()

    def fractions(self) -> list[tuple[RouteDestination, float]]:
        """Each destination's share, weight / sum of weights; a lone
        destination takes everything whatever its weight (Istio's rule)."""
        if len(self.destinations) == 1:
            return [(self.destinations[0], 1.0)]
        total = sum(d.weight or 0 for d in self.destinations)
        return [(d, (d.weight or 0) / total) for d in self.destinations]


@dataclass(frozen=True)
class VirtualService:
    name: str
    namespace: str
    origin: str
    hosts: tuple[tuple[str, str], ...]
    routes: tuple[Route, ...]
    mesh: bool = True  # False when bound only to gateways (not sidecar traffic)


@dataclass(frozen=True)
class DestinationRule:
    name: str
    namespace: str
    origin: str
    service: str
    service_namespace: str
    subsets: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]

    def labels_of(self, subset: str) -> dict[str, str] | None:
        return next((dict(labels) for name, labels in self.subsets if name == subset), None)


@dataclass(frozen=True)
class IstioConfig:
    """The routing objects known, and where they were read from."""

    virtual_services: tuple[VirtualService, ...] = ()
    destination_rules: tuple[DestinationRule, ...] = ()
    origin: str = ""

    def virtual_services_for(self, service: str, namespace: str) -> list[VirtualService]:
        """The VirtualServices routing sidecar traffic for the service, in order."""
        return [vs for vs in self.virtual_services if vs.mesh and (service, namespace) in vs.hosts]

    def destination_rule_for(self, service: str, namespace: str) -> DestinationRule | None:
        return next(
            (
                dr
                for dr in self.destination_rules
                if (dr.service, dr.service_namespace) == (service, namespace)
            ),
            None,
        )

    def services(self) -> set[tuple[str, str]]:
        """Every (service, namespace) a VirtualService routes or a DestinationRule subsets."""
        named = {host for vs in self.virtual_services if vs.mesh for host in vs.hosts}
        return named | {(dr.service, dr.service_namespace) for dr in self.destination_rules if dr.subsets}


def resolve_host(host: str, namespace: str) -> tuple[str, str] | None:
    """(service, namespace) of a mesh host name, or None for wildcards and external names."""
    name = host.strip().lower().rstrip(".")
    if not name or "*" in name:
        return None
    parts = name.split(".")
    if len(parts) == 1:
        return parts[0], namespace
    if len(parts) == 2 or parts[2] == "svc":
        return parts[0], parts[1]
    return None
