"""What the routing config says about one release's versions: the catch-all
route's weights per version (DestinationRule subsets map to versions by their
labels), mirrors, routes that match on request content, the strategy, and
all of it in an SRE's words.

A release is one Service whose versions are its workloads' versions, or a
route that splits requests between Services (a VirtualService or an
HTTPRoute over `reviews-stable`/`reviews-canary`, Flagger's
`<apex>-primary`/`<apex>-canary`): the Services are then the versions of
one release (`Routing.services`), each version keyed by its Service's name
(`name.namespace` for another namespace's). Such a release is named after
the Service the route is for: a VirtualService's host, an HTTPRoute's
parent Service (GAMMA), else the rollout controller that drives the route,
else the Services' common stem (`reviews`), else the route's name."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dashboard.canary.versions import SHADOW_SUFFIX, service_key, version_sort_key
from dashboard.format import percent
from queries.istio.records import HTTP_ROUTE, VIRTUAL_SERVICE, HTTPRoute, IstioConfig, Route

# Labels a DestinationRule subset may use to select a version, most usual first.
VERSION_LABELS = ("version", "app.kubernetes.io/version", "service.istio.io/canonical-revision")


@dataclass(frozen=True)
class Routing:
    """What the route says about one release's versions.

    weights: version -> fraction of the catch-all route (None: no split by version);
    mirrors: version -> percent of requests mirrored to it;
    content_routes: matched routes in words, e.g. `header end-user exact "jason" -> v2`;
    strategy: "weighted", "blue-green", "single", "content" or "none";
    services: the (service, namespace) pairs that are the versions of a
    release split between Services, in the route's order (empty: the
    versions are one Service's workload versions);
    route: the object the weights come from, e.g. `HTTPRoute bookinfo/reviews`."""

    weights: dict[str, float] | None
    mirrors: dict[str, float]
    content_routes: tuple[str, ...]
    strategy: str
    notes: tuple[str, ...]
    origin: str
    services: tuple[tuple[str, str], ...] = ()
    route: str = ""


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


def _splits_services(route: Route) -> bool:
    return len({(d.service, d.namespace) for d in route.destinations}) > 1


def _targets(
    config: IstioConfig,
    route: Route,
    service: str,
    namespace: str,
    notes: list[str],
    by_service: bool,
) -> dict[str | None, float]:
    """Fraction of the route per version: per Service when the release is
    split between Services, else per version of this service (None: no
    subset; other services are noted and left out)."""
    targets: dict[str | None, float] = {}
    for destination, fraction in route.fractions():
        if by_service:
            key: str | None = service_key(destination.service, destination.namespace, namespace)
        elif (destination.service, destination.namespace) != (service, namespace):
            notes.append(
                f"{percent(fraction)} of {service}'s requests go to another service, "
                f"{destination.service}{'.' + destination.namespace if destination.namespace else ''}"
            )
            continue
        else:
            key = None
            if destination.subset:
                key, problem = subset_version(config, service, namespace, destination.subset)
                if problem:
                    notes.append(problem)
        targets[key] = targets.get(key, 0.0) + fraction
    return targets


def _routing(
    config: IstioConfig,
    routes: Sequence[Route],
    service: str,
    namespace: str,
    route: str,
    origin: str,
    notes: list[str],
) -> Routing:
    """The routing of one route object's routes (in evaluation order) for the release `service`."""
    catch_all = next((r for r in routes if not r.matches), None)
    by_service = catch_all is not None and _splits_services(catch_all)
    weights: dict[str, float] | None = None
    mirrors: dict[str, float] = {}
    content: list[str] = []
    for one in routes:
        for mirror in one.mirrors:
            if by_service:
                mirrors[service_key(mirror.service, mirror.namespace, namespace)] = mirror.percent
            elif (mirror.service, mirror.namespace) == (service, namespace) and mirror.subset:
                version = subset_version(config, service, namespace, mirror.subset)[0]
                mirrors[version] = max(mirrors.get(version, 0.0), mirror.percent)
            elif (mirror.service, mirror.namespace) == (service, namespace):
                notes.append(f"{one.path} mirrors to {service} without a subset")
        targets = _targets(config, one, service, namespace, notes, by_service)
        if one.matches:
            where = ", ".join(
                f"{v or service} {percent(f)}" if f < 1 else (v or service) for v, f in targets.items()
            )
            content.append(f"{' or '.join(one.matches)} -> {where or 'another service'}")
            continue
        if None in targets:
            notes.append(
                f"{route.split('/')[-1]} routes {percent(targets[None])} to {service} without a subset: "
                "it is spread over every version's pods, so no weight per version is configured"
            )
        else:
            weights = {str(v): f for v, f in targets.items()}
        break  # routes after the catch-all are never reached
    services: tuple[tuple[str, str], ...] = ()
    if by_service and catch_all is not None:
        services = tuple(dict.fromkeys((d.service, d.namespace) for d in catch_all.destinations))
    return Routing(
        weights=weights,
        mirrors=mirrors,
        content_routes=tuple(content),
        strategy=strategy_of(weights, content),
        notes=tuple(notes),
        origin=origin,
        services=services,
        route=route,
    )


def service_routing(config: IstioConfig | None, service: str, namespace: str) -> Routing | None:
    """The routing of the first VirtualService for the service, else of the
    HTTPRoute or rollout controller that splits a release of that name
    between Services (release_splits), or None."""
    virtual_services = config.virtual_services_for(service, namespace) if config else []
    if not virtual_services:
        return release_splits(config).get((service, namespace)) if config else None
    vs = virtual_services[0]
    notes: list[str] = []
    if len(virtual_services) > 1:
        others = ", ".join(f"{v.namespace}/{v.name}" for v in virtual_services[1:])
        notes.append(
            f"{len(virtual_services)} VirtualServices claim {service}.{namespace}; "
            f"using {vs.namespace}/{vs.name} ({vs.origin}), ignoring {others}"
        )
    route = f"{VIRTUAL_SERVICE} {vs.namespace}/{vs.name}"
    return _routing(config, vs.routes, service, namespace, route, vs.origin, notes)


def _stem(names: Sequence[str]) -> str:
    """The common start of the names, up to a last `-` (`reviews` of
    `reviews-stable` and `reviews-canary`)."""
    first, last = min(names), max(names)
    common = next((i for i, (a, b) in enumerate(zip(first, last)) if a != b), min(len(first), len(last)))
    return first[:common].rstrip("-") if "-" in first[:common] or common == len(first) else ""


def _http_route_release(config: IstioConfig, route: HTTPRoute) -> tuple[str, Routing] | None:
    """An HTTPRoute that splits requests between Services, as (release name, routing)."""
    backends = route.backend_services()
    if len(backends) < 2:
        return None
    same = [s for s, ns in backends if ns == route.namespace]
    controller = next(
        (
            name
            for name, services in controller_releases(config, route.namespace).items()
            if services <= set(same)
        ),
        None,
    )
    parents = [s for s, ns in route.parent_services() if ns == route.namespace]
    release = (parents[0] if parents else None) or controller or (_stem(same) if same else "") or route.name
    routing = _routing(
        config,
        route.rules,
        release,
        route.namespace,
        f"{HTTP_ROUTE} {route.namespace}/{route.name}",
        route.origin,
        [],
    )
    return release, routing


def controller_releases(config: IstioConfig, namespace: str) -> dict[str, set[str]]:
    """Releases the rollout controllers of the namespace name, and their
    Services: an Argo Rollout's stable and canary Services (by the Rollout's
    name), a Flagger Canary's primary and canary Services (by its apex)."""
    found = {
        r.name: {r.stable, r.canary}
        for r in config.rollouts
        if r.namespace == namespace and r.stable is not None and r.canary is not None
    }
    found |= {c.service: {c.primary, c.canary} for c in config.flagger_canaries if c.namespace == namespace}
    return {name: {s for s in services if s} for name, services in found.items()}


def release_splits(config: IstioConfig | None) -> dict[tuple[str, str], Routing]:
    """Every release split between Services that the config names and no
    VirtualService routes: by HTTPRoutes, or by a rollout controller alone
    (its Services, weights from the controller)."""
    if config is None:
        return {}
    found: dict[tuple[str, str], Routing] = {}
    for route in config.http_routes:
        named = _http_route_release(config, route)
        if named and (named[0], route.namespace) not in found:
            found[named[0], route.namespace] = named[1]
    claimed = {pair for routing in found.values() for pair in routing.services}
    for namespace in {r.namespace for r in config.rollouts} | {c.namespace for c in config.flagger_canaries}:
        for name, services in controller_releases(config, namespace).items():
            pairs = tuple(sorted((s, namespace) for s in services))
            if (name, namespace) in found or claimed & set(pairs):
                continue
            found[name, namespace] = Routing(
                weights=None,
                mirrors={},
                content_routes=(),
                strategy="none",
                notes=(),
                origin=config.origin,
                services=pairs,
            )
    return {key: routing for key, routing in found.items() if not config.virtual_services_for(*key)}


def strategy_of(weights: dict[str, float] | None, content: Sequence[str]) -> str:
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
