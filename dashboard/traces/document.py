"""One analysed trace as the public JSON of `meshwatch trace` and `/api/trace/<id>`."""

from __future__ import annotations

from typing import Any

from dashboard.traces.tree import TraceTree


def trace_document(tree: TraceTree) -> dict[str, Any]:
    """The public JSON of `meshwatch trace` and `/api/trace/<id>`; `services`
    is the sorted list of distinct service names."""
    spans = tree.trace.spans
    origin = tree.start_us
    return {
        "trace_id": tree.trace_id,
        "duration_us": tree.duration_us,
        "span_count": len(spans),
        "services": tree.services,
        "warnings": tree.warnings,
        "spans": [
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
            }
            for i in tree.order
        ],
    }
