"""At most one refresh of each view in flight (single-flight).

A view (the topology of some namespaces over a window, a canary page, an
API document) is refreshed by one call at a time however many polls, tabs
or API clients ask for it: a later asker joins the refresh in flight. An
asker waits at most `wait` seconds; past that it is told `InFlight` (since
when the refresh runs) and keeps showing its last good view, and the result
waits, unclaimed, for the next asker. Refreshes run on a few worker threads
of their own, so a slow backend holds those, not one thread per poll.
A refresh may report part of its result early (a mesh's rates before its
latency buckets): an asker that can draw a part is given it meanwhile.
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
    # What the refresh has reported of its result so far (`Flights.report`).
    part: T | None = None


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
        # Re-entrant: a refresh that lands at once is told so within `_start`.
        self._lock = threading.RLock()
        # Told when a refresh lands or reports a part.
        self._changed = threading.Condition(self._lock)
        self._max_in_flight = max_in_flight
        self._clock = clock

    def run(
        self, key: Hashable, work: Callable[[], T], wait: float, part_wait: float | None = None
    ) -> T | InFlight:
        """`work()`'s result (or its exception) for the view `key`, from the
        refresh in flight or one started now, or InFlight after `wait`
        seconds; with `part_wait`, the part it reported (`report`) once that
        many seconds (at most `wait`) have passed without the whole."""
        with self._lock:
            self._forget_old()
            flight = self._flights.get(key)
            if flight is None:
                flight = self._flights[key] = self._start(work)
        if part_wait is not None:
            part = self._part_after(flight, wait, part_wait)
            if part is not None:
                return part
        try:
            result = flight.future.result(timeout=max(wait, 0.0))
        except WaitedEnough:
            return InFlight(self._clock() - flight.started)
        except BaseException:
            flight.claimed = True
            raise
        flight.claimed = True
        return result

    def report(self, key: Hashable, part: T) -> None:
        """What the refresh of `key` has of its result so far: askers that
        take a part (`run`'s `part_wait`) are given it until the whole lands."""
        with self._changed:
            flight = self._flights.get(key)
            if flight is not None and flight.landed is None:
                flight.part = part
                self._changed.notify_all()

    def _part_after(self, flight: _Flight[T], wait: float, part_wait: float) -> T | None:
        """The flight's part once `part_wait` seconds have passed, unless it
        lands within `wait` seconds (then None: its result is taken)."""
        now = time.monotonic()
        whole_by, part_by = now + max(wait, 0.0), now + max(min(part_wait, wait), 0.0)
        with self._changed:
            while flight.landed is None:
                if flight.part is not None and now >= part_by:
                    return flight.part
                if now >= whole_by:
                    return None
                self._changed.wait((part_by if flight.part is not None else whole_by) - now)
                now = time.monotonic()
        return None

    def _start(self, work: Callable[[], T]) -> _Flight[T]:
        running = sum(1 for flight in self._flights.values() if flight.landed is None)
        if running >= self._max_in_flight:
            raise Busy(f"busy: {running} views are being refreshed already; the next refresh retries")
        # The work runs in a copy of the asker's context (a response budget, if one is open).
        flight: _Flight[T] = _Flight(self._pool.submit(copy_context().run, work), self._clock())
        flight.future.add_done_callback(lambda _: self._land(flight))
        return flight

    def _land(self, flight: _Flight) -> None:
        with self._changed:
            flight.landed, flight.part = self._clock(), None
            self._changed.notify_all()

    def _forget_old(self) -> None:
        """Drop results nobody came back for; call with the lock held."""
        now = self._clock()
        for key in [
            key
            for key, flight in self._flights.items()
            if flight.landed is not None and (flight.claimed or now - flight.landed > UNCLAIMED_SECONDS)
        ]:
            del self._flights[key]
