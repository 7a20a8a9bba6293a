"""The trace cache: one fetch and analysis per trace id at a time, however many ask."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from dashboard.app.trace_cache import MEMORY_PER_WIRE_BYTE, TraceCache
from queries.errors import SourceError
from queries.traces.jaeger_v1 import parse_trace as parse_v1_trace
from tests.support.jaeger import bookinfo_trace


def test_concurrent_loads_of_one_trace_fetch_and_analyse_it_once() -> None:
    release, fetched = threading.Event(), []
    record = parse_v1_trace(bookinfo_trace())

    def fetch(trace_id: str) -> Any:
        fetched.append(trace_id)
        assert release.wait(10)
        return record

    cache = TraceCache(fetch)
    trees: list[Any] = []
    readers = [threading.Thread(target=lambda: trees.append(cache.load(record.trace_id))) for _ in range(4)]
    for reader in readers:
        reader.start()
    deadline = time.monotonic() + 10
    while cache.progress(record.trace_id) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cache.progress(record.trace_id) == ("fetching", None)
    release.set()
    for reader in readers:
        reader.join(10)
    assert len(fetched) == 1 and len(trees) == 4 and all(tree is trees[0] for tree in trees)
    assert cache.progress(record.trace_id) is None and cache.get(record.trace_id.upper()) is trees[0]


def test_a_failed_load_fails_every_waiter_and_is_retried_next_time() -> None:
    calls = []

    def failing(trace_id: str) -> Any:
        calls.append(trace_id)
        raise SourceError("cannot reach Jaeger at http://jaeger: Connection refused")

    cache = TraceCache(failing)

    for _ in range(2):
        with pytest.raises(SourceError, match="Connection refused"):
            cache.load("ab")
    assert calls == ["ab", "ab"] and cache.progress("ab") is None


def trace_with_id(trace_id: str, wire_bytes: int) -> Any:
    document = bookinfo_trace()
    document["traceID"] = trace_id
    record = parse_v1_trace(document)
    record.wire_bytes = wire_bytes
    return record


def test_the_cache_is_bounded_in_bytes_and_drops_the_least_recently_used() -> None:
    cache = TraceCache(lambda trace_id: None, max_bytes=25 << 20)
    for trace_id in ("a1", "b2", "c3"):
        cache.put(trace_with_id(trace_id, 2 << 20))  # each reckoned 5.5 x 2 MB
    assert cache.get("a1") is None and cache.get("b2") and cache.get("c3")
    assert cache.held_bytes == 2 * int(MEMORY_PER_WIRE_BYTE * (2 << 20))
    cache.get("b2")  # used: now c3 is the oldest
    cache.put(trace_with_id("d4", 2 << 20))
    assert cache.get("c3") is None and cache.get("b2") and cache.get("d4")
    # A trace larger than the whole cache stays, alone: the one just opened is always shown.
    cache.put(trace_with_id("e5", 100 << 20))
    assert [cache.get(t) is not None for t in ("b2", "d4", "e5")] == [False, False, True]


def test_more_parses_than_allowed_are_told_to_retry() -> None:
    release, started = threading.Event(), threading.Event()
    record = parse_v1_trace(bookinfo_trace())

    def fetch(trace_id: str) -> Any:
        started.set()
        assert release.wait(10)
        return record

    cache = TraceCache(fetch, parses=1)
    reader = threading.Thread(target=lambda: cache.load(record.trace_id))
    reader.start()
    assert started.wait(10)
    with pytest.raises(SourceError, match="busy: 1 trace is being read and analysed already; retry"):
        cache.load("0af7651916cd43dd8448eb211c80319c")
    release.set()
    reader.join(10)
    assert cache.load("0af7651916cd43dd8448eb211c80319c") is not None
