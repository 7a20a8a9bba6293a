"""The demo's story phases through the canary view: 50/50, take-over, v1 retired."""

from __future__ import annotations

import pytest

from dashboard.app import create_app
from dashboard.app.config import resolve
from dashboard.app.refresh import release_view, routing_config
from dashboard.app.services import Services
from dashboard.canary.document import canary_document
from dashboard.canary.verdict import COMPLETE, HOLD, PROMOTE
from dashboard.canary.versions import RETIRED
from queries.simulator import Simulation
from queries.simulator.story import PHASES, phase_named, phase_start
from tests.support.frames import MINUTE

SETTINGS = resolve({}, environ={})


@pytest.fixture(scope="module")
def simulation() -> Simulation:
    return Simulation(seed=7, start=1_700_000_000.0, wall_clock=lambda: 0.0)


def reviews_at(simulation: Simulation, phase: str, into: float):
    """The reviews release `into` seconds into the first run of a phase."""
    at = simulation.origin + phase_start(phase_named(phase)) + into
    simulation.advance(at)
    assert simulation.phase_name() == phase
    services = Services(
        telemetry=simulation.telemetry, istio_objects=simulation.istio_objects, clock=lambda: at
    )
    releases = release_view(simulation.telemetry, routing_config(SETTINGS, services), SETTINGS, at, MINUTE)
    [reviews] = [r for r in releases if r.service == "reviews"]
    return reviews, services


def test_phases_are_in_the_order_the_tests_walk() -> None:
    names = [p.name for p in PHASES]
    assert names.index("canary") < names.index("takeover") < names.index("retired")


def test_canary_phase_shows_the_split_next_to_the_configured_weights(simulation: Simulation) -> None:
    reviews, _ = reviews_at(simulation, "canary", 150)
    v1, v2 = reviews.versions
    assert (v1.version, v2.version) == ("v1", "v2") and reviews.baseline == "v1"
    assert (v1.configured_weight, v2.configured_weight) == (0.5, 0.5)
    assert v1.share == pytest.approx(0.5, abs=0.15) and v1.share + v2.share == pytest.approx(1.0)
    # the story's 2 requests/s give ~60 per version: enough to judge v2, healthy in this phase
    assert (
        SETTINGS.canary.min_requests_for_verdict <= v2.rps * 60 < SETTINGS.canary.min_requests_for_deviation
    )
    assert reviews.verdict == PROMOTE and reviews.reasons[0].startswith("v2 passes: success 100.0 % ≥ 99.0 %")


def test_ejection_holds_v2_for_its_calls_to_ratings(simulation: Simulation) -> None:
    reviews, _ = reviews_at(simulation, "ejection", 100)
    v2 = {v.version: v for v in reviews.versions}["v2"]
    assert v2.success_ratio == 1.0  # reviews-v2 answers without stars: the failure is one hop down
    assert reviews.verdict == HOLD
    assert reviews.reasons[0] == (
        "v2's calls to ratings fail 100 % (503 UH: circuit open; ratings cut off by "
        "outlier detection); baseline v1 does not call ratings"
    )


def test_take_over_shows_v2_at_100_and_v1_drained(simulation: Simulation) -> None:
    reviews, _ = reviews_at(simulation, "takeover", 100)
    assert [(v.version, v.share, v.configured_weight) for v in reviews.versions] == [
        ("v1", 0.0, 0.0),
        ("v2", 1.0, 1.0),
    ]
    assert reviews.verdict == COMPLETE and reviews.baseline == "v1"
    assert "v1 is drained (configured 0 %, no requests): it can be retired" in reviews.reasons
    assert (
        reviews.reasons[0]
        == "rollout complete: v2 serves 100 % of the requests to reviews (configured 100 %)"
    )


def test_retired_shows_v1_retired_and_the_api_says_the_same(simulation: Simulation) -> None:
    reviews, services = reviews_at(simulation, "retired", 200)
    v1, v2 = reviews.versions
    assert v1.state == RETIRED and (v1.share, v1.configured_weight, v1.rps) == (None, None, None)
    assert (v2.share, v2.configured_weight) == (1.0, 1.0) and reviews.verdict == COMPLETE
    assert any(r.startswith("v1 retired") for r in reviews.reasons)
    assert (
        reviews.reasons[0]
        == "rollout complete: v2 serves 100 % of the requests to reviews (configured 100 %)"
    )
    assert [v.role for v in reviews.versions] == ["retired", "canary"] and reviews.completed == "v2"
    served = create_app(SETTINGS, services).server.test_client().get("/api/canary?service=reviews")
    assert served.status_code == 200 and served.get_json() == canary_document([reviews])


def demo_api(phase: str, seed: int):
    """The demo's /api/canary on a held phase, with the wall clock in the test's hands."""
    wall = [0.0]
    simulation = Simulation(
        seed=seed, speed=60.0, phase=phase, start=1_700_000_000.0, wall_clock=lambda: wall[0]
    )
    services = Services(
        telemetry=simulation.telemetry,
        istio_objects=simulation.istio_objects,
        clock=simulation.clock,
        mode="demo",
    )
    client = create_app(SETTINGS, services).server.test_client()

    def poll(wall_seconds: float) -> dict:
        wall[0] = wall_seconds
        response = client.get("/api/canary?service=reviews")
        assert response.status_code == 200
        [reviews] = response.get_json()["services"]
        return reviews

    return poll


def test_ejection_held_past_an_hour_keeps_v1_the_baseline_and_never_promotes() -> None:
    poll = demo_api("ejection", seed=11)
    # --speed 60: a wall minute is a story hour; a poll every 2.5 story minutes for 75 minutes.
    polls = [poll(wall) for wall in [2.5 * n for n in range(31)]]
    assert {p["baseline"] for p in polls} == {"v1"}
    assert all(p["verdict"] != PROMOTE for p in polls), [p["verdict"] for p in polls]
    roles = {(v["version"], v["role"]) for p in polls for v in p["versions"]}
    assert roles == {("v1", "baseline"), ("v2", "canary")}
    assert any("v2's calls to ratings fail" in reason for p in polls for reason in p["reasons"])


def test_a_healthy_fifty_fifty_canary_gives_one_verdict_poll_after_poll() -> None:
    poll = demo_api("canary", seed=5)
    polls = [poll(wall) for wall in [0.5 * n for n in range(30)]]  # 30 story seconds apart
    assert [p["verdict"] for p in polls] == [PROMOTE] * 30
    assert {p["baseline"] for p in polls} == {"v1"}


def test_a_retired_version_is_marked_on_the_topology_too(simulation: Simulation) -> None:
    from dashboard.app.refresh import mesh_graph
    from dashboard.mesh.snapshot import snapshot_document

    _, services = reviews_at(simulation, "retired", 200)
    at = services.clock()
    graph = mesh_graph(simulation.telemetry, SETTINGS, at, MINUTE, (), routing_config(SETTINGS, services))
    nodes = {node["id"]: node for node in snapshot_document(graph)["nodes"]}
    assert nodes["workload:bookinfo:reviews-v1"]["retired"] is True
    assert nodes["workload:bookinfo:reviews-v2"]["retired"] is False
    assert not any(
        node["retired"]
        for node in snapshot_document(mesh_graph(simulation.telemetry, SETTINGS, at, MINUTE))["nodes"]
    )  # without routing config, nothing to tell
