"""`Simulation`: the Bookinfo story on a simulated clock, advanced on demand.

Simulated time is unix seconds. The story begins at `origin`; the clock
stands at `start` when the simulation is made (by default the wall clock),
one window into the story (or into the held phase) so a dashboard has a full
window at once. A `prelude` plays the story's first phase for that long
before the story begins, so a view of the past (time travel) has a mesh to
show. From then on `clock()` maps the wall clock onto simulated
time at `speed` and runs the model up to it; asking for telemetry at a later
time (`telemetry.mesh(at=...)`, `advance(at)`) runs it up to that time too.
Given a seed, the same calls give the same mesh.

Memory stays bounded: one scrape row per series per `scrape_interval` for
`retention` seconds, the last `trace_capacity` traces, the last fortio runs.
Every public method takes the simulation's lock: dashboard callbacks and the
HTTP server call from several threads.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from queries.errors import SourceError
from queries.simulator import jaeger_api
from queries.simulator.bookinfo import NAMESPACE, WORKLOADS
from queries.simulator.exposition import exposition, pod_labels
from queries.simulator.fortio import LoadResult
from queries.simulator.istio import manifests
from queries.simulator.kernel import Kernel
from queries.simulator.mesh import Mesh
from queries.simulator.metrics import COUNTER, Evaluation, History, Registry
from queries.simulator.source import SimulatedTelemetry
from queries.simulator.story import PHASES, episodes, phase_at, phase_named, phase_start
from queries.simulator.traces import TraceStore

# Story seconds already played when the clock starts: one default window.
LEAD_IN = 60.0
# The demo's past: "ten minutes ago" on the held ejection phase is before the
# story began, so the demo plays its first phase for a quarter hour first.
DEMO_PRELUDE = 900.0
# The story's `sidecar.istio.io/statsInclusionPrefixes: cluster.outbound`
# annotation is on this pod only: only its cluster stats are exported.
STATS_INCLUSION = ("reviews-v2",)
# The model runs at most this far ahead in one call: a typo'd `at` must not
# hang a dashboard for minutes.
MAX_ADVANCE = 6 * 3600.0
# The most story seconds `clock()` catches up in one call (scaled with speed).
CATCH_UP = 600.0
LOAD_CLIENT = "reviews-v2"


@dataclass(frozen=True)
class PhaseInfo:
    """The story phase in force, for a banner."""

    name: str
    description: str
    started_at: float
    ends_at: float | None
    held: bool


class Simulation:
    def __init__(
        self,
        *,
        seed: int = 1,
        speed: float = 1.0,
        phase: str | None = None,
        start: float | None = None,
        wall_clock: Callable[[], float] = time.time,
        request_rate: float = 2.0,
        retention: float = 3600.0,
        scrape_interval: float = 1.0,
        trace_capacity: int = 2000,
        overflow_ejects: bool = True,
        prelude: float = 0.0,
    ) -> None:
        if speed <= 0 or request_rate <= 0 or scrape_interval <= 0 or prelude < 0:
            raise ValueError("speed, request_rate and scrape_interval must be positive, prelude not negative")
        self.held = phase_named(phase) if phase else None
        self.speed = speed
        self.request_rate = request_rate
        self.scrape_interval = scrape_interval
        self._wall = wall_clock
        self._wall_start = wall_clock()
        self.start = self._wall_start if start is None else start
        self.origin = self.start - LEAD_IN - (phase_start(self.held) if self.held else 0.0)
        self._lock = threading.RLock()
        self.kernel = Kernel(self.origin - prelude)
        self.rng = random.Random(seed)
        self.registry = Registry()
        self.history = History(retention)
        self.traces = TraceStore(trace_capacity)
        self.mesh = Mesh(self.kernel, self.rng, self.registry, self.traces, overflow_ejects)
        self.telemetry = SimulatedTelemetry(self)
        self.kernel.spawn(self._director())
        self.kernel.spawn(self._users())
        self.kernel.schedule(self.kernel.now, self._scrape)
        self.kernel.run_until(self.start)

    # -- time -------------------------------------------------------------
    @property
    def now(self) -> float:
        """The unix time the simulation has reached."""
        return self.kernel.now

    def advance(self, to: float) -> float:
        """Run the model up to `to` (no-op for a time already reached)."""
        with self._lock:
            if to - self.kernel.now > MAX_ADVANCE:
                raise SourceError(
                    f"the simulated mesh is at {self.kernel.now:.0f}; "
                    f"it runs at most {MAX_ADVANCE / 3600:g}h "
                    f"ahead at once, not to {to:.0f}"
                )
            self.kernel.run_until(to)
            return self.kernel.now

    def evaluate(self, at: float, window: float) -> Evaluation:
        """Every series at `at` over `window` seconds (the model run up to `at`)."""
        with self._lock:
            self.advance(at)
            return self.history.evaluate(list(self.registry.keys), at, window)

    def clock(self) -> float:
        """The wall clock mapped onto simulated time (x speed), the model run up to it.

        After a long gap (the machine slept, nobody polled) the story resumes
        where it stood instead of replaying the missed hours in one call."""
        with self._lock:
            target = self.start + (self._wall() - self._wall_start) * self.speed
            catch_up = max(CATCH_UP, CATCH_UP * self.speed / 10)
            if target - self.kernel.now > catch_up:
                self._wall_start += (target - self.kernel.now - catch_up) / self.speed
                target = self.kernel.now + catch_up
            return self.advance(target)

    # -- the story ----------------------------------------------------------
    def _director(self):
        load_client = WORKLOADS[LOAD_CLIENT]
        self.mesh.apply(PHASES[0].config)  # the prelude, when there is one
        for episode in episodes(self.held):
            begins = self.origin + episode.start
            if begins > self.kernel.now:
                yield begins - self.kernel.now
            self.mesh.apply(episode.phase.config)
            for offset, run in episode.actions:
                self.kernel.schedule(
                    begins + offset, lambda run=run: self.kernel.spawn(self.mesh.load_test(load_client, run))
                )

    def _users(self):
        """The story's `watch -n 0.5 curl .../productpage`: a request every
        1/request_rate seconds, give or take a few milliseconds."""
        period = 1.0 / self.request_rate
        while True:
            self.kernel.spawn(self.mesh.user_request())
            yield period + self.rng.uniform(-0.01, 0.01) * period

    def _scrape(self) -> None:
        """What a Prometheus scraping every `scrape_interval` would store."""
        self._publish_envoy_stats()
        self.history.record(self.kernel.now, self.registry.live(self.mesh.deployed))
        self.kernel.schedule(self.kernel.now + self.scrape_interval, self._scrape)

    def _publish_envoy_stats(self) -> None:
        for name in STATS_INCLUSION:
            if not self.mesh.deployed(name):
                continue
            for cluster in self.mesh.outbound_clusters(WORKLOADS[name]):
                labels = (("cluster_name", cluster.name),)
                for stat, value in vars(cluster.stats).items():
                    self.registry.set(f"envoy_cluster_{stat}", labels, name, float(value), COUNTER)
                gauges = {
                    "outlier_detection_ejections_active": cluster.ejections_active,
                    "membership_healthy": cluster.membership_healthy,
                    "membership_total": len(cluster.hosts),
                    "circuit_breakers_default_cx_open": int(cluster.busy >= cluster.pool.max_connections),
                    "circuit_breakers_default_rq_pending_open": int(
                        len(cluster.pending) >= cluster.pool.http1_max_pending_requests
                    ),
                }
                for stat, value in gauges.items():
                    self.registry.set(f"envoy_cluster_{stat}", labels, name, float(value))

    # -- what the dashboard asks -------------------------------------------------
    def phase_info(self) -> PhaseInfo:
        with self._lock:
            phase, begins = phase_at(self.kernel.now - self.origin, self.held)
            ends = None if self.held else self.origin + begins + phase.duration
            return PhaseInfo(phase.name, phase.description, self.origin + begins, ends, self.held is not None)

    def phase_name(self) -> str:
        return self.phase_info().name

    def istio_objects(self) -> list[dict[str, Any]]:
        """VirtualServices and DestinationRules in force, as `kubectl get vs,dr -o yaml` items."""
        with self._lock:
            config = self.mesh.config
            return manifests(config.routes, config.policies, NAMESPACE)

    def load_results(self) -> list[LoadResult]:
        """The recent fortio runs (newest last), with their codes and flags."""
        with self._lock:
            return list(self.mesh.load_results)

    def metrics_text(self) -> str:
        """`/metrics` now, in Prometheus text exposition format."""
        with self._lock:
            self.clock()
            self._publish_envoy_stats()
            return exposition(self.registry, self.mesh.deployed, pod_labels)

    def jaeger_transport(self, path: str, params: dict[str, Any]) -> tuple[int, str, bytes]:
        """Jaeger's query API v1 over the simulated traces: (status, content type, body)."""
        with self._lock:
            self.clock()
            return jaeger_api.answer(self.traces, self.kernel.now, path, params)
