"""Istio telemetry from a real Prometheus, over its HTTP API (`/api/v1/query`,
`/api/v1/query_range`), read through queries.http: every response capped and
deadline-bound, Prometheus' own error text kept.

Samples that are no rate, count or bucket value (NaN, infinities, negative
numbers) are left out of the frames and counted by problem
(`MeshTelemetry.ignored`), so the graph never draws bad data as no traffic.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import copy_context
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np
import pandas as pd

from queries import promql, shape
from queries.connection import Connection
from queries.duration import Duration
from queries.envoy import outbound_cluster
from queries.errors import SourceError
from queries.http import MB, Backend, Reply, response_budget
from queries.shape import ShapeError, at, present
from queries.telemetry import (
    CLUSTER_STAT_LABELS,
    EARLY_PENDING,
    IGNORED,
    LATENCY_LABELS,
    REQUEST_QUERY_LABELS,
    SELECTION_HISTORY_COLUMNS,
    TCP_LABELS,
    UNKNOWN,
    VERSION_TRAFFIC_COLUMNS,
    VIEW_LABEL,
    WARNINGS,
    EarlyReport,
    MeshTelemetry,
    SeriesSelection,
    count_bad_values,
    empty_frame,
    full_buckets,
    split_requests,
)

# What one refresh may read from Prometheus in all, unless told otherwise
# (--max-response-mb): a mesh bigger than this needs a namespace filter, not
# a browser tab that never paints.
MAX_RESPONSE_BYTES = 64 * MB
ADVICE = "narrow the namespaces or the window"
# How queries are sent (--prometheus-method): a form POST, or GET with the query in the URL.
METHODS = ("POST", "GET")
# An answer's warnings as shown (banner, JSON): a partial response says so in a line or two.
MAX_WARNINGS, MAX_WARNING_CHARS = 20, 500


class _Series(msgspec.Struct):
    metric: dict[str, str]
    value: tuple[float, str]


class _Vector(msgspec.Struct):
    result: list[_Series]
    resultType: str = "vector"


class _InstantAnswer(msgspec.Struct):
    status: str
    data: _Vector
    warnings: list[str] = []


# A well-formed instant answer, read straight into typed records: three
# times json.loads' speed on the tens of MB of a big mesh's answer, and its
# shape checked on the way. Anything else takes the careful path, for its reason.
_INSTANT_ANSWER = msgspec.json.Decoder(_InstantAnswer)


@dataclass(frozen=True)
class InstantVector:
    """An instant query's series as two columns: each series' labels, and
    its sample (`[time, "value"]`, the value not yet read as a number)."""

    metrics: list[dict[str, str]]
    samples: list[Sequence[Any]]

    @classmethod
    def of(cls, result: Sequence[dict[str, Any]]) -> InstantVector:
        """From series as the API's JSON spells them (`metric`, `value`)."""
        return cls([series["metric"] for series in result], [series["value"] for series in result])


def _sample_values(vector: InstantVector) -> np.ndarray:
    return np.array([float(sample[1]) for sample in vector.samples], dtype="float64")


def _kept(vector: InstantVector, good: np.ndarray) -> list[dict[str, str]]:
    if good.all():
        return vector.metrics
    return [metric for metric, keep in zip(vector.metrics, good) if keep]


def instant_vector_frame(
    vector: InstantVector, labels: list[str], value: str, ignored: Counter[str] | None = None
) -> pd.DataFrame:
    """A frame of an instant-vector result: one column per label, one value
    column; series whose value is NaN, infinite or negative are left out
    (and counted by problem into `ignored`)."""
    values = _sample_values(vector)
    good = count_bad_values(values, ignored)
    metrics = _kept(vector, good)
    frame = pd.DataFrame(
        {label: pd.array([metric.get(label, "") for metric in metrics], dtype="string") for label in labels}
    )
    frame[value] = pd.array(values[good], dtype="float64")
    return frame


def _coalesce(*candidates: str) -> str:
    return next((c for c in candidates if c and c != UNKNOWN), UNKNOWN)


def cluster_stat_rows(vector: InstantVector, ignored: Counter[str] | None = None) -> pd.DataFrame:
    """Envoy cluster stats keyed like the caller workload and destination service
    (series with NaN, infinite or negative values left out and counted).

    Pod labels come from Prometheus' kubernetes-pods scrape (`namespace`,
    `app`, `version`, or Istio's `service_istio_io_canonical_*`)."""
    values = _sample_values(vector)
    good = count_bad_values(values, ignored)
    rows: list[dict[str, Any]] = []
    for metric, sample, keep in zip(vector.metrics, values, good):
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


def range_vector_frame(result: list[dict[str, Any]], columns: Sequence[str], label: str) -> pd.DataFrame:
    """A frame of a range-vector result, one row per series and step: columns
    `time`, the labels, the value (`columns` in that order; an absent label
    reads "unknown"). Points that are no rate are left out;
    `frame.attrs[IGNORED]` counts the series that had any, by problem."""
    labels = list(columns[1:-1])
    rows: list[list[Any]] = []
    ignored: Counter[str] = Counter()
    try:
        for series in result:
            points = np.array([[float(t), float(v)] for t, v in series["values"]], dtype="float64")
            if not len(points):
                continue
            names = [str(series["metric"].get(name, UNKNOWN)) for name in labels]
            found: Counter[str] = Counter()
            good = count_bad_values(points[:, 1], found)
            ignored.update(found.keys())
            rows += [[t, *names, v] for t, v in points[good].tolist()]
    except (ValueError, TypeError, KeyError, AttributeError, IndexError):
        raise SourceError(f"{label} sent a result that is not a range vector") from None
    frame = pd.DataFrame(rows, columns=list(columns))
    frame = frame.astype(
        {columns[0]: "float64", **{name: "string" for name in labels}, columns[-1]: "float64"}
    )
    frame.attrs[IGNORED] = dict(ignored)
    return frame


def check_instant_vector(result: Any, where: str) -> None:
    """`[{"metric": {"label": "value"}, "value": [t, "v"]}, ...]`, as an instant query answers."""
    for index, series in enumerate(shape.items(present(result, where), where)):
        series = shape.json_object(series, at(where, index))
        metric = shape.json_object(series.get("metric"), at(at(where, index), "metric"))
        for label, text in metric.items():
            if not isinstance(text, str):  # Prometheus' label values are strings, never null
                raise ShapeError(at(at(at(where, index), "metric"), label), "expected a string")
        present(series.get("value"), at(at(where, index), "value"))


@dataclass(frozen=True)
class Answer:
    """A successful API answer: its `data`, and the `warnings` it came with
    (a partial response from Thanos or Mimir: the data may lack some series)."""

    data: dict[str, Any]
    warnings: tuple[str, ...] = ()


def answer_warnings(payload: dict[str, Any]) -> tuple[str, ...]:
    """The answer's `warnings`, each one line of at most MAX_WARNING_CHARS,
    at most MAX_WARNINGS of them; anything that is not a list of strings is none."""
    raw = payload.get("warnings")
    if not isinstance(raw, list):
        return ()
    lines = (" ".join(text.split())[:MAX_WARNING_CHARS] for text in raw if isinstance(text, str))
    return tuple(dict.fromkeys(line for line in lines if line))[:MAX_WARNINGS]


def answer(reply: Reply, label: str) -> Answer:
    """A successful API answer; SourceError with Prometheus' own reason
    otherwise (`label` names the Prometheus)."""
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
    return Answer(data, answer_warnings(payload))


def instant_answer(reply: Reply, label: str) -> tuple[InstantVector, tuple[str, ...]]:
    """The series of an instant query's answer, their shape checked, and its
    warnings; SourceError otherwise."""
    if reply.status < 400:
        try:
            typed = _INSTANT_ANSWER.decode(reply.body)
        except (msgspec.DecodeError, RecursionError):
            typed = None
        if typed is not None and typed.status == "success" and typed.data.resultType == "vector":
            series = typed.data.result
            vector = InstantVector([s.metric for s in series], [s.value for s in series])
            return vector, answer_warnings({"warnings": typed.warnings})
    answered = answer(reply, label)
    result = answered.data.get("result")
    try:
        if answered.data.get("resultType") not in (None, "vector"):
            raise ShapeError("data.resultType", f"{answered.data.get('resultType')!r}, not a vector")
        check_instant_vector(result, "data.result")
    except ShapeError as error:
        raise SourceError(f"{label} sent a result that is not an instant vector ({error})") from None
    return InstantVector.of(result), answered.warnings


def instant_result(reply: Reply, label: str) -> InstantVector:
    """The series of an instant query's answer, their shape checked; SourceError otherwise."""
    return instant_answer(reply, label)[0]


def mesh_telemetry(
    results: dict[str, InstantVector],
    at: float,
    window: Duration,
    label: str,
    warnings: Sequence[str] = (),
) -> MeshTelemetry:
    """The frames of one mesh refresh from its checked results (by
    MeshTelemetry field) and their answers' warnings: all four, or all but
    the latency buckets (EARLY_PENDING), the refresh's early report, which
    with_latency completes; SourceError when samples are not numbers."""
    ignored: Counter[str] = Counter()
    try:
        requests, security = split_requests(
            instant_vector_frame(results["requests"], REQUEST_QUERY_LABELS, "rps", ignored)
        )
        early = MeshTelemetry(
            at=at,
            window=window,
            requests=requests,
            latency=empty_frame(LATENCY_LABELS, "rate"),
            tcp=instant_vector_frame(results["tcp"], TCP_LABELS, "bytes_per_s", ignored),
            cluster_stats=cluster_stat_rows(results["cluster_stats"], ignored),
            security=security,
            ignored=dict(ignored),
            warnings=tuple(dict.fromkeys(warnings)),
            pending=EARLY_PENDING,
        )
    except (ValueError, TypeError, IndexError, KeyError):
        raise SourceError(f"{label} sent samples that are not numbers") from None
    return with_latency(early, results["latency"], label) if "latency" in results else early


def with_latency(
    early: MeshTelemetry, latency: InstantVector, label: str, warnings: Sequence[str] = ()
) -> MeshTelemetry:
    """A refresh's early report made whole by its latency buckets' result
    and that answer's warnings; SourceError when samples are not numbers."""
    ignored: Counter[str] = Counter(early.ignored)
    try:
        buckets = full_buckets(instant_vector_frame(latency, [*LATENCY_LABELS, VIEW_LABEL], "rate", ignored))
    except (ValueError, TypeError, IndexError, KeyError):
        raise SourceError(f"{label} sent samples that are not numbers") from None
    return dataclasses.replace(
        early,
        latency=buckets,
        ignored=dict(ignored),
        warnings=tuple(dict.fromkeys([*early.warnings, *warnings])),
        pending=(),
    )


class PrometheusSource:
    """Runs `promql.mesh_queries` as instant queries and returns MeshTelemetry.

    Queries go as POST forms by default (`method`), as Prometheus' API
    allows, so a long namespace filter never makes a URL a proxy refuses.
    The HTTP is queries.http's, not prometheus-api-client's: that client
    sends a POST's parameters in the URL, drops `warnings`, reports errors
    only as the repr of the body, and mounts its own retrying adapter over
    the session's (which would undo the deadline and the byte budget)."""

    name = "Prometheus"
    queries_per_refresh = len(promql.MESH_QUERY_NAMES)
    # Told (query name, whether Prometheus answered) after each query: the app counts them.
    on_query: Callable[[str, bool], None] | None = None

    def __init__(
        self,
        url: str,
        timeout: float = 10.0,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        connection: Connection | None = None,
        method: str = "POST",
        name: str | None = None,
    ) -> None:
        if method not in METHODS:
            raise ValueError(f"bad method {method!r}: choose {' or '.join(METHODS)}")
        # How errors name it: `Prometheus east at http://...` for a named source.
        self.backend = Backend(
            f"Prometheus {name}" if name else "Prometheus",
            url,
            timeout,
            max_response_bytes,
            ADVICE,
            connection or Connection(),
        )
        self.url, self.timeout, self.method = self.backend.url, timeout, method

    def _ask(self, path: str, parameters: dict[str, str]) -> Reply:
        if self.method == "POST":
            return self.backend.post(path, parameters)
        return self.backend.get(path, parameters)

    def instant(self, promql_text: str, at: float) -> tuple[InstantVector, tuple[str, ...]]:
        """One instant query at `at`: its series and warnings; SourceError with a one-line reason."""
        reply = self._ask("/api/v1/query", {"query": promql_text, "time": f"{at:.3f}"})
        return instant_answer(reply, self.backend.label)

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

    def _named_query(self, name: str, promql_text: str, at: float) -> tuple[InstantVector, tuple[str, ...]]:
        with self._told(name):
            return self.instant(promql_text, at)

    def query(self, promql_text: str, at: float) -> InstantVector:
        """One instant query's series at `at`; raises SourceError with a one-line reason."""
        return self.instant(promql_text, at)[0]

    def range_query(
        self, promql_text: str, start: float, end: float, step: float
    ) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
        """One range query's series and warnings; SourceError with a one-line reason."""
        reply = self._ask(
            "/api/v1/query_range",
            {"query": promql_text, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}s"},
        )
        answered = answer(reply, self.backend.label)
        result = answered.data.get("result") or []
        if not isinstance(result, list):
            raise SourceError(f"{self.backend.label} sent a result that is not a range vector")
        return result, answered.warnings

    def version_traffic(
        self, start: float, end: float, step: float, window: Duration, namespaces: Sequence[str] = ()
    ) -> pd.DataFrame:
        """Delivered rps per service and workload from `start` to `end` (a
        range query): columns VERSION_TRAFFIC_COLUMNS, `time` in unix seconds."""
        return self._range_frame(
            "version_traffic",
            promql.version_traffic(window, namespaces),
            start,
            end,
            step,
            VERSION_TRAFFIC_COLUMNS,
        )

    def selection_history(
        self, selection: SeriesSelection, start: float, end: float, step: float, window: Duration
    ) -> pd.DataFrame:
        """promql.selection_history as a range query: columns SELECTION_HISTORY_COLUMNS."""
        return self._range_frame(
            "selection_history",
            promql.selection_history(selection, window),
            start,
            end,
            step,
            SELECTION_HISTORY_COLUMNS,
        )

    def _range_frame(
        self, name: str, promql_text: str, start: float, end: float, step: float, columns: Sequence[str]
    ) -> pd.DataFrame:
        """A range query (promql's `name`) as a frame, its warnings in `attrs[WARNINGS]`."""
        with self._told(name):
            result, warnings = self.range_query(promql_text, start, end, step)
        frame = range_vector_frame(result, columns, self.backend.label)
        frame.attrs[WARNINGS] = list(warnings)
        return frame

    def check(self) -> None:
        """One trivial query: Prometheus is up and evaluates PromQL."""
        self._named_query("readiness", promql.READINESS, time.time())

    def mesh(
        self,
        at: float,
        window: Duration,
        namespaces: Sequence[str] = (),
        early: EarlyReport | None = None,
    ) -> MeshTelemetry:
        queries = promql.mesh_queries(window, namespaces)
        with response_budget(self.backend.max_bytes):
            # The queries are independent: sent at once, a refresh waits for the
            # slowest (the latency buckets) rather than for their sum; each runs
            # in a copy of this context, so they share the refresh's budget. One
            # that is told `early` asks for the latency buckets once the rest is
            # in: on a busy Prometheus they would slow the rest, the first paint.
            with ThreadPoolExecutor(max_workers=len(queries)) as pool:

                def sent(name: str) -> Future[tuple[InstantVector, tuple[str, ...]]]:
                    return pool.submit(copy_context().run, self._named_query, name, queries[name], at)

                latency = None if early is not None else sent("latency")
                pending = {name: sent(name) for name in queries if name != "latency"}
                answers = {name: future.result() for name, future in pending.items()}
                if latency is None:
                    latency = sent("latency")
                first = mesh_telemetry(
                    {name: series for name, (series, _) in answers.items()},
                    at,
                    window,
                    self.backend.label,
                    [warning for _, said in answers.values() for warning in said],
                )
                if early is not None:
                    early(first)
                buckets, said = latency.result()
        return with_latency(first, buckets, self.backend.label, said)
