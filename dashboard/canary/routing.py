"""What the routing config says about one service's versions: the catch-all
route's weights per version (DestinationRule subsets map to versions by their
labels), mirrors, routes that match on request content, the strategy, and
all of it in an SRE's words."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dashboard.canary.versions import SHADOW_SUFFIX, version_sort_key
from dashboard.format import percent
from queries.istio.records import IstioConfig, Route

# Labels a DestinationRule subset may use to select a version, most usual first.
VERSION_LABELS = ("version", "app.kubernetes.io/version", "service.istio.io/canonical-revision")


@dataclass(frozen=True)
class Routing:
    """What the VirtualService says about one service's versions.

    weights: version -> fraction of the catch-all route (None: no split by version);
    mirrors: version -> percent of requests mirrored to it;
    content_routes: matched routes in words, e.g. `header end-user exact "jason" -> v2`;
    strategy: "weighted", "blue-green", "single", "content" or "none"."""

    weights: dict[str, float] | None
    mirrors: dict[str, float]
    content_routes: tuple[str, ...]
    strategy: str
    notes: tuple[str, ...]
    origin: str


def subset_version(config: IstioConfig, service: str, namespace: str, subset: str) -> tuple[str, str | None]:
    """(version, problem) of a route's subset, through the DestinationRule's labels."""
    rule = config.destination_rule_for(service, namespace)
    labels = rule.labels_of(subset) if rule else None
    if labels is None:
        return subset, (
            f"subset {subset!r} of {service} is defined by no DestinationRule: "
            "requests routed to it fail (503)"
        )
    return next((labels[key] for key in VERSION_LABELS if key in labels), subset), None


def subset_versions(config: IstioConfig | None, service: str, namespace: str) -> set[str]:
    """Versions the service's DestinationRule subsets select."""
    rule = config.destination_rule_for(service, namespace) if config else None
    return (
        {subset_version(config, service, namespace, name)[0] for name, _ in rule.subsets} if rule else set()
    )


def _targets(
    config: IstioConfig, route: Route, service: str, namespace: str, notes: list[str]
) -> dict[str | None, float]:
    """Fraction of the route per version of this service (None: no subset;
    other services are noted and left out)."""
    targets: dict[str | None, float] = {}
    for destination, fraction in route.fractions():
        if (destination.service, destination.namespace) != (service, namespace):
            notes.append(
                f"{percent(fraction)} of {service}'s requests go to another service, "
                f"{destination.service}{'.' + destination.namespace if destination.namespace else ''}"
            )
            continue
        version = None
        if destination.subset:
            version, problem = subset_version(config, service, namespace, destination.subset)
            if problem:
                notes.append(problem)
        targets[version] = targets.get(version, 0.0) + fraction
    return targets


def service_routing(config: IstioConfig | None, service: str, namespace: str) -> Routing | None:
    """The routing of the first VirtualService for the service, or None."""
    virtual_services = config.virtual_services_for(service, namespace) if config else []
    if not virtual_services:
        return None
    vs = virtual_services[0]
    notes: list[str] = []
    if len(virtual_services) > 1:
        others = ", ".join(f"{v.namespace}/{v.name}" for v in virtual_services[1:])
        notes.append(
            f"{len(virtual_services)} VirtualServices claim {service}.{namespace}; "
            f"using {vs.namespace}/{vs.name} ({vs.origin}), ignoring {others}"
        )
    weights: dict[str, float] | None = None
    mirrors: dict[str, float] = {}
    content: list[str] = []
    for route in vs.routes:
        for mirror in route.mirrors:
            if (mirror.service, mirror.namespace) == (service, namespace) and mirror.subset:
                version = subset_version(config, service, namespace, mirror.subset)[0]
                mirrors[version] = max(mirrors.get(version, 0.0), mirror.percent)
            elif (mirror.service, mirror.namespace) == (service, namespace):
                notes.append(f"{route.path} mirrors to {service} without a subset")
        targets = _targets(config, route, service, namespace, notes)
        if route.matches:
            where = ", ".join(
                f"{v or service} {percent(f)}" if f < 1 else (v or service) for v, f in targets.items()
            )
            content.append(f"{' or '.join(route.matches)} -> {where or 'another service'}")
            continue
        if None in targets:
            notes.append(
                f"{vs.name} routes {percent(targets[None])} to {service} without a subset: "
                "it is spread over every version's pods, so no weight per version is configured"
            )
        else:
            weights = {str(v): f for v, f in targets.items()}
        break  # routes after the catch-all are never reached
    return Routing(
        weights=weights,
        mirrors=mirrors,
        content_routes=tuple(content),
        strategy=_strategy(weights, content),
        notes=tuple(notes),
        origin=vs.origin,
    )


def _strategy(weights: dict[str, float] | None, content: Sequence[str]) -> str:
    if content:
        return "content"
    if not weights:
        return "none"
    if len(weights) == 1:
        return "single"
    if max(weights.values()) >= 1.0:
        return "blue-green"
    return "weighted"


def describe_routing(routing: Routing) -> list[str]:
    """The routing in an SRE's words, one sentence per fact."""
    words: list[str] = []
    weights = routing.weights or {}
    ordered = sorted(weights.items(), key=lambda item: version_sort_key(item[0]))
    if routing.strategy == "blue-green":
        live = next(v for v, f in ordered if f >= 1.0)
        standby = ", ".join(v for v, f in ordered if f < 1.0)
        words.append(f"blue-green switch: 100 % to {live}, {standby} on standby at 0 %")
    elif routing.strategy == "weighted":
        words.append("configured split " + " / ".join(f"{v} {percent(f)}" for v, f in ordered))
    for text in routing.content_routes:
        words.append(f"routed by request content: {text}")
    if routing.content_routes and weights:
        words.append(
            "other requests: "
            + " / ".join(f"{v} {percent(f)}" for v, f in ordered)
            + "; the observed split is not compared with these weights"
        )
    for version, pct in sorted(routing.mirrors.items()):
        words.append(
            f"mirroring {pct:g} % of requests to {version} (host {SHADOW_SUFFIX[1:]}): "
            f"its responses are discarded and it is not part of the split"
        )
    return words + list(routing.notes)
