"""The view cache in memory: aligned evaluation times, one evaluation per key, failures not kept."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from dashboard.app.flight import Flights, InFlight
from dashboard.app.view_cache import ALIGN_MAX_SECONDS, MemoryStore, ViewCache, aligned
from queries.errors import SourceError


@pytest.mark.parametrize(
    "now, interval, at",
    [(1003.7, 5.0, 1000.0), (1005.0, 5.0, 1005.0), (1000.4, 0.5, 1000.0), (7259.0, 3600.0, 7200.0)],
)
def test_live_times_are_aligned_down_to_the_refresh_interval(now, interval, at):
    assert aligned(now, interval) == at
    assert aligned(now, interval) <= now < aligned(now, interval) + min(interval, ALIGN_MAX_SECONDS)


def test_many_askers_of_one_key_cost_one_evaluation():
    cache = ViewCache(MemoryStore(), Flights(), interval=5.0, longest=10.0)
    evaluations, gate = [], threading.Event()

    def work():
        evaluations.append(1)
        assert gate.wait(10)
        return {"graph": "drawn"}

    with ThreadPoolExecutor(max_workers=20) as pool:
        pending = [pool.submit(cache.view, "graph", ((), "1m"), 1000.0, True, work, 10.0) for _ in range(20)]
        gate.set()
        results = [future.result() for future in pending]
    assert results == [{"graph": "drawn"}] * 20 and len(evaluations) == 1
    # Another interval is another key: evaluated again.
    assert (
        cache.view("graph", ((), "1m"), 1005.0, True, work, 10.0) == {"graph": "drawn"}
        and len(evaluations) == 2
    )


def test_a_failure_is_not_kept_and_a_view_expires_after_its_interval():
    now = [0.0]
    cache = ViewCache(MemoryStore(clock=lambda: now[0]), Flights(), interval=5.0, longest=10.0)
    answers = iter([SourceError("down"), "first", "second"])

    def work():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    with pytest.raises(SourceError, match="down"):
        cache.view("canary", ("k",), 1000.0, True, work, 10.0)
    assert cache.view("canary", ("k",), 1000.0, True, work, 10.0) == "first"
    assert cache.view("canary", ("k",), 1000.0, True, work, 10.0) == "first"
    now[0] = 5.1
    assert cache.view("canary", ("k",), 1000.0, True, work, 10.0) == "second"


def test_a_slow_live_view_is_evaluated_once_at_a_time_across_intervals():
    cache = ViewCache(MemoryStore(), Flights(), interval=1.0, longest=10.0)
    started, gate = [], threading.Event()

    def slow(at: float):
        def work():
            started.append(at)
            assert gate.wait(10)
            return at

        return work

    # The evaluation of 1000 still runs when the polls of 1001 and 1002 come: they join it.
    for at in (1000.0, 1001.0, 1002.0):
        assert isinstance(cache.view("graph", ("k",), at, True, slow(at), 0.01), InFlight)
    # A fixed time is another view: it does not wait for the live one.
    assert isinstance(cache.view("graph", ("k",), 900.0, False, slow(900.0), 0.01), InFlight)
    gate.set()
    assert cache.view("graph", ("k",), 1002.0, True, slow(1002.0), 5.0) == 1000.0
    assert sorted(started) == [900.0, 1000.0]


def test_a_live_view_is_kept_as_much_longer_as_the_slowest_refresh_took_and_is_the_latest():
    # It is on screen until the next interval's is in: a click on it draws from it.
    now = [0.0]
    cache = ViewCache(
        MemoryStore(clock=lambda: now[0]), Flights(), interval=5.0, longest=60.0, clock=lambda: now[0]
    )

    def slow():
        now[0] += 8.0
        return "drawn"

    assert cache.view("mesh", ("k",), 1000.0, True, slow, 30.0) == "drawn"
    assert cache.latest("mesh", ("k",)) == (1000.0, "drawn") and cache.latest("mesh", ("other",)) is None
    now[0] += 12.9  # an interval, and the 8 s the refresh took, after it was in
    assert cache.cached("mesh", ("k",), 1000.0) == "drawn"
    now[0] += 0.2
    assert cache.cached("mesh", ("k",), 1000.0) is None and cache.latest("mesh", ("k",)) is None
    # A view of a fixed time is kept its interval alone.
    assert cache.view("mesh", ("k",), 900.0, False, slow, 30.0) == "drawn"
    now[0] += 5.1
    assert cache.cached("mesh", ("k",), 900.0) is None


def test_a_part_a_view_reports_is_drawn_meanwhile_and_never_kept():
    cache, whole_ready = ViewCache(MemoryStore(), Flights(), interval=5.0, longest=10.0), threading.Event()

    def work(report):
        report("rates")
        whole_ready.wait(10)
        return "whole"

    assert cache.view_in_parts("mesh", ("k",), 1000.0, True, work, 5.0, part_wait=0) == "rates"
    assert cache.cached("mesh", ("k",), 1000.0) is None
    # An asker that takes no part (the API) waits for the whole.
    assert isinstance(cache.view_in_parts("mesh", ("k",), 1000.0, True, work, 0.05), InFlight)
    whole_ready.set()
    assert cache.view_in_parts("mesh", ("k",), 1000.0, True, work, 5.0) == "whole"
    assert cache.cached("mesh", ("k",), 1000.0) == "whole"
