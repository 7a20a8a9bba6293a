"""Jaeger's v1 JSON: what the Query API (`/api/traces`) sends and the Jaeger
UI's "Download JSON" exports hold.

A 100k-span trace is ~200 MB of JSON and a million spans ~2 GB, far more as
Python objects. So bytes are read with msgspec: each span stays a `Raw` slice
of the body (no copy), decoded once into a few fields for its record and again
only when its tags or details are asked for. Documents already decoded (search
results, tests) go through the same decoding with `msgspec.convert`. When
either fails, a second pass names the offending field (`queries.shape`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import msgspec

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
    bulk,
    span_marks,
    span_us,
    wire_int,
)

# What parsing reads of the wire; `Any` where the wire varies (int64 as a
# string, ids as numbers), so the record rules below decide, as for a dict.


class _WireMark(msgspec.Struct):
    """A tag as parsing reads it, for the marks (its type is never needed there)."""

    key: Any
    value: Any = None


class _WireTag(msgspec.Struct):
    key: Any
    value: Any = None
    type: Any = None


class _WireReference(msgspec.Struct):
    spanID: Any  # noqa: N815 (the wire's names)
    refType: Any = None  # noqa: N815


class _WireSpan(msgspec.Struct):
    spanID: Any  # noqa: N815
    startTime: Any  # noqa: N815
    traceID: Any = None  # noqa: N815
    operationName: Any = None  # noqa: N815
    references: list[_WireReference] | None = None
    duration: Any = None
    tags: list[_WireMark] | None = None
    processID: Any = None  # noqa: N815
    process: Any = None
    warnings: Any = None


class _WireTags(msgspec.Struct):
    tags: list[_WireTag] | None = None


class _WireTrace(msgspec.Struct):
    spans: list[msgspec.Raw]
    traceID: Any = None  # noqa: N815
    processes: Any = None
    warnings: Any = None


class _WireEnvelope(msgspec.Struct):
    # Unset (no `data` key: a bare trace) is not null (a broken envelope).
    data: list[_WireTrace] | None | msgspec.UnsetType = msgspec.UNSET
    errors: Any = None


_SPAN = msgspec.json.Decoder(_WireSpan)
_TAGS = msgspec.json.Decoder(_WireTags)
_ENVELOPE = msgspec.json.Decoder(_WireEnvelope)
_TRACE = msgspec.json.Decoder(_WireTrace)
_TRACES = msgspec.json.Decoder(list[_WireTrace])
_JSON = msgspec.json.Decoder()
# Whatever decoding a span's fields may raise, besides the shape check's errors.
_BAD = (AttributeError, KeyError, TypeError, ValueError, OverflowError, RecursionError, msgspec.MsgspecError)


def parse_body(body: bytes) -> list[TraceRecord] | None:
    """Every trace of a v1 body or file (`{"data": [trace, ...]}`, a trace, or
    a list of traces) read straight from its bytes; None when the body is
    something else or has a problem (an `errors` list, a field of the wrong
    shape), for the caller's JSON path to name."""
    try:
        if body[:64].lstrip()[:1] == b"[":
            traces = _TRACES.decode(body)
        else:
            envelope = _ENVELOPE.decode(body)
            if envelope.errors or envelope.data is None:
                return None
            traces = [_TRACE.decode(body)] if envelope.data is msgspec.UNSET else envelope.data
        with bulk():
            return [_trace_record(trace, trace.spans, _SPAN.decode) for trace in traces]
    except _BAD:
        return None


def parse_trace(document: Any, where: str = "") -> TraceRecord:
    """A decoded v1 trace object `{traceID, spans, processes, warnings}`;
    `where` is its path in the enclosing document, for error messages."""
    try:
        with bulk():
            return _trace_record(document, document.get("spans") or [], _convert_span)
    except _BAD:
        raise SourceError(
            f"not a Jaeger trace: {problem(check_trace, document, where, 'the trace')}"
        ) from None


def _convert_span(raw: Any) -> _WireSpan:
    if not isinstance(raw, dict):
        raise TypeError("a span is an object")
    return msgspec.convert(raw, _WireSpan)


def _trace_record(trace: Any, raw_spans: list[Any], decode: Callable[[Any], _WireSpan]) -> TraceRecord:
    """The record of one trace, `trace` a dict or a _WireTrace, its spans
    decoded one at a time by `decode` (and kept raw as they came)."""
    fields = trace if isinstance(trace, dict) else msgspec.structs.asdict(trace)
    processes = {
        pid: Process(str(p.get("serviceName") or "unknown"), p.get("tags") or [])
        for pid, p in (fields.get("processes") or {}).items()
    }
    # A million spans name a few hundred operations and processes: one string each.
    names: dict[Any, Any] = {}
    spans = []
    for raw in raw_spans:
        wire = decode(raw)
        pid = wire.processID or ""
        process = processes.get(pid)
        if process is None and isinstance(wire.process, dict):
            # Older exports embed the process in each span.
            process = processes[pid or wire.spanID] = Process(
                str(wire.process.get("serviceName") or "unknown"), wire.process.get("tags") or []
            )
        error, proxy, kind = span_marks(
            [(tag.key, tag.value) for tag in wire.tags or () if tag.key in MARK_KEYS]
        )
        operation = str(wire.operationName or "")
        spans.append(
            SpanRecord(
                span_id=str(wire.spanID),
                operation=names.setdefault(operation, operation),
                service=process.service if process else "unknown",
                process_id=names.setdefault(pid, pid),
                start_us=span_us(wire_int(wire.startTime)),
                duration_us=span_us(max(0, wire_int(wire.duration or 0))),
                refs=[
                    (names.setdefault(ref.refType or CHILD_OF, ref.refType or CHILD_OF), str(ref.spanID))
                    for ref in wire.references or ()
                ],
                kind=kind,
                error=error,
                proxy=proxy,
                warnings=list(wire.warnings or []),
                raw=raw,
            )
        )
        if len(spans) == 1:
            first_trace_id = wire.traceID
    return TraceRecord(
        trace_id=str(fields.get("traceID") or (first_trace_id if spans else "")),
        spans=spans,
        processes=processes,
        warnings=list(fields.get("warnings") or []),
        dialect=V1,
    )


def span_json(span: SpanRecord) -> dict[str, Any]:
    """The span's JSON object, decoded again when it is kept raw."""
    raw = span.raw
    return raw if isinstance(raw, dict) else _JSON.decode(raw)


def _wire_tags(span: SpanRecord) -> list[_WireTag]:
    raw = span.raw
    if isinstance(raw, dict):
        return msgspec.convert(raw, _WireTags).tags or []
    return _TAGS.decode(raw).tags or []


# The types whose values may arrive as strings.
_TYPED = frozenset({"int64", "bool"})


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
    try:
        wire = _wire_tags(span)
        # Reversed, so the first of a repeated key is the one that stays.
        values = {tag.key: tag.value for tag in reversed(wire)}
        for tag in wire:
            if tag.type in _TYPED and type(tag.value) is str and values[tag.key] is tag.value:
                values[tag.key] = typed_value(tag.type, tag.value)
    except _BAD:
        raise SourceError(
            f"cannot read the tags: {problem(check_span, span_json(span), f'span {span.span_id}')}"
        ) from None
    return values


def span_tags(trace: TraceRecord, span: SpanRecord) -> list[Tag]:
    """A span's own tags, as on the wire."""
    raw = span_json(span)
    try:
        return tags(raw.get("tags") or ())
    except (AttributeError, KeyError, TypeError, ValueError):
        raise SourceError(
            f"cannot read the tags: {problem(check_span, raw, f'span {span.span_id}')}"
        ) from None


def details(trace: TraceRecord, span: SpanRecord) -> SpanDetails:
    """Tags, process tags, logs and references of one span, as on the wire."""
    raw = span_json(span)
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
    try:
        wire = _wire_tags(span)
    except _BAD:  # a span whose tags cannot be read has no text to find, but its good tags do
        raw_tags = span_json(span).get("tags")
        for tag in raw_tags if isinstance(raw_tags, list) else ():
            if isinstance(tag, dict):
                yield str(tag.get("key")), str(tag.get("value"))
        return
    for tag in wire:
        yield str(tag.key), str(tag.value)


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
