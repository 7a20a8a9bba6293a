"""One analysed trace as the public JSON of `meshwatch trace` and `/api/trace/<id>`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dashboard.format import wire_value
from dashboard.traces.tree import TraceTree
from queries.errors import SourceError
from queries.traces.details import read_tag_values
from queries.traces.records import bulk

# Tag values the documents cannot carry as they came (NaN, infinities, at any depth).
_UNWRITTEN = {float, list, dict}


def tags_object(tree: TraceTree, index: int, warnings: list[str]) -> dict[str, Any]:
    """A span's tags as `{key: value}` (the first value of a key repeated on
    the wire); a span whose tags cannot be read gets `{}` and a warning."""
    try:
        values = read_tag_values(tree.trace, tree.span(index))
    except SourceError as error:
        warnings.append(str(error))
        return {}
    if _UNWRITTEN & set(map(type, values.values())):  # most spans have none: skip the loop
        for key, value in values.items():
            if type(value) in _UNWRITTEN:
                values[key] = wire_value(value)
    return values


# Spans documented at a time when the document is written in parts (`span_batches`).
BATCH = 10_000


def trace_document(tree: TraceTree) -> dict[str, Any]:
    """The public JSON of `meshwatch trace` and `/api/trace/<id>`; `services`
    is the sorted list of distinct service names, `start_time_us` the
    trace's start in µs since the epoch (`start_us` of a span counts from it)."""
    warnings = list(tree.warnings)
    spans = [span for batch in span_batches(tree, warnings) for span in batch]
    return {**document_head(tree, warnings), "spans": spans}


def document_head(tree: TraceTree, warnings: list[str]) -> dict[str, Any]:
    """The document without its spans (which come last), once `warnings` holds
    what documenting the spans added."""
    return {
        "trace_id": tree.trace_id,
        "start_time_us": tree.start_us,
        "duration_us": tree.duration_us,
        "span_count": len(tree.trace.spans),
        "services": tree.services,
        "warnings": warnings,
    }


def span_batches(tree: TraceTree, warnings: list[str], size: int = BATCH) -> Iterator[list[dict[str, Any]]]:
    """The document's spans in display order, `size` at a time, so a writer
    never holds a million spans' tags at once; spans whose tags cannot be
    read add to `warnings`."""
    spans, ids, parent, depth = tree.trace.spans, tree.span_ids, tree.parent, tree.depth
    origin, order = tree.start_us, tree.order
    for at in range(0, len(order), size):
        with bulk():
            batch = [
                {
                    "span_id": ids[i],
                    "parent_id": ids[parent[i]] if parent[i] >= 0 else None,
                    "depth": depth[i],
                    "service": spans[i].service,
                    "operation": spans[i].operation,
                    "start_us": spans[i].start_us - origin,
                    "duration_us": spans[i].duration_us,
                    "self_us": tree.self_us[i],
                    "critical_us": tree.critical_us[i],
                    "error": spans[i].error,
                    "tags": tags_object(tree, i, warnings),
                }
                for i in order[at : at + size]
            ]
        yield batch
