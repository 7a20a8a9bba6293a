"""Every PromQL query meshwatch sends, by name.

A refresh of the whole mesh is `MESH_QUERIES`: four instant queries whatever
the number of namespaces (per Prometheus source). Every request is counted
once, by one reporter per hop (a caller workload calling a service): the
caller's own proxy (`reporter="source"`: a sidecar, a gateway, or an ambient
caller's ztunnel for TCP), else a waypoint (`reporter="waypoint"`, ambient
mode's L7 proxy in front of the service), else the server side
(`reporter="destination"`: callers without a proxy, and ambient callers of a
sidecar). Client-side rejections such as UO/UH exist only in the source
reporter's series. Each later reporter's series are dropped, in PromQL
(`unless on` the hop's labels), for the hops an earlier one reports, so the
reporters are never added for one request. The request query also carries
the destination's count of requests by `connection_security_policy` (only
the server side knows it), marked with `VIEW_LABEL` and kept apart from the
counted ones.

Windows are `queries.duration.Duration`s (only a parsed duration reaches a
query); namespaces reach a query only after DNS-1123 validation
(`dashboard.app.config.namespace`) and are regex-escaped here as well.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from queries.duration import Duration, prometheus_duration
from queries.telemetry import (
    BOUNDS_VIEW,
    DESTINATION_REPORTER,
    HOP_LABELS,
    INF_BOUND,
    LATENCY_LABELS,
    REPORTERS,
    REQUEST_LABELS,
    SECURITY_LABELS,
    SECURITY_VIEW,
    SELECTION_OUTCOME_LABELS,
    TCP_LABELS,
    VERSION_TRAFFIC_COLUMNS,
    VIEW_LABEL,
    SeriesSelection,
)

# The server side's view of every caller: only it knows whether a connection
# was mutual TLS (the client side reports `unknown`).
SECURITY_SELECTOR = f'reporter="{DESTINATION_REPORTER}"'
REQUESTS_METRIC = "istio_requests_total"
BUCKETS_METRIC = "istio_request_duration_milliseconds_bucket"
# How far back Prometheus' instant selectors look by default (--query.lookback-delta).
LOOKBACK_SECONDS = 300
NAMESPACE_LABELS = (
    "source_workload_namespace",
    "destination_service_namespace",
    "destination_workload_namespace",
)
ENVOY_POD_LABELS = (
    "namespace",
    "app",
    "version",
    "service_istio_io_canonical_name",
    "service_istio_io_canonical_revision",
    "cluster_name",
)
ENVOY_GAUGES = {
    "ejections_active": "envoy_cluster_outlier_detection_ejections_active",
    "membership_healthy": "envoy_cluster_membership_healthy",
    "membership_total": "envoy_cluster_membership_total",
}
ENVOY_COUNTERS = {
    "pending_overflow": "envoy_cluster_upstream_rq_pending_overflow",
    "cx_overflow": "envoy_cluster_upstream_cx_overflow",
    "retry_overflow": "envoy_cluster_upstream_rq_retry_overflow",
}
OUTBOUND_CLUSTERS = 'cluster_name=~"outbound\\\\|.*"'
VERSION_TRAFFIC_LABELS = [c for c in VERSION_TRAFFIC_COLUMNS if c not in ("time", "rps")]


def _by(labels: Sequence[str]) -> str:
    return ", ".join(labels)


def _namespace_regex(namespaces: Sequence[str]) -> str:
    """The namespaces as one regex, written for a PromQL double-quoted string:
    re.escape turns `-` into `\\-`, which PromQL's string parser refuses
    unless the backslash is itself escaped."""
    return "|".join(re.escape(ns).replace("\\", "\\\\") for ns in namespaces)


def _selected(metric: str, selector: str, namespaces: Sequence[str]) -> list[str]:
    """The metric's series of one selector, as selectors to `or`: those
    touching the namespaces (source or destination side) when any are given."""
    if not namespaces:
        return [f"{metric}{{{selector}}}"]
    regex = _namespace_regex(namespaces)
    return [f'{metric}{{{selector},{label}=~"{regex}"}}' for label in NAMESPACE_LABELS]


def _series(metric: str, window: Duration, selector: str, namespaces: Sequence[str]) -> str:
    """`rate(...)` over the series of one reporter selector, limited to series
    touching the namespaces (source or destination side) when any are given."""
    return " or ".join(f"rate({series}[{window}])" for series in _selected(metric, selector, namespaces))


def _rate_by(
    metric: str,
    labels: Sequence[str],
    window: Duration,
    namespaces: Sequence[str],
    coverage: str | None = None,
    destination: str = f'reporter="{DESTINATION_REPORTER}"',
    matchers: str = "",
) -> str:
    """Summed rates of one metric per label set, each hop's from the first of
    `REPORTERS` that reports it: a later reporter's series are dropped
    (`unless on` the hop) where an earlier one has the hop at all in the
    `coverage` metric (default: this one). `destination` selects the server
    side's series; `matchers` narrow every reporter's. `reporter` is among
    the labels, so `or` never merges their series."""
    selectors = [f'reporter="{reporter}"' for reporter in REPORTERS[:-1]] + [destination]
    selectors = [f"{selector},{matchers}" if matchers else selector for selector in selectors]
    parts = []
    for rank, selector in enumerate(selectors):
        part = f"sum by ({_by(labels)}) ({_series(metric, window, selector, namespaces)})"
        if rank:
            earlier = "|".join(REPORTERS[:rank])
            part = f'({part}) unless on ({_by(HOP_LABELS)}) {coverage or metric}{{reporter=~"{earlier}"}}'
        parts.append(f"({part})")
    return " or ".join(parts)


def request_rates(window: Duration, namespaces: Sequence[str] = ()) -> str:
    """Requests per second per caller, callee, protocol, code and response flag."""
    return _rate_by(REQUESTS_METRIC, REQUEST_LABELS, window, namespaces)


def request_security(window: Duration, namespaces: Sequence[str] = ()) -> str:
    """The destination's requests per second of every caller by
    `connection_security_policy` alone (whether they were mutual TLS),
    marked `VIEW_LABEL="security"` so they are never counted as requests."""
    security = _series(REQUESTS_METRIC, window, SECURITY_SELECTOR, namespaces)
    view = f'"{VIEW_LABEL}", "{SECURITY_VIEW}", "", ""'
    return f"label_replace(sum by ({_by(SECURITY_LABELS)}) ({security}), {view})"


def bucket_rates(window: Duration, namespaces: Sequence[str] = (), buckets: str = "") -> str:
    """Duration-histogram bucket rates per hop and destination workload, of
    the buckets the `buckets` matcher selects (every one by default).

    A hop's reporter is the request query's (coverage by
    `istio_requests_total`, a twentieth of the buckets' series), but the
    server side's buckets are read for callers without a proxy only: reading
    all of them doubled the costliest query for the one hop that needs them
    (an ambient caller of a sidecar, drawn with its rates but no quantiles)."""
    return _rate_by(
        BUCKETS_METRIC,
        LATENCY_LABELS,
        window,
        namespaces,
        coverage=REQUESTS_METRIC,
        destination=f'reporter="{DESTINATION_REPORTER}",source_workload="unknown"',
        matchers=buckets,
    )


def latency_buckets(window: Duration, namespaces: Sequence[str] = ()) -> str:
    """The bucket rates quantiles are interpolated from, exactly as
    `histogram_quantile` does (so one query serves every edge, node, graph
    type and quantile), less every finite bucket that holds all of its
    series' requests (equal to its `+Inf` bucket): above a series' slowest
    request each bucket only repeats the total. What a series' histogram
    lacks then is known from the mesh's bucket bounds, sent along (marked
    `VIEW_LABEL="bounds"`); `queries.telemetry.full_buckets` puts the
    buckets back. bench/bench_queries.py measured the choice."""
    finite = bucket_rates(window, namespaces, f'le!="{INF_BOUND}"')
    total = bucket_rates(window, namespaces, f'le="{INF_BOUND}"')
    # The series of the window, like the rates': an instant selector sees those of
    # Prometheus' lookback (5m by default), a longer window needs last_over_time
    # (which costs a fifth more of the query, bench/bench_queries.py).
    finite_series = _selected(BUCKETS_METRIC, f'le!="{INF_BOUND}"', namespaces)
    if prometheus_duration(str(window)).seconds > LOOKBACK_SECONDS:
        finite_series = [f"last_over_time({series}[{window}])" for series in finite_series]
    selected = " or ".join(finite_series)
    bounds = f'label_replace(group by (le) ({selected}), "{VIEW_LABEL}", "{BOUNDS_VIEW}", "", "")'
    return f"(({finite}) != ignoring (le) group_left () ({total})) or ({total}) or {bounds}"


def tcp_bytes(window: Duration, namespaces: Sequence[str] = ()) -> str:
    """TCP bytes per second, sent plus received, per caller and callee.

    The two counters are summed after `sum by`: a single rate() over both
    names would yield duplicate label sets once the name is dropped."""
    sent = _rate_by("istio_tcp_sent_bytes_total", TCP_LABELS, window, namespaces)
    received = _rate_by("istio_tcp_received_bytes_total", TCP_LABELS, window, namespaces)
    return f"(({sent}) + ({received})) or ({sent}) or ({received})"


def cluster_stats(window: Duration) -> str:
    """Envoy outbound-cluster stats of the callers' sidecars, one series per
    caller workload, destination cluster and stat (label `stat`)."""
    by = _by(ENVOY_POD_LABELS)
    parts = [
        f'label_replace(sum by ({by}) ({metric}{{{OUTBOUND_CLUSTERS}}}), "stat", "{stat}", "", "")'
        for stat, metric in ENVOY_GAUGES.items()
    ] + [
        f"label_replace(sum by ({by}) (increase({metric}{{{OUTBOUND_CLUSTERS}}}[{window}])), "
        f'"stat", "{stat}", "", "")'
        for stat, metric in ENVOY_COUNTERS.items()
    ]
    return " or ".join(parts)


def version_traffic(window: Duration, namespaces: Sequence[str] = ()) -> str:
    """Delivered requests per second per service and destination workload
    (the canary split over time), for a range query.

    Counted by the server side (`reporter="destination"`): every request that
    reached a workload exactly once, including those of callers without a
    sidecar and mirrored requests (service `<name>-shadow`), which the source
    reporter never sees."""
    selector = 'reporter="destination"'
    if namespaces:
        selector += f',destination_service_namespace=~"{_namespace_regex(namespaces)}"'
    by = _by(VERSION_TRAFFIC_LABELS)
    return f"sum by ({by}) (rate({REQUESTS_METRIC}{{{selector}}}[{window}]))"


def _exactly(selection: SeriesSelection) -> str:
    """The selection's matchers. Label values come from the mesh's own labels
    (attacker-controlled text): JSON's string escapes are PromQL's (Go's)."""
    matchers = [("reporter", selection.reporter), *selection.labels]
    return ",".join(f"{name}={json.dumps(value)}" for name, value in matchers)


def selection_history(selection: SeriesSelection, window: Duration) -> str:
    """One node's or edge's request rate by outcome (`series="requests"`) and
    its latency bucket rates (`series="latency"`), for a range query: what
    the side panel's sparklines draw, in one query."""
    selector = _exactly(selection)
    by = _by(SELECTION_OUTCOME_LABELS)
    requests = f"sum by ({by}) (rate(istio_requests_total{{{selector}}}[{window}]))"
    latency = f"sum by (le) (rate({BUCKETS_METRIC}{{{selector}}}[{window}]))"
    return (
        f'label_replace({requests}, "series", "requests", "", "")'
        f' or label_replace({latency}, "series", "latency", "", "")'
    )


# Readiness: Prometheus evaluates PromQL; touches no series.
READINESS = "vector(1)"


# The MeshTelemetry fields one mesh refresh fills, one query each.
MESH_QUERY_NAMES = ("requests", "latency", "tcp", "cluster_stats")


def mesh_queries(window: Duration, namespaces: Sequence[str] = ()) -> dict[str, str]:
    """The queries of one mesh refresh, by the MeshTelemetry field they fill."""
    return {
        # One query: `queries.telemetry.split_requests` keeps the security view
        # apart from the requests it counts.
        "requests": f"({request_rates(window, namespaces)}) or ({request_security(window, namespaces)})",
        "latency": latency_buckets(window, namespaces),
        "tcp": tcp_bytes(window, namespaces),
        "cluster_stats": cluster_stats(window),
    }
