"""Routing config as plain records: Istio's VirtualServices and
DestinationRules, Gateway API HTTPRoutes, and the rollout controllers that
drive them (Argo Rollouts' Rollout, Flagger's Canary).

Hosts resolve as Istio does for mesh services: a short name (`reviews`)
against the object's namespace; `reviews.default`, `reviews.default.svc` and
`reviews.default.svc.cluster.local` name the service `reviews` in `default`.
Wildcards and external names are not mesh services and are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

VIRTUAL_SERVICE, DESTINATION_RULE = "VirtualService", "DestinationRule"
HTTP_ROUTE, ROLLOUT, FLAGGER_CANARY = "HTTPRoute", "Rollout", "Canary"
# The API groups of the kinds above that are not Istio's (OpenKruise, for
# one, has a `Rollout` kind of its own).
GATEWAY_API_GROUP, ARGO_GROUP, FLAGGER_GROUP = "gateway.networking.k8s.io", "argoproj.io", "flagger.app"


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
class HTTPRoute:
    """A Gateway API HTTPRoute: its rules as routes (`matches` in words,
    backendRefs as weighted destinations, weight 1 when not written) and
    what it is attached to: `parents` as (kind, name, namespace); a route
    attached to a Service (GAMMA) routes the mesh's requests to that Service."""

    name: str
    namespace: str
    origin: str
    parents: tuple[tuple[str, str, str], ...]
    rules: tuple[Route, ...]

    def parent_services(self) -> list[tuple[str, str]]:
        return [(name, namespace) for kind, name, namespace in self.parents if kind == "Service"]

    def backend_services(self) -> set[tuple[str, str]]:
        return {(d.service, d.namespace) for rule in self.rules for d in rule.destinations}


@dataclass(frozen=True)
class Rollout:
    """An Argo Rollouts Rollout, as far as the canary view needs it.

    stable/canary: the Services (`stableService`/`canaryService`, or
    blue-green's `activeService`/`previewService`); stable/canary_subset:
    the DestinationRule subsets of Istio subset-level routing; the
    VirtualServices and HTTPRoutes (Gateway API plugin) it drives;
    `step_weights`: each step's `setWeight` (None for other steps). From
    the status: `phase` (Healthy, Progressing, Paused, Degraded), the
    current step index, `aborted`, the weight it set on the route
    (`status.canary.weights.canary.weight`, traffic routing only) and the
    pod-template hashes of the stable and current ReplicaSets."""

    name: str
    namespace: str
    origin: str
    strategy: str  # canary or blueGreen
    stable: str | None = None
    canary: str | None = None
    stable_subset: str | None = None
    canary_subset: str | None = None
    virtual_services: tuple[str, ...] = ()
    http_routes: tuple[str, ...] = ()
    step_weights: tuple[int | None, ...] = ()
    phase: str | None = None
    step_index: int | None = None
    aborted: bool = False
    weight: int | None = None
    stable_hash: str | None = None
    current_hash: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class FlaggerCanary:
    """A Flagger Canary: its target Deployment and apex Service (the primary
    and canary Services are `<apex>-primary` and `<apex>-canary`), and from
    the status its phase and the canary's weight (percent)."""

    name: str
    namespace: str
    origin: str
    target: str
    service: str
    phase: str | None = None
    weight: int | None = None
    failed_checks: int | None = None
    message: str | None = None

    @property
    def primary(self) -> str:
        return f"{self.service}-primary"

    @property
    def canary(self) -> str:
        return f"{self.service}-canary"


@dataclass(frozen=True)
class IstioConfig:
    """The routing objects known, and where they were read from."""

    virtual_services: tuple[VirtualService, ...] = ()
    destination_rules: tuple[DestinationRule, ...] = ()
    origin: str = ""
    http_routes: tuple[HTTPRoute, ...] = ()
    rollouts: tuple[Rollout, ...] = ()
    flagger_canaries: tuple[FlaggerCanary, ...] = ()

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
