"""Zipkin v2 JSON: a list of spans (`POST /api/v2/spans`, what Envoy's Zipkin
tracer sends), or Zipkin's `GET /api/v2/traces` answer, a list of traces
that are each a list of spans.

A span: `traceId`, `id`, `parentId`, `name`, `kind` (CLIENT, SERVER,
PRODUCER, CONSUMER), `timestamp` and `duration` in µs, `localEndpoint`
(`serviceName`, `ipv4`, `ipv6`, `port`), `remoteEndpoint`, `annotations`
(`{timestamp, value}`), `tags` (strings), `shared`. By Zipkin's convention
an `error` tag, whatever its value, marks an error. When a client and a
server span share one id (Envoy's `shared_span_context`), the server half
gets an id of its own under the client half, as Jaeger's query service does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from queries import shape
from queries.errors import SourceError
from queries.shape import ShapeError, at, problem
from queries.traces.records import (
    CHILD_OF,
    MARK_KEYS,
    MAX_SPAN_US,
    ZIPKIN,
    Log,
    Process,
    Reference,
    SpanDetails,
    SpanRecord,
    Tag,
    TraceRecord,
    span_marks,
    span_us,
    wire_int,
)

ENDPOINT_FIELDS = ("serviceName", "ipv4", "ipv6", "port")


def is_zipkin(document: Any) -> bool:
    """A list of Zipkin spans, or of traces that are lists of them."""
    if not isinstance(document, list) or not document:
        return False
    first = document[0][0] if isinstance(document[0], list) and document[0] else document[0]
    return isinstance(first, dict) and "traceId" in first and "id" in first


def _spans(document: list[Any]) -> Iterator[tuple[Any, str]]:
    for i, item in enumerate(document):
        if isinstance(item, list):
            for j, span in enumerate(item):
                yield span, f"[{i}][{j}]"
        else:
            yield item, f"[{i}]"


def parse_spans(document: list[Any]) -> list[TraceRecord]:
    """Every trace among the spans, in order of first appearance."""
    try:
        traces: dict[str, TraceRecord] = {}
        untimed: dict[str, int] = {}
        for raw, _ in _spans(document):
            trace_id = str(raw["traceId"]).lower()
            trace = traces.get(trace_id)
            if trace is None:
                trace = traces[trace_id] = TraceRecord(trace_id, [], {}, [], ZIPKIN)
            span = _span(raw, trace)
            if span is None:
                untimed[trace_id] = untimed.get(trace_id, 0) + 1
            else:
                trace.spans.append(span)
        for trace_id, trace in traces.items():
            _split_shared_spans(trace)
            if untimed.get(trace_id):
                count = untimed[trace_id]
                trace.warnings.append(
                    f"{count:,} span{'s' if count > 1 else ''} without a timestamp left out "
                    "(incomplete spans)"
                )
        return list(traces.values())
    except (AttributeError, KeyError, TypeError, ValueError, OverflowError):
        raise SourceError(f"not a Zipkin trace: {problem(check_document, document, '')}") from None


def _span(raw: dict[str, Any], trace: TraceRecord) -> SpanRecord | None:
    timestamp = raw.get("timestamp")
    if timestamp is None:
        # An incomplete span: its annotations may still say when it happened.
        stamps = [wire_int(a["timestamp"]) for a in raw.get("annotations") or ()]
        if not stamps:
            return None
        timestamp = min(stamps)
    local = raw.get("localEndpoint") or {}
    service = str(local.get("serviceName") or "unknown")
    trace.processes.setdefault(service, Process(service, []))
    tags = raw.get("tags") or {}
    if not isinstance(tags, dict):
        raise TypeError("Zipkin tags are an object")
    error, proxy, tag_kind = span_marks(
        (key, tags[key]) for key in tags if key in MARK_KEYS and key != "error"
    )
    return SpanRecord(
        span_id=str(raw["id"]).lower(),
        operation=str(raw.get("name") or ""),
        service=service,
        process_id=service,
        start_us=span_us(wire_int(timestamp)),
        duration_us=span_us(max(0, wire_int(raw.get("duration") or 0))),
        refs=[(CHILD_OF, str(raw["parentId"]).lower())] if raw.get("parentId") else [],
        kind=str(raw.get("kind") or "").lower() or tag_kind,
        error=error or "error" in tags,
        proxy=proxy,
        warnings=[],
        raw=raw,
    )


def _split_shared_spans(trace: TraceRecord) -> None:
    """A server span sharing its client's id becomes that client's child, with
    a fresh id (the next free number after the largest id in the trace)."""
    by_id: dict[str, SpanRecord] = {}
    shared: list[tuple[SpanRecord, SpanRecord]] = []
    for span in trace.spans:
        other = by_id.get(span.span_id)
        if other is None:
            by_id[span.span_id] = span
        elif {span.kind, other.kind} == {"client", "server"}:
            shared.append((other, span) if other.kind == "client" else (span, other))
    if not shared:
        return
    used = set(by_id)
    next_id = max(_as_number(span_id) for span_id in used) + 1
    for client, server in shared:
        while f"{next_id:016x}" in used:
            next_id += 1
        server.span_id = f"{next_id:016x}"
        server.refs = [(CHILD_OF, client.span_id)]
        used.add(server.span_id)
        next_id += 1


def _as_number(span_id: str) -> int:
    try:
        return int(span_id, 16)
    except ValueError:
        return 0


def _endpoint_tags(endpoint: Any, prefix: str) -> list[Tag]:
    if not isinstance(endpoint, dict):
        return []
    return [
        Tag(prefix + key, endpoint[key]) for key in ENDPOINT_FIELDS if endpoint.get(key) not in (None, "")
    ]


def span_tags(trace: TraceRecord, span: SpanRecord) -> list[Tag]:
    """A span's tags (all strings in Zipkin), with its kind as Jaeger shows it."""
    raw = span.raw
    try:
        result = [Tag(str(key), value) for key, value in (raw.get("tags") or {}).items()]
    except AttributeError:
        raise SourceError(f"cannot read the tags: span {span.span_id}: tags: expected an object") from None
    if span.kind:
        result.append(Tag("span.kind", span.kind))
    return result


def details(trace: TraceRecord, span: SpanRecord) -> SpanDetails:
    """Tags, the endpoints (as process tags), annotations (as logs) and the parent of one span."""
    raw = span.raw
    try:
        logs = [
            Log(wire_int(annotation["timestamp"]), [Tag("annotation", str(annotation.get("value", "")))])
            for annotation in raw.get("annotations") or ()
        ]
        return SpanDetails(
            tags=span_tags(trace, span),
            process_tags=[
                tag for tag in _endpoint_tags(raw.get("localEndpoint"), "") if tag.key != "serviceName"
            ]
            + _endpoint_tags(raw.get("remoteEndpoint"), "remote."),
            logs=sorted(logs, key=lambda log: log.timestamp_us),
            references=[Reference(ref_type, trace.trace_id, span_id) for ref_type, span_id in span.refs],
            warnings=list(span.warnings),
        )
    except (AttributeError, KeyError, TypeError, ValueError, OverflowError):
        raise SourceError(
            f"cannot read the details: {problem(check_span, raw, f'span {span.span_id}')}"
        ) from None


def tag_text(span: SpanRecord) -> Iterator[tuple[str, str]]:
    """(key, value) of a span's tags, for find-in-trace."""
    tags = span.raw.get("tags")
    if isinstance(tags, dict):
        for key, value in tags.items():
            yield str(key), str(value)


# --- shape checks: name the first field that is not what it should be ---


def _check_annotation(annotation: Any, where: str) -> None:
    annotation = shape.json_object(annotation, where)
    shape.integer(annotation.get("timestamp"), at(where, "timestamp"), "µs since the epoch", high=MAX_SPAN_US)


def check_span(raw: Any, where: str) -> None:
    raw = shape.json_object(raw, where)
    shape.present(raw.get("traceId"), at(where, "traceId"))
    shape.present(raw.get("id"), at(where, "id"))
    shape.integer(
        raw.get("timestamp"), at(where, "timestamp"), "µs since the epoch", optional=True, high=MAX_SPAN_US
    )
    shape.integer(raw.get("duration"), at(where, "duration"), "µs", optional=True, low=None, high=MAX_SPAN_US)
    for key in ("localEndpoint", "remoteEndpoint"):
        shape.mapping(raw.get(key), at(where, key))
    shape.mapping(raw.get("tags"), at(where, "tags"))
    shape.each(raw.get("annotations"), at(where, "annotations"), _check_annotation)


def check_document(document: Any, where: str) -> None:
    if not isinstance(document, list):
        raise ShapeError(where, "expected a list of spans")
    for span, path in _spans(document):
        check_span(span, f"{where}{path}")
