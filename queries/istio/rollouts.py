"""The rollout controllers' objects as records: Argo Rollouts' `Rollout`
(argoproj.io/v1alpha1) and Flagger's `Canary` (flagger.app/v1beta1), spec
and status as the controllers write them.

Argo Rollouts: `spec.strategy.canary.{stableService, canaryService, steps[].setWeight,
trafficRouting.istio.{virtualService.name, virtualServices[].name,
destinationRule.{stableSubsetName, canarySubsetName}},
trafficRouting.plugins["argoproj-labs/gatewayAPI"].{httpRoute, httpRoutes[].name}}`
or `spec.strategy.blueGreen.{activeService, previewService}`;
`status.{phase, currentStepIndex, abort, stableRS, currentPodHash, message,
canary.weights.canary.weight}`.

Flagger: `spec.targetRef.name`, `spec.service.name` (the apex Service,
default the target's name); `status.{phase, canaryWeight, failedChecks}` and
the `Promoted` condition's message.
"""

from __future__ import annotations

from typing import Any

from queries import shape
from queries.istio.records import FlaggerCanary, Rollout
from queries.shape import MAPPING, at

GATEWAY_API_PLUGIN = "argoproj-labs/gatewayAPI"


def _mapping(value: Any, path: str, required: bool = False) -> dict[str, Any]:
    return shape.mapping(value, path, required=required, word=MAPPING)


def _names(container: dict[str, Any], one: str, many: str, path: str) -> tuple[str, ...]:
    """`one: {name}` (or `one: name`) and `many: [{name}]` of a traffic-routing block."""
    names = []
    single = container.get(one)
    if isinstance(single, str):
        names.append(shape.string(single, at(path, one), required=True))
    elif single is not None:
        named = _mapping(single, at(path, one)).get("name")
        names.append(shape.string(named, at(path, f"{one}.name"), required=True))
    for i, item in enumerate(shape.items(container.get(many), at(path, many))):
        item_path = at(at(path, many), i)
        named = _mapping(item, item_path, required=True).get("name")
        names.append(shape.string(named, at(item_path, "name"), required=True))
    return tuple(names)


def _step_weights(steps: Any, path: str) -> tuple[int | None, ...]:
    weights = []
    for i, step in enumerate(shape.items(steps, path)):
        step = _mapping(step, at(path, i), required=True)
        weight = shape.count(step.get("setWeight"), at(at(path, i), "setWeight"))
        if weight is not None and weight > 100:
            raise shape.ShapeError(at(at(path, i), "setWeight"), "expected a percentage (0 to 100)")
        weights.append(weight)
    return tuple(weights)


def _percent(value: Any, path: str) -> int | None:
    weight = shape.count(value, path)
    if weight is not None and weight > 100:
        raise shape.ShapeError(path, "expected a percentage (0 to 100)")
    return weight


def rollout(obj: dict[str, Any], base: str, origin: str, name: str, namespace: str) -> Rollout:
    spec = _mapping(obj.get("spec"), at(base, "spec"), required=True)
    strategies = _mapping(spec.get("strategy"), at(base, "spec.strategy"))
    status = _mapping(obj.get("status"), at(base, "status"))
    path = at(base, "status")
    found = {
        "phase": shape.string(status.get("phase"), at(path, "phase")),
        "step_index": shape.count(status.get("currentStepIndex"), at(path, "currentStepIndex")),
        "aborted": status.get("abort") is True,
        "stable_hash": shape.string(status.get("stableRS"), at(path, "stableRS")),
        "current_hash": shape.string(status.get("currentPodHash"), at(path, "currentPodHash")),
        "message": shape.string(status.get("message"), at(path, "message")),
    }
    weights = _mapping(
        _mapping(status.get("canary"), at(path, "canary")).get("weights"), at(path, "canary.weights")
    )
    found["weight"] = _percent(
        _mapping(weights.get("canary"), at(path, "canary.weights.canary")).get("weight"),
        at(path, "canary.weights.canary.weight"),
    )
    if strategies.get("blueGreen") is not None:
        where = at(base, "spec.strategy.blueGreen")
        blue_green = _mapping(strategies["blueGreen"], where)
        return Rollout(
            name, namespace, origin, "blueGreen", **_services(blue_green, where, BLUE_GREEN), **found
        )
    where = at(base, "spec.strategy.canary")
    canary = _mapping(strategies.get("canary"), where)
    routing = _mapping(canary.get("trafficRouting"), at(where, "trafficRouting"))
    istio = _mapping(routing.get("istio"), at(where, "trafficRouting.istio"))
    rule_path = at(where, "trafficRouting.istio.destinationRule")
    rule = _mapping(istio.get("destinationRule"), rule_path)
    plugins = _mapping(routing.get("plugins"), at(where, "trafficRouting.plugins"))
    gateway = _mapping(
        plugins.get(GATEWAY_API_PLUGIN), at(where, f"trafficRouting.plugins.{GATEWAY_API_PLUGIN}")
    )
    return Rollout(
        name,
        namespace,
        origin,
        "canary",
        **_services(canary, where, CANARY_SERVICES),
        **_services(rule, rule_path, SUBSETS),
        virtual_services=_names(
            istio, "virtualService", "virtualServices", at(where, "trafficRouting.istio")
        ),
        http_routes=_names(gateway, "httpRoute", "httpRoutes", at(where, "trafficRouting.plugins")),
        step_weights=_step_weights(canary.get("steps"), at(where, "steps")),
        **found,
    )


# The fields naming a Rollout's stable and canary, by strategy: record field -> spec key.
BLUE_GREEN = {"stable": "activeService", "canary": "previewService"}
CANARY_SERVICES = {"stable": "stableService", "canary": "canaryService"}
SUBSETS = {"stable_subset": "stableSubsetName", "canary_subset": "canarySubsetName"}


def _services(block: dict[str, Any], path: str, keys: dict[str, str]) -> dict[str, str | None]:
    return {field: shape.string(block.get(key), at(path, key)) for field, key in keys.items()}


def flagger_canary(obj: dict[str, Any], base: str, origin: str, name: str, namespace: str) -> FlaggerCanary:
    spec = _mapping(obj.get("spec"), at(base, "spec"), required=True)
    target_ref = _mapping(spec.get("targetRef"), at(base, "spec.targetRef"), required=True)
    target = shape.string(target_ref.get("name"), at(base, "spec.targetRef.name"), required=True)
    service = _mapping(spec.get("service"), at(base, "spec.service"))
    status = _mapping(obj.get("status"), at(base, "status"))
    path = at(base, "status")
    promoted = [
        _mapping(c, at(at(path, "conditions"), i), True)
        for i, c in enumerate(shape.items(status.get("conditions"), at(path, "conditions")))
    ]
    message = next((c.get("message") for c in promoted if c.get("type") == "Promoted"), None)
    return FlaggerCanary(
        name,
        namespace,
        origin,
        target=target,
        service=shape.string(service.get("name"), at(base, "spec.service.name")) or target,
        phase=shape.string(status.get("phase"), at(path, "phase")),
        weight=_percent(status.get("canaryWeight"), at(path, "canaryWeight")),
        failed_checks=shape.count(status.get("failedChecks"), at(path, "failedChecks")),
        message=message if isinstance(message, str) else None,
    )
