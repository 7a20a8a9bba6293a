"""Gateway API HTTPRoutes (gateway.networking.k8s.io v1, v1beta1) as records.

A rule's `backendRefs` are its weighted destinations: `weight` defaults to
1 (0 to 1000000; weight / sum of the rule's weights is a backend's share;
0 sends it nothing); `namespace` defaults to the route's; `kind` to
`Service` (a multi-cluster `ServiceImport` names a service too; any other
kind keeps its name and never matches a mesh service). A rule without
`matches`, or whose matches include the catch-all `PathPrefix /`, takes
every request that reaches it. A `RequestMirror` filter is a mirror.
"""

from __future__ import annotations

import json
from typing import Any

from queries import shape
from queries.istio.records import HTTPRoute, Mirror, Route, RouteDestination
from queries.shape import MAPPING, ShapeError, at

SERVICE_KINDS = ("Service", "ServiceImport")
MAX_WEIGHT = 1_000_000


def _mapping(value: Any, path: str, required: bool = False) -> dict[str, Any]:
    return shape.mapping(value, path, required=required, word=MAPPING)


def _backend(value: Any, path: str, namespace: str) -> tuple[str, str]:
    """(service, namespace) of a backendRef; other kinds keep their name, namespace ''."""
    ref = _mapping(value, path, required=True)
    name = shape.string(ref.get("name"), at(path, "name"), required=True)
    kind = shape.string(ref.get("kind"), at(path, "kind")) or "Service"
    ref_namespace = shape.string(ref.get("namespace"), at(path, "namespace")) or namespace
    return (name, ref_namespace) if kind in SERVICE_KINDS else (name, "")


def _weight(value: Any, path: str) -> int:
    weight = shape.count(value, path)
    if weight is None:
        return 1
    if weight > MAX_WEIGHT:
        raise ShapeError(path, f"must be at most {MAX_WEIGHT}")
    return weight


def _describe(match: Any, path: str) -> str | None:
    """A match in words (`path PathPrefix "/v2" and header end-user Exact
    "jason"`), or None for the catch-all (`PathPrefix /` alone)."""
    match = _mapping(match, path, required=True)
    words = []
    route_path = _mapping(match.get("path"), at(path, "path"))
    kind = shape.string(route_path.get("type"), at(path, "path.type")) or "PathPrefix"
    value = shape.string(route_path.get("value"), at(path, "path.value")) or "/"
    if (kind, value) != ("PathPrefix", "/"):
        words.append(f"path {kind} {json.dumps(value)}")
    for key, noun in (("headers", "header"), ("queryParams", "query")):
        for i, item in enumerate(shape.items(match.get(key), at(path, key))):
            item_path = at(at(path, key), i)
            item = _mapping(item, item_path, required=True)
            name = shape.string(item.get("name"), at(item_path, "name"), required=True)
            how = shape.string(item.get("type"), at(item_path, "type")) or "Exact"
            words.append(f"{noun} {name} {how} {json.dumps(item.get('value'))}")
    method = shape.string(match.get("method"), at(path, "method"))
    if method:
        words.append(f"method {method}")
    return " and ".join(words) or None


def _mirrors(rule: dict[str, Any], path: str, namespace: str) -> list[Mirror]:
    mirrors = []
    for i, item in enumerate(shape.items(rule.get("filters"), at(path, "filters"))):
        item_path = at(at(path, "filters"), i)
        item = _mapping(item, item_path, required=True)
        if item.get("type") != "RequestMirror":
            continue
        mirror = _mapping(item.get("requestMirror"), at(item_path, "requestMirror"), required=True)
        service, ns = _backend(mirror.get("backendRef"), at(item_path, "requestMirror.backendRef"), namespace)
        percent = 100.0
        if mirror.get("percent") is not None:
            percent = shape.number(
                mirror["percent"], at(item_path, "requestMirror.percent"), 0, 100, "0 to 100"
            )
        elif mirror.get("fraction") is not None:
            fraction = _mapping(mirror["fraction"], at(item_path, "requestMirror.fraction"))
            numerator = shape.count(
                fraction.get("numerator"), at(item_path, "requestMirror.fraction.numerator")
            )
            denominator = shape.count(
                fraction.get("denominator", 100), at(item_path, "requestMirror.fraction")
            )
            if not denominator or (numerator or 0) > denominator:
                raise ShapeError(
                    at(item_path, "requestMirror.fraction"), "expected numerator <= denominator > 0"
                )
            percent = 100.0 * (numerator or 0) / denominator
        mirrors.append(Mirror(service, ns, None, percent))
    return mirrors


def _rule(value: Any, base: str, index: int, namespace: str) -> Route:
    own = f"spec.rules[{index}]"
    path = at(base, own)
    rule = _mapping(value, path, required=True)
    described = [
        _describe(match, at(at(path, "matches"), j))
        for j, match in enumerate(shape.items(rule.get("matches"), at(path, "matches")))
    ]
    # Any catch-all match makes the whole rule take every request.
    matches = () if None in described or not described else tuple(d for d in described if d)
    destinations = []
    for j, item in enumerate(shape.items(rule.get("backendRefs"), at(path, "backendRefs"))):
        item_path = at(at(path, "backendRefs"), j)
        service, ns = _backend(item, item_path, namespace)
        weight = _weight(_mapping(item, item_path).get("weight"), at(item_path, "weight"))
        destinations.append(RouteDestination(service, ns, None, weight))
    if len(destinations) > 1 and sum(d.weight or 0 for d in destinations) == 0:
        raise ShapeError(at(path, "backendRefs"), "weights sum to 0: no backend would get traffic")
    return Route(own, matches, tuple(destinations), tuple(_mirrors(rule, path, namespace)))


def http_route(obj: dict[str, Any], base: str, origin: str, name: str, namespace: str) -> HTTPRoute:
    spec = _mapping(obj.get("spec"), at(base, "spec"), required=True)
    parents = []
    for i, ref in enumerate(shape.items(spec.get("parentRefs"), at(base, "spec.parentRefs"))):
        ref_path = at(base, f"spec.parentRefs[{i}]")
        ref = _mapping(ref, ref_path, required=True)
        parents.append(
            (
                shape.string(ref.get("kind"), at(ref_path, "kind")) or "Gateway",
                shape.string(ref.get("name"), at(ref_path, "name"), required=True),
                shape.string(ref.get("namespace"), at(ref_path, "namespace")) or namespace,
            )
        )
    rules = tuple(
        _rule(rule, base, i, namespace)
        for i, rule in enumerate(shape.items(spec.get("rules"), at(base, "spec.rules")))
    )
    return HTTPRoute(name, namespace, origin, tuple(parents), rules)
