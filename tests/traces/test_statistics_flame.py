"""Trace statistics (Jaeger UI's table) and the flame graph's layout."""

from __future__ import annotations

from typing import Any

import pytest

from dashboard.traces.flame import flame_graph
from dashboard.traces.statistics import OPERATION, SERVICE, sort_rows, tag_keys, trace_statistics
from dashboard.traces.tree import build_tree
from dashboard.traces.waterfall import waterfall_rows
from queries.traces.jaeger_v1 import parse_trace
from tests.support.jaeger import bookinfo_trace
from tests.traces.test_trace_model import make_trace


def tag(key: str, value: Any) -> dict[str, Any]:
    return {"key": key, "type": "string", "value": value}


def test_grouped_by_service_with_self_time_and_share_of_the_trace() -> None:
    tree = make_trace(
        ("a", None, 0, 100, "web"),
        ("b", "a", 10, 30, "api"),
        ("c", "a", 50, 40, "api"),
        ("d", "c", 60, 10, "db"),
    )
    rows = {row.group: row for row in trace_statistics(tree, SERVICE)}
    assert [row.group for row in trace_statistics(tree, SERVICE)] == ["api", "db", "web"]  # most spans first
    api = rows["api"]
    assert (api.count, api.total_us, api.avg_us, api.min_us, api.max_us) == (2, 70, 35.0, 30, 40)
    assert (api.self_total_us, api.self_avg_us, api.self_min_us, api.self_max_us) == (60, 30.0, 30, 30)
    assert api.percent == pytest.approx(
        60.0
    )  # self total over the trace's duration, as Jaeger's "ST in duration"
    assert rows["web"].self_total_us == 30 and rows["web"].percent == pytest.approx(30.0)
    assert sum(row.percent for row in rows.values()) == pytest.approx(100.0)


def test_grouped_by_operation_and_by_tag_with_a_without_row_last() -> None:
    tree = make_trace(
        ("a", None, 0, 100, "web", [tag("version", "v1")]),
        ("b", "a", 10, 30, "api", [tag("version", "v2")]),
        ("c", "a", 50, 40, "api"),
    )
    assert [row.group for row in trace_statistics(tree, OPERATION)] == ["api: op-b", "api: op-c", "web: op-a"]
    rows = trace_statistics(tree, "tag:version")
    assert [(row.group, row.count, row.without) for row in rows] == [
        ("v1", 1, False),
        ("v2", 1, False),
        ("without tag version", 1, True),
    ]
    by_total = sort_rows(rows, "total_us", descending=False)
    assert [row.group for row in by_total] == ["v2", "v1", "without tag version"]
    assert [row.group for row in sort_rows(rows, "total_us", descending=True)][-1] == "without tag version"
    assert tag_keys(tree) == ["version"]
    with pytest.raises(ValueError):
        trace_statistics(tree, "colour")


def test_flame_graph_stacks_by_depth_and_gives_overlaps_their_own_lane() -> None:
    tree = make_trace(
        ("a", None, 0, 100),
        ("b", "a", 10, 50),
        ("c", "a", 30, 52),  # overlaps b: a second lane at depth 1
        ("d", "a", 85, 10),  # after b: back in the first lane
        ("e", "c", 40, 10),
    )
    flame = flame_graph(tree, waterfall_rows(tree))
    levels = {tree.span_ids[box.span]: box.level for box in flame.boxes}
    assert levels == {"a": 0, "b": 1, "c": 2, "d": 1, "e": 3}
    assert flame.levels == 4 and flame.left_out == 0
    few = flame_graph(tree, waterfall_rows(tree), max_boxes=2)
    assert {tree.span_ids[box.span] for box in few.boxes} == {"a", "c"} and few.left_out == 3


def test_bookinfo_statistics_cover_the_whole_trace() -> None:
    tree = build_tree(parse_trace(bookinfo_trace()))
    rows = trace_statistics(tree, SERVICE)
    assert sum(row.count for row in rows) == 8
    assert sum(row.self_total_us for row in rows) == tree.duration_us
