"""One evaluation of each view per refresh interval, whatever the number of viewers.

A view is keyed on what it shows: (view, namespaces, window, ..., evaluation
time). Live views are evaluated at times aligned down to a multiple of the
refresh interval (`aligned`), so every page and every script polling the
same view within one interval asks for the same key: the first computes it
(one evaluation of a view in flight at a time: dashboard.app.flight), the
rest are served from the cache. Failures are not kept: the next poll tries again.

Without --cache-url the cache is this process's memory; with
`--cache-url redis://...` it is Redis (redis-py), shared by every worker and
replica, and a lock in Redis keeps the evaluation single-flight across them.
Redis is the replicas' own memory here: values are pickled, so it must be
reachable by meshwatch alone (its own instance, or ACLs and a password).
"""

from __future__ import annotations

import hashlib
import math
import pickle
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit

from dashboard.app import metrics
from dashboard.app.backends import Backends
from dashboard.app.flight import Flights, InFlight
from queries.errors import SourceError

T = TypeVar("T")
# Views kept in memory at once (per process), the oldest dropped first.
MEMORY_VIEWS = 64
# A view is kept one refresh interval (at least KEEP_SECONDS): every viewer of
# its interval finds it, and a view asked for again later (a fixed time, or a
# clock that stands still) is evaluated again, as a poll would.
KEEP_SECONDS = 1.0
REDIS_PREFIX = "meshwatch:"


# Live views are aligned to at most this grid: a page that refreshes hourly
# (a wall screen left alone) still opens on data of the last minute.
ALIGN_MAX_SECONDS = 60.0


def aligned(now: float, interval: float) -> float:
    """A live view's evaluation time: `now` aligned down to a multiple of the
    refresh interval (of at most ALIGN_MAX_SECONDS)."""
    step = min(interval, ALIGN_MAX_SECONDS)
    if step <= 0:
        return now
    return math.floor(now / step) * step


class MemoryStore:
    """Views in this process, each until it expires, at most `size` of them."""

    def __init__(self, size: int = MEMORY_VIEWS, clock: Callable[[], float] = time.monotonic) -> None:
        self._values: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._size, self._clock = size, clock
        self._lock = threading.Lock()

    def get(self, key: str) -> Any | None:
        with self._lock:
            kept = self._values.get(key)
            if kept is None or kept[0] < self._clock():
                return None
            return kept[1]

    def put(self, key: str, value: Any, seconds: float) -> None:
        with self._lock:
            now = self._clock()
            for old in [k for k, (expires, _) in self._values.items() if expires < now]:
                del self._values[old]
            self._values[key] = (now + seconds, value)
            self._values.move_to_end(key)
            while len(self._values) > self._size:
                self._values.popitem(last=False)

    def acquire(self, key: str, seconds: float) -> Any | None:
        return None  # one process: its flights are single-flight already

    def release(self, held: Any) -> None:
        return None

    def check(self) -> None:
        return None


def redis_place(url: str) -> str:
    """Where a Redis URL points, with no password: `redis://host:port/db`."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class RedisStore:
    """Views (and uploaded traces) in Redis, shared by every worker and replica."""

    def __init__(self, url: str) -> None:
        import redis

        self.place = redis_place(url)
        self._errors = redis.RedisError
        self._lock_errors = redis.exceptions.LockError
        self._client = redis.Redis.from_url(url, socket_timeout=5.0, socket_connect_timeout=5.0)

    @contextmanager
    def _talking(self) -> Iterator[None]:
        try:
            yield
        except self._errors as error:
            # Never the URL given: it may carry a password.
            # redis-py's messages name the host, never the password.
            reason = " ".join(str(error).split())[:200] or type(error).__name__
            raise SourceError(f"cannot use the cache at {self.place}: {reason}") from None

    def get(self, key: str) -> Any | None:
        with self._talking():
            raw = self._client.get(REDIS_PREFIX + key)
        return None if raw is None else pickle.loads(raw)

    def put(self, key: str, value: Any, seconds: float) -> None:
        with self._talking():
            self._client.set(REDIS_PREFIX + key, pickle.dumps(value), px=max(1, int(seconds * 1000)))

    def get_bytes(self, key: str) -> bytes | None:
        with self._talking():
            return self._client.get(REDIS_PREFIX + key)

    def put_bytes(self, key: str, value: bytes, seconds: float) -> None:
        with self._talking():
            self._client.set(REDIS_PREFIX + key, value, px=max(1, int(seconds * 1000)))

    def acquire(self, key: str, seconds: float) -> Any | None:
        """A lock held by one replica at a time while it evaluates the view
        (None when waiting for it outlasted `seconds`); past `seconds` it
        lapses, should its replica die holding it."""
        lock = self._client.lock(REDIS_PREFIX + "lock:" + key, timeout=seconds, blocking_timeout=seconds)
        with self._talking():
            return lock if lock.acquire() else None

    def release(self, held: Any) -> None:
        with self._talking():
            try:
                held.release()
            except self._lock_errors:
                pass  # it lapsed meanwhile: another replica may hold it now

    def check(self) -> None:
        with self._talking():
            self._client.ping()


# Where views are kept: one process's memory, or Redis shared by replicas.
Store = MemoryStore | RedisStore


def store_of(cache_url: str | None) -> Store:
    return RedisStore(cache_url) if cache_url else MemoryStore()


def key_text(key: Hashable) -> str:
    """A view's key as a store's key: its words, hashed (namespaces can be many)."""
    return "view:" + hashlib.sha256(repr(key).encode()).hexdigest()


class ViewCache:
    """Views by key: from the cache, or evaluated once (single-flight) and kept.

    A shared cache (Redis) that fails is worked around: the view is evaluated
    here (single-flight in this process still), and `backends` says the cache
    is down, so a Redis outage costs queries, never the pages."""

    def __init__(
        self,
        store: Store,
        flights: Flights,
        interval: float,
        longest: float,
        backends: Backends | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store, self.flights, self.backends, self._clock = store, flights, backends, clock
        self.keep = max(KEEP_SECONDS, min(interval, ALIGN_MAX_SECONDS))
        self.longest = longest
        # How long the evaluations of the last minute took (when each ended, seconds),
        # and the moment of each live view last evaluated here (by name and key).
        self._took: deque[tuple[float, float]] = deque()
        self._latest: OrderedDict[tuple[str, tuple[Any, ...]], float] = OrderedDict()
        self._lock = threading.Lock()

    def view(
        self, name: str, key: tuple[Any, ...], at: float, live: bool, work: Callable[[], T], wait: float
    ) -> T | InFlight:
        """The view `name` of `key` (namespaces, window, ...) at `at`: cached,
        or evaluated now; InFlight when its evaluation outlasts `wait` seconds.
        One evaluation of a `live` view is in flight at a time, whatever its
        time: a poll of the next interval joins one still running (a slow
        Prometheus gets one refresh at a time, not one more each interval)."""
        return self.view_in_parts(name, key, at, live, lambda _report: work(), wait)

    def view_in_parts(
        self,
        name: str,
        key: tuple[Any, ...],
        at: float,
        live: bool,
        work: Callable[[Callable[[T], None]], T],
        wait: float,
        part_wait: float | None = None,
    ) -> T | InFlight:
        """`view`, of a view whose evaluation can report a part of it first
        (`work` is given the reporter): with `part_wait`, that part once so
        many seconds have passed without the whole. A part is never kept."""
        stored = key_text((name, *key, at))
        kept = self._get(stored)
        if kept is not None:
            metrics.CACHE_HITS.labels("views").inc()
            return kept
        flight = (name, *key, "live" if live else at)
        latest = (name, key, at) if live else None
        return self.flights.run(
            flight,
            lambda: self._evaluate(
                name, stored, lambda: work(lambda part: self.flights.report(flight, part)), latest
            ),
            wait,
            part_wait,
        )

    def cached(self, name: str, key: tuple[Any, ...], at: float) -> Any | None:
        """The view `name` of `key` at `at` when it is kept, else None (nothing is evaluated)."""
        return self._get(key_text((name, *key, at)))

    def latest(self, name: str, key: tuple[Any, ...]) -> tuple[float, Any] | None:
        """The live view `name` of `key` last evaluated here, with its moment,
        while it is kept (nothing is evaluated)."""
        with self._lock:
            at = self._latest.get((name, key))
        kept = None if at is None else self._get(key_text((name, *key, at)))
        return None if kept is None else (at, kept)

    def _slowest(self) -> float:
        """The longest evaluation of the last minute, in seconds."""
        with self._lock:
            now = self._clock()
            while self._took and self._took[0][0] < now - ALIGN_MAX_SECONDS:
                self._took.popleft()
            return max((seconds for _, seconds in self._took), default=0.0)

    def _evaluate(
        self, name: str, stored: str, work: Callable[[], T], latest: tuple[str, Any, float] | None = None
    ) -> T:
        held = self._shared(lambda: self.store.acquire(stored, self.longest))
        try:
            kept = self._get(stored)  # another replica evaluated it while this one waited
            if kept is not None:
                metrics.CACHE_HITS.labels("views").inc()
                return kept
            metrics.CACHE_MISSES.labels("views").inc()
            started = self._clock()
            with metrics.REFRESH_SECONDS.labels(name).time():
                value = work()
            ended = self._clock()
            with self._lock:
                self._took.append((ended, ended - started))
            # A live view is on screen until the next interval's has been
            # evaluated, which takes as long as the slowest refresh: kept that
            # much longer, a click on the graph shown draws from it, not from
            # a refresh of its own.
            keep = self.keep + min(self._slowest(), self.longest) if latest else self.keep
            self._shared(lambda: self.store.put(stored, value, keep))
            if latest:
                self._note_latest(*latest)
            return value
        finally:
            if held is not None:
                self._shared(lambda: self.store.release(held))

    def _note_latest(self, name: str, key: tuple[Any, ...], at: float) -> None:
        with self._lock:
            if at >= self._latest.get((name, key), at):
                self._latest[(name, key)] = at
                self._latest.move_to_end((name, key))
            while len(self._latest) > MEMORY_VIEWS:
                self._latest.popitem(last=False)

    def _get(self, stored: str) -> Any | None:
        return self._shared(lambda: self.store.get(stored))

    def _shared(self, use: Callable[[], Any]) -> Any:
        """What a use of the store gives, or None (noted) when a shared store fails."""
        try:
            result = use()
        except SourceError as error:
            self._note(error)
            return None
        if isinstance(self.store, RedisStore) and self.backends is not None:
            self.backends.answered("cache", "Redis")
        return result

    def _note(self, error: SourceError) -> None:
        if self.backends is not None:
            self.backends.failed("cache", "Redis", error)
