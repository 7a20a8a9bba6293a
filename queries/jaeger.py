"""A client for Jaeger's query service: the v1 JSON API the Jaeger UI calls,
and the v3 API (OTLP JSON) that Jaeger's newest releases keep.

Every method returns plain records (queries.traces.records) and raises
SourceError with one line fit for a user. The HTTP layer is a `transport`
(queries.http), so the simulated mesh can answer the v1 paths without a socket.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import requests

from queries import shape
from queries.connection import Connection
from queries.duration import go_duration_seconds
from queries.errors import SourceError, TraceNotFound
from queries.http import MB, Transport, body_line, public_url, requests_transport
from queries.shape import ShapeError
from queries.traces import jaeger_v1, otlp
from queries.traces.details import tag_text
from queries.traces.records import (
    Dependency,
    TraceRecord,
    TraceSearch,
    canonical_trace_id,
    check_trace_id,
    share_wire_bytes,
)

# What one answer from a tracing backend (Jaeger, Tempo) may hold unless told
# otherwise (--max-response-mb); a 100k-span Istio trace is ~100 MB of JSON.
MAX_RESPONSE_BYTES = 64 * MB
ADVICE = "narrow the search, or raise --max-response-mb"


def duration_filter(text: str) -> str:
    """A duration filter as Jaeger parses it (`250ms`, `1.2s`: Go's
    time.ParseDuration), positive; ValueError otherwise."""
    value = text.strip()
    try:
        valid = go_duration_seconds(value) > 0
    except ValueError:
        valid = False
    if not valid:
        raise ValueError(f"bad duration {text!r}: use a number and a unit, e.g. 250ms, 1.2s")
    return value


def error_text(status: int, body: bytes) -> str:
    """Jaeger's error as "code – msg": v1 `{"errors": [{code, msg}]}` and v3
    `{"error": {httpCode, message}}`, both sent as text/plain."""
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        errors = payload.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return "; ".join(f"{e.get('code', status)} – {e.get('msg', '')}".strip() for e in errors)
        detail = payload.get("error")
        if isinstance(detail, dict):
            return f"{detail.get('httpCode', status)} – {detail.get('message', '')}".strip()
    return body_line(status, body)


class JaegerClient:
    """Services, operations, trace search, trace by id and dependencies; the
    interface the pages and the CLI use for every tracing backend (TempoClient too).

    `api` is "v1", "v3" or "auto" (v1 unless `/api/services` is missing, then
    v3; decided on first use and remembered).
    """

    name = "Jaeger"

    def __init__(
        self,
        base_url: str,
        api: str = "auto",
        timeout: float = 10.0,
        transport: Transport | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        connection: Connection | None = None,
    ) -> None:
        if api not in ("auto", "v1", "v3"):
            raise ValueError(f"bad Jaeger API {api!r}: choose auto, v1 or v3")
        self.base_url = base_url.rstrip("/")
        # What messages show: no credentials, no query.
        self.shown_url = public_url(self.base_url)
        self.timeout = timeout
        self._api = None if api == "auto" else api
        self._transport = transport or requests_transport(
            "Jaeger", self.base_url, timeout, max_response_bytes, ADVICE, connection
        )

    # --- wire ---

    def _get(self, path: str, params: dict[str, str] | None = None, empty_on_404: bool = False) -> Any:
        return self._get_sized(path, params, empty_on_404)[0]

    def _get_sized(
        self, path: str, params: dict[str, str] | None = None, empty_on_404: bool = False
    ) -> tuple[Any, int]:
        """The JSON payload (None for a 404 when `empty_on_404`) and its size in bytes."""
        status, _, body = self._transport(path, params or {})
        return self._payload(path, status, body, empty_on_404)

    def _payload(self, path: str, status: int, body: bytes, empty_on_404: bool = False) -> tuple[Any, int]:
        """The JSON object of an answer and its size; SourceError saying what is wrong with it."""
        if status == 404 and empty_on_404:
            return None, 0
        if status >= 400:
            raise SourceError(f"Jaeger at {self.shown_url}{path}: {error_text(status, body)}")
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            raise SourceError(f"Jaeger at {self.shown_url}{path} sent a response that is not JSON") from None
        if not isinstance(payload, dict):
            raise SourceError(f"Jaeger at {self.shown_url}{path} sent JSON that is not a Jaeger response")
        if payload.get("errors"):
            raise SourceError(f"Jaeger at {self.shown_url}{path}: {error_text(status, body)}")
        return payload, len(body)

    @property
    def api(self) -> str:
        """The API in use, detecting it on first call in auto mode."""
        if self._api is None:
            status, _, body = self._transport("/api/services", {})
            if status == 404 or (status < 400 and not _looks_like_v1(body)):
                self._api = "v3"
            elif status >= 400:
                raise SourceError(f"Jaeger at {self.shown_url}/api/services: {error_text(status, body)}")
            else:
                self._api = "v1"
        return self._api

    # --- queries ---

    def services(self) -> list[str]:
        if self.api == "v3":
            return self._names(self._get("/api/v3/services").get("services"), "/api/v3/services")
        return self._names(self._get("/api/services").get("data"), "/api/services")

    def operations(self, service: str) -> list[str]:
        if self.api == "v3":
            operations = self._get("/api/v3/operations", {"service": service}).get("operations") or []
            return sorted({str(op.get("name")) for op in operations if isinstance(op, dict)})
        path = f"/api/services/{_segment(service)}/operations"
        return self._names(self._get(path).get("data"), path)

    def search(
        self,
        service: str,
        operation: str | None = None,
        tags: dict[str, str] | None = None,
        min_duration: str | None = None,
        max_duration: str | None = None,
        lookback_s: float = 3600,
        limit: int = 20,
        end: float | None = None,
        traceql: str | None = None,
    ) -> TraceSearch:
        """Recent traces through `service`, newest first. Durations are Go
        strings (`250ms`); `end` is unix seconds (default now). A trace that
        cannot be read is left out and said why in `skipped`. `traceql` is
        Tempo's; Jaeger refuses it (ValueError: bad input)."""
        if traceql:
            raise ValueError("a TraceQL query needs Tempo (--tempo URL); Jaeger searches by key=value tags")
        end_s = time.time() if end is None else end
        start_us, end_us = int((end_s - lookback_s) * 1e6), int(end_s * 1e6)
        durations = {
            name: duration_filter(value)
            for name, value in (("min", min_duration), ("max", max_duration))
            if value
        }
        skipped: list[str] = []
        if self.api == "v3":
            traces = self._search_v3(service, operation, durations, start_us, end_us, limit, skipped)
            if tags:
                traces = [trace for trace in traces if _has_tags(trace, tags)]
        else:
            params = {
                "service": service,
                "start": str(start_us),
                "end": str(end_us),
                "limit": str(int(limit)),
            }
            if operation:
                params["operation"] = operation
            if tags:
                params["tags"] = json.dumps(tags)
            if "min" in durations:
                params["minDuration"] = durations["min"]
            if "max" in durations:
                params["maxDuration"] = durations["max"]
            traces = self._v1_traces(*self._get_sized("/api/traces", params), "/api/traces", skipped)
        traces.sort(key=lambda trace: -min((span.start_us for span in trace.spans), default=0))
        return TraceSearch(traces[:limit], skipped)

    def _search_v3(
        self,
        service: str,
        operation: str | None,
        durations: dict[str, str],
        start_us: int,
        end_us: int,
        limit: int,
        skipped: list[str],
    ) -> list[TraceRecord]:
        params = {
            "query.service_name": service,
            "query.start_time_min": _rfc3339(start_us),
            "query.start_time_max": _rfc3339(end_us),
            # search_depth in current releases, num_traces in older ones.
            "query.search_depth": str(int(limit)),
            "query.num_traces": str(int(limit)),
        }
        if operation:
            params["query.operation_name"] = operation
        if "min" in durations:
            params["query.duration_min"] = durations["min"]
        if "max" in durations:
            params["query.duration_max"] = durations["max"]
        payload, size = self._get_sized("/api/v3/traces", params, empty_on_404=True)
        return [] if payload is None else self._otlp_traces(payload, size, "/api/v3/traces", skipped)

    def trace(self, trace_id: str) -> TraceRecord:
        """One trace by id; SourceError when Jaeger does not have it."""
        try:
            trace_id = check_trace_id(trace_id)
        except ValueError as error:
            raise SourceError(str(error)) from None
        if self.api == "v3":
            path = f"/api/v3/traces/{trace_id}"
            payload, size = self._get_sized(path, empty_on_404=True)
            traces = [] if payload is None else self._otlp_traces(payload, size, path)
        else:
            path = f"/api/traces/{trace_id}"
            status, _, body = self._transport(path, {})
            # Straight from the bytes (a 100k-span trace is ~200 MB); the JSON path says what is wrong.
            traces = jaeger_v1.parse_body(body) if status == 200 else None
            if traces is None:
                payload, size = self._payload(path, status, body, empty_on_404=True)
                traces = [] if payload is None else self._v1_traces(payload, size, path)
            else:
                share_wire_bytes(traces, len(body))
        wanted = canonical_trace_id(trace_id)
        for trace in traces:
            if canonical_trace_id(trace.trace_id) == wanted and trace.spans:
                return trace
        raise TraceNotFound(f"trace {trace_id} not found in Jaeger at {self.shown_url}")

    def dependencies(self, end_ms: int, lookback_ms: int) -> list[Dependency]:
        """Service-to-service call counts (`/api/dependencies`, which Jaeger
        keeps in every release)."""
        data = self._get(
            "/api/dependencies", {"endTs": str(int(end_ms)), "lookback": str(int(lookback_ms))}
        ).get("data")
        try:
            return [
                Dependency(str(d["parent"]), str(d["child"]), int(d.get("callCount") or 0))
                for d in data or []
            ]
        except (KeyError, TypeError, ValueError):
            raise SourceError(f"Jaeger at {self.shown_url} sent dependencies in an unknown shape") from None

    def _v1_traces(
        self, payload: dict[str, Any], size: int, path: str, skipped: list[str] | None = None
    ) -> list[TraceRecord]:
        """The traces of a v1 answer; with `skipped`, one that cannot be read
        is left out (and said why there) rather than failing them all."""
        data = payload.get("data") or []
        if not isinstance(data, list):
            raise SourceError(f"Jaeger at {self.shown_url}{path} sent data that is not a list of traces")
        traces = []
        for i, item in enumerate(data):
            try:
                traces.append(jaeger_v1.parse_trace(item, f"data[{i}]"))
            except SourceError as error:
                if skipped is None:
                    raise SourceError(f"Jaeger at {self.shown_url}{path}: {error}") from None
                skipped.append(str(error))
        return share_wire_bytes(traces, size)

    def _otlp_traces(
        self, payload: dict[str, Any], size: int, path: str, skipped: list[str] | None = None
    ) -> list[TraceRecord]:
        try:
            return share_wire_bytes(otlp.parse_traces(payload, skipped=skipped), size)
        except SourceError as error:
            raise SourceError(f"Jaeger at {self.shown_url}{path}: {error}") from None

    def _names(self, value: Any, path: str) -> list[str]:
        try:
            shape.each(value, "data", lambda name, where: shape.string(name, where, required=True))
        except ShapeError:
            raise SourceError(
                f"Jaeger at {self.shown_url}{path} sent names that are not a list of strings"
            ) from None
        return sorted(value or [])


def _looks_like_v1(body: bytes) -> bool:
    try:
        return "data" in json.loads(body)
    except (ValueError, TypeError):
        return False


def _segment(text: str) -> str:
    return requests.utils.quote(text, safe="")


def _rfc3339(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _has_tags(trace: TraceRecord, tags: dict[str, str]) -> bool:
    """v3 search cannot filter by tag: keep traces with a span carrying them all."""
    for span in trace.spans:
        values = dict(tag_text(span, trace.dialect))
        if all(values.get(key) == str(value) for key, value in tags.items()):
            return True
    return False
