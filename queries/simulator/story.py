"""The Bookinfo story as phases of operator actions (seed-scenario.md).

A phase sets what is deployed and the Istio config in force, and the load
tests the operator starts during it; everything the dashboard then shows
(the split, the shedding, the ejection, the recovery) is the mesh model's
answer, not part of the script.

| phase     | story time | what the operator does |
|-----------|-----------:|------------------------|
| baseline  | 0-120 s    | reviews-v1 serves all traffic (VirtualService v1 100) |
| canary    | 120-300 s  | deploys reviews-v2, splits reviews v1 50 / v2 50 |
| load-test | 300-360 s  | DestinationRule on ratings (see BREAKER); fortio from reviews-v2 (below) |
| ejection  | 360-540 s  | nothing: ratings stays ejected for baseEjectionTime |
| recovery  | 540-660 s  | nothing: ratings is back |
| takeover  | 660-780 s  | reviews v2 100 |
| retired   | 780-1080 s | reviews-v1 and its routing config deleted |

The load test's DestinationRule: maxConnections 1, http1MaxPendingRequests 1,
5 consecutive 5xx, interval 1s, baseEjectionTime 180s, maxEjectionPercent
100; from reviews-v2, fortio `-curl` at +5 s, `-c 2 -qps 0 -n 20` at +20 s,
`-c 3 -qps 0 -n 30` at +55 s.

Replayed, the story loops. Held (`--phase NAME`), the story runs up to that
phase and stays in it: the phase's load tests repeat every `hold_every`
seconds; holding `ejection` re-runs `-c 3 -qps 0 -n 30` whenever ratings is
back, so the ejection is renewed as an operator keeping the load on would.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from queries.errors import ConfigError
from queries.simulator.bookinfo import SERVICES
from queries.simulator.fortio import LoadRun
from queries.simulator.istio import ConnectionPool, OutlierDetection, SubsetPolicy, WeightedRoute


@dataclass(frozen=True)
class MeshConfig:
    """What is deployed and which VirtualServices/DestinationRules are in force."""

    deployed: frozenset[str]
    routes: tuple[WeightedRoute, ...]
    policies: tuple[SubsetPolicy, ...]

    def route(self, host: str) -> WeightedRoute | None:
        return next((route for route in self.routes if route.host == host), None)

    def policy(self, host: str) -> SubsetPolicy | None:
        return next((policy for policy in self.policies if policy.host == host), None)


@dataclass(frozen=True)
class Phase:
    name: str
    description: str
    duration: float
    config: MeshConfig
    # (seconds into the phase, load test started from reviews-v2)
    actions: tuple[tuple[float, LoadRun], ...] = ()
    hold_actions: tuple[tuple[float, LoadRun], ...] | None = None
    hold_every: float | None = None

    @property
    def held_actions(self) -> tuple[tuple[float, LoadRun], ...]:
        return self.actions if self.hold_actions is None else self.hold_actions

    @property
    def held_period(self) -> float:
        return self.hold_every or self.duration


BREAKER = SubsetPolicy(
    "ratings",
    ("v1",),
    connection_pool=ConnectionPool(max_connections=1, http1_max_pending_requests=1),
    outlier_detection=OutlierDetection(
        consecutive_5xx_errors=5, interval=1.0, base_ejection_time=180.0, max_ejection_percent=100
    ),
)
CURL = LoadRun(1, 1)
SMALL_LOAD = LoadRun(2, 20)
LARGE_LOAD = LoadRun(3, 30)
LARGE_LOAD_WHEN_BACK = LoadRun(3, 30, skip_while_ejected=True)

_BASE = frozenset({"istio-ingressgateway", "productpage-v1", "details-v1", "ratings-v1"})


def _config(reviews: tuple[tuple[str, int], ...], deployed: frozenset[str], breaker: bool) -> MeshConfig:
    """Bookinfo's all-v1 routing, with the given reviews route and subsets."""
    subsets = {
        "productpage": ("v1",),
        "details": ("v1",),
        "reviews": tuple(s for s, _ in reviews),
        "ratings": ("v1",),
    }
    routes = {service: ((subsets[service][0], 100),) for service in SERVICES}
    routes["reviews"] = reviews
    rules = tuple(
        BREAKER if service == "ratings" and breaker else SubsetPolicy(service, subsets[service])
        for service in SERVICES
    )
    return MeshConfig(deployed, tuple(WeightedRoute(s, routes[s]) for s in SERVICES), rules)


PHASES: tuple[Phase, ...] = (
    Phase(
        "baseline",
        "reviews-v1 serves every request",
        120.0,
        _config((("v1", 100),), _BASE | {"reviews-v1"}, breaker=False),
    ),
    Phase(
        "canary",
        "reviews canary: v1 50 % / v2 50 %",
        180.0,
        _config((("v1", 50), ("v2", 50)), _BASE | {"reviews-v1", "reviews-v2"}, breaker=False),
    ),
    Phase(
        "load-test",
        "circuit breaker on ratings; fortio in reviews-v2 loads it",
        60.0,
        _config((("v1", 50), ("v2", 50)), _BASE | {"reviews-v1", "reviews-v2"}, breaker=True),
        actions=((5.0, CURL), (20.0, SMALL_LOAD), (55.0, LARGE_LOAD)),
    ),
    Phase(
        "ejection",
        "ratings ejected by outlier detection: reviews-v2 -> ratings cut off",
        180.0,
        _config((("v1", 50), ("v2", 50)), _BASE | {"reviews-v1", "reviews-v2"}, breaker=True),
        hold_actions=((0.0, LARGE_LOAD_WHEN_BACK),),
        hold_every=5.0,
    ),
    Phase(
        "recovery",
        "ratings back in the pool",
        120.0,
        _config((("v1", 50), ("v2", 50)), _BASE | {"reviews-v1", "reviews-v2"}, breaker=True),
    ),
    Phase(
        "takeover",
        "reviews-v2 takes all traffic",
        120.0,
        _config((("v1", 0), ("v2", 100)), _BASE | {"reviews-v1", "reviews-v2"}, breaker=True),
    ),
    Phase(
        "retired",
        "reviews-v1 and its routing deleted",
        300.0,
        _config((("v2", 100),), _BASE | {"reviews-v2"}, breaker=True),
    ),
)
PHASE_NAMES = tuple(phase.name for phase in PHASES)
CYCLE = sum(phase.duration for phase in PHASES)


def phase_named(name: str) -> Phase:
    """The phase called `name`; a ConfigError listing the valid names otherwise."""
    for phase in PHASES:
        if phase.name == name:
            return phase
    raise ConfigError(f"unknown phase {name!r}: choose one of {', '.join(PHASE_NAMES)}")


def phase_start(phase: Phase) -> float:
    """Story seconds at which the phase begins in the first cycle."""
    return sum(p.duration for p in PHASES[: PHASES.index(phase)])


@dataclass(frozen=True)
class Episode:
    """A stretch of story time with one config and the load tests started in it."""

    phase: Phase
    start: float
    actions: tuple[tuple[float, LoadRun], ...]


def episodes(held: Phase | None) -> Iterator[Episode]:
    """Story time as episodes, in order, without end: the phases looping, or
    the phases up to the held one and then that phase for ever."""
    start = 0.0
    while True:
        for phase in PHASES:
            if phase is held:
                while True:
                    yield Episode(phase, start, phase.held_actions)
                    start += phase.held_period
            yield Episode(phase, start, phase.actions)
            start += phase.duration


def phase_at(story_time: float, held: Phase | None) -> tuple[Phase, float]:
    """The phase in force at a story time and the story time it began."""
    if held is not None and story_time >= phase_start(held):
        return held, phase_start(held)
    cycle_start = (story_time // CYCLE) * CYCLE
    offset = story_time - cycle_start
    for phase in PHASES:
        if offset < phase.duration:
            return phase, story_time - offset
        offset -= phase.duration
    return PHASES[-1], cycle_start + phase_start(PHASES[-1])
