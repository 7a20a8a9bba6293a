"""One Envoy outbound cluster in a caller's sidecar: circuit breaker and
outlier detection, as Envoy implements what a DestinationRule asks for.

- Connection pool (HTTP/1.1): at most `maxConnections` requests are on the
  wire (one per connection); up to `http1MaxPendingRequests` more wait for a
  connection; any further request is rejected at once with 503 `UO`
  (`upstream_rq_pending_overflow`). A connection is reusable a moment after
  its response has been read (Envoy tears the stream down first): a request
  arriving in that moment still finds the pool full. That moment is why a
  pool of one connection and one pending slot sheds some requests of a
  two-client load test.
- Outlier detection: every response counts per host; `consecutive5xxErrors`
  5xx in a row eject the host at once (if `maxEjectionPercent` allows; one
  host is always ejectable). Envoy's interval timer un-ejects a host once
  `baseEjectionTime x ejections` (capped at max(300 s, base), Envoy's
  `max_ejection_time`) has passed, and decays the multiplier by one for each
  interval a host stays healthy. With every host ejected, requests fail with
  503 `UH` (Istio disables panic mode).
- Which 5xx count: a pool overflow is a reset Envoy makes locally. Envoy
  before 1.26 (Istio < 1.18, the story's era) reported it against the host
  it had picked as a connect failure, which counts as a 503 for consecutive
  5xx: a load test against a tiny pool ejects a healthy ratings pod. Envoy
  1.26 stopped that (envoyproxy/envoy#25487). `overflow_ejects` chooses.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass, field

from queries.envoy import NO_FLAG, NO_HEALTHY_UPSTREAM, UPSTREAM_OVERFLOW
from queries.simulator.bookinfo import Workload, draw
from queries.simulator.istio import ConnectionPool, OutlierDetection
from queries.simulator.kernel import Kernel, Signal

# Log-normal (median s, sigma) of the time a sidecar adds in one direction,
# the network between two pods, a 503 the caller's own sidecar answers, and
# the moment before a finished connection can carry the next request.
PROXY_TIME = (0.00015, 0.3)
NETWORK_TIME = (0.0001, 0.3)
LOCAL_REPLY_TIME = (0.0001, 0.3)
CONNECTION_REUSE_DELAY = (0.00025, 0.6)
# Envoy's default max_ejection_time, raised to baseEjectionTime when larger.
MAX_EJECTION_TIME = 300.0

ADMITTED, OVERFLOW = NO_FLAG, UPSTREAM_OVERFLOW


@dataclass
class Host:
    """One endpoint of a cluster and its outlier-detection state."""

    workload: Workload
    consecutive_5xx: int = 0
    ejected_at: float | None = None
    ejection_time: float = 0.0
    backoff: int = 0
    healthy_since: float = 0.0

    @property
    def ejected(self) -> bool:
        return self.ejected_at is not None


@dataclass
class ClusterStats:
    """Envoy's counters (monotonic) for one cluster."""

    upstream_rq_total: int = 0
    upstream_rq_pending_total: int = 0
    upstream_rq_pending_overflow: int = 0
    upstream_cx_overflow: int = 0
    upstream_rq_retry_overflow: int = 0
    outlier_detection_ejections_enforced_total: int = 0


@dataclass
class Admission:
    """Outcome of asking a cluster for a request slot: the host, or a flag."""

    flag: str
    host: Host | None = None


@dataclass
class UpstreamCluster:
    name: str
    kernel: Kernel
    rng: random.Random
    pool: ConnectionPool = field(default_factory=ConnectionPool)
    detection: OutlierDetection | None = None
    overflow_ejects: bool = True
    hosts: list[Host] = field(default_factory=list)
    stats: ClusterStats = field(default_factory=ClusterStats)
    busy: int = 0
    pending: deque = field(default_factory=deque)
    _next_host: int = 0

    # -- membership -------------------------------------------------------
    def set_members(self, workloads: list[Workload]) -> None:
        """Endpoints follow the deployed pods; a known host keeps its state."""
        known = {host.workload.name: host for host in self.hosts}
        self.hosts = [known.get(w.name) or Host(w, healthy_since=self.kernel.now) for w in workloads]

    def configure(self, pool: ConnectionPool | None, detection: OutlierDetection | None) -> None:
        self.pool = pool or ConnectionPool()
        self.detection = detection

    @property
    def ejections_active(self) -> int:
        return sum(1 for host in self.hosts if host.ejected)

    @property
    def membership_healthy(self) -> int:
        return sum(1 for host in self.hosts if not host.ejected)

    # -- requests ---------------------------------------------------------
    def admit(self) -> Generator[Signal, None, Admission]:
        """Pick a healthy host round-robin and a connection for it: now, after
        waiting as a pending request, or never (overflow)."""
        healthy = [host for host in self.hosts if not host.ejected]
        if not healthy:
            return Admission(NO_HEALTHY_UPSTREAM)
        host = healthy[self._next_host % len(healthy)]
        self._next_host += 1
        self.stats.upstream_rq_total += 1
        if self.busy < self.pool.max_connections:
            self.busy += 1
            return Admission(ADMITTED, host)
        self.stats.upstream_cx_overflow += 1
        if len(self.pending) >= self.pool.http1_max_pending_requests:
            self.stats.upstream_rq_pending_overflow += 1
            if self.overflow_ejects:
                self.report(host, 503)
            return Admission(OVERFLOW, host)
        self.stats.upstream_rq_pending_total += 1
        slot = Signal()
        self.pending.append(slot)
        yield slot
        return Admission(ADMITTED, host)

    def release(self) -> None:
        """The response is in: the connection takes the next pending request
        once Envoy has torn the finished stream down."""
        self.kernel.schedule(self.kernel.now + draw(self.rng, CONNECTION_REUSE_DELAY), self._connection_free)

    def _connection_free(self) -> None:
        if self.pending:
            self.pending.popleft().fire()
        else:
            self.busy -= 1

    # -- outlier detection --------------------------------------------------
    def report(self, host: Host, code: int) -> None:
        """Count one response from a host; eject it on enough 5xx in a row."""
        if self.detection is None:
            return
        if code < 500:
            host.consecutive_5xx = 0
            return
        host.consecutive_5xx += 1
        if host.consecutive_5xx >= self.detection.consecutive_5xx_errors and not host.ejected:
            host.consecutive_5xx = 0
            self._eject(host)

    def _eject(self, host: Host) -> None:
        ejected = self.ejections_active
        allowed = ejected == 0 or 100.0 * ejected / len(self.hosts) < self.detection.max_ejection_percent
        if not allowed:
            return
        base = self.detection.base_ejection_time
        longest = max(MAX_EJECTION_TIME, base)
        if host.backoff * base < longest + base:
            host.backoff += 1
        host.ejected_at = self.kernel.now
        host.ejection_time = min(base * host.backoff, longest)
        self.stats.outlier_detection_ejections_enforced_total += 1

    def interval_tick(self) -> None:
        """Envoy's outlier-detection interval timer: un-eject hosts whose
        time is up; a host healthy for a whole interval loses one backoff step."""
        if self.detection is None:
            return
        now = self.kernel.now
        for host in self.hosts:
            if host.ejected:
                if now - host.ejected_at >= host.ejection_time:
                    host.ejected_at = None
                    host.healthy_since = now
            elif host.backoff and now - host.healthy_since >= self.detection.interval:
                host.backoff -= 1
                host.healthy_since = now
