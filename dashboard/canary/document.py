"""Release views as the public JSON of `meshwatch canary` and `/api/canary`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dashboard.canary.controller import Controller
from dashboard.canary.release import ServiceRelease
from dashboard.format import json_number

# Text fields as they are; every other field is a measured figure.
TEXT_FIELDS = ("workload", "version", "role")
VERSION_FIELDS = (
    "workload",
    "version",
    "share",
    "configured_weight",
    "rps",
    "success_ratio",
    "p50_ms",
    "p99_ms",
    "role",
)


def controller_document(controller: Controller, disagreement: str | None) -> dict[str, Any]:
    """The rollout controller driving the release:
    kind (`Rollout` of Argo Rollouts, `Canary` of Flagger), name, namespace,
    phase as it writes it, state in meshwatch's words, the stable and canary
    versions it names, the canary's weight it has set (0..1), its step of
    steps (Argo Rollouts), its message, and whether it agrees with the
    verdict (`agrees`, and `disagreement`: the reason when not)."""
    return {
        "kind": controller.kind,
        "name": controller.name,
        "namespace": controller.namespace,
        "phase": controller.phase,
        "state": controller.state,
        "stable": controller.stable,
        "canary": controller.canary,
        "weight": json_number(controller.weight),
        "step": controller.step,
        "steps": controller.steps,
        "message": controller.message,
        "agrees": disagreement is None,
        "disagreement": disagreement,
    }


def canary_document(releases: Sequence[ServiceRelease], warnings: Sequence[str] = ()) -> dict[str, Any]:
    """`{"services": [{"service", "namespace", "versions": [...], "verdict",
    "reasons", "baseline"}], "warnings": [...]}` as `meshwatch canary` prints
    it and `/api/canary` serves it; `warnings` say what the data left out; a
    release a rollout controller drives has one more field, `controller`
    (controller_document)."""
    return {
        "services": [
            {
                "service": r.service,
                "namespace": r.namespace,
                "versions": [
                    {
                        key: getattr(v, key) if key in TEXT_FIELDS else json_number(getattr(v, key))
                        for key in VERSION_FIELDS
                    }
                    for v in r.versions
                ],
                "verdict": r.verdict,
                "reasons": list(r.reasons),
                "baseline": r.baseline,
                **({"controller": controller_document(r.controller, r.disagreement)} if r.controller else {}),
            }
            for r in releases
        ],
        "warnings": list(warnings),
    }
