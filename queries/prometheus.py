"""Istio telemetry from a real Prometheus, through prometheus-api-client."""

from __future__ import annotations

import ast
import json
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import requests
from prometheus_api_client import PrometheusApiClientException, PrometheusConnect
from urllib3.util.retry import Retry

from queries import promql, shape
from queries.duration import Duration
from queries.envoy import outbound_cluster
from queries.errors import SourceError
from queries.http import CappedSession, request_failure
from queries.shape import ShapeError, at, present
from queries.telemetry import (
    CLUSTER_STAT_LABELS,
    LATENCY_LABELS,
    REQUEST_QUERY_LABELS,
    TCP_LABELS,
    UNKNOWN,
    VERSION_TRAFFIC_COLUMNS,
    MeshTelemetry,
    empty_frame,
    split_requests,
)

# A response larger than this is refused rather than parsed: a mesh this big
# needs a namespace filter, not a browser tab that never paints.
MAX_RESPONSE_BYTES = 256 * 1024 * 1024


def instant_vector_frame(result: list[dict[str, Any]], labels: list[str], value: str) -> pd.DataFrame:
    """A frame of an instant-vector result: one column per label, one value column."""
    metrics = [series["metric"] for series in result]
    frame = pd.DataFrame(
        {label: pd.array([metric.get(label, "") for metric in metrics], dtype="string") for label in labels}
    )
    frame[value] = pd.array([float(series["value"][1]) for series in result], dtype="float64")
    return frame


def _coalesce(*candidates: str) -> str:
    return next((c for c in candidates if c and c != UNKNOWN), UNKNOWN)


def cluster_stat_rows(result: list[dict[str, Any]]) -> pd.DataFrame:
    """Envoy cluster stats keyed like the caller workload and destination service.

    Pod labels come from Prometheus' kubernetes-pods scrape (`namespace`,
    `app`, `version`, or Istio's `service_istio_io_canonical_*`)."""
    rows: list[dict[str, Any]] = []
    for series in result:
        metric = series["metric"]
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
                "value": float(series["value"][1]),
            }
        )
    if not rows:
        return empty_frame(CLUSTER_STAT_LABELS, "value")
    frame = pd.DataFrame(rows)
    frame[CLUSTER_STAT_LABELS] = frame[CLUSTER_STAT_LABELS].astype("string")
    return frame


def describe_http_error(error: PrometheusApiClientException) -> str:
    """Prometheus' own error text from `HTTP Status Code 400 (b'{...}')`."""
    text = str(error)
    match = re.search(r"HTTP Status Code (\d+) \((b(['\"]).*\3)\)$", text, re.S)
    if not match:
        return text.splitlines()[0][:200] if text else type(error).__name__
    status = match.group(1)
    # The client puts repr(response.content) in the message: read it back exactly.
    body = ast.literal_eval(match.group(2)).decode("utf-8", errors="replace")
    try:
        payload = json.loads(body)
        return f"HTTP {status}: {payload.get('errorType', 'error')}: {payload.get('error', '')}".strip()
    except (ValueError, AttributeError):
        first_line = [line for line in re.sub(r"<[^>]*>", " ", body).splitlines() if line.strip()][:1]
        return f"HTTP {status}" + (f": {first_line[0].strip()[:200]}" if first_line else "")


def check_instant_vector(result: Any, where: str) -> None:
    """`[{"metric": {...}, "value": [t, "v"]}, ...]`, as an instant query answers."""
    for index, series in enumerate(shape.items(present(result, where), where)):
        series = shape.json_object(series, at(where, index))
        shape.json_object(series.get("metric"), at(at(where, index), "metric"))
        present(series.get("value"), at(at(where, index), "value"))


class PrometheusSource:
    """Runs `promql.mesh_queries` as instant queries and returns MeshTelemetry."""

    queries_per_refresh = len(promql.MESH_QUERY_NAMES)

    def __init__(self, url: str, timeout: float = 10.0, name: str | None = None) -> None:
        self.url = url
        self.timeout = timeout
        # How errors name it: `Prometheus east at http://...` for a named source.
        self.backend = f"Prometheus {name} at {url}" if name else f"Prometheus at {url}"
        session = CappedSession(MAX_RESPONSE_BYTES, "filter by namespace")
        self._client = PrometheusConnect(url=url, session=session, timeout=timeout, retry=Retry(total=0))

    def query(self, promql_text: str, at: float) -> list[dict[str, Any]]:
        """One instant query at `at`; raises SourceError with a one-line reason."""
        result = self._call(lambda: self._client.custom_query(promql_text, params={"time": f"{at:.3f}"}))
        try:
            check_instant_vector(result, "data.result")
        except ShapeError as error:
            raise SourceError(
                f"{self.backend} sent a result that is not an instant vector ({error})"
            ) from None
        return result

    def _call(self, send: Callable[[], Any]) -> Any:
        """The client call's result; any failure becomes a one-line SourceError."""
        backend = self.backend
        try:
            return send()
        except SourceError as error:
            raise SourceError(f"{backend} {error}") from None
        except requests.exceptions.JSONDecodeError:
            raise SourceError(f"{backend} sent a response that is not Prometheus API JSON") from None
        except requests.exceptions.RequestException as error:
            raise request_failure(backend, self.timeout, error) from None
        except PrometheusApiClientException as error:
            raise SourceError(f"{self.backend} refused the query: {describe_http_error(error)}") from None
        except (ValueError, KeyError, TypeError):
            raise SourceError(f"{self.backend} sent a response that is not Prometheus API JSON") from None

    def version_traffic(
        self, start: float, end: float, step: float, window: Duration, namespaces: Sequence[str] = ()
    ) -> pd.DataFrame:
        """Delivered rps per service and workload from `start` to `end` (a
        range query): columns VERSION_TRAFFIC_COLUMNS, `time` in unix seconds."""
        text = promql.version_traffic(window, namespaces)
        result = self._call(
            lambda: self._client.custom_query_range(
                text,
                start_time=datetime.fromtimestamp(start, UTC),
                end_time=datetime.fromtimestamp(end, UTC),
                step=f"{step:g}s",
            )
        )
        labels = VERSION_TRAFFIC_COLUMNS[1:-1]
        try:
            rows = [
                [float(t), *(series["metric"].get(label, UNKNOWN) for label in labels), float(v)]
                for series in result
                for t, v in series["values"]
            ]
        except (ValueError, TypeError, KeyError, AttributeError):
            raise SourceError(f"{self.backend} sent a result that is not a range vector") from None
        frame = pd.DataFrame(rows, columns=VERSION_TRAFFIC_COLUMNS)
        return frame.astype({"time": "float64", **{label: "string" for label in labels}, "rps": "float64"})

    def check(self) -> None:
        """One trivial query: Prometheus is up and evaluates PromQL."""
        self.query(promql.READINESS, time.time())

    def mesh(self, at: float, window: Duration, namespaces: Sequence[str] = ()) -> MeshTelemetry:
        queries = promql.mesh_queries(window, namespaces)
        # The four queries are independent: sent at once, a refresh waits for
        # the slowest (the latency buckets) rather than for their sum.
        with ThreadPoolExecutor(max_workers=len(queries)) as pool:
            pending = {name: pool.submit(self.query, text, at) for name, text in queries.items()}
            results = {name: future.result() for name, future in pending.items()}
        try:
            requests, security = split_requests(
                instant_vector_frame(results["requests"], REQUEST_QUERY_LABELS, "rps")
            )
            return MeshTelemetry(
                at=at,
                window=window,
                requests=requests,
                latency=instant_vector_frame(results["latency"], LATENCY_LABELS, "rate"),
                tcp=instant_vector_frame(results["tcp"], TCP_LABELS, "bytes_per_s"),
                cluster_stats=cluster_stat_rows(results["cluster_stats"]),
                security=security,
            )
        except (ValueError, TypeError, IndexError, KeyError):
            raise SourceError(f"{self.backend} sent samples that are not numbers") from None
