"""meshwatch's own metrics, served at `/metrics` (prometheus_client).

Each gunicorn worker counts its own (a scrape reaches one of them): run one
worker with threads, or read them per pod.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from prometheus_client import Counter, Gauge, Histogram

REFRESH_SECONDS = Histogram(
    "meshwatch_refresh_duration_seconds",
    "Seconds one refresh of a view took (its queries and analysis), by view",
    ["view"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
PROMQL_QUERIES = Counter(
    "meshwatch_promql_queries_total",
    "PromQL queries sent to Prometheus, by query name (queries.promql) and outcome (ok, error)",
    ["name", "outcome"],
)
CACHE_HITS = Counter(
    "meshwatch_cache_hits_total", "Views and traces answered from the cache, by cache", ["cache"]
)
CACHE_MISSES = Counter(
    "meshwatch_cache_misses_total", "Views and traces the cache lacked and computed, by cache", ["cache"]
)
BACKEND_UP = Gauge("meshwatch_backend_up", "1 when the backend last answered, 0 when it failed", ["backend"])
VIEWERS = Gauge(
    "meshwatch_viewers_polling",
    "Polls of live views (pages and /api/*) in the last refresh interval: about one per viewer",
)


class Polls:
    """When the live views were last polled, to count the viewers polling."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._times: deque[float] = deque()
        self._lock = threading.Lock()
        self._clock = clock

    def note(self) -> None:
        with self._lock:
            self._times.append(self._clock())
            self._drop_old()

    def count(self) -> int:
        with self._lock:
            self._drop_old()
            return len(self._times)

    def _drop_old(self) -> None:
        since = self._clock() - self.interval
        while self._times and self._times[0] < since:
            self._times.popleft()


def watch_polls(polls: Polls) -> None:
    """The viewers gauge reads this dashboard's polls (the last one created, per process)."""
    VIEWERS.set_function(polls.count)


def query_outcome(name: str, ok: bool) -> None:
    PROMQL_QUERIES.labels(name, "ok" if ok else "error").inc()
