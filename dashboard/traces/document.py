"""One analysed trace as the public JSON of `meshwatch trace` and `/api/trace/<id>`."""

from __future__ import annotations

from typing import Any

from dashboard.format import wire_value
from dashboard.traces.tree import TraceTree
from queries.errors import SourceError
from queries.traces.details import read_tag_values


def tags_object(tree: TraceTree, index: int, warnings: list[str]) -> dict[str, Any]:
    """A span's tags as `{key: value}` (the first value of a key repeated on
    the wire); a span whose tags cannot be read gets `{}` and a warning."""
    try:
        values = read_tag_values(tree.trace, tree.span(index))
    except SourceError as error:
        warnings.append(str(error))
        return {}
    for key, value in values.items():
        if isinstance(value, (float, list, dict)):  # NaN and infinities have no JSON
            values[key] = wire_value(value)
    return values


def trace_document(tree: TraceTree) -> dict[str, Any]:
    """The public JSON of `meshwatch trace` and `/api/trace/<id>`; `services`
    is the sorted list of distinct service names, `start_time_us` the
    trace's start in µs since the epoch (`start_us` of a span counts from it)."""
    spans = tree.trace.spans
    origin = tree.start_us
    warnings = list(tree.warnings)
    documented = [
        {
            "span_id": tree.span_ids[i],
            "parent_id": tree.span_ids[tree.parent[i]] if tree.parent[i] >= 0 else None,
            "depth": tree.depth[i],
            "service": spans[i].service,
            "operation": spans[i].operation,
            "start_us": spans[i].start_us - origin,
            "duration_us": spans[i].duration_us,
            "self_us": tree.self_us[i],
            "critical_us": tree.critical_us[i],
            "error": spans[i].error,
            "tags": tags_object(tree, i, warnings),
        }
        for i in tree.order
    ]
    return {
        "trace_id": tree.trace_id,
        "start_time_us": origin,
        "duration_us": tree.duration_us,
        "span_count": len(spans),
        "services": tree.services,
        "warnings": warnings,
        "spans": documented,
    }
