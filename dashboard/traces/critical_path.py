"""The critical path of a trace, by the Jaeger UI's rule: per root, from the
span's end, take the last-finishing child, which owns from its end back to
the current point; recurse into it, then continue from the child's start with
the child that finished (strictly) before it; with no such child the span
owns the time back to its own start. Children wholly outside their parent are
dropped and overflowing ones clipped first. As in Jaeger UI's current
releases, a FOLLOWS_FROM child is on the path like a CHILD_OF child, and only
a messaging hand-off is off it: a consumer span whose parent is a producer
span, with its subtree (span kinds compare case-insensitively: the records
hold them lower-case). Every root, orphans included, owns a path of its own.
Critical time over a root's tree sums to the root's duration."""

from __future__ import annotations

from queries.traces.records import SpanRecord

PRODUCER, CONSUMER = "producer", "consumer"


def critical_path(
    roots: list[int],
    children: list[list[int]],
    parent: list[int],
    spans: list[SpanRecord],
    starts: list[int],
    ends: list[int],
    order: list[int],
) -> tuple[list[int], list[tuple[int, int, int]]]:
    n = len(spans)
    # Clip each span to its (already clipped) parent, top-down; drop what lies outside.
    begin, finish = list(starts), list(ends)
    kept = [True] * n
    for i in order:
        p = parent[i]
        if p < 0:
            continue
        if not kept[p] or (spans[i].kind == CONSUMER and spans[p].kind == PRODUCER):
            kept[i] = False
            continue
        p_start, p_end = begin[p], finish[p]
        if begin[i] >= p_end or (begin[i] < p_start and finish[i] <= p_start):
            kept[i] = False
            continue
        begin[i] = max(begin[i], p_start)
        finish[i] = min(finish[i], p_end)

    critical = [0] * n
    sections: list[tuple[int, int, int]] = []
    for root in roots:
        _walk_critical(root, children, kept, begin, finish, critical, sections)
    return critical, sections


def _walk_critical(
    root: int,
    children: list[list[int]],
    kept: list[bool],
    begin: list[int],
    finish: list[int],
    critical: list[int],
    sections: list[tuple[int, int, int]],
) -> None:
    """The last-finishing-child walk, iterative so deep traces cannot overflow the stack."""
    by_end: dict[int, list[int]] = {}
    next_child: dict[int, int] = {}
    span, point, returning = root, finish[root], False
    back: dict[int, int] = {}
    while True:
        kids = by_end.get(span)
        if kids is None:
            # Latest end first; among equal ends the earliest-starting child (Jaeger keeps the first).
            kids = by_end[span] = sorted((k for k in children[span] if kept[k]), key=lambda k: -finish[k])
        position = next_child.get(span, 0)
        if returning:
            while position < len(kids) and finish[kids[position]] >= point:
                position += 1
        if position < len(kids):
            child = kids[position]
            next_child[span] = position + 1
            if finish[child] != point:
                critical[span] += point - finish[child]
                sections.append((span, finish[child], point))
            back[child] = span
            span, point, returning = child, finish[child], False
            continue
        next_child[span] = position
        if begin[span] != point:
            critical[span] += point - begin[span]
            sections.append((span, begin[span], point))
        if span == root:
            return
        span, point, returning = back[span], begin[span], True
