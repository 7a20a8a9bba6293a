"""The trace model: span tree, self time, critical path, errors, service
totals, proxy spans, find-in-trace and the rows a waterfall shows. Pure.

The rules are the Jaeger UI's, so users get the answers they already know:
- parent = the first CHILD_OF or FOLLOWS_FROM reference whose span is in the
  trace; a span whose parent is missing, that references only itself, or
  whose references loop becomes an extra root, with a warning that says
  which; duplicate span ids are kept, suffixed `_1`, `_2`, and flagged;
- display order: depth-first from the roots, siblings by start time;
- self time: duration minus the union of the children's intervals, clipped
  to the span;
- critical path, per root: from the span's end, take the last-finishing
  child, which owns from its end back to ..., recurse, then continue from the
  child's start with the child that finished (strictly) before it; children
  wholly outside their parent are dropped and overflowing ones clipped first,
  and non-blocking children (FOLLOWS_FROM, producer/consumer) are off the
  path. Critical time over a root's tree sums to the root's duration.

Spans are addressed by their index in `TraceRecord.spans`; per-span facts are
parallel lists, so a 100k-span trace stays a few flat arrays.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

from queries.trace_records import FOLLOWS_FROM, SpanRecord, TagTuple, TraceRecord, read_details, tag_text

NON_BLOCKING_KINDS = frozenset({"producer", "consumer"})
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
    self_us: list[int]
    critical_us: list[int]
    # (span index, section start µs, section end µs), absolute times.
    critical_sections: list[tuple[int, int, int]]
    warnings: list[str]
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
    spans = trace.spans
    n = len(spans)
    starts = [span.start_us for span in spans]
    ends = [span.start_us + span.duration_us for span in spans]
    span_ids, first, duplicates = _display_ids(spans)

    parent = [-1] * n
    follows = [False] * n
    detached: dict[int, str] = {}
    for i, span in enumerate(spans):
        for ref_type, ref_id in span.refs:
            j = first.get(ref_id)
            if j is not None and j != i:
                parent[i] = j
                follows[i] = ref_type == FOLLOWS_FROM
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

    critical_us, sections = _critical_path(roots, children, parent, follows, spans, starts, ends, order)
    tree = TraceTree(
        trace=trace,
        span_ids=span_ids,
        parent=parent,
        children=children,
        roots=roots,
        order=order,
        depth=depth,
        start_us=min(starts, default=0),
        end_us=max(ends, default=0),
        self_us=_self_times(children, starts, ends),
        critical_us=critical_us,
        critical_sections=sections,
        warnings=warnings,
        duplicates=duplicates,
        subtree_size=_subtree_sizes(order, parent, n),
        detached=detached,
    )
    return tree


def _loop_above(index: int, parent: list[int]) -> list[int]:
    """The reference loop reached by following parents up from `index` (a
    span no root reaches), in parent order."""
    position: dict[int, int] = {}
    path: list[int] = []
    while index not in position:
        position[index] = len(path)
        path.append(index)
        index = parent[index]
    return path[position[index]:]


def _names(ids: list[str]) -> str:
    shown = ", ".join(ids[:NAMED])
    return shown + (", …" if len(ids) > NAMED else "")


def _structure_warnings(span_ids: list[str], spans: list[SpanRecord], detached: dict[int, str],
                        loops: list[list[int]], duplicates: set[int]) -> list[str]:
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
        warnings.append(f"spans {_names([span_ids[i] for i in loop])} reference each other in a loop; "
                        f"{span_ids[loop[0]]} is shown as a root")
    if len(loops) > NAMED:
        warnings.append(f"… and {len(loops) - NAMED:,} more reference loops")
    copies: dict[str, list[str]] = {}
    for i in sorted(duplicates):
        copies.setdefault(spans[i].span_id, []).append(span_ids[i])
    for original, shown_as in list(copies.items())[:NAMED]:
        warnings.append(f"span id {original} is used by {len(shown_as) + 1} spans; "
                        f"the copies are shown as {_names(shown_as)}")
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


def _self_times(children: list[list[int]], starts: list[int], ends: list[int]) -> list[int]:
    """Duration minus the union of children's intervals clipped to the span."""
    result = []
    for i, kids in enumerate(children):
        start, end = starts[i], ends[i]
        covered = 0
        run_start = run_end = start
        for kid in kids:  # sorted by start, so clipped starts are sorted too
            kid_start = max(starts[kid], start)
            kid_end = min(ends[kid], end)
            if kid_end <= kid_start:
                continue
            if kid_start > run_end:
                covered += run_end - run_start
                run_start, run_end = kid_start, kid_end
            elif kid_end > run_end:
                run_end = kid_end
        covered += run_end - run_start
        result.append(end - start - covered)
    return result


def _critical_path(roots: list[int], children: list[list[int]], parent: list[int], follows: list[bool],
                   spans: list[SpanRecord], starts: list[int], ends: list[int],
                   order: list[int]) -> tuple[list[int], list[tuple[int, int, int]]]:
    n = len(spans)
    # Clip each span to its (already clipped) parent, top-down; drop what lies outside.
    begin, finish = list(starts), list(ends)
    kept = [True] * n
    for i in order:
        p = parent[i]
        if p < 0:
            continue
        if not kept[p] or follows[i] or spans[i].kind in NON_BLOCKING_KINDS:
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


def _walk_critical(root: int, children: list[list[int]], kept: list[bool], begin: list[int], finish: list[int],
                   critical: list[int], sections: list[tuple[int, int, int]]) -> None:
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


# --- facts for the views and the CLI ---

@dataclass(frozen=True)
class ServiceTotals:
    service: str
    spans: int
    errors: int
    self_us: int
    critical_us: int


def service_totals(tree: TraceTree) -> list[ServiceTotals]:
    """Per service: span count, errors, self time and critical time; most critical first."""
    totals: dict[str, list[int]] = {}
    for i, span in enumerate(tree.trace.spans):
        row = totals.setdefault(span.service, [0, 0, 0, 0])
        row[0] += 1
        row[1] += span.error
        row[2] += tree.self_us[i]
        row[3] += tree.critical_us[i]
    result = [ServiceTotals(service, *row) for service, row in totals.items()]
    return sorted(result, key=lambda t: (-t.critical_us, -t.self_us, t.service))


# Istio's tags: the workload version on every proxy span, and the cluster a
# client proxy span sent the request to (`outbound|9080|v1|ratings.bookinfo.svc.cluster.local`).
REVISION_TAG = "istio.canonical_revision"
UPSTREAM_CLUSTER_TAG = "upstream_cluster"


@dataclass(frozen=True)
class Hop:
    """One service-to-service call a trace crossed: Jaeger service names
    (Istio's `<canonical service>.<namespace>`), the workload versions when
    the spans say them, and whether a call on this hop failed."""

    caller: str
    caller_version: str | None
    callee: str
    callee_version: str | None
    error: bool


def trace_hops(tree: TraceTree) -> list[Hop]:
    """The hops of a trace, one per (caller, version, callee, version), in
    display order; `error` when any call on it failed (the callee-side span,
    or the caller's client span, is an error span). A hop is where a span's
    service differs from its parent's, or a caller's client proxy span with no
    callee span under it (refused by the caller's sidecar, 503 UH/UO): its
    callee is the service its `upstream_cluster` names. Tags are read only
    for the spans at a hop."""
    spans, parent, dialect = tree.trace.spans, tree.parent, tree.trace.dialect
    versions: dict[int, str | None] = {}

    def version(index: int) -> str | None:
        # An application span has no Istio tags: a sidecar span above it, of the same service, says the version.
        chain: list[int] = []
        while index not in versions:
            chain.append(index)
            found = _tag(spans[index], dialect, REVISION_TAG)
            up = parent[index]
            if found is not None or up < 0 or spans[up].service != spans[index].service:
                break
            index = up
        else:
            found = versions[index]
        for i in chain:
            versions[i] = found
        return found

    hops: dict[tuple[str, str | None, str, str | None], bool] = {}
    for i in tree.order:
        span, p = spans[i], parent[i]
        if p >= 0 and spans[p].service != span.service:
            caller = spans[p]
            key = (caller.service, version(p), span.service, version(i))
            error = span.error or (caller.error and caller.kind == "client")
        elif span.proxy and span.kind == "client" and all(spans[k].service == span.service for k in tree.children[i]):
            callee = _outbound_service(_tag(span, dialect, UPSTREAM_CLUSTER_TAG))
            if callee is None:
                continue
            key, error = (span.service, version(i), callee, None), span.error
        else:
            continue
        hops[key] = hops.get(key, False) or error
    return [Hop(*key, error=error) for key, error in hops.items()]


def _tag(span: SpanRecord, dialect: str, key: str) -> str | None:
    return next((value for name, value in tag_text(span, dialect) if name == key), None)


def _outbound_service(cluster: str | None) -> str | None:
    """`<service>.<namespace>` of a Kubernetes service an Envoy outbound
    cluster (`outbound|<port>|<subset>|<service>.<namespace>.svc.<domain>`) names."""
    parts = (cluster or "").split("|")
    if len(parts) != 4 or parts[0] != "outbound":
        return None
    labels = parts[3].split(".")
    if len(labels) < 3 or labels[2] != "svc" or not labels[0] or not labels[1]:
        return None
    return f"{labels[0]}.{labels[1]}"


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


@dataclass(frozen=True)
class TraceSummary:
    """One search result: what the scatter plot and result list show."""

    trace_id: str
    service: str
    operation: str
    start_us: int
    duration_us: int
    span_count: int
    error_count: int
    services: list[tuple[str, int]]


def summarise(trace: TraceRecord) -> TraceSummary:
    """Name (the earliest root span), time, size and errors of a trace, without building its tree."""
    spans = trace.spans
    ids = {span.span_id for span in spans}
    roots = [span for span in spans if not any(ref_id in ids for _, ref_id in span.refs)] or spans
    root = min(roots, key=lambda span: span.start_us) if roots else None
    start = min((span.start_us for span in spans), default=0)
    end = max((span.start_us + span.duration_us for span in spans), default=0)
    counts = Counter(span.service for span in spans)
    return TraceSummary(
        trace_id=trace.trace_id,
        service=root.service if root else "",
        operation=root.operation if root else "",
        start_us=start,
        duration_us=end - start,
        span_count=len(spans),
        error_count=sum(1 for span in spans if span.error),
        services=sorted(counts.items()),
    )


def redundant_proxy_spans(tree: TraceTree) -> set[int]:
    """Proxy spans that only double a hop, hidden by "hide proxy spans": a
    sidecar span next to an application span of the same service, or the
    client half of a hop whose server half is another proxy span. Roots stay,
    so the trace keeps its start and duration; error spans and every span on
    their way to the root stay, so a failure is never hidden."""
    spans = tree.trace.spans
    hidden = set()
    for i, span in enumerate(spans):
        if not span.proxy or tree.parent[i] < 0:
            continue
        neighbours = [tree.parent[i], *tree.children[i]]
        if any(not spans[j].proxy and spans[j].service == span.service for j in neighbours):
            hidden.add(i)
        elif any(spans[kid].proxy and spans[kid].service != span.service for kid in tree.children[i]):
            hidden.add(i)
    kept: set[int] = set()
    for i, span in enumerate(spans):
        if span.error:
            while i >= 0 and i not in kept:  # stop where another error's path already joined
                kept.add(i)
                i = tree.parent[i]
    return hidden - kept


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


# --- the rows of the waterfall ---

@dataclass(frozen=True)
class Row:
    """One waterfall row: a span at a (visible) depth; `folded` counts the
    spans collapsed under it, 0 when it is expanded or a leaf."""

    span: int
    depth: int
    folded: int


@dataclass(frozen=True)
class Collapse:
    """Which subtrees are collapsed: every span at `depth` or deeper (None:
    no depth limit), except those in `opened`, plus those in `closed`."""

    depth: int | None = None
    opened: frozenset[int] = frozenset()
    closed: frozenset[int] = frozenset()

    def is_collapsed(self, tree: TraceTree, index: int) -> bool:
        if not tree.children[index]:
            return False
        if index in self.closed:
            return True
        return self.depth is not None and tree.depth[index] >= self.depth and index not in self.opened

    def toggled(self, tree: TraceTree, index: int) -> "Collapse":
        if self.is_collapsed(tree, index):
            return Collapse(self.depth, self.opened | {index}, self.closed - {index})
        return Collapse(self.depth, self.opened - {index}, self.closed | {index})

    def revealing(self, tree: TraceTree, index: int) -> "Collapse":
        """The same, with every ancestor of `index` expanded."""
        ancestors = set(tree.ancestors(index))
        return Collapse(self.depth, self.opened | ancestors, self.closed - ancestors)


def initial_collapse(tree: TraceTree, max_rows: int) -> Collapse:
    """Nothing collapsed when the trace fits in `max_rows`; otherwise collapse
    at the deepest level that keeps the rows within `max_rows`."""
    if len(tree.order) <= max_rows:
        return Collapse()
    per_depth = Counter(tree.depth)
    shown = 0
    for level in range(max(per_depth) + 1):
        shown += per_depth[level]
        if shown > max_rows:
            return Collapse(depth=max(level - 1, 0))
    return Collapse()


def waterfall_rows(tree: TraceTree, collapse: Collapse = Collapse(), hidden: Iterable[int] = (),
                   only: set[int] | None = None) -> list[Row]:
    """The rows to draw, in display order. Hidden spans give their place to
    their children; with `only`, just those spans and their ancestors show."""
    hidden = set(hidden)
    keep: set[int] | None = None
    if only is not None:
        keep = set()
        for i in only:
            keep.add(i)
            keep.update(tree.ancestors(i))
    rows: list[Row] = []
    stack = [(root, 0) for root in reversed(tree.roots)]
    children, size = tree.children, tree.subtree_size
    while stack:
        i, depth = stack.pop()
        if i in hidden:
            stack.extend((kid, depth) for kid in reversed(children[i]))
            continue
        if keep is not None and i not in keep:
            continue
        if collapse.is_collapsed(tree, i):
            rows.append(Row(i, depth, size[i] - 1))
            continue
        rows.append(Row(i, depth, 0))
        stack.extend((kid, depth + 1) for kid in reversed(children[i]))
    return rows


def critical_sections_of(tree: TraceTree, spans: Iterable[int]) -> list[tuple[int, int, int]]:
    """The critical-path sections lying on the given spans."""
    wanted = set(spans)
    return [section for section in tree.critical_sections if section[0] in wanted]


@dataclass(frozen=True, slots=True)
class Tag:
    key: str
    value: Any
    type: str = "string"


@dataclass(frozen=True)
class LogEntry:
    timestamp_us: int
    fields: list[Tag]


@dataclass(frozen=True)
class Reference:
    ref_type: str
    trace_id: str
    span_id: str


@dataclass(frozen=True)
class SpanDetails:
    """What the span detail panel shows besides the span's own facts."""

    tags: list[Tag]
    process_tags: list[Tag]
    logs: list[LogEntry]
    references: list[Reference]
    warnings: list[str]


_DETACHED_NOTES = {
    MISSING_PARENT: "parent span is not in this trace; shown as a root",
    SELF_REFERENCE: "this span references itself; shown as a root",
    REFERENCE_LOOP: "this span's references form a loop; shown as a root",
}


def _tags(tags: list[TagTuple]) -> list[Tag]:
    return [Tag(key, value, kind) for key, value, kind in tags]


def details_of(tree: TraceTree, index: int) -> SpanDetails:
    """Tags, process tags, logs, references and warnings of one span, read
    now; SourceError when the span's JSON has fields of the wrong shape."""
    span = tree.span(index)
    record = read_details(tree.trace, span)
    warnings = list(span.warnings)
    if index in tree.duplicates:
        warnings.append(f"duplicate span id {span.span_id}; shown as {tree.span_ids[index]}")
    if index in tree.detached:
        warnings.append(_DETACHED_NOTES[tree.detached[index]])
    return SpanDetails(
        tags=_tags(record.tags),
        process_tags=_tags(record.process_tags),
        logs=[LogEntry(timestamp_us, _tags(fields)) for timestamp_us, fields in record.logs],
        references=[Reference(*reference) for reference in record.references],
        warnings=warnings,
    )
