"""A client for Grafana Tempo's own HTTP API, speaking the interface the
pages and the CLI use for Jaeger (queries.jaeger.JaegerClient): services,
operations, search, trace by id.

- search: `GET /api/search?q=<TraceQL>&start=&end=&limit=` (start/end unix
  seconds) answers trace metadata only (`traces[].traceID`, root service and
  name, start, duration); each trace found is then fetched by id, a few at a
  time, since the pages show what each trace went through.
- trace by id: `GET /api/traces/<id>`: protobuf JSON under `batches` (ids in
  base64, enums by name), read by queries.traces.otlp; 404 with a text body
  when Tempo has no such trace.
- services and operations: `GET /api/v2/search/tag/<tag>/values`
  (`resource.service.name`, and `name` filtered by `q`), `{"tagValues": [{"type", "value"}]}`.

The search form's fields become one TraceQL spanset (one span must match all,
as in Jaeger): a tag value that reads as a number or a boolean matches either
that typed value or the same text, since Envoy writes `http.status_code` as
a string and OpenTelemetry SDKs as an integer. A query typed as TraceQL goes
to Tempo as it is. Errors are one line naming Tempo (its URL without
credentials or query); the HTTP layer is a transport (queries.http), the
same one Jaeger's client uses: each answer read within the timeout, and a
search with the traces it fetches within one byte budget (--max-response-mb).
A trace found that cannot be read is left out and said why (`skipped`).
"""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from typing import Any

from queries import shape
from queries.connection import Connection
from queries.errors import SourceError, TraceNotFound
from queries.http import Transport, body_line, public_url, requests_transport, response_budget
from queries.jaeger import ADVICE, MAX_RESPONSE_BYTES, duration_filter
from queries.shape import ShapeError, at
from queries.traces import otlp
from queries.traces.records import (
    TraceRecord,
    TraceSearch,
    canonical_trace_id,
    check_trace_id,
    share_wire_bytes,
)

SERVICE_TAG = "resource.service.name"
# Traces fetched at once after a search: enough to hide latency, few enough to spare Tempo.
FETCH_PARALLEL = 8


def traceql_string(text: str) -> str:
    """A TraceQL string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")


def _tag_condition(key: str, value: str) -> str:
    """`.key = "value"`, or either typed form when the value reads as a number or boolean."""
    attribute = key if key.startswith(("span.", "resource.", ".")) else "." + key
    text = f"{attribute} = {traceql_string(value)}"
    lowered = value.strip().lower()
    if lowered in ("true", "false"):
        return f"({attribute} = {lowered} || {text})"
    if _NUMBER.match(value.strip()):
        return f"({attribute} = {value.strip()} || {text})"
    return text


def search_query(
    service: str,
    operation: str | None,
    tags: dict[str, str],
    min_duration: str | None,
    max_duration: str | None,
) -> str:
    """The search form as one TraceQL spanset: `{ resource.service.name = "x" && ... }`."""
    conditions = [f"{SERVICE_TAG} = {traceql_string(service)}"]
    if operation:
        conditions.append(f"name = {traceql_string(operation)}")
    conditions.extend(_tag_condition(key, value) for key, value in tags.items())
    if min_duration:
        conditions.append(f"duration >= {duration_filter(min_duration)}")
    if max_duration:
        conditions.append(f"duration <= {duration_filter(max_duration)}")
    return "{ " + " && ".join(conditions) + " }"


def _check_found(item: Any, where: str) -> None:
    """A search result names its trace by a hex id (`traces[0].traceID`)."""
    path = at(where, "traceID")
    trace_id = shape.string(shape.json_object(item, where).get("traceID"), path, required=True)
    try:
        check_trace_id(trace_id)
    except ValueError:
        raise ShapeError(path, "expected a hex trace id") from None


def _payload(body: bytes) -> Any:
    """A response's JSON; SourceError saying it is none."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise SourceError("the response is not JSON") from None


class TempoClient:
    """Services, operations, trace search and trace by id from Tempo."""

    name = "Tempo"

    def __init__(
        self,
        base_url: str,
        timeout: float = 10.0,
        transport: Transport | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        connection: Connection | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # What messages show: no credentials, no query.
        self.shown_url = public_url(self.base_url)
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        self._transport = transport or requests_transport(
            "Tempo", self.base_url, timeout, max_response_bytes, ADVICE, connection
        )

    # --- wire ---

    def _get(self, path: str, params: dict[str, str] | None = None) -> tuple[int, bytes]:
        status, _, body = self._transport(path, params or {})
        if status >= 400 and status != 404:
            raise SourceError(f"Tempo at {self.shown_url}{path}: {body_line(status, body)}")
        return status, body

    def _json(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        status, body = self._get(path, params)
        if status == 404:
            raise SourceError(f"Tempo at {self.shown_url}{path}: {body_line(status, body)}")
        try:
            payload = _payload(body)
        except SourceError as error:
            raise SourceError(f"Tempo at {self.shown_url}{path}: {error}") from None
        if not isinstance(payload, dict):
            raise SourceError(f"Tempo at {self.shown_url}{path} sent JSON that is not a Tempo response")
        return payload

    def _tag_values(self, tag: str, query: str | None = None) -> list[str]:
        path = f"/api/v2/search/tag/{tag}/values"
        values = self._json(path, {"q": query} if query else {}).get("tagValues")
        try:
            shape.each(values, "tagValues", lambda item, where: shape.json_object(item, where))
        except ShapeError:
            raise SourceError(
                f"Tempo at {self.shown_url}{path} sent tag values in an unknown shape"
            ) from None
        return sorted({str(item.get("value")) for item in values or () if item.get("value") is not None})

    # --- queries ---

    def services(self) -> list[str]:
        return self._tag_values(SERVICE_TAG)

    def operations(self, service: str) -> list[str]:
        return self._tag_values("name", "{ " + f"{SERVICE_TAG} = {traceql_string(service)}" + " }")

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
        """Recent traces matching the form (or `traceql`), newest first, each
        fetched whole; a trace that cannot be read is left out and said why in
        `skipped`. The search and its fetches share one byte budget."""
        end_s = time.time() if end is None else end
        query = traceql or search_query(service, operation, tags or {}, min_duration, max_duration)
        params = {
            "q": query,
            "start": str(int(end_s - lookback_s)),
            "end": str(int(end_s) + 1),  # seconds: round the end up, not down
            "limit": str(int(limit)),
        }
        with response_budget(self.max_response_bytes):
            found = self._json("/api/search", params).get("traces")
            try:
                shape.each(found, "traces", _check_found)
            except ShapeError as error:
                raise SourceError(f"Tempo at {self.shown_url}/api/search: {error}") from None
            ids = [item["traceID"] for item in found or ()][:limit]
            skipped: list[list[str]] = [[] for _ in ids]
            # Each fetch runs in a copy of this context: they share the search's budget.
            with ThreadPoolExecutor(max_workers=FETCH_PARALLEL) as pool:
                pending = [
                    pool.submit(copy_context().run, self._fetch, trace_id, reasons)
                    for trace_id, reasons in zip(ids, skipped)
                ]
                traces = [trace for future in pending if (trace := future.result()) is not None]
        traces.sort(key=lambda trace: -min((span.start_us for span in trace.spans), default=0))
        return TraceSearch(traces, [reason for reasons in skipped for reason in reasons])

    def _fetch(self, trace_id: str, skipped: list[str] | None = None) -> TraceRecord | None:
        """One trace by id; None when Tempo does not (or no longer) have it,
        or, with `skipped`, when it cannot be read (said why there)."""
        path = f"/api/traces/{trace_id.rjust(32, '0')}"  # Tempo drops leading zeros in search results
        status, body = self._get(path)
        if status == 404:
            return None
        try:
            traces = share_wire_bytes(otlp.parse_traces(_payload(body), skipped=skipped), len(body))
        except SourceError as error:
            if skipped is None:
                raise SourceError(f"Tempo at {self.shown_url}{path}: {error}") from None
            skipped.append(f"trace {trace_id}: {error}")
            return None
        wanted = canonical_trace_id(trace_id)
        return next((t for t in traces if canonical_trace_id(t.trace_id) == wanted and t.spans), None)

    def trace(self, trace_id: str) -> TraceRecord:
        """One trace by id; TraceNotFound when Tempo does not have it."""
        try:
            trace_id = check_trace_id(trace_id)
        except ValueError as error:
            raise SourceError(str(error)) from None
        trace = self._fetch(trace_id)
        if trace is None:
            raise TraceNotFound(f"trace {trace_id} not found in Tempo at {self.shown_url}")
        return trace
