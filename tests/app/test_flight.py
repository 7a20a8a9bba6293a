"""At most one refresh per view in flight: later askers join it, a poll that
stops waiting hears how long it has run, and the result waits for the next."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from dashboard.app.flight import Busy, Flights, InFlight
from queries.errors import SourceError


class Gate:
    """Work that runs until the test opens the gate; counts its runs."""

    def __init__(self, result: object = "graph") -> None:
        self.opened = threading.Event()
        self.started = threading.Event()
        self.runs = 0
        self.result = result

    def __call__(self) -> object:
        self.runs += 1
        self.started.set()
        self.opened.wait(10)
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def test_concurrent_asks_for_one_view_run_its_refresh_once() -> None:
    flights, work = Flights(), Gate()
    with ThreadPoolExecutor(8) as pool:
        asks = [pool.submit(flights.run, ("topology", ()), work, 0.2) for _ in range(8)]
        assert all(isinstance(ask.result(), InFlight) for ask in asks)
    assert work.runs == 1
    work.opened.set()
    assert flights.run(("topology", ()), work, 5) == "graph" and work.runs == 1


def test_a_poll_that_stops_waiting_hears_since_when_and_the_next_takes_the_result() -> None:
    now = [100.0]
    flights, work = Flights(clock=lambda: now[0]), Gate()
    now[0] = 100.0
    first = flights.run("view", work, 0.05)
    now[0] = 108.0
    second = flights.run("view", work, 0.05)
    assert isinstance(first, InFlight) and isinstance(second, InFlight)
    assert second.elapsed == pytest.approx(8.0)
    work.opened.set()
    assert flights.run("view", work, 5) == "graph"
    assert work.runs == 1
    # Once someone has the result, the next poll refreshes anew.
    assert flights.run("view", work, 5) == "graph" and work.runs == 2


def test_a_failed_refresh_fails_its_waiters_and_the_next_poll_retries() -> None:
    flights, work = Flights(), Gate(SourceError("Prometheus at http://p:9090 did not answer within 10s"))
    work.opened.set()
    with pytest.raises(SourceError, match="did not answer"):
        flights.run("view", work, 5)
    work.result = "graph"
    assert flights.run("view", work, 5) == "graph" and work.runs == 2


def test_too_many_views_in_flight_are_told_to_retry() -> None:
    flights, work = Flights(workers=1, max_in_flight=2), Gate()
    assert isinstance(flights.run("a", work, 0), InFlight)
    assert isinstance(flights.run("b", work, 0), InFlight)
    with pytest.raises(Busy, match="busy: 2 views are being refreshed"):
        flights.run("c", work, 0)
    work.opened.set()
    assert flights.run("a", work, 5) == "graph"


def test_an_asker_that_can_draw_a_part_is_given_it_until_the_whole_lands() -> None:
    flights, whole_ready = Flights(), threading.Event()

    def work() -> str:
        flights.report("view", "rates")
        whole_ready.wait(10)
        return "graph"

    # At once, when it may draw the part; after its wait, when it would rather have the whole.
    assert flights.run("view", work, 5, part_wait=0) == "rates"
    assert flights.run("view", work, 0.05, part_wait=0.05) == "rates"
    # An asker that takes no part is told the refresh is still out.
    assert isinstance(flights.run("view", work, 0.05), InFlight)
    whole_ready.set()
    assert flights.run("view", work, 5) == "graph"
