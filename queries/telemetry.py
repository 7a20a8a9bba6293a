"""The tidy frames every telemetry source returns.

One row per Prometheus series of an instant query, with Istio's own label
names as columns, so that the Prometheus source and the simulated mesh hand
the graph builder exactly the same shape.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from queries.duration import Duration

# The identity of a caller and a callee, as Istio labels it.
SOURCE_LABELS = [
    "source_workload",
    "source_workload_namespace",
    "source_canonical_service",
    "source_canonical_revision",
    "source_cluster",
]
DESTINATION_LABELS = [
    "destination_service_name",
    "destination_service_namespace",
    "destination_workload",
    "destination_workload_namespace",
    "destination_canonical_service",
    "destination_canonical_revision",
    "destination_cluster",
]
# `mutual_tls` or `none` as the server-side proxy saw the connection; a
# client-side proxy always reports `unknown` (Istio's standard metrics).
SECURITY_POLICY = "connection_security_policy"
REQUEST_LABELS = [
    "reporter",
    *SOURCE_LABELS,
    *DESTINATION_LABELS,
    "request_protocol",
    "response_code",
    "grpc_response_status",
    "response_flags",
    SECURITY_POLICY,
]
# The destination's view of delivered requests, only to tell which were mTLS.
SECURITY_LABELS = ["reporter", *SOURCE_LABELS, *DESTINATION_LABELS, SECURITY_POLICY]
LATENCY_LABELS = [
    "reporter",
    "source_workload",
    "source_workload_namespace",
    "source_cluster",
    "destination_service_name",
    "destination_service_namespace",
    "destination_workload",
    "destination_workload_namespace",
    "destination_cluster",
    "le",
]
# A histogram's last bucket, counting every request.
INF_BOUND = "+Inf"
TCP_LABELS = ["reporter", *SOURCE_LABELS, *DESTINATION_LABELS]
# Envoy cluster stats of a caller's outbound cluster, keyed like its workload.
CLUSTER_STAT_LABELS = [
    "source_workload_namespace",
    "source_canonical_service",
    "source_canonical_revision",
    "destination_service_name",
    "destination_service_namespace",
    "subset",
    "stat",
]
# Envoy counters that rise while a circuit breaker sheds requests.
OVERFLOW_STATS = ("pending_overflow", "cx_overflow", "retry_overflow")

VERSION_TRAFFIC_COLUMNS = [
    "time",
    "destination_service_name",
    "destination_service_namespace",
    "destination_workload",
    "destination_canonical_revision",
    "rps",
]

UNKNOWN = "unknown"
# Istio's reporters: the caller's proxy (a sidecar, a gateway, or an ambient
# caller's ztunnel), ambient mode's waypoint proxy, the server's proxy.
SOURCE_REPORTER, WAYPOINT_REPORTER, DESTINATION_REPORTER = "source", "waypoint", "destination"
# The reporters of a hop, first choice first: a hop's series come from the
# first of them that reports it at all (queries.promql; first_reporter).
REPORTERS = (SOURCE_REPORTER, WAYPOINT_REPORTER, DESTINATION_REPORTER)
# What makes a hop: one caller workload (in its cluster) calling one service.
HOP_LABELS = (
    "source_cluster",
    "source_workload",
    "source_workload_namespace",
    "destination_service_name",
    "destination_service_namespace",
)
# A label the request query adds to the destination's security view, so its
# series are told from the counted ones (queries.promql.request_security).
VIEW_LABEL, SECURITY_VIEW = "meshwatch_view", "security"
# The latency query's mark of the mesh's bucket bounds (queries.promql.latency_buckets).
BOUNDS_VIEW = "bounds"
# The request query's columns: the counted labels and the view mark.
REQUEST_QUERY_LABELS = [*REQUEST_LABELS, VIEW_LABEL]

# One selected node's or edge's requests over time (one range query): the
# request rate by outcome (`series` "requests") and the latency buckets
# (`series` "latency", bound `le`), `value` a rate.
# Requests are told apart by what the graph's error rule reads.
SELECTION_OUTCOME_LABELS = ["response_code", "request_protocol", "grpc_response_status", "response_flags"]
SELECTION_HISTORY_COLUMNS = ["time", "series", *SELECTION_OUTCOME_LABELS, "le", "value"]


@dataclass(frozen=True)
class SeriesSelection:
    """Which of Istio's series make up one node's or edge's traffic: the
    reporter and the labels to match exactly."""

    reporter: str
    labels: tuple[tuple[str, str], ...]


# Why a series was left out of a frame: its value is no rate, count or
# bucket value. Counted per series, by problem (MeshTelemetry.ignored, and
# a range frame's `attrs[IGNORED]`).
NAN, INFINITE, NEGATIVE = "NaN", "infinite", "negative"
IGNORED = "ignored"
# A range query's frame holds its answer's warnings under this attrs key.
WARNINGS = "warnings"


def count_bad_values(values: np.ndarray, ignored: Counter[str] | None = None) -> np.ndarray:
    """A mask of the values that can be a rate, a count or a bucket value
    (finite and not negative); the others are counted by problem into `ignored`."""
    nan, infinite = np.isnan(values), np.isinf(values)
    negative = (values < 0) & ~infinite
    if ignored is not None:
        for problem, mask in ((NAN, nan), (INFINITE, infinite), (NEGATIVE, negative)):
            if mask.any():
                ignored[problem] += int(mask.sum())
    return ~(nan | infinite | negative)


def empty_frame(labels: list[str], value: str) -> pd.DataFrame:
    return pd.DataFrame(
        {**{label: pd.Series(dtype="string") for label in labels}, value: pd.Series(dtype="float64")}
    )


def bucket_bounds(le: pd.Series) -> np.ndarray:
    """Each bucket's `le` label as a number (`+Inf` included); NaN for one
    that is none. A histogram has a score of distinct bounds, so each is
    read once rather than once per row."""
    bounds = {}
    for text in le.dropna().unique().tolist():
        try:
            bounds[text] = float(text)
        except ValueError:
            bounds[text] = math.nan
    return le.map(bounds).to_numpy(dtype="float64", na_value=math.nan)


def full_buckets(frame: pd.DataFrame, value: str = "rate") -> pd.DataFrame:
    """The bucket rates of `queries.promql.latency_buckets` (LATENCY_LABELS,
    VIEW_LABEL and `value`) as whole histograms (LATENCY_LABELS and `value`):
    where a series lacks one of the mesh's finite bounds (the rows marked
    BOUNDS_VIEW, and every bound a series has) above its highest bucket sent,
    that bucket holds all of its requests, its `+Inf` value (the buckets
    left out are always a series' top ones: counts are cumulative). Bounds
    are matched as numbers ("1" and "1.0" are one bound). In a mesh whose
    proxies use different bucket layouts, a series also gets the other
    layouts' bounds above its highest bucket sent; that moves its quantiles
    only when the rank falls above that bucket."""
    marked = frame[VIEW_LABEL].fillna("") == BOUNDS_VIEW if VIEW_LABEL in frame else None
    layout = frame.loc[marked, "le"] if marked is not None else frame["le"].iloc[:0]
    if marked is not None:
        frame = frame[~marked].drop(columns=[VIEW_LABEL]).reset_index(drop=True)
    if frame.empty:
        return frame
    bound = bucket_bounds(frame["le"])
    inf, finite = np.isposinf(bound), np.isfinite(bound)
    known = pd.concat([layout, frame["le"][finite]], ignore_index=True)
    known_bound = bucket_bounds(known)
    usable = np.isfinite(known_bound)
    bounds, first_of_bound = np.unique(known_bound[usable], return_index=True)
    if not len(bounds):
        return frame
    keys = [column for column in frame.columns if column not in ("le", value)]
    series = frame.groupby(keys, sort=False, dropna=False).ngroup().to_numpy()
    total = np.full(series.max() + 1, np.nan)
    total[series[inf]] = frame[value].to_numpy(dtype="float64")[inf]
    present = np.zeros((len(total), len(bounds)), dtype=bool)
    present[series[finite], np.searchsorted(bounds, bound[finite])] = True
    # Above each series' highest bucket sent (-1: none below +Inf was sent).
    highest = np.where(present.any(axis=1), len(bounds) - 1 - np.argmax(present[:, ::-1], axis=1), -1)
    above = np.arange(len(bounds))[None, :] > highest[:, None]
    lacking, column = np.nonzero(above & ~present & ~np.isnan(total)[:, None])
    if not len(lacking):
        return frame
    _, first_row = np.unique(series, return_index=True)
    added = frame.iloc[first_row[lacking]].reset_index(drop=True)
    added["le"] = pd.array(known.to_numpy()[usable][first_of_bound][column], dtype="string")
    added[value] = total[lacking]
    return pd.concat([frame, added], ignore_index=True)


def split_requests(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The request query's series (REQUEST_QUERY_LABELS, `rps`) as (the
    requests to count, the security view).

    The counted series are each hop's from one reporter (queries.promql);
    the series marked `VIEW_LABEL` only say how the destination saw each
    delivered request secured. A frame of REQUEST_LABELS alone (no mark) is
    read the way the mark came to be: the destination's series of sidecar
    callers are the view. The security view (SECURITY_LABELS and `rps`) is
    the destination's series, and the counted series of waypoints: a
    waypoint is the server side of its callers' connections."""
    destination = frame["reporter"] == DESTINATION_REPORTER
    waypoint = frame["reporter"] == WAYPOINT_REPORTER
    if VIEW_LABEL in frame:
        view = frame[VIEW_LABEL].fillna("") == SECURITY_VIEW
        secured = view | waypoint
    else:
        view = destination & (frame["source_workload"] != UNKNOWN)
        secured = destination | waypoint
    counted = frame[~view].drop(columns=[VIEW_LABEL], errors="ignore").reset_index(drop=True)
    security = frame.loc[secured, [*SECURITY_LABELS, "rps"]].reset_index(drop=True)
    return counted, security


def first_reporter(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame's series of each hop from the first of REPORTERS that has
    the hop, as each query already keeps them in one Prometheus: for frames
    put together from several (one per cluster, where the caller's report
    is in one and the server's in another)."""
    if frame.empty or "reporter" not in frame:
        return frame
    rank = frame["reporter"].map({reporter: i for i, reporter in enumerate(REPORTERS)})
    hop = [label for label in HOP_LABELS if label in frame]
    first = rank.groupby([frame[label] for label in hop], dropna=False, sort=False).transform("min")
    return frame[rank == first].reset_index(drop=True)


@dataclass(frozen=True)
class MeshTelemetry:
    """What one refresh of the mesh knows, at one instant over one window.

    - requests: request rate per series (`rps`), each hop from one reporter;
    - latency: duration-histogram bucket rates (`rate`, bucket bound `le` in ms);
    - tcp: bytes per second sent plus received (`bytes_per_s`);
    - cluster_stats: Envoy outbound cluster stats (`value`: gauges as they
      are, overflow counters as their increase over the window); empty when
      the proxies do not export them;
    - security: the destination reporter's request rate (`rps`) per caller,
      callee and `connection_security_policy`, never counted as requests
      (`split_requests` takes it from the request query);
    - ignored: series left out for values that are no rate or count, by
      problem (NAN, INFINITE, NEGATIVE);
    - warnings: what the backend said with its answers (Thanos' or Mimir's
      partial responses), one line each, for the banner and the JSON;
    - pending: the frames still being queried, left empty (EARLY_PENDING in
      a refresh's early report: its latency buckets), none once it is whole.
    """

    at: float
    window: Duration
    requests: pd.DataFrame
    latency: pd.DataFrame
    tcp: pd.DataFrame
    cluster_stats: pd.DataFrame
    security: pd.DataFrame = field(default_factory=lambda: empty_frame(SECURITY_LABELS, "rps"))
    ignored: Mapping[str, int] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    pending: tuple[str, ...] = ()

    @classmethod
    def empty(cls, at: float, window: Duration) -> MeshTelemetry:
        return cls(
            at=at,
            window=window,
            requests=empty_frame(REQUEST_LABELS, "rps"),
            latency=empty_frame(LATENCY_LABELS, "rate"),
            tcp=empty_frame(TCP_LABELS, "bytes_per_s"),
            cluster_stats=empty_frame(CLUSTER_STAT_LABELS, "value"),
        )


# What a refresh's early report lacks: the latency buckets, the slowest of
# its queries by far (bench/bench_queries.py), while the rest already tell
# rates, errors, health and circuits.
EARLY_PENDING = ("latency",)
# Told a refresh's early report (MeshTelemetry.pending EARLY_PENDING).
EarlyReport = Callable[[MeshTelemetry], None]


class TelemetrySource(Protocol):
    """Anything that can describe the mesh at an instant: Prometheus or the simulator."""

    name: str  # as the pages name it: "Prometheus", "the simulated mesh"
    queries_per_refresh: int

    def mesh(
        self,
        at: float,
        window: Duration,
        namespaces: Sequence[str] = (),
        early: EarlyReport | None = None,
    ) -> MeshTelemetry:
        """Telemetry for the window ending at `at` (unix seconds); `early`,
        when given, is told the telemetry without its latency buckets as soon
        as the rest is in, by a source whose latency comes later (which then
        asks for the latency buckets after the rest)."""
        ...

    def check(self) -> None:
        """Raise SourceError unless the source answers (a cheap readiness probe)."""
        ...

    def version_traffic(
        self, start: float, end: float, step: float, window: Duration, namespaces: Sequence[str] = ()
    ) -> pd.DataFrame:
        """Delivered request rate per service and destination workload over
        time: columns VERSION_TRAFFIC_COLUMNS, one row per series and step."""
        ...

    def selection_history(
        self, selection: SeriesSelection, start: float, end: float, step: float, window: Duration
    ) -> pd.DataFrame:
        """One selection's requests by outcome and its latency buckets over
        time, in one range query: columns SELECTION_HISTORY_COLUMNS."""
        ...
