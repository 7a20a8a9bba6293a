"""Search results that say what each trace is: its root, the versions it
went through and the call where it failed; sorted and filtered by version
on the search page."""

from __future__ import annotations

from dataclasses import replace

from dashboard.traces.details import details_of
from dashboard.traces.failure import root_cause, span_failure
from dashboard.traces.hops import trace_hops
from dashboard.traces.summary import TraceSummary, summarise
from dashboard.traces.tree import TraceTree
from queries.errors import SourceError

RECENT, OLDEST, LONGEST, SHORTEST, MOST_SPANS, MOST_ERRORS = (
    "recent",
    "oldest",
    "longest",
    "shortest",
    "spans",
    "errors",
)
SORTS = {
    RECENT: lambda s: -s.start_us,
    OLDEST: lambda s: s.start_us,
    LONGEST: lambda s: -s.duration_us,
    SHORTEST: lambda s: s.duration_us,
    MOST_SPANS: lambda s: -s.span_count,
    MOST_ERRORS: lambda s: (-s.error_count, -s.start_us),
}


def describe(tree: TraceTree) -> TraceSummary:
    """The trace's summary with the versions it went through and where it failed."""
    hops = trace_hops(tree)
    versions: list[tuple[str, str]] = []
    for hop in hops:
        for service, version in ((hop.caller, hop.caller_version), (hop.callee, hop.callee_version)):
            if version and (service, version) not in versions:
                versions.append((service, version))
    failed = next((hop for hop in hops if hop.error), None)
    failed_hop = None
    if failed is not None:
        caller = f"{failed.caller} {failed.caller_version}" if failed.caller_version else failed.caller
        callee = f"{failed.callee} {failed.callee_version}" if failed.callee_version else failed.callee
        failed_hop = f"{caller} → {callee}"
    failure = None
    cause = root_cause(tree)
    if cause is not None:
        try:
            found = span_failure(details_of(tree, cause).tags, True)
        except SourceError:
            found = None
        failure = found.short if found else "error"
    return replace(summarise(tree.trace), versions=versions, failed_hop=failed_hop, failure=failure)


def sort_summaries(summaries: list[TraceSummary], order: str) -> list[TraceSummary]:
    """By start (most recent or oldest first), duration, span count or errors;
    ValueError for another order."""
    if order not in SORTS:
        raise ValueError(f"bad sort {order!r}: {', '.join(SORTS)}")
    return sorted(summaries, key=SORTS[order])


def version_choices(summaries: list[TraceSummary]) -> list[tuple[str, str]]:
    """Every (service, version) the results went through, sorted."""
    return sorted({tuple(pair) for summary in summaries for pair in summary.versions})


def through_versions(summaries: list[TraceSummary], chosen: list[tuple[str, str]]) -> list[TraceSummary]:
    """The traces that went through the chosen versions: any of those chosen
    for one service, and every service chosen (reviews v2 or v3, and ratings v1)."""
    wanted: dict[str, set[str]] = {}
    for service, version in chosen:
        wanted.setdefault(service, set()).add(version)
    return [
        summary
        for summary in summaries
        if all(
            any(service == s and version in versions for s, version in summary.versions)
            for service, versions in wanted.items()
        )
    ]
