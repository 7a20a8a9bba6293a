"""Trace statistics as Jaeger UI's trace page computes them: the spans
grouped by service, by service and operation, or by the value of a tag, with
count, total, average, minimum and maximum duration, the same for self time,
and the self time's share of the whole trace ("ST in duration"). Spans
without the tag grouped on make one row of their own, always listed last."""

from __future__ import annotations

from dataclasses import dataclass, field

from dashboard.traces.tree import TraceTree
from queries.traces.details import tag_text

SERVICE, OPERATION = "service", "operation"
TAG_PREFIX = "tag:"
# The columns a table sorts by; `group` sorts by name.
COLUMNS = (
    "group",
    "count",
    "total_us",
    "avg_us",
    "min_us",
    "max_us",
    "self_total_us",
    "self_avg_us",
    "self_min_us",
    "self_max_us",
    "percent",
)


@dataclass
class StatRow:
    """One group's figures; `without` marks the row of spans lacking the tag."""

    group: str
    count: int = 0
    total_us: int = 0
    min_us: int | None = None
    max_us: int = 0
    self_total_us: int = 0
    self_min_us: int | None = None
    self_max_us: int = 0
    percent: float = 0.0
    without: bool = field(default=False)

    @property
    def avg_us(self) -> float:
        return self.total_us / self.count if self.count else 0.0

    @property
    def self_avg_us(self) -> float:
        return self.self_total_us / self.count if self.count else 0.0

    def add(self, duration_us: int, self_us: int) -> None:
        self.count += 1
        self.total_us += duration_us
        self.min_us = duration_us if self.min_us is None else min(self.min_us, duration_us)
        self.max_us = max(self.max_us, duration_us)
        self.self_total_us += self_us
        self.self_min_us = self_us if self.self_min_us is None else min(self.self_min_us, self_us)
        self.self_max_us = max(self.self_max_us, self_us)


def tag_keys(tree: TraceTree) -> list[str]:
    """Every tag key in the trace, sorted: what the statistics can group by."""
    dialect = tree.trace.dialect
    return sorted({key for span in tree.trace.spans for key, _ in tag_text(span, dialect)})


def _group_of(tree: TraceTree, index: int, group_by: str) -> str | None:
    span = tree.span(index)
    if group_by == SERVICE:
        return span.service
    if group_by == OPERATION:
        return f"{span.service}: {span.operation}"
    key = group_by.removeprefix(TAG_PREFIX)
    return next((value for name, value in tag_text(span, tree.trace.dialect) if name == key), None)


def trace_statistics(tree: TraceTree, group_by: str = SERVICE) -> list[StatRow]:
    """The rows for `group_by` (SERVICE, OPERATION or `tag:<key>`), most spans
    first (Jaeger UI's default order); ValueError for another grouping."""
    if group_by not in (SERVICE, OPERATION) and not group_by.startswith(TAG_PREFIX):
        raise ValueError(f"bad grouping {group_by!r}: service, operation or tag:<key>")
    rows: dict[str, StatRow] = {}
    key = group_by.removeprefix(TAG_PREFIX)
    without = StatRow(f"without tag {key}", without=True)
    for i in tree.order:
        name = _group_of(tree, i, group_by)
        row = without if name is None else rows.setdefault(name, StatRow(name))
        row.add(tree.span(i).duration_us, tree.self_us[i])
    result = list(rows.values()) + ([without] if without.count else [])
    for row in result:
        row.percent = 100 * row.self_total_us / tree.duration_us if tree.duration_us else 0.0
    return sort_rows(result, "count", descending=True)


def sort_rows(rows: list[StatRow], column: str, descending: bool) -> list[StatRow]:
    """Sorted by one column (COLUMNS), the row of spans without the tag last whatever the order."""
    if column not in COLUMNS:
        raise ValueError(f"bad column {column!r}")

    def value(row: StatRow) -> float | str:
        found = getattr(row, column)
        return found if found is not None else 0

    ordered = sorted((row for row in rows if not row.without), key=lambda r: r.group)
    ordered.sort(key=value, reverse=descending)
    return ordered + [row for row in rows if row.without]
