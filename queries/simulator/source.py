"""The simulated mesh as a TelemetrySource: the frames `queries.prometheus`
would get from a Prometheus scraping the simulator.

Each refresh evaluates, over the simulator's own scrape history, what the
named queries of `queries.promql` ask Prometheus: `sum by (...)` of
`rate(...[w])` on each hop's series from the first reporter that reports it
(source, waypoint, destination), plus the destination's security view, the
same for the duration buckets, and the Envoy cluster stats (gauges at the
instant, overflow counters as their `increase` over the window). No PromQL is
sent: `queries_per_refresh` is 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from queries import promql
from queries.duration import Duration
from queries.errors import SourceError
from queries.prometheus import InstantVector, cluster_stat_rows, instant_vector_frame, range_vector_frame
from queries.simulator.exposition import pod_labels
from queries.simulator.metrics import Evaluation
from queries.telemetry import (
    DESTINATION_REPORTER,
    HOP_LABELS,
    LATENCY_LABELS,
    REPORTERS,
    REQUEST_LABELS,
    REQUEST_QUERY_LABELS,
    SECURITY_LABELS,
    SECURITY_VIEW,
    SELECTION_HISTORY_COLUMNS,
    SELECTION_OUTCOME_LABELS,
    UNKNOWN,
    VERSION_TRAFFIC_COLUMNS,
    VIEW_LABEL,
    EarlyReport,
    MeshTelemetry,
    SeriesSelection,
    split_requests,
)

if TYPE_CHECKING:
    from queries.simulator.simulation import Simulation

REQUESTS = "istio_requests_total"
BUCKETS = "istio_request_duration_milliseconds_bucket"
VERSION_LABELS = promql.VERSION_TRAFFIC_LABELS
# Prometheus refuses range queries with more points than this per series.
MAX_POINTS = 11_000


def _hop(labels: dict[str, str]) -> tuple[str, ...]:
    return tuple(labels.get(name, "") for name in HOP_LABELS)


def _first_reporter(
    keys: list, metric: str, callers_unknown: bool = False
) -> Callable[[dict[str, str]], bool]:
    """promql's reporter rule: a series counts when its reporter is the first
    of REPORTERS to report its hop in `metric` (over every series, as the
    query's `unless on` sees them); `callers_unknown`: the destination's
    series only of callers without a proxy (promql.latency_buckets)."""
    reported: dict[str, set[tuple[str, ...]]] = {reporter: set() for reporter in REPORTERS}
    for key in keys:
        if key.metric == metric:
            series = key.label_dict()
            reported.get(series.get("reporter", ""), set()).add(_hop(series))

    def counted(labels: dict[str, str]) -> bool:
        reporter = labels.get("reporter", "")
        if reporter not in reported:
            return False
        if callers_unknown and reporter == DESTINATION_REPORTER and labels.get("source_workload") != UNKNOWN:
            return False
        earlier = REPORTERS[: REPORTERS.index(reporter)]
        return not any(_hop(labels) in reported[other] for other in earlier)

    return counted


def _security_view(labels: dict[str, str]) -> bool:
    """promql.SECURITY_SELECTOR: the destination's series."""
    return labels.get("reporter") == DESTINATION_REPORTER


def _in_namespaces(labels: dict[str, str], namespaces: frozenset[str]) -> bool:
    """promql's namespace selectors: the caller's, service's or workload's namespace."""
    return not namespaces or any(labels.get(label) in namespaces for label in promql.NAMESPACE_LABELS)


def sum_by(labels: list[dict[str, str]], values: np.ndarray, by: Sequence[str]) -> list[dict[str, Any]]:
    """PromQL `sum by (...)` as an instant-vector result (series without a
    value drop out; a group with no value left is absent)."""
    groups: dict[tuple[str, ...], float] = {}
    for series, value in zip(labels, values):
        if np.isnan(value):
            continue
        key = tuple(series.get(name, "") for name in by)
        groups[key] = groups.get(key, 0.0) + float(value)
    return [
        {"metric": {name: text for name, text in zip(by, key) if text}, "value": [0, value]}
        for key, value in groups.items()
    ]


class SimulatedTelemetry:
    """`TelemetrySource` over a `Simulation`; asking for a later time runs it."""

    name = "the simulated mesh"
    queries_per_refresh = 0

    def __init__(self, simulation: Simulation) -> None:
        self._simulation = simulation

    def check(self) -> None:
        """Always ready: the simulation runs in this process."""

    @staticmethod
    def _request_series(
        keys: list, metric: str, namespaces: Sequence[str], selected: Callable[[dict[str, str]], bool]
    ) -> tuple[list[int], list[dict[str, str]]]:
        chosen, labels = [], []
        wanted = frozenset(namespaces)
        for index, key in enumerate(keys):
            if key.metric != metric:
                continue
            series = key.label_dict()
            if selected(series) and _in_namespaces(series, wanted):
                chosen.append(index)
                labels.append(series)
        return chosen, labels

    def mesh(
        self,
        at: float,
        window: Duration,
        namespaces: Sequence[str] = (),
        early: EarlyReport | None = None,
    ) -> MeshTelemetry:
        """All at once: the simulation has no slow query to report early of."""
        sample = self._simulation.evaluate(at, window.seconds)
        keys = sample.keys
        requests_at, requests = self._request_series(
            keys, REQUESTS, namespaces, _first_reporter(keys, REQUESTS)
        )
        viewed_at, viewed = self._request_series(keys, REQUESTS, namespaces, _security_view)
        buckets_at, buckets = self._request_series(
            keys, BUCKETS, namespaces, _first_reporter(keys, REQUESTS, callers_unknown=True)
        )
        rates = sample.rate
        views = sum_by(viewed, rates[viewed_at], SECURITY_LABELS)
        for series in views:
            series["metric"][VIEW_LABEL] = SECURITY_VIEW
        counted, security = split_requests(
            instant_vector_frame(
                InstantVector.of(sum_by(requests, rates[requests_at], REQUEST_LABELS) + views),
                REQUEST_QUERY_LABELS,
                "rps",
            )
        )
        return MeshTelemetry(
            at=at,
            window=window,
            requests=counted,
            latency=instant_vector_frame(
                InstantVector.of(sum_by(buckets, rates[buckets_at], LATENCY_LABELS)), LATENCY_LABELS, "rate"
            ),
            tcp=MeshTelemetry.empty(at, window).tcp,
            cluster_stats=cluster_stat_rows(InstantVector.of(self._cluster_stats(sample))),
            security=security,
        )

    @staticmethod
    def _cluster_stats(sample: Evaluation) -> list[dict[str, Any]]:
        """promql.cluster_stats: gauges as they are, counters' increase, by pod and cluster."""
        keys = sample.keys
        result: list[dict[str, Any]] = []
        for stat, metric, values in (
            *((stat, metric, sample.instant) for stat, metric in promql.ENVOY_GAUGES.items()),
            *((stat, metric, sample.increase) for stat, metric in promql.ENVOY_COUNTERS.items()),
        ):
            chosen = [
                i
                for i, key in enumerate(keys)
                if key.metric == metric and key.label_dict().get("cluster_name", "").startswith("outbound|")
            ]
            labels = [{**key.label_dict(), **pod_labels(key.pod)} for key in (keys[i] for i in chosen)]
            for series in sum_by(labels, values[chosen], promql.ENVOY_POD_LABELS):
                series["metric"]["stat"] = stat
                result.append(series)
        return result

    def version_traffic(
        self, start: float, end: float, step: float, window: Duration, namespaces: Sequence[str] = ()
    ) -> pd.DataFrame:
        """promql.version_traffic as a range query: delivered rps per service
        and destination workload (the server side's count), at start,
        start + step, ... <= end."""
        wanted = frozenset(namespaces)

        def delivered(keys: list, rates: np.ndarray) -> list[dict[str, Any]]:
            chosen, labels = [], []
            for index, key in enumerate(keys):
                series = key.label_dict()
                if (
                    key.metric == REQUESTS
                    and series["reporter"] == DESTINATION_REPORTER
                    and (not wanted or series["destination_service_namespace"] in wanted)
                ):
                    chosen.append(index)
                    labels.append(series)
            return sum_by(labels, rates[chosen], VERSION_LABELS)

        result = self._range(start, end, step, window, delivered)
        return range_vector_frame(result, VERSION_TRAFFIC_COLUMNS, self.name)

    def selection_history(
        self, selection: SeriesSelection, start: float, end: float, step: float, window: Duration
    ) -> pd.DataFrame:
        """promql.selection_history as a range query."""
        wanted = {"reporter": selection.reporter, **dict(selection.labels)}

        def selected(keys: list, rates: np.ndarray) -> list[dict[str, Any]]:
            result = []
            for metric, series_name, by in (
                (REQUESTS, "requests", SELECTION_OUTCOME_LABELS),
                (BUCKETS, "latency", ["le"]),
            ):
                chosen, labels = [], []
                for index, key in enumerate(keys):
                    series = key.label_dict()
                    if key.metric == metric and all(series.get(k) == v for k, v in wanted.items()):
                        chosen.append(index)
                        labels.append(series)
                for found in sum_by(labels, rates[chosen], by):
                    found["metric"]["series"] = series_name
                    result.append(found)
            return result

        result = self._range(start, end, step, window, selected)
        return range_vector_frame(result, SELECTION_HISTORY_COLUMNS, self.name)

    def _range(
        self,
        start: float,
        end: float,
        step: float,
        window: Duration,
        instant: Callable[[list, np.ndarray], list[dict[str, Any]]],
    ) -> list[dict[str, Any]]:
        """A range query's result from an instant query evaluated at start,
        start + step, ... <= end: one series per label set, its values per step."""
        # Counted, not np.arange(start, end + ε): at 1.8e9 s a small ε vanishes and the last step with it.
        count = math.floor((end - start) / step + 1e-9) + 1 if step > 0 and end >= start else 0
        steps = start + step * np.arange(count)
        if len(steps) > MAX_POINTS:
            raise SourceError(
                "exceeded maximum resolution of 11,000 points per timeseries. "
                "Try decreasing the query resolution (?step=XX)"
            )
        self._simulation.advance(end)
        series: dict[tuple[tuple[str, str], ...], list[list[float]]] = {}
        for at in steps:
            sample = self._simulation.evaluate(float(at), window.seconds)
            for found in instant(sample.keys, sample.rate):
                key = tuple(sorted(found["metric"].items()))
                series.setdefault(key, []).append([float(at), found["value"][1]])
        return [{"metric": dict(key), "values": values} for key, values in series.items()]
