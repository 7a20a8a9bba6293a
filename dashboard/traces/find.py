"""Find in a trace: the spans matching every word of a query."""

from __future__ import annotations

from dashboard.traces.tree import TraceTree
from queries.traces.details import tag_text


def find_spans(tree: TraceTree, query: str) -> set[int]:
    """Spans matching every word of `query` (case-insensitive) in their
    service, operation, span id, or a tag's key, value or `key=value`."""
    terms = [term.lower() for term in query.split()]
    if not terms:
        return set()
    spans, dialect = tree.trace.spans, tree.trace.dialect
    found = set()
    for i, span in enumerate(spans):
        text = f"{span.service}\n{span.operation}\n{tree.span_ids[i]}".lower()
        pending = [term for term in terms if term not in text]
        if pending:
            tags = "\n".join(f"{key}={value}" for key, value in tag_text(span, dialect)).lower()
            pending = [term for term in pending if term not in tags]
        if not pending:
            found.add(i)
    return found
