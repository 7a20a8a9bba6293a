"""The span tree of one trace, by the Jaeger UI's rules, so users get the
answers they already know:
- parent = the first CHILD_OF or FOLLOWS_FROM reference whose span is in the
  trace; a span whose parent is missing, that references only itself, or
  whose references loop becomes an extra root, with a warning that says
  which; duplicate span ids are kept, suffixed `_1`, `_2`, and flagged;
- display order: depth-first from the roots, siblings by start time.

`build_tree` also works out each span's self time (`self_time`) and critical
path (`critical_path`) once, since every view needs them. The two steps can
run apart (`tree_structure`, then `analyse`): a page draws its first rows
from the structure while the analysis of a huge trace goes on.

Spans are addressed by their index in `TraceRecord.spans`; per-span facts are
parallel lists, so a 100k-span trace stays a few flat arrays.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from dashboard.traces.critical_path import critical_path
from dashboard.traces.self_time import self_times
from queries.traces.records import SpanRecord, TraceRecord, bulk

# Why a span with references is a root anyway (TraceTree.detached).
MISSING_PARENT, SELF_REFERENCE, REFERENCE_LOOP = "missing parent", "self reference", "reference loop"
# Span ids a warning names before it says "…".
NAMED = 5


@dataclass
class TraceTree:
    trace: TraceRecord
    span_ids: list[str]
    parent: list[int]
    children: list[list[int]]
    roots: list[int]
    order: list[int]
    depth: list[int]
    start_us: int
    end_us: int
    warnings: list[str]
    # Filled by `analyse`, which sets `analysed` once they all are.
    self_us: list[int] = field(default_factory=list)
    critical_us: list[int] = field(default_factory=list)
    # (span index, section start µs, section end µs), absolute times.
    critical_sections: list[tuple[int, int, int]] = field(default_factory=list)
    analysed: bool = False
    duplicates: set[int] = field(default_factory=set)
    subtree_size: list[int] = field(default_factory=list)
    # Spans that have references but are roots: index -> MISSING_PARENT, SELF_REFERENCE or REFERENCE_LOOP.
    detached: dict[int, str] = field(default_factory=dict)
    _index: dict[str, int] = field(default_factory=dict)

    @property
    def trace_id(self) -> str:
        return self.trace.trace_id

    @property
    def duration_us(self) -> int:
        return self.end_us - self.start_us

    def span(self, index: int) -> SpanRecord:
        return self.trace.spans[index]

    def index_of(self, span_id: str) -> int | None:
        """The span with this (display) id, if any."""
        if not self._index:
            self._index = {sid: i for i, sid in enumerate(self.span_ids)}
        return self._index.get(span_id)

    def ancestors(self, index: int) -> list[int]:
        chain, parent = [], self.parent[index]
        while parent >= 0:
            chain.append(parent)
            parent = self.parent[parent]
        return chain

    @property
    def services(self) -> list[str]:
        return sorted({span.service for span in self.trace.spans})

    @property
    def error_count(self) -> int:
        return sum(1 for span in self.trace.spans if span.error)


def build_tree(trace: TraceRecord) -> TraceTree:
    """Analyse one trace: tree, display order, self time and critical path."""
    return analyse(tree_structure(trace))


def tree_structure(trace: TraceRecord) -> TraceTree:
    """The tree and display order of one trace, not yet `analysed`."""
    with bulk():
        return _structure(trace)


def analyse(tree: TraceTree) -> TraceTree:
    """Self time and critical path of a `tree_structure` tree, filled in place."""
    if tree.analysed:
        return tree
    with bulk():
        spans = tree.trace.spans
        starts = [span.start_us for span in spans]
        ends = [span.start_us + span.duration_us for span in spans]
        tree.self_us = self_times(tree.children, starts, ends)
        tree.critical_us, tree.critical_sections = critical_path(
            tree.roots, tree.children, tree.parent, spans, starts, ends, tree.order
        )
        tree.analysed = True
    return tree


def _structure(trace: TraceRecord) -> TraceTree:
    spans = trace.spans
    n = len(spans)
    starts = [span.start_us for span in spans]
    ends = [span.start_us + span.duration_us for span in spans]
    span_ids, first, duplicates = _display_ids(spans)

    parent = [-1] * n
    detached: dict[int, str] = {}
    for i, span in enumerate(spans):
        for _, ref_id in span.refs:
            j = first.get(ref_id)
            if j is not None and j != i:
                parent[i] = j
                break
        else:
            if span.refs:
                refers_to_itself = any(first.get(ref_id) == i for _, ref_id in span.refs)
                detached[i] = SELF_REFERENCE if refers_to_itself else MISSING_PARENT

    children: list[list[int]] = [[] for _ in range(n)]
    for i in range(n):
        if parent[i] >= 0:
            children[parent[i]].append(i)
    by_start = starts.__getitem__
    for kids in children:
        if len(kids) > 1:
            kids.sort(key=by_start)
    roots = sorted((i for i in range(n) if parent[i] < 0), key=by_start)

    order, depth = _depth_first(roots, children, n)
    loops: list[list[int]] = []
    if len(order) < n:
        # Spans no root reaches hang under a reference loop: cut each loop at its earliest span.
        seen = set(order)
        for i in sorted((i for i in range(n) if i not in seen), key=by_start):
            if i in seen:
                continue
            loop = _loop_above(i, parent)
            cut = min(loop, key=by_start)
            at = loop.index(cut)
            loops.append(loop[at:] + loop[:at])
            children[parent[cut]].remove(cut)
            parent[cut] = -1
            detached[cut] = REFERENCE_LOOP
            seen.update(_depth_first([cut], children, n)[0])
        roots = sorted((i for i in range(n) if parent[i] < 0), key=by_start)
        order, depth = _depth_first(roots, children, n)

    warnings = list(trace.warnings) + _structure_warnings(span_ids, spans, detached, loops, duplicates)

    return TraceTree(
        trace=trace,
        span_ids=span_ids,
        parent=parent,
        children=children,
        roots=roots,
        order=order,
        depth=depth,
        start_us=min(starts, default=0),
        end_us=max(ends, default=0),
        warnings=warnings,
        duplicates=duplicates,
        subtree_size=_subtree_sizes(order, parent, n),
        detached=detached,
    )


def _loop_above(index: int, parent: list[int]) -> list[int]:
    """The reference loop reached by following parents up from `index` (a
    span no root reaches), in parent order."""
    position: dict[int, int] = {}
    path: list[int] = []
    while index not in position:
        position[index] = len(path)
        path.append(index)
        index = parent[index]
    return path[position[index] :]


def _names(ids: list[str]) -> str:
    shown = ", ".join(ids[:NAMED])
    return shown + (", …" if len(ids) > NAMED else "")


def _structure_warnings(
    span_ids: list[str],
    spans: list[SpanRecord],
    detached: dict[int, str],
    loops: list[list[int]],
    duplicates: set[int],
) -> list[str]:
    """What the header says about spans shown other than their references
    say: missing parents, self references, reference loops, duplicate ids."""
    warnings = []
    missing = sum(1 for reason in detached.values() if reason == MISSING_PARENT)
    if missing == 1:
        warnings.append("1 span has a missing parent; the trace may be incomplete")
    elif missing:
        warnings.append(f"{missing:,} spans have missing parents; the trace may be incomplete")
    selfish = [span_ids[i] for i, reason in sorted(detached.items()) if reason == SELF_REFERENCE]
    if len(selfish) == 1:
        warnings.append(f"span {selfish[0]} references itself; shown as a root")
    elif selfish:
        warnings.append(f"{len(selfish):,} spans reference themselves ({_names(selfish)}); shown as roots")
    for loop in loops[:NAMED]:
        warnings.append(
            f"spans {_names([span_ids[i] for i in loop])} reference each other in a loop; "
            f"{span_ids[loop[0]]} is shown as a root"
        )
    if len(loops) > NAMED:
        warnings.append(f"… and {len(loops) - NAMED:,} more reference loops")
    copies: dict[str, list[str]] = {}
    for i in sorted(duplicates):
        copies.setdefault(spans[i].span_id, []).append(span_ids[i])
    for original, shown_as in list(copies.items())[:NAMED]:
        warnings.append(
            f"span id {original} is used by {len(shown_as) + 1} spans; "
            f"the copies are shown as {_names(shown_as)}"
        )
    if len(copies) > NAMED:
        warnings.append(f"… and {len(copies) - NAMED:,} more duplicated span ids")
    return warnings


def _display_ids(spans: list[SpanRecord]) -> tuple[list[str], dict[str, int], set[int]]:
    """Span ids with duplicates suffixed; the first index of each wire id."""
    first: dict[str, int] = {}
    ids: list[str] = []
    duplicates: set[int] = set()
    for i, span in enumerate(spans):
        sid = span.span_id
        if sid in first:
            duplicates.add(i)
            ids.append(sid)
        else:
            first[sid] = i
            ids.append(sid)
    if duplicates:
        used = set(first)
        counts: Counter[str] = Counter()
        for i in sorted(duplicates):
            base = ids[i]
            while True:
                counts[base] += 1
                candidate = f"{base}_{counts[base]}"
                if candidate not in used:
                    break
            ids[i] = candidate
            used.add(candidate)
    return ids, first, duplicates


def _depth_first(roots: list[int], children: list[list[int]], n: int) -> tuple[list[int], list[int]]:
    order: list[int] = []
    depth = [0] * n
    stack = [(root, 0) for root in reversed(roots)]
    while stack:
        i, d = stack.pop()
        order.append(i)
        depth[i] = d
        kids = children[i]
        if kids:
            stack.extend((kid, d + 1) for kid in reversed(kids))
    return order, depth


def _subtree_sizes(order: list[int], parent: list[int], n: int) -> list[int]:
    size = [1] * n
    for i in reversed(order):
        if parent[i] >= 0:
            size[parent[i]] += size[i]
    return size
