"""The one parser of routing manifests, whatever they were read from:
VirtualServices and DestinationRules here, HTTPRoutes
(queries.istio.gateway_api), Argo Rollouts and Flagger Canaries
(queries.istio.rollouts). Bad or partial config raises ConfigError naming
the document and the field, e.g.
`istio/reviews-vs.yaml: spec.http[0].route[1].weight: expected an integer`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from queries import shape
from queries.errors import ConfigError
from queries.istio.gateway_api import http_route
from queries.istio.records import (
    ARGO_GROUP,
    DESTINATION_RULE,
    FLAGGER_CANARY,
    FLAGGER_GROUP,
    GATEWAY_API_GROUP,
    HTTP_ROUTE,
    ROLLOUT,
    VIRTUAL_SERVICE,
    DestinationRule,
    FlaggerCanary,
    HTTPRoute,
    IstioConfig,
    Mirror,
    Rollout,
    Route,
    RouteDestination,
    VirtualService,
    resolve_host,
)
from queries.istio.rollouts import flagger_canary, rollout
from queries.shape import MAPPING, ShapeError, at


def _mapping(value: Any, path: str, required: bool = False) -> dict[str, Any]:
    return shape.mapping(value, path, required=required, word=MAPPING)


def _percent(value: Any, path: str) -> float:
    return shape.number(value, path, 0, 100, "a percentage between 0 and 100")


# --- VirtualService ---------------------------------------------------------


def _describe_match(block: Any, path: str) -> str:
    """A match block in an SRE's words: `header end-user exact "jason" and uri prefix "/v2"`."""
    block = _mapping(block, path, required=True)
    words: list[str] = []
    for key, value in block.items():
        if key in ("name", "ignoreUriCase"):
            continue
        if key in ("headers", "queryParams", "withoutHeaders"):
            noun = {"headers": "header", "queryParams": "query", "withoutHeaders": "without header"}[key]
            for name, condition in _mapping(value, at(path, key)).items():
                words.append(f"{noun} {name} {_describe_condition(condition)}")
        elif key == "sourceLabels":
            labels = _mapping(value, at(path, key))
            words.append("source " + ",".join(f"{k}={v}" for k, v in labels.items()))
        elif isinstance(value, dict):
            words.append(f"{key} {_describe_condition(value)}")
        else:
            words.append(f"{key} {value}")
    return " and ".join(words) or "any request"


def _describe_condition(condition: Any) -> str:
    if isinstance(condition, dict) and condition:
        kind, value = next(iter(condition.items()))
        return f"{kind} {json.dumps(value)}"
    return "present"


def _destination(value: Any, path: str, namespace: str) -> tuple[str, str, str | None]:
    destination = _mapping(value, path, required=True)
    host = shape.string(destination.get("host"), at(path, "host"), required=True)
    subset = shape.string(destination.get("subset"), at(path, "subset"))
    resolved = resolve_host(host, namespace)
    if resolved is None:  # an external or wildcard host keeps its name; it never matches a mesh service
        resolved = (host, "")
    return resolved[0], resolved[1], subset


def _mirrors(route: dict[str, Any], path: str, namespace: str) -> list[Mirror]:
    mirrors = []
    if route.get("mirror") is not None:
        service, ns, subset = _destination(route["mirror"], at(path, "mirror"), namespace)
        percent = 100.0
        if route.get("mirrorPercentage") is not None:
            holder = _mapping(route["mirrorPercentage"], at(path, "mirrorPercentage"))
            percent = _percent(holder.get("value", 0), at(path, "mirrorPercentage.value"))
        elif route.get("mirrorPercent") is not None:  # deprecated integer form
            percent = _percent(
                shape.count(route["mirrorPercent"], at(path, "mirrorPercent")), at(path, "mirrorPercent")
            )
        mirrors.append(Mirror(service, ns, subset, percent))
    for j, item in enumerate(shape.items(route.get("mirrors"), at(path, "mirrors"))):
        item_path = at(at(path, "mirrors"), j)
        item = _mapping(item, item_path, required=True)
        service, ns, subset = _destination(item.get("destination"), at(item_path, "destination"), namespace)
        percentage = _mapping(item.get("percentage"), at(item_path, "percentage"))
        mirrors.append(
            Mirror(
                service, ns, subset, _percent(percentage.get("value", 100), at(item_path, "percentage.value"))
            )
        )
    return mirrors


def _route(value: Any, base: str, own: str, namespace: str) -> Route:
    """The route at `own` (`spec.http[0]`, its path in the object) of the object at `base`."""
    path = at(base, own)
    route = _mapping(value, path, required=True)
    matches = tuple(
        _describe_match(block, at(at(path, "match"), j))
        for j, block in enumerate(shape.items(route.get("match"), at(path, "match")))
    )
    destinations = []
    for j, item in enumerate(shape.items(route.get("route"), at(path, "route"))):
        item_path = at(at(path, "route"), j)
        item = _mapping(item, item_path, required=True)
        service, ns, subset = _destination(item.get("destination"), at(item_path, "destination"), namespace)
        destinations.append(
            RouteDestination(service, ns, subset, shape.count(item.get("weight"), at(item_path, "weight")))
        )
    if len(destinations) > 1 and sum(d.weight or 0 for d in destinations) == 0:
        raise ShapeError(at(path, "route"), "weights sum to 0: no destination would get traffic")
    return Route(
        path=own,
        matches=matches,
        destinations=tuple(destinations),
        mirrors=tuple(_mirrors(route, path, namespace)),
    )


def _virtual_service(
    obj: dict[str, Any], base: str, origin: str, name: str, namespace: str
) -> VirtualService:
    spec = _mapping(obj.get("spec"), at(base, "spec"), required=True)
    hosts = []
    for i, host in enumerate(shape.items(spec.get("hosts"), at(base, "spec.hosts"))):
        resolved = resolve_host(shape.string(host, at(base, f"spec.hosts[{i}]"), required=True), namespace)
        if resolved:
            hosts.append(resolved)
    gateways = [
        shape.string(g, at(base, f"spec.gateways[{i}]"), required=True)
        for i, g in enumerate(shape.items(spec.get("gateways"), at(base, "spec.gateways")))
    ]
    routes: list[Route] = []
    # Istio applies a service's HTTP routes, else its TCP, else its TLS ones.
    for protocol in ("http", "tcp", "tls"):
        items = shape.items(spec.get(protocol), at(base, f"spec.{protocol}"))
        routes = [_route(item, base, f"spec.{protocol}[{i}]", namespace) for i, item in enumerate(items)]
        if routes:
            break
    return VirtualService(
        name=name,
        namespace=namespace,
        origin=origin,
        hosts=tuple(hosts),
        routes=tuple(routes),
        mesh=not gateways or "mesh" in gateways,
    )


# --- DestinationRule --------------------------------------------------------


def _destination_rule(
    obj: dict[str, Any], base: str, origin: str, name: str, namespace: str
) -> DestinationRule:
    spec = _mapping(obj.get("spec"), at(base, "spec"), required=True)
    host = shape.string(spec.get("host"), at(base, "spec.host"), required=True)
    service, service_namespace = resolve_host(host, namespace) or (host, "")
    subsets = []
    for i, item in enumerate(shape.items(spec.get("subsets"), at(base, "spec.subsets"))):
        item_path = at(base, f"spec.subsets[{i}]")
        item = _mapping(item, item_path, required=True)
        subset = shape.string(item.get("name"), at(item_path, "name"), required=True)
        labels = _mapping(item.get("labels"), at(item_path, "labels"))
        for key, value in labels.items():
            shape.string(value, at(at(item_path, "labels"), key), required=True)
        subsets.append((subset, tuple(sorted(labels.items()))))
    return DestinationRule(
        name=name,
        namespace=namespace,
        origin=origin,
        service=service,
        service_namespace=service_namespace,
        subsets=tuple(subsets),
    )


# --- documents -> records ---------------------------------------------------


# Each kind read: its API group (None: any, as Istio's objects are often
# written without apiVersion) and its parser.
KINDS = {
    VIRTUAL_SERVICE: (None, _virtual_service),
    DESTINATION_RULE: (None, _destination_rule),
    HTTP_ROUTE: (GATEWAY_API_GROUP, http_route),
    ROLLOUT: (ARGO_GROUP, rollout),
    FLAGGER_CANARY: (FLAGGER_GROUP, flagger_canary),
}


def _read(document: dict[str, Any]) -> bool:
    """A kind this parser reads, of its API group when apiVersion says one."""
    kind = document.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:  # a kind that is no text is no kind we read
        return False
    group, _ = KINDS[kind]
    version = document.get("apiVersion")
    return (
        group is None or not isinstance(version, str) or "/" not in version or version.split("/")[0] == group
    )


def _objects(document: Any, base: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, object) of the routing objects of one document, `kind: List` unrolled."""
    if document is None:
        return
    if not isinstance(document, dict):
        raise ShapeError(base, "expected a Kubernetes object (a mapping)")
    kind = document.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and "items" in document:
        for i, item in enumerate(shape.items(document.get("items"), at(base, "items"))):
            yield from _objects(item, at(at(base, "items"), i))
    elif _read(document):
        yield base, document


Record = VirtualService | DestinationRule | HTTPRoute | Rollout | FlaggerCanary


def _records(origin: str, document: Any) -> Iterator[Record]:
    for base, obj in _objects(document):
        metadata = _mapping(obj.get("metadata"), at(base, "metadata"), required=True)
        name = shape.string(metadata.get("name"), at(base, "metadata.name"), required=True)
        namespace = shape.string(metadata.get("namespace"), at(base, "metadata.namespace")) or "default"
        _, parse = KINDS[obj["kind"]]
        yield parse(obj, base, origin, name, namespace)


def parse_documents(documents: Iterable[tuple[str, Any]], origin: str = "") -> IstioConfig:
    """Records from (origin, document) pairs: the one parser every way in uses."""
    found: dict[type, list[Any]] = {kind: [] for kind in Record.__args__}
    for document_origin, document in documents:
        try:
            for record in _records(document_origin, document):
                found[type(record)].append(record)
        except ShapeError as error:
            raise ConfigError(f"{document_origin}: {error}") from None
    return IstioConfig(
        virtual_services=tuple(found[VirtualService]),
        destination_rules=tuple(found[DestinationRule]),
        origin=origin,
        http_routes=tuple(found[HTTPRoute]),
        rollouts=tuple(found[Rollout]),
        flagger_canaries=tuple(found[FlaggerCanary]),
    )
