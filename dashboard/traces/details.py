"""A span's details for the detail panel: its tags, logs and references as
the wire holds them, and what the tree adds (duplicate ids, detached spans)."""

from __future__ import annotations

from dataclasses import replace

from dashboard.traces.tree import MISSING_PARENT, REFERENCE_LOOP, SELF_REFERENCE, TraceTree
from queries.traces.details import read_details
from queries.traces.records import SpanDetails, Tag

__all__ = ["SpanDetails", "Tag", "details_of"]  # the views take the records as they are

_DETACHED_NOTES = {
    MISSING_PARENT: "parent span is not in this trace; shown as a root",
    SELF_REFERENCE: "this span references itself; shown as a root",
    REFERENCE_LOOP: "this span's references form a loop; shown as a root",
}


def details_of(tree: TraceTree, index: int) -> SpanDetails:
    """Tags, process tags, logs, references and warnings of one span, read
    now; SourceError when the span's JSON has fields of the wrong shape."""
    span = tree.span(index)
    details = read_details(tree.trace, span)
    warnings = list(details.warnings)
    if index in tree.duplicates:
        warnings.append(f"duplicate span id {span.span_id}; shown as {tree.span_ids[index]}")
    if index in tree.detached:
        warnings.append(_DETACHED_NOTES[tree.detached[index]])
    return replace(details, warnings=warnings)
