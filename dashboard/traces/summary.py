"""What a trace amounts to: per-service totals of one analysed trace, and the
one-line summary of a search result (without building its tree)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from dashboard.traces.tree import TraceTree
from queries.traces.records import TraceRecord


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


@dataclass(frozen=True)
class TraceSummary:
    """One search result: what the scatter plot and result list show.
    `versions` are the (service, version) pairs the trace went through, in
    the order it reached them; `failed_hop` the first call that failed
    (`reviews.bookinfo v2 → ratings.bookinfo`) and `failure` what its spans
    say in short (`HTTP 503 UH`); both filled in by dashboard.traces.results."""

    trace_id: str
    service: str
    operation: str
    start_us: int
    duration_us: int
    span_count: int
    error_count: int
    services: list[tuple[str, int]]
    versions: list[tuple[str, str]] = field(default_factory=list)
    failed_hop: str | None = None
    failure: str | None = None


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
