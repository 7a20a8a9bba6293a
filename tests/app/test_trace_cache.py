"""The trace cache: one fetch and analysis per trace id at a time, however many ask."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from dashboard.app.trace_cache import TraceCache
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
