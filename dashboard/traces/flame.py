"""The flame graph of a trace: the same spans as the waterfall's rows (after
collapse, hiding and "only matches"), laid out by time on x (width =
duration) and stacked by depth on y, roots on top. Spans of one depth that
overlap in time (concurrent siblings) take extra lanes within their depth,
so no box hides another."""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.traces.tree import TraceTree
from dashboard.traces.waterfall import Row

# More boxes than a screen can show apart: the longest are drawn.
MAX_BOXES = 3000


@dataclass(frozen=True)
class FlameBox:
    """One span's box: `level` counts lanes from the top."""

    span: int
    depth: int
    level: int
    folded: int


@dataclass(frozen=True)
class Flame:
    boxes: list[FlameBox]
    levels: int
    left_out: int  # spans too many to draw (the shortest)


def flame_graph(tree: TraceTree, rows: list[Row], max_boxes: int = MAX_BOXES) -> Flame:
    """Boxes for the rows' spans; past `max_boxes`, only the longest."""
    spans = tree.trace.spans
    chosen = rows
    if len(rows) > max_boxes:
        chosen = sorted(rows, key=lambda row: -spans[row.span].duration_us)[:max_boxes]
    by_depth: dict[int, list[Row]] = {}
    for row in chosen:
        by_depth.setdefault(row.depth, []).append(row)
    boxes: list[FlameBox] = []
    level = 0

    def earliest_longest(row: Row) -> tuple[int, int]:
        return spans[row.span].start_us, -spans[row.span].duration_us

    for depth in sorted(by_depth):
        lane_ends: list[int] = []
        for row in sorted(by_depth[depth], key=earliest_longest):
            span = spans[row.span]
            lane = next((k for k, end in enumerate(lane_ends) if end <= span.start_us), len(lane_ends))
            if lane == len(lane_ends):
                lane_ends.append(0)
            lane_ends[lane] = span.start_us + max(span.duration_us, 1)
            boxes.append(FlameBox(row.span, depth, level + lane, row.folded))
        level += len(lane_ends)
    return Flame(boxes, level, len(rows) - len(chosen))
