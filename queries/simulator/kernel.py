"""A small discrete-event kernel: timed callbacks and generator processes.

A process is a generator that yields either a delay in seconds (it sleeps)
or a `Signal` (it waits until someone fires it, and receives the value).
Sub-steps compose with `yield from`, so a request's path through the mesh
reads top to bottom like the requests it models.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Generator
from typing import Any

Process = Generator[Any, Any, Any]


class Signal:
    """A one-shot event a process can wait for; fired once with a value."""

    __slots__ = ("fired", "value", "_waiters")

    def __init__(self) -> None:
        self.fired = False
        self.value: Any = None
        self._waiters: list[Callable[[Any], None]] = []

    def fire(self, value: Any = None) -> None:
        if self.fired:
            return
        self.fired, self.value = True, value
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter(value)

    def subscribe(self, waiter: Callable[[Any], None]) -> None:
        if self.fired:
            waiter(self.value)
        else:
            self._waiters.append(waiter)


class Kernel:
    """Runs events in time order; `now` is unix seconds of simulated time."""

    def __init__(self, now: float) -> None:
        self.now = now
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()

    def schedule(self, at: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._queue, (max(at, self.now), next(self._order), action))

    def spawn(self, process: Process) -> Signal:
        """Start a process now; the returned signal fires with its return value."""
        done = Signal()
        self._step(process, done, None)
        return done

    def run_until(self, until: float) -> None:
        """Run every event due at or before `until`, then stand at `until`."""
        while self._queue and self._queue[0][0] <= until:
            at, _, action = heapq.heappop(self._queue)
            self.now = at
            action()
        self.now = max(self.now, until)

    def _step(self, process: Process, done: Signal, value: Any) -> None:
        try:
            command = process.send(value)
        except StopIteration as stop:
            done.fire(stop.value)
            return
        if isinstance(command, Signal):
            # Resume from the event queue, never re-entrantly from fire().
            command.subscribe(
                lambda result: self.schedule(self.now, lambda: self._step(process, done, result))
            )
        else:
            self.schedule(self.now + float(command), lambda: self._step(process, done, None))
