"""What a rollout controller says about a release: which version is stable
and which the canary, the weight it has set, and its phase, in the same
words for Argo Rollouts and Flagger; and whether it agrees with meshwatch.

A controller drives a release when its objects name the release's route
or Services: an Argo Rollout whose `stableService`/`canaryService` are the
Services the release is split between, or whose Istio traffic routing
names the release's VirtualService (subsets `stableSubsetName` /
`canarySubsetName` then name the versions); a Flagger Canary whose
`<apex>-primary`/`<apex>-canary` Services are the release's.

The weight it has set (the canary's share of requests):
- Argo Rollouts: `status.canary.weights.canary.weight` when its traffic
  routing wrote one; else 0 once aborted or fully promoted (the stable
  ReplicaSet is the current one) and, for blue-green, while the preview
  waits; else the `setWeight` of the current step or the last one before
  it (100 past the last step), as the controller computes it;
- Flagger: `status.canaryWeight` (0 outside an analysis).

States: progressing, paused, promoting, promoted, aborted, degraded,
initialized, terminated, unknown. Argo's `Healthy` is promoted, `Paused`
paused, `Progressing` progressing, `Degraded` degraded (aborted when
`status.abort`); Flagger's `Initializing`/`Initialized` initialized,
`Waiting`/`WaitingPromotion` paused, `Progressing` progressing,
`Promoting`/`Finalising` promoting, `Succeeded` promoted, `Failed` aborted
(it rolled back), `Terminating`/`Terminated` terminated.

They disagree when meshwatch says roll back while the controller goes on
(progressing, paused, promoting, promoted), when the controller aborted a
canary meshwatch would promote, and when it promotes (or promoted) a
canary whose checks or path meshwatch sees failing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dashboard.canary.routing import Routing, subset_version
from dashboard.canary.verdict import COMPLETE, HOLD, PROMOTE, ROLL_BACK, Judgement
from dashboard.canary.versions import service_key
from queries.istio.records import VIRTUAL_SERVICE, FlaggerCanary, IstioConfig, Rollout

ARGO_ROLLOUT, FLAGGER = "Rollout", "Canary"
PROGRESSING, PAUSED, PROMOTING, PROMOTED = "progressing", "paused", "promoting", "promoted"
ABORTED, DEGRADED, INITIALIZED, TERMINATED, UNKNOWN_STATE = (
    "aborted",
    "degraded",
    "initialized",
    "terminated",
    "unknown",
)
ARGO_STATES = {"Healthy": PROMOTED, "Paused": PAUSED, "Progressing": PROGRESSING, "Degraded": DEGRADED}
FLAGGER_STATES = {
    "Initializing": INITIALIZED,
    "Initialized": INITIALIZED,
    "Waiting": PAUSED,
    "WaitingPromotion": PAUSED,
    "Progressing": PROGRESSING,
    "Promoting": PROMOTING,
    "Finalising": PROMOTING,
    "Succeeded": PROMOTED,
    "Failed": ABORTED,
    "Terminating": TERMINATED,
    "Terminated": TERMINATED,
}
GOING_ON = (PROGRESSING, PAUSED, PROMOTING, PROMOTED)


@dataclass(frozen=True)
class Controller:
    """A rollout controller's view of one release; `stable` and `canary`
    are version keys of the release, `weight` the canary's share (0..1)."""

    kind: str
    name: str
    namespace: str
    phase: str | None
    state: str
    stable: str | None
    canary: str | None
    weight: float | None
    step: int | None = None
    steps: int | None = None
    message: str | None = None

    @property
    def product(self) -> str:
        return "Argo Rollouts" if self.kind == ARGO_ROLLOUT else "Flagger"

    @property
    def label(self) -> str:
        return f"{self.product} {self.kind} {self.name}"


def argo_weight(rollout: Rollout) -> float | None:
    """The canary's share of requests the Rollout has set (module docstring)."""
    if rollout.weight is not None:
        return rollout.weight / 100.0
    promoted = rollout.stable_hash is not None and rollout.stable_hash == rollout.current_hash
    if rollout.aborted or promoted or rollout.strategy == "blueGreen":
        return 0.0
    if not rollout.step_weights:
        return None
    index = rollout.step_index or 0
    if index >= len(rollout.step_weights):
        return 1.0
    return next((w / 100.0 for w in reversed(rollout.step_weights[: index + 1]) if w is not None), 0.0)


def _argo(
    config: IstioConfig, rollout: Rollout, routing: Routing, service: str, namespace: str
) -> Controller:
    if routing.services:
        stable = service_key(rollout.stable, namespace, namespace) if rollout.stable else None
        canary = service_key(rollout.canary, namespace, namespace) if rollout.canary else None
    else:
        stable, canary = (
            subset_version(config, service, namespace, subset)[0] if subset else None
            for subset in (rollout.stable_subset, rollout.canary_subset)
        )
    steps = len(rollout.step_weights) or None
    return Controller(
        kind=ARGO_ROLLOUT,
        name=rollout.name,
        namespace=rollout.namespace,
        phase=rollout.phase,
        state=ABORTED if rollout.aborted else ARGO_STATES.get(rollout.phase or "", UNKNOWN_STATE),
        stable=stable,
        canary=canary,
        weight=argo_weight(rollout),
        step=None if steps is None else min(rollout.step_index or 0, steps),
        steps=steps,
        message=rollout.message,
    )


def _flagger(canary: FlaggerCanary, namespace: str) -> Controller:
    return Controller(
        kind=FLAGGER,
        name=canary.name,
        namespace=canary.namespace,
        phase=canary.phase,
        state=FLAGGER_STATES.get(canary.phase or "", UNKNOWN_STATE),
        stable=service_key(canary.primary, canary.namespace, namespace),
        canary=service_key(canary.canary, canary.namespace, namespace),
        weight=None if canary.weight is None else canary.weight / 100.0,
        message=canary.message,
    )


def _drives(rollout: Rollout, routing: Routing, namespace: str) -> bool:
    if rollout.namespace != namespace:
        return False
    services = {name for name, ns in routing.services if ns == namespace}
    if services and rollout.stable and rollout.canary:
        return {rollout.stable, rollout.canary} <= services
    kind, _, named = routing.route.partition(" ")
    route_name = named.partition("/")[2]
    return kind == VIRTUAL_SERVICE and route_name in rollout.virtual_services and bool(rollout.stable_subset)


def release_controller(
    config: IstioConfig | None, routing: Routing | None, service: str, namespace: str
) -> Controller | None:
    """The rollout controller driving the release, if its objects are known."""
    if config is None or routing is None:
        return None
    for rollout in config.rollouts:
        if _drives(rollout, routing, namespace):
            return _argo(config, rollout, routing, service, namespace)
    services = set(routing.services)
    for canary in config.flagger_canaries:
        if {(canary.primary, canary.namespace), (canary.canary, canary.namespace)} <= services:
            return _flagger(canary, namespace)
    return None


def controlled_weights(controller: Controller, keys: Sequence[str]) -> dict[str, float] | None:
    """The release's configured weights as the controller has set them:
    the canary its weight, the stable the rest, any other version 0."""
    if controller.weight is None or controller.stable is None or controller.canary is None:
        return None
    weights = dict.fromkeys(keys, 0.0)
    weights[controller.canary] = controller.weight
    weights[controller.stable] = 1.0 - controller.weight
    return weights


def disagreement(controller: Controller, verdict: str, judgements: Sequence[Judgement]) -> str | None:
    """Why the controller's state and meshwatch's verdict disagree, or None."""
    who = controller.label
    failing = [j for j in judgements if j.failing]
    if verdict == ROLL_BACK and controller.state in GOING_ON:
        return f"{who} is {controller.state} while meshwatch says roll back: " + (
            "; ".join(failing[0].reasons[:1]) if failing else "see the reasons above"
        )
    if verdict in (PROMOTE, COMPLETE) and controller.state == ABORTED:
        return f"{who} aborted the rollout, but the canary passes meshwatch's checks"
    if verdict == HOLD and failing and controller.state in (PROMOTING, PROMOTED):
        return f"{who} is {controller.state} while meshwatch holds: {failing[0].reasons[0]}"
    return None
