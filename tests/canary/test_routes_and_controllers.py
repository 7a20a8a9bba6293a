"""Releases configured by Gateway API HTTPRoutes and driven by rollout
controllers (Argo Rollouts, Flagger), on hand-made graphs: configured
weights, baseline and canary roles, the controller's state beside the
verdict and the reason when they disagree."""

from __future__ import annotations

from typing import Any

import pytest

from dashboard.app.config import resolve
from dashboard.canary.controller import argo_weight
from dashboard.canary.document import canary_document
from dashboard.canary.release import analyze
from dashboard.canary.verdict import PROMOTE, ROLL_BACK
from dashboard.mesh.build import build_graph
from queries.istio.load import from_manifests
from queries.istio.records import Rollout
from tests.support.frames import MINUTE, labels, latency_rows, telemetry

AT = 1_700_000_000.0
SETTINGS = resolve({}, environ={})
FAST_MS = [5, 10, 20, 40]
NS = "default"


def mesh(*backends: tuple[str, str, float, float]):
    """productpage-v1 -> each (service, workload, rps, error share)."""
    requests, latency = [], []
    for service, workload, rps, errors in backends:
        series = labels("productpage-v1", service, workload)
        requests.append((series, rps * (1 - errors)))
        if errors:
            requests.append(({**series, "response_code": "503"}, rps * errors))
        latency += latency_rows(series, FAST_MS, rps)
    return build_graph(telemetry(requests=requests, latency=latency, at=AT), SETTINGS)


def http_route(
    *backends: tuple[str, int], parent: str | None = None, name: str = "reviews"
) -> dict[str, Any]:
    parents = [{"group": "", "kind": "Service", "name": parent}] if parent else [{"name": "gateway"}]
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "parentRefs": parents,
            "rules": [{"backendRefs": [{"name": s, "port": 9080, "weight": w} for s, w in backends]}],
        },
    }


def argo_rollout(status: dict[str, Any], **canary: Any) -> dict[str, Any]:
    strategy = {
        "stableService": "reviews-stable",
        "canaryService": "reviews-canary",
        "trafficRouting": {
            "plugins": {"argoproj-labs/gatewayAPI": {"httpRoute": "reviews", "namespace": NS}}
        },
        "steps": [{"setWeight": 10}, {"pause": {}}, {"setWeight": 30}, {"pause": {}}],
        **canary,
    }
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "reviews", "namespace": NS},
        "spec": {"strategy": {"canary": strategy}},
        "status": status,
    }


def flagger(phase: str, weight: int) -> dict[str, Any]:
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": NS},
        "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"}},
        "status": {"phase": phase, "canaryWeight": weight, "failedChecks": 0},
    }


def run(graph, manifests) -> list:
    return analyze(graph, None, from_manifests(manifests), SETTINGS.canary, MINUTE)


def only(releases):
    assert len(releases) == 1, [(r.service, [v.key for v in r.versions]) for r in releases]
    return releases[0]


def versions(release) -> dict[str, Any]:
    return {v.key: v for v in release.versions}


def test_an_http_route_between_two_services_is_one_release_with_its_weights():
    graph = mesh(("reviews-stable", "reviews-v1", 7, 0), ("reviews-canary", "reviews-v2", 3, 0))
    release = only(run(graph, [http_route(("reviews-stable", 70), ("reviews-canary", 30))]))
    assert (release.service, release.namespace) == ("reviews", NS)
    rows = versions(release)
    assert set(rows) == {"reviews-stable", "reviews-canary"}
    assert rows["reviews-stable"].configured_weight == pytest.approx(0.7)
    assert rows["reviews-canary"].configured_weight == pytest.approx(0.3)
    assert rows["reviews-canary"].share == pytest.approx(0.3)
    assert rows["reviews-canary"].workload == "reviews-v2"
    # No history and no controller: the Service named stable is the baseline.
    assert release.baseline == "reviews-stable"
    assert (rows["reviews-stable"].role, rows["reviews-canary"].role) == ("baseline", "canary")
    assert release.routing.route == f"HTTPRoute {NS}/reviews"
    assert release.verdict == PROMOTE
    assert "configured split reviews-canary 30 % / reviews-stable 70 %" in release.reasons


def test_a_gamma_route_is_named_after_its_parent_service():
    graph = mesh(("ratings-v1", "ratings-v1", 9, 0), ("ratings-v2", "ratings-v2", 1, 0))
    route = http_route(("ratings-v1", 90), ("ratings-v2", 10), parent="ratings", name="ratings-split")
    release = only(run(graph, [route]))
    assert release.service == "ratings"
    assert {k: v.configured_weight for k, v in versions(release).items()} == pytest.approx(
        {"ratings-v1": 0.9, "ratings-v2": 0.1}
    )


def test_an_argo_rollout_names_the_roles_and_its_step_weight_is_configured():
    graph = mesh(("reviews-stable", "reviews-v1", 8, 0), ("reviews-canary", "reviews-v2", 2, 0))
    status = {"phase": "Paused", "currentStepIndex": 1, "stableRS": "6f8c", "currentPodHash": "7d4b"}
    # The route still says 50/50: the controller's step (10 %) is what is configured.
    release = only(
        run(graph, [http_route(("reviews-stable", 50), ("reviews-canary", 50)), argo_rollout(status)])
    )
    rows = versions(release)
    assert rows["reviews-canary"].configured_weight == pytest.approx(0.1)
    assert rows["reviews-stable"].configured_weight == pytest.approx(0.9)
    assert release.baseline == "reviews-stable" and rows["reviews-canary"].role == "canary"
    controller = release.controller
    assert (controller.kind, controller.state, controller.step, controller.steps) == (
        "Rollout",
        "paused",
        1,
        4,
    )
    assert (controller.stable, controller.canary, controller.weight) == (
        "reviews-stable",
        "reviews-canary",
        0.1,
    )
    assert any("the controller's weight is the configured one" in r for r in release.reasons)
    [entry] = canary_document([release])["services"]
    assert entry["controller"] == {
        "kind": "Rollout",
        "name": "reviews",
        "namespace": NS,
        "phase": "Paused",
        "state": "paused",
        "stable": "reviews-stable",
        "canary": "reviews-canary",
        "weight": 0.1,
        "step": 1,
        "steps": 4,
        "message": None,
        "agrees": True,
        "disagreement": None,
    }


def test_the_controller_picks_the_baseline_even_against_the_names():
    """Argo's canary Service named like a stable one: the controller decides."""
    graph = mesh(("reviews-primary", "reviews-v2", 2, 0), ("reviews-old", "reviews-v1", 8, 0))
    rollout = argo_rollout(
        {"phase": "Progressing", "canary": {"weights": {"canary": {"weight": 20}}}},
        stableService="reviews-old",
        canaryService="reviews-primary",
    )
    release = only(run(graph, [http_route(("reviews-old", 80), ("reviews-primary", 20)), rollout]))
    assert release.baseline == "reviews-old"
    assert versions(release)["reviews-primary"].role == "canary"


def test_a_rollout_driving_virtual_service_subsets_names_versions():
    graph = mesh(("details", "details-v1", 8, 0), ("details", "details-v2", 2, 0))
    manifests = [
        {
            "kind": "VirtualService",
            "metadata": {"name": "details", "namespace": NS},
            "spec": {
                "hosts": ["details"],
                "http": [
                    {
                        "name": "primary",
                        "route": [
                            {"destination": {"host": "details", "subset": "stable"}, "weight": 80},
                            {"destination": {"host": "details", "subset": "canary"}, "weight": 20},
                        ],
                    }
                ],
            },
        },
        {
            "kind": "DestinationRule",
            "metadata": {"name": "details", "namespace": NS},
            "spec": {
                "host": "details",
                "subsets": [
                    {"name": "stable", "labels": {"version": "v1"}},
                    {"name": "canary", "labels": {"version": "v2"}},
                ],
            },
        },
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Rollout",
            "metadata": {"name": "details", "namespace": NS},
            "spec": {
                "strategy": {
                    "canary": {
                        "trafficRouting": {
                            "istio": {
                                "virtualService": {"name": "details", "routes": ["primary"]},
                                "destinationRule": {
                                    "name": "details",
                                    "stableSubsetName": "stable",
                                    "canarySubsetName": "canary",
                                },
                            }
                        },
                        "steps": [{"setWeight": 20}, {"pause": {}}],
                    }
                }
            },
            "status": {"phase": "Paused", "currentStepIndex": 1},
        },
    ]
    release = only(run(graph, manifests))
    assert (release.service, release.baseline) == ("details", "v1")
    assert (release.controller.stable, release.controller.canary) == ("v1", "v2")
    assert {k: v.configured_weight for k, v in versions(release).items()} == pytest.approx(
        {"v1": 0.8, "v2": 0.2}
    )
    assert not any("the controller's weight" in r for r in release.reasons)  # route and controller agree


def test_a_flagger_canary_alone_makes_the_release_of_its_primary_and_canary():
    graph = mesh(("podinfo-primary", "podinfo-primary", 8, 0), ("podinfo-canary", "podinfo", 2, 0))
    release = only(run(graph, [flagger("Progressing", 20)]))
    assert release.service == "podinfo" and release.baseline == "podinfo-primary"
    rows = versions(release)
    assert rows["podinfo-canary"].configured_weight == pytest.approx(0.2)
    assert rows["podinfo-canary"].workload == "podinfo"
    assert (release.controller.kind, release.controller.state) == ("Canary", "progressing")
    assert release.routing.strategy == "weighted"


def test_a_controller_going_on_while_meshwatch_says_roll_back_is_a_reason():
    graph = mesh(("reviews-stable", "reviews-v1", 8, 0), ("reviews-canary", "reviews-v2", 2, 0.5))
    status = {"phase": "Progressing", "currentStepIndex": 2}
    release = only(
        run(graph, [http_route(("reviews-stable", 70), ("reviews-canary", 30)), argo_rollout(status)])
    )
    assert release.verdict == ROLL_BACK
    assert release.disagreement.startswith(
        "Argo Rollouts Rollout reviews is progressing while meshwatch says roll back"
    )
    assert release.reasons[0] == release.disagreement
    assert canary_document([release])["services"][0]["controller"]["agrees"] is False


def test_a_controller_aborting_a_canary_that_passes_is_a_reason():
    """Argo has just aborted (its analysis failed); its route still sends 30 %."""
    graph = mesh(("reviews-stable", "reviews-v1", 7, 0), ("reviews-canary", "reviews-v2", 3, 0))
    status = {"phase": "Degraded", "abort": True, "canary": {"weights": {"canary": {"weight": 30}}}}
    release = only(
        run(graph, [http_route(("reviews-stable", 70), ("reviews-canary", 30)), argo_rollout(status)])
    )
    assert (release.controller.state, release.verdict) == ("aborted", PROMOTE)
    assert release.disagreement == (
        "Argo Rollouts Rollout reviews aborted the rollout, but the canary passes meshwatch's checks"
    )


def test_flagger_promoting_a_canary_meshwatch_holds_on_is_a_reason():
    graph = mesh(("podinfo-primary", "podinfo-primary", 8, 0), ("podinfo-canary", "podinfo", 2, 0.02))
    release = only(run(graph, [flagger("Promoting", 20)]))
    assert release.verdict == ROLL_BACK  # success 98 % against the primary's 100 %
    assert release.disagreement is not None and release.disagreement.startswith(
        "Flagger Canary podinfo is promoting"
    )


def test_a_controller_that_agrees_adds_no_reason():
    graph = mesh(("podinfo-primary", "podinfo-primary", 8, 0), ("podinfo-canary", "podinfo", 2, 0))
    release = only(run(graph, [flagger("Progressing", 20)]))
    assert release.verdict == PROMOTE and release.disagreement is None
    assert canary_document([release])["services"][0]["controller"]["agrees"] is True


@pytest.mark.parametrize(
    ("status", "strategy", "weight"),
    [
        ({"step_index": 0}, "canary", 0.1),
        ({"step_index": 1}, "canary", 0.1),  # a pause keeps the last setWeight
        ({"step_index": 2}, "canary", 0.3),
        ({"step_index": 4}, "canary", 1.0),  # past the last step
        ({"step_index": 2, "aborted": True}, "canary", 0.0),
        ({"step_index": 2, "stable_hash": "a", "current_hash": "a"}, "canary", 0.0),  # promoted
        ({"step_index": 1, "weight": 25}, "canary", 0.25),  # what traffic routing set wins
        ({}, "blueGreen", 0.0),
    ],
)
def test_argo_weight_as_the_controller_computes_it(status, strategy, weight):
    rollout = Rollout("r", NS, "", strategy, step_weights=(10, None, 30, None), **status)
    assert argo_weight(rollout) == pytest.approx(weight)
