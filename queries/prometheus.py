"""Istio telemetry from a real Prometheus, over its HTTP API (`/api/v1/query`,
`/api/v1/query_range`), read through queries.http: every response capped and
deadline-bound, Prometheus' own error text kept.

Samples that are no rate, count or bucket value (NaN, infinities, negative
numbers) are left out of the frames and counted by problem
(`MeshTelemetry.ignored`), so the graph never draws bad data as no traffic.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import copy_context
from typing import Any

import numpy as np
import pandas as pd

from queries import promql, shape
from queries.duration import Duration
from queries.envoy import outbound_cluster
from queries.errors import SourceError
from queries.http import MB, Backend, Reply, response_budget
from queries.shape import ShapeError, at, present
from queries.telemetry import (
    CLUSTER_STAT_LABELS,
    IGNORED,
    LATENCY_LABELS,
    REQUEST_LABELS,
    TCP_LABELS,
    UNKNOWN,
    VERSION_TRAFFIC_COLUMNS,
    MeshTelemetry,
    count_bad_values,
    empty_frame,
    split_requests,
)

# What one refresh may read from Prometheus in all, unless told otherwise
# (--max-response-mb): a mesh bigger than this needs a namespace filter, not
# a browser tab that never paints.
MAX_RESPONSE_BYTES = 64 * MB
ADVICE = "narrow the namespaces or the window"


def _sample_values(result: list[dict[str, Any]]) -> np.ndarray:
    return np.array([float(series["value"][1]) for series in result], dtype="float64")


def instant_vector_frame(
    result: list[dict[str, Any]], labels: list[str], value: str, ignored: Counter[str] | None = None
) -> pd.DataFrame:
    """A frame of an instant-vector result: one column per label, one value
    column; series whose value is NaN, infinite or negative are left out
    (and counted by problem into `ignored`)."""
    values = _sample_values(result)
    good = count_bad_values(values, ignored)
    metrics = [series["metric"] for series, keep in zip(result, good) if keep]
    frame = pd.DataFrame(
        {label: pd.array([metric.get(label, "") for metric in metrics], dtype="string") for label in labels}
    )
    frame[value] = pd.array(values[good], dtype="float64")
    return frame


def _coalesce(*candidates: str) -> str:
    return next((c for c in candidates if c and c != UNKNOWN), UNKNOWN)


def cluster_stat_rows(result: list[dict[str, Any]], ignored: Counter[str] | None = None) -> pd.DataFrame:
    """Envoy cluster stats keyed like the caller workload and destination service
    (series with NaN, infinite or negative values left out and counted).

    Pod labels come from Prometheus' kubernetes-pods scrape (`namespace`,
    `app`, `version`, or Istio's `service_istio_io_canonical_*`)."""
    values = _sample_values(result)
    good = count_bad_values(values, ignored)
    rows: list[dict[str, Any]] = []
    for series, sample, keep in zip(result, values, good):
        metric = series["metric"]
        if not keep:
            continue
        cluster = outbound_cluster(metric.get("cluster_name", ""))
        if cluster is None:
            continue
        rows.append(
            {
                "source_workload_namespace": metric.get("namespace", UNKNOWN),
                "source_canonical_service": _coalesce(
                    metric.get("service_istio_io_canonical_name", ""), metric.get("app", "")
                ),
                "source_canonical_revision": _coalesce(
                    metric.get("service_istio_io_canonical_revision", ""), metric.get("version", "")
                ),
                "destination_service_name": cluster.service,
                "destination_service_namespace": cluster.namespace or UNKNOWN,
                "subset": cluster.subset,
                "stat": metric.get("stat", ""),
                "value": float(sample),
            }
        )
    if not rows:
        return empty_frame(CLUSTER_STAT_LABELS, "value")
    frame = pd.DataFrame(rows)
    frame[CLUSTER_STAT_LABELS] = frame[CLUSTER_STAT_LABELS].astype("string")
    return frame


def error_text(reply: Reply) -> str:
    """Why Prometheus refused: its own `errorType: error` from the API's JSON,
    else the first line of the page a proxy sent; with the HTTP status."""
    try:
        payload = json.loads(reply.body)
    except (ValueError, RecursionError):
        payload = None
    status = f"HTTP {reply.status}"
    if isinstance(payload, dict) and payload.get("status") == "error":
        detail = " ".join(str(payload.get("error") or "").split())[:300]
        return f"{status}: {payload.get('errorType') or 'error'}: {detail}".strip()
    text = reply.body.decode("utf-8", errors="replace")
    lines = [line.strip() for line in re.sub(r"<[^>]*>", " ", text).splitlines() if line.strip()]
    return status + (f": {lines[0][:200]}" if lines else "")


def check_instant_vector(result: Any, where: str) -> None:
    """`[{"metric": {"label": "value"}, "value": [t, "v"]}, ...]`, as an instant query answers."""
    for index, series in enumerate(shape.items(present(result, where), where)):
        series = shape.json_object(series, at(where, index))
        metric = shape.json_object(series.get("metric"), at(at(where, index), "metric"))
        for label, text in metric.items():
            if not isinstance(text, str):  # Prometheus' label values are strings, never null
                raise ShapeError(at(at(at(where, index), "metric"), label), "expected a string")
        present(series.get("value"), at(at(where, index), "value"))


def answer_data(reply: Reply, label: str) -> dict[str, Any]:
    """The `data` of a successful API answer; SourceError with Prometheus'
    own reason otherwise (`label` names the Prometheus)."""
    try:
        payload = json.loads(reply.body)
    except (ValueError, RecursionError):
        payload = None
    if reply.status >= 400 or (isinstance(payload, dict) and payload.get("status") == "error"):
        raise SourceError(f"{label} refused the query: {error_text(reply)}")
    if not isinstance(payload, dict) or payload.get("status") != "success":
        raise SourceError(f"{label} sent a response that is not Prometheus API JSON")
    data = payload.get("data")
    if not isinstance(data, dict):
        raise SourceError(f"{label} sent a response that is not Prometheus API JSON")
    return data


def instant_result(reply: Reply, label: str) -> list[dict[str, Any]]:
    """The series of an instant query's answer, their shape checked; SourceError otherwise."""
    data = answer_data(reply, label)
    result = data.get("result")
    try:
        if data.get("resultType") not in (None, "vector"):
            raise ShapeError("data.resultType", f"{data.get('resultType')!r}, not a vector")
        check_instant_vector(result, "data.result")
    except ShapeError as error:
        raise SourceError(f"{label} sent a result that is not an instant vector ({error})") from None
    return result


def mesh_telemetry(
    results: dict[str, list[dict[str, Any]]], at: float, window: Duration, label: str
) -> MeshTelemetry:
    """The frames of one mesh refresh from its four checked results (by
    MeshTelemetry field); SourceError when samples are not numbers."""
    ignored: Counter[str] = Counter()
    try:
        requests, security = split_requests(
            instant_vector_frame(results["requests"], REQUEST_LABELS, "rps", ignored)
        )
        return MeshTelemetry(
            at=at,
            window=window,
            requests=requests,
            latency=instant_vector_frame(results["latency"], LATENCY_LABELS, "rate", ignored),
            tcp=instant_vector_frame(results["tcp"], TCP_LABELS, "bytes_per_s", ignored),
            cluster_stats=cluster_stat_rows(results["cluster_stats"], ignored),
            security=security,
            ignored=dict(ignored),
        )
    except (ValueError, TypeError, IndexError, KeyError):
        raise SourceError(f"{label} sent samples that are not numbers") from None


class PrometheusSource:
    """Runs `promql.mesh_queries` as instant queries and returns MeshTelemetry."""

    name = "Prometheus"
    queries_per_refresh = len(promql.MESH_QUERY_NAMES)
    # Told (query name, whether Prometheus answered) after each query: the app counts them.
    on_query: Callable[[str, bool], None] | None = None

    def __init__(self, url: str, timeout: float = 10.0, max_response_bytes: int = MAX_RESPONSE_BYTES) -> None:
        self.backend = Backend("Prometheus", url, timeout, max_response_bytes, ADVICE)
        self.url, self.timeout = self.backend.url, timeout

    @contextmanager
    def _told(self, name: str) -> Iterator[None]:
        try:
            yield
        except SourceError:
            if self.on_query is not None:
                self.on_query(name, False)
            raise
        if self.on_query is not None:
            self.on_query(name, True)

    def _named_query(self, name: str, promql_text: str, at: float) -> list[dict[str, Any]]:
        with self._told(name):
            return self.query(promql_text, at)

    def query(self, promql_text: str, at: float) -> list[dict[str, Any]]:
        """One instant query at `at`; raises SourceError with a one-line reason."""
        reply = self.backend.get("/api/v1/query", {"query": promql_text, "time": f"{at:.3f}"})
        return instant_result(reply, self.backend.label)

    def version_traffic(
        self, start: float, end: float, step: float, window: Duration, namespaces: Sequence[str] = ()
    ) -> pd.DataFrame:
        """Delivered rps per service and workload from `start` to `end` (a
        range query): columns VERSION_TRAFFIC_COLUMNS, `time` in unix seconds.
        Points that are no rate are left out; `frame.attrs[IGNORED]` counts
        the series that had any, by problem."""
        with self._told("version_traffic"):
            reply = self.backend.get(
                "/api/v1/query_range",
                {
                    "query": promql.version_traffic(window, namespaces),
                    "start": f"{start:.3f}",
                    "end": f"{end:.3f}",
                    "step": f"{step:g}s",
                },
            )
            data = answer_data(reply, self.backend.label)
        labels = VERSION_TRAFFIC_COLUMNS[1:-1]
        rows, ignored = [], Counter()
        try:
            for series in data.get("result") or []:
                points = np.array([[float(t), float(v)] for t, v in series["values"]], dtype="float64")
                names = [str(series["metric"].get(label, UNKNOWN)) for label in labels]
                if not len(points):
                    continue
                found = Counter()
                good = count_bad_values(points[:, 1], found)
                ignored.update(found.keys())
                rows += [[t, *names, v] for t, v in points[good].tolist()]
        except (ValueError, TypeError, KeyError, AttributeError, IndexError):
            raise SourceError(f"{self.backend.label} sent a result that is not a range vector") from None
        frame = pd.DataFrame(rows, columns=VERSION_TRAFFIC_COLUMNS)
        frame = frame.astype({"time": "float64", **{label: "string" for label in labels}, "rps": "float64"})
        frame.attrs[IGNORED] = dict(ignored)
        return frame

    def check(self) -> None:
        """One trivial query: Prometheus is up and evaluates PromQL."""
        self._named_query("readiness", promql.READINESS, time.time())

    def mesh(self, at: float, window: Duration, namespaces: Sequence[str] = ()) -> MeshTelemetry:
        queries = promql.mesh_queries(window, namespaces)
        with response_budget(self.backend.max_bytes):
            # The four queries are independent: sent at once, a refresh waits for
            # the slowest (the latency buckets) rather than for their sum; each
            # runs in a copy of this context, so they share the refresh's budget.
            with ThreadPoolExecutor(max_workers=len(queries)) as pool:
                pending = {
                    name: pool.submit(copy_context().run, self._named_query, name, text, at)
                    for name, text in queries.items()
                }
                results = {name: future.result() for name, future in pending.items()}
        return mesh_telemetry(results, at, window, self.backend.label)
