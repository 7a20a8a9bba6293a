"""Jaeger's v1 JSON: what the Query API (`/api/traces`) sends and the Jaeger
UI's "Download JSON" exports hold."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from queries import shape
from queries.errors import SourceError
from queries.shape import ShapeError, at, problem
from queries.traces.records import (
    CHILD_OF,
    MARK_KEYS,
    MAX_SPAN_US,
    V1,
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


def parse_trace(document: Any, where: str = "") -> TraceRecord:
    """A v1 trace object `{traceID, spans, processes, warnings}`; `where` is
    its path in the enclosing document, for error messages."""
    try:
        processes = {
            pid: Process(str(p.get("serviceName") or "unknown"), p.get("tags") or [])
            for pid, p in (document.get("processes") or {}).items()
        }
        spans = []
        for raw in document.get("spans") or []:
            pid = raw.get("processID") or ""
            process = processes.get(pid)
            if process is None and isinstance(raw.get("process"), dict):
                # Older exports embed the process in each span.
                process = processes[pid or raw["spanID"]] = Process(
                    str(raw["process"].get("serviceName") or "unknown"), raw["process"].get("tags") or []
                )
            error, proxy, kind = span_marks(
                (tag["key"], tag.get("value")) for tag in raw.get("tags") or () if tag["key"] in MARK_KEYS
            )
            spans.append(
                SpanRecord(
                    span_id=str(raw["spanID"]),
                    operation=str(raw.get("operationName") or ""),
                    service=process.service if process else "unknown",
                    process_id=pid,
                    start_us=span_us(wire_int(raw["startTime"])),
                    duration_us=span_us(max(0, wire_int(raw.get("duration") or 0))),
                    refs=[
                        (ref.get("refType") or CHILD_OF, str(ref["spanID"]))
                        for ref in raw.get("references") or ()
                    ],
                    kind=kind,
                    error=error,
                    proxy=proxy,
                    warnings=list(raw.get("warnings") or []),
                    raw=raw,
                )
            )
        return TraceRecord(
            trace_id=str(document.get("traceID") or (spans[0].raw.get("traceID") if spans else "")),
            spans=spans,
            processes=processes,
            warnings=list(document.get("warnings") or []),
            dialect=V1,
        )
    except (AttributeError, KeyError, TypeError, ValueError, OverflowError):
        raise SourceError(
            f"not a Jaeger trace: {problem(check_trace, document, where, 'the trace')}"
        ) from None


def typed_value(kind: str | None, value: Any) -> Any:
    """A tag's value as its type says: int64 beyond 2^53 and some bools arrive as strings."""
    if kind == "int64" and isinstance(value, str):
        return int(value) if value.lstrip("-").isdigit() else value
    if kind == "bool" and isinstance(value, str):
        return value.lower() == "true"
    return value


def tags(raw_tags: Iterable[dict[str, Any]]) -> list[Tag]:
    result = []
    for tag in raw_tags:
        kind = tag.get("type") or "string"
        result.append(Tag(str(tag["key"]), typed_value(kind, tag.get("value")), kind))
    return result


def tag_values(trace: TraceRecord, span: SpanRecord) -> dict[str, Any]:
    """A span's tags as `{key: value}`, the first of a repeated key; for the
    trace document, without the Tag records (a 100k-span trace has millions)."""
    values: dict[str, Any] = {}
    try:
        for tag in span.raw.get("tags") or ():
            key = tag["key"]
            if key not in values:
                values[key] = typed_value(tag.get("type"), tag.get("value"))
    except (AttributeError, KeyError, TypeError, ValueError):
        raise SourceError(
            f"cannot read the tags: {problem(check_span, span.raw, f'span {span.span_id}')}"
        ) from None
    return values


def span_tags(trace: TraceRecord, span: SpanRecord) -> list[Tag]:
    """A span's own tags, as on the wire."""
    try:
        return tags(span.raw.get("tags") or ())
    except (AttributeError, KeyError, TypeError, ValueError):
        raise SourceError(
            f"cannot read the tags: {problem(check_span, span.raw, f'span {span.span_id}')}"
        ) from None


def details(trace: TraceRecord, span: SpanRecord) -> SpanDetails:
    """Tags, process tags, logs and references of one span, as on the wire."""
    raw = span.raw
    process = trace.processes.get(span.process_id)
    try:
        logs = [
            Log(wire_int(log.get("timestamp") or 0), tags(log.get("fields") or ()))
            for log in raw.get("logs") or ()
        ]
        return SpanDetails(
            tags=span_tags(trace, span),
            process_tags=tags(process.raw_tags if process else ()),
            logs=sorted(logs, key=lambda log: log.timestamp_us),
            references=[
                Reference(
                    ref.get("refType") or CHILD_OF,
                    str(ref.get("traceID") or trace.trace_id),
                    str(ref["spanID"]),
                )
                for ref in raw.get("references") or ()
            ],
            warnings=list(span.warnings),
        )
    except (AttributeError, KeyError, TypeError, ValueError, OverflowError):
        raise SourceError(
            f"cannot read the details: {problem(check_span, raw, f'span {span.span_id}')}"
        ) from None


def tag_text(span: SpanRecord) -> Iterator[tuple[str, str]]:
    """(key, value) of a span's tags as text, for find-in-trace."""
    raw_tags = span.raw.get("tags")
    for tag in raw_tags if isinstance(raw_tags, list) else ():
        if isinstance(tag, dict):
            yield str(tag.get("key")), str(tag.get("value"))


# --- shape checks: name the first field that is not what it should be ---


def _check_tag(tag: Any, where: str) -> None:
    if not isinstance(shape.json_object(tag, where).get("key"), str):
        raise ShapeError(at(where, "key"), "expected a string")


def _check_log(log: Any, where: str) -> None:
    log = shape.json_object(log, where)
    shape.integer(log.get("timestamp"), at(where, "timestamp"), "µs", optional=True)
    shape.each(log.get("fields"), at(where, "fields"), _check_tag)


def _check_reference(ref: Any, where: str) -> None:
    shape.present(shape.json_object(ref, where).get("spanID"), at(where, "spanID"))


def _check_process(process: Any, where: str) -> None:
    shape.each(shape.json_object(process, where).get("tags"), at(where, "tags"), _check_tag)


def check_span(raw: Any, where: str) -> None:
    raw = shape.json_object(raw, where)
    shape.present(raw.get("spanID"), at(where, "spanID"))
    shape.integer(raw.get("startTime"), at(where, "startTime"), "µs since the epoch", high=MAX_SPAN_US)
    shape.integer(raw.get("duration"), at(where, "duration"), "µs", optional=True, low=None, high=MAX_SPAN_US)
    if not isinstance(raw.get("processID") or "", str):
        raise ShapeError(at(where, "processID"), "expected a string")
    if raw.get("process"):
        _check_process(raw["process"], at(where, "process"))
    shape.each(raw.get("tags"), at(where, "tags"), _check_tag)
    shape.each(raw.get("references"), at(where, "references"), _check_reference)
    shape.each(raw.get("logs"), at(where, "logs"), _check_log)
    shape.each(raw.get("warnings"), at(where, "warnings"), lambda _, __: None)


def check_trace(document: Any, where: str) -> None:
    document = shape.json_object(document, where or "the trace")
    for pid, process in shape.mapping(document.get("processes") or {}, at(where, "processes")).items():
        _check_process(process, at(at(where, "processes"), pid))
    shape.each(document.get("spans"), at(where, "spans"), check_span)
    shape.each(document.get("warnings"), at(where, "warnings"), lambda _, __: None)
