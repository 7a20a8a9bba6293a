"""The demo's story phases through the canary view: 50/50, take-over, v1 retired."""

from __future__ import annotations

import pytest

from dashboard.app import create_app
from dashboard.refresh import configured_routing, release_view
from dashboard.canary import HOLD, PROMOTE, RETIRED, canary_document
from dashboard.config import resolve
from dashboard.services import Services
from queries.simulator import Simulation
from queries.simulator.story import PHASES, phase_named, phase_start

SETTINGS = resolve({}, environ={})


@pytest.fixture(scope="module")
def simulation() -> Simulation:
    return Simulation(seed=7, start=1_700_000_000.0, wall_clock=lambda: 0.0)


def reviews_at(simulation: Simulation, phase: str, into: float):
    """The reviews release `into` seconds into the first run of a phase."""
    at = simulation.origin + phase_start(phase_named(phase)) + into
    simulation.advance(at)
    assert simulation.phase_name() == phase
    services = Services(telemetry=simulation.telemetry, istio_objects=simulation.istio_objects, clock=lambda: at)
    releases = release_view(simulation.telemetry, configured_routing(SETTINGS, services), SETTINGS, at, "1m")
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
    requests = v2.rps * 60
    if requests < SETTINGS.canary.min_requests_for_deviation:  # the story's 2 requests/s give ~60 per version
        assert reviews.verdict == HOLD and f"only {requests:.0f} requests reached v2 in the last 1m" in reviews.reasons[0]
    else:
        assert reviews.verdict in (PROMOTE, HOLD)


def test_take_over_shows_v2_at_100_and_v1_drained(simulation: Simulation) -> None:
    reviews, _ = reviews_at(simulation, "takeover", 100)
    assert [(v.version, v.share, v.configured_weight) for v in reviews.versions] == [("v1", 0.0, 0.0), ("v2", 1.0, 1.0)]
    assert reviews.verdict == PROMOTE
    assert "v1 is drained (configured 0 %, no requests): it can be retired" in reviews.reasons


def test_retired_shows_v1_retired_and_the_api_says_the_same(simulation: Simulation) -> None:
    reviews, services = reviews_at(simulation, "retired", 200)
    v1, v2 = reviews.versions
    assert v1.state == RETIRED and (v1.share, v1.configured_weight, v1.rps) == (None, None, None)
    assert (v2.share, v2.configured_weight) == (1.0, 1.0) and reviews.verdict == PROMOTE
    assert any(r.startswith("v1 retired") for r in reviews.reasons)
    assert "v2 carries all the traffic to reviews: the rollout is complete" in reviews.reasons
    served = create_app(SETTINGS, services).server.test_client().get("/api/canary?service=reviews")
    assert served.status_code == 200 and served.get_json() == canary_document([reviews])
