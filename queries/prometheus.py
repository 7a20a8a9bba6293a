"""Istio telemetry from a real Prometheus, through prometheus-api-client."""

from __future__ import annotations

import json
import re
from typing import Any, Sequence

import pandas as pd
import requests
from prometheus_api_client import PrometheusApiClientException, PrometheusConnect
from urllib3.util.retry import Retry

from queries import promql
from queries.telemetry import (
    CLUSTER_STAT_LABELS,
    LATENCY_LABELS,
    REQUEST_LABELS,
    TCP_LABELS,
    UNKNOWN,
    MeshTelemetry,
    SourceError,
)

# Envoy's outbound cluster name: outbound|PORT|SUBSET|FQDN
_OUTBOUND_CLUSTER = re.compile(r"^outbound\|\d*\|(?P<subset>[^|]*)\|(?P<host>.+)$")
# A response larger than this is refused rather than parsed: a mesh this big
# needs a namespace filter, not a browser tab that never paints.
MAX_RESPONSE_BYTES = 256 * 1024 * 1024


def _raw_rows(result: list[dict[str, Any]], labels: list[str], value: str) -> pd.DataFrame:
    """A frame of an instant-vector result: one column per label, one value column."""
    columns: dict[str, list[Any]] = {label: [] for label in labels}
    values: list[float] = []
    for series in result:
        metric = series["metric"]
        for label in labels:
            columns[label].append(metric.get(label, ""))
        values.append(float(series["value"][1]))
    frame = pd.DataFrame({label: pd.array(column, dtype="string") for label, column in columns.items()})
    frame[value] = pd.array(values, dtype="float64")
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
        match = _OUTBOUND_CLUSTER.match(metric.get("cluster_name", ""))
        if not match:
            continue
        host = match.group("host").split(".")
        rows.append({
            "source_workload_namespace": metric.get("namespace", UNKNOWN),
            "source_canonical_service": _coalesce(metric.get("service_istio_io_canonical_name", ""), metric.get("app", "")),
            "source_canonical_revision": _coalesce(metric.get("service_istio_io_canonical_revision", ""), metric.get("version", "")),
            "destination_service_name": host[0],
            "destination_service_namespace": host[1] if len(host) > 2 else UNKNOWN,
            "subset": match.group("subset"),
            "stat": metric.get("stat", ""),
            "value": float(series["value"][1]),
        })
    if not rows:
        return MeshTelemetry.empty(0, "1m").cluster_stats
    frame = pd.DataFrame(rows)
    frame[CLUSTER_STAT_LABELS] = frame[CLUSTER_STAT_LABELS].astype("string")
    return frame


class _CappedSession(requests.Session):
    """A session that refuses bodies over MAX_RESPONSE_BYTES before parsing them."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        kwargs["stream"] = True
        response = super().send(request, **kwargs)
        size = int(response.headers.get("Content-Length") or 0)
        if size > MAX_RESPONSE_BYTES:
            response.close()
            raise SourceError(f"response of {size} bytes is larger than meshwatch reads; filter by namespace")
        chunks, total = [], 0
        for chunk in response.iter_content(1 << 20):
            total += len(chunk)
            if total > MAX_RESPONSE_BYTES:
                response.close()
                raise SourceError("response is larger than meshwatch reads; filter by namespace")
            chunks.append(chunk)
        response._content = b"".join(chunks)
        return response


def describe_http_error(error: PrometheusApiClientException) -> str:
    """Prometheus' own error text from `HTTP Status Code 400 (b'{...}')`."""
    text = str(error)
    match = re.search(r"HTTP Status Code (\d+) \((b?['\"])(.*)\2\)$", text, re.S)
    if not match:
        return text
    status, body = match.group(1), match.group(3)
    try:
        payload = json.loads(body.encode().decode("unicode_escape"))
        return f"HTTP {status}: {payload.get('errorType', 'error')}: {payload.get('error', '')}".strip()
    except (ValueError, AttributeError):
        first_line = body.replace("\\n", "\n").strip().splitlines()[:1]
        return f"HTTP {status}" + (f": {first_line[0][:200]}" if first_line else "")


class PrometheusSource:
    """Runs `promql.mesh_queries` as instant queries and returns MeshTelemetry."""

    queries_per_refresh = len(promql.mesh_queries("1m"))

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url
        self.timeout = timeout
        session = _CappedSession()
        # One quick retry on a dropped connection; never the client's default
        # 3 tries with backoff, which stalls a refresh for seconds.
        session.mount("http://", requests.adapters.HTTPAdapter(max_retries=Retry(total=1, connect=1, read=0, status=0, backoff_factor=0)))
        session.mount("https://", requests.adapters.HTTPAdapter(max_retries=Retry(total=1, connect=1, read=0, status=0, backoff_factor=0)))
        self._client = PrometheusConnect(url=url, session=session, timeout=timeout, retry=Retry(total=0))

    def query(self, promql_text: str, at: float) -> list[dict[str, Any]]:
        """One instant query at `at`; raises SourceError with a one-line reason."""
        try:
            result = self._client.custom_query(promql_text, params={"time": f"{at:.3f}"})
        except SourceError as error:
            raise SourceError(f"Prometheus at {self.url}: {error}") from None
        except requests.exceptions.Timeout:
            raise SourceError(f"Prometheus at {self.url} did not answer within {self.timeout:g}s") from None
        except requests.exceptions.ConnectionError as error:
            raise SourceError(f"cannot reach Prometheus at {self.url}: {_reason(error)}") from None
        except requests.exceptions.RequestException as error:
            raise SourceError(f"Prometheus at {self.url}: {_reason(error)}") from None
        except PrometheusApiClientException as error:
            raise SourceError(f"Prometheus at {self.url} refused the query: {describe_http_error(error)}") from None
        except (ValueError, KeyError, TypeError):
            raise SourceError(f"Prometheus at {self.url} sent a response that is not Prometheus API JSON") from None
        if not isinstance(result, list) or any(
            not isinstance(s, dict) or "metric" not in s or "value" not in s for s in result
        ):
            raise SourceError(f"Prometheus at {self.url} sent a result that is not an instant vector")
        return result

    def mesh(self, at: float, window: str, namespaces: Sequence[str] = ()) -> MeshTelemetry:
        queries = promql.mesh_queries(window, namespaces)
        results = {name: self.query(text, at) for name, text in queries.items()}
        try:
            return MeshTelemetry(
                at=at,
                window=window,
                requests=_raw_rows(results["requests"], REQUEST_LABELS, "rps"),
                latency=_raw_rows(results["latency"], LATENCY_LABELS, "rate"),
                tcp=_raw_rows(results["tcp"], TCP_LABELS, "bytes_per_s"),
                cluster_stats=cluster_stat_rows(results["cluster_stats"]),
            )
        except (ValueError, TypeError, IndexError, KeyError):
            raise SourceError(f"Prometheus at {self.url} sent samples that are not numbers") from None


def _reason(error: Exception) -> str:
    """The innermost useful words of a requests/urllib3 error."""
    text = str(error)
    for pattern in (r"\[Errno -?\d+\] ([^'\")]+)", r"(Connection refused)", r"(Name or service not known)", r"(Read timed out)"):
        match = re.search(pattern, text)
        if match:
            return match.group(1).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__
