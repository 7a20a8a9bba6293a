"""At most one refresh of each view in flight (single-flight).

A view (the topology of some namespaces over a window, a canary page, an
API document) is refreshed by one call at a time however many polls, tabs
or API clients ask for it: a later asker joins the refresh in flight. An
asker waits at most `wait` seconds; past that it is told `InFlight` (since
when the refresh runs) and keeps showing its last good view, and the result
waits, unclaimed, for the next asker. Refreshes run on a few worker threads
of their own, so a slow backend holds those, not one thread per poll.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as WaitedEnough
from contextvars import copy_context
from dataclasses import dataclass
from typing import Generic, TypeVar

from queries.errors import SourceError

T = TypeVar("T")
# Refreshes running at once (more wait their turn), and at most this many
# views in flight or queued: past it, askers are told to retry.
WORKERS, MAX_IN_FLIGHT = 4, 32
# An unclaimed result stays this long for the asker that gave up waiting.
UNCLAIMED_SECONDS = 120.0


@dataclass(frozen=True)
class InFlight:
    """A refresh still running after the asker's wait: for `elapsed` seconds."""

    elapsed: float


class Busy(SourceError):
    """Too many views are being refreshed at once."""


@dataclass
class _Flight(Generic[T]):
    future: Future[T]
    started: float
    landed: float | None = None
    claimed: bool = False


class Flights:
    """Refreshes by view key; `run` starts one, joins it, or takes the result
    it left unclaimed."""

    def __init__(
        self,
        workers: int = WORKERS,
        max_in_flight: int = MAX_IN_FLIGHT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="meshwatch-refresh")
        self._flights: dict[Hashable, _Flight] = {}
        self._lock = threading.Lock()
        self._max_in_flight = max_in_flight
        self._clock = clock

    def run(self, key: Hashable, work: Callable[[], T], wait: float) -> T | InFlight:
        """`work()`'s result (or its exception) for the view `key`, from the
        refresh in flight or one started now, or InFlight after `wait` seconds."""
        with self._lock:
            self._forget_old()
            flight = self._flights.get(key)
            if flight is None:
                flight = self._flights[key] = self._start(work)
        try:
            result = flight.future.result(timeout=max(wait, 0.0))
        except WaitedEnough:
            return InFlight(self._clock() - flight.started)
        except BaseException:
            flight.claimed = True
            raise
        flight.claimed = True
        return result

    def _start(self, work: Callable[[], T]) -> _Flight[T]:
        running = sum(1 for flight in self._flights.values() if flight.landed is None)
        if running >= self._max_in_flight:
            raise Busy(f"busy: {running} views are being refreshed already; the next refresh retries")
        # The work runs in a copy of the asker's context (a response budget, if one is open).
        flight: _Flight[T] = _Flight(self._pool.submit(copy_context().run, work), self._clock())
        flight.future.add_done_callback(lambda _: self._land(flight))
        return flight

    def _land(self, flight: _Flight) -> None:
        flight.landed = self._clock()

    def _forget_old(self) -> None:
        """Drop results nobody came back for; call with the lock held."""
        now = self._clock()
        for key in [
            key
            for key, flight in self._flights.items()
            if flight.landed is not None and (flight.claimed or now - flight.landed > UNCLAIMED_SECONDS)
        ]:
            del self._flights[key]
