"""OTLP JSON traces: what Jaeger's v3 API sends (`{"result": {"resourceSpans": [...]}}`),
what OpenTelemetry exporters write (the Collector's file exporter: one
`TracesData` per line), and Grafana Tempo's protobuf JSON (`{"batches": [...]}`
from `/api/traces/<id>`, `{"trace": {"resourceSpans": ...}}` from `/api/v2/traces/<id>`).

OTLP/JSON writes span ids in hex and enums as integers; Tempo's protobuf JSON
writes ids in base64 and enums by name. Both are read: an id is hex when it
has the length of a hex id (32 or 16 digits), else base64."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from queries import shape
from queries.errors import SourceError
from queries.shape import ShapeError, at, problem
from queries.traces.records import (
    CHILD_OF,
    FOLLOWS_FROM,
    MARK_KEYS,
    MAX_SPAN_US,
    OTLP,
    Log,
    Process,
    Reference,
    SpanDetails,
    SpanRecord,
    Tag,
    TraceRecord,
    span_marks,
    span_us,
    truthy,
    wire_int,
)

# Span kinds: integers on the wire, enum names from some encoders.
KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
_KIND_NAMES = {f"SPAN_KIND_{name.upper()}": name for name in KINDS.values()}
STATUS_ERROR = (2, "STATUS_CODE_ERROR")
# Where the resource spans are: OTLP's name, Tempo v1's, and the names of older OTLP releases.
RESOURCE_KEYS = ("resourceSpans", "batches")
SCOPE_KEYS = ("scopeSpans", "instrumentationLibrarySpans")
_HEX_ID = re.compile(r"^(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{16})$")


def wire_id(value: Any) -> str:
    """A trace or span id as lower-case hex, from OTLP's hex or protobuf JSON's base64."""
    text = str(value or "")
    if not text or _HEX_ID.match(text):
        return text.lower()
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text.lower()
    return raw.hex() if len(raw) in (8, 16) else text.lower()


def resource_spans(document: Any) -> list[Any]:
    """The resourceSpans of an OTLP document, however it is wrapped: Jaeger v3's
    `result`, Tempo v2's `trace`, Tempo v1's `batches`."""
    body = document
    for wrapper in ("result", "trace"):
        if isinstance(body, dict) and isinstance(body.get(wrapper), dict):
            body = body[wrapper]
    for key in RESOURCE_KEYS:
        if body.get(key):
            return body[key]
    return []


def is_otlp(document: Any) -> bool:
    """Whether a document is OTLP JSON (or Tempo's), by its top-level keys."""
    return isinstance(document, dict) and any(key in document for key in (*RESOURCE_KEYS, "result", "trace"))


def value_of(value: dict[str, Any]) -> tuple[Any, str]:
    """An OTLP AnyValue as (value, Jaeger's tag type)."""
    if not isinstance(value, dict):
        raise TypeError("an OTLP AnyValue is an object")
    if "stringValue" in value:
        return value["stringValue"], "string"
    if "boolValue" in value:
        return truthy(value["boolValue"]), "bool"
    if "intValue" in value:
        return wire_int(value["intValue"]), "int64"
    if "doubleValue" in value:
        return float(value["doubleValue"]), "float64"
    if "bytesValue" in value:
        return value["bytesValue"], "binary"
    if "arrayValue" in value:
        return json.dumps([value_of(v)[0] for v in value["arrayValue"].get("values") or []]), "string"
    if "kvlistValue" in value:
        return json.dumps(
            {kv["key"]: value_of(kv.get("value") or {})[0] for kv in value["kvlistValue"].get("values") or []}
        ), "string"
    return None, "string"


def tags(attributes: Iterable[dict[str, Any]]) -> list[Tag]:
    result = []
    for attribute in attributes:
        value, kind = value_of(attribute.get("value") or {})
        result.append(Tag(str(attribute["key"]), value, kind))
    return result


def _kind(kind: Any) -> str:
    if isinstance(kind, str):
        return _KIND_NAMES.get(kind, "")
    return KINDS.get(kind, "")


def _refs(raw: dict[str, Any], trace_id: str) -> list[tuple[str, str]]:
    """parentSpanId is CHILD_OF; links are FOLLOWS_FROM unless Jaeger's
    translator tagged them `opentracing.ref_type=child_of`."""
    parent = raw.get("parentSpanId")
    if parent and not isinstance(parent, str):
        raise TypeError("parentSpanId is a hex string")
    refs = [(CHILD_OF, wire_id(parent))] if parent else []
    for link in raw.get("links") or ():
        if wire_id(link.get("traceId")) not in ("", trace_id):
            continue
        ref_type = FOLLOWS_FROM
        for attribute in link.get("attributes") or ():
            if attribute.get("key") == "opentracing.ref_type":
                ref_type = (
                    CHILD_OF if value_of(attribute.get("value") or {})[0] == "child_of" else FOLLOWS_FROM
                )
        refs.append((ref_type, wire_id(link["spanId"])))
    return refs


_FAILURES = (AttributeError, KeyError, TypeError, ValueError, OverflowError)


class _Unparsed(Exception):
    """The fast parse failed on the document at `index`."""

    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


def parse_traces(document: Any, where: str = "", skipped: list[str] | None = None) -> list[TraceRecord]:
    """Every trace in one OTLP JSON document, in order of first appearance.
    With `skipped`, a trace with a malformed span is left out and the problem
    added there, rather than failing the whole document (a search result)."""
    return parse_documents([(document, where)], skipped)


def parse_documents(
    documents: Iterable[tuple[Any, str]], skipped: list[str] | None = None
) -> list[TraceRecord]:
    """Every trace in several OTLP JSON documents (the lines of a JSON Lines
    file: one trace may be spread over many), in order of first appearance;
    each document comes with where it is, for error messages. `skipped` as
    in parse_traces."""
    documents = list(documents)
    try:
        return _parse(documents, frozenset())
    except _Unparsed as failure:
        broken = failure.index
    bad = _bad_traces(documents) if skipped is not None else {}
    if bad:
        try:
            traces = _parse(documents, frozenset(bad))
        except _Unparsed as failure:
            broken = failure.index
        else:
            skipped += [f"trace {trace_id}: {why}" for trace_id, why in bad.items()]
            return traces
    document, where = documents[broken]
    raise SourceError(f"not an OTLP trace: {problem(check_document, document, where)}") from None


def _parse(documents: list[tuple[Any, str]], skip: frozenset[str]) -> list[TraceRecord]:
    """The fast parse, without shape checks, leaving out the traces in `skip`."""
    traces: dict[str, TraceRecord] = {}
    resources = 0
    for index, (document, _) in enumerate(documents):
        try:
            for resource in resource_spans(document):
                _add_resource(traces, resource, f"r{resources}", skip)
                resources += 1
        except _FAILURES:
            raise _Unparsed(index) from None
    return list(traces.values())


def _bad_traces(documents: list[tuple[Any, str]]) -> dict[str, str]:
    """The traces with a span of the wrong shape: trace id -> the first problem."""
    bad: dict[str, str] = {}
    for document, where in documents:
        for path, raw in _spans_at(document, where):
            try:
                check_span(raw, path)
            except ShapeError as error:
                if isinstance(raw, dict) and isinstance(raw.get("traceId"), str):
                    bad.setdefault(wire_id(raw["traceId"]), str(error))
    return bad


def _spans_at(document: Any, where: str) -> Iterator[tuple[str, Any]]:
    """(where, span) for every span of a document, however malformed around it."""
    for wrapper in ("result", "trace"):
        if isinstance(document, dict) and isinstance(document.get(wrapper), dict):
            document, where = document[wrapper], at(where, wrapper)
    if not isinstance(document, dict):
        return
    key = next((key for key in RESOURCE_KEYS if document.get(key)), RESOURCE_KEYS[0])
    resources = document.get(key)
    for index, resource in enumerate(resources if isinstance(resources, list) else ()):
        if not isinstance(resource, dict):
            continue
        scope_key = next((key for key in SCOPE_KEYS if resource.get(key)), SCOPE_KEYS[0])
        scopes = resource.get(scope_key)
        for scope_index, scope in enumerate(scopes if isinstance(scopes, list) else ()):
            spans = scope.get("spans") if isinstance(scope, dict) else None
            path = at(at(at(at(at(where, key), index), scope_key), scope_index), "spans")
            for span_index, raw in enumerate(spans if isinstance(spans, list) else ()):
                yield at(path, span_index), raw


def _add_resource(
    traces: dict[str, TraceRecord], resource: dict[str, Any], pid: str, skip: frozenset[str]
) -> None:
    attributes = (resource.get("resource") or {}).get("attributes") or []
    service = "unknown"
    for attribute in attributes:
        if attribute.get("key") == "service.name":
            service = str(value_of(attribute.get("value") or {})[0])
    process = Process(service, attributes)
    for scope_spans in next((resource[key] for key in SCOPE_KEYS if resource.get(key)), ()):
        for raw in scope_spans.get("spans") or ():
            trace_id = wire_id(raw["traceId"])
            if trace_id in skip:
                continue
            trace = traces.get(trace_id)
            if trace is None:
                trace = traces[trace_id] = TraceRecord(trace_id, [], {}, [], OTLP)
            trace.processes[pid] = process
            start_ns = wire_int(raw["startTimeUnixNano"])
            end_ns = wire_int(raw.get("endTimeUnixNano") or start_ns)
            start_us = span_us(start_ns // 1000)
            duration_us = span_us(max(0, (end_ns - start_ns) // 1000))
            attrs = raw.get("attributes") or ()
            error, proxy, kind = span_marks(
                (a["key"], value_of(a.get("value") or {})[0]) for a in attrs if a["key"] in MARK_KEYS
            )
            status = (raw.get("status") or {}).get("code")
            trace.spans.append(
                SpanRecord(
                    span_id=wire_id(raw["spanId"]),
                    operation=str(raw.get("name") or ""),
                    service=service,
                    process_id=pid,
                    start_us=start_us,
                    duration_us=duration_us,
                    refs=_refs(raw, trace_id),
                    kind=_kind(raw.get("kind")) or kind,
                    error=error or status in STATUS_ERROR,
                    proxy=proxy,
                    warnings=[],
                    raw=raw,
                )
            )


def span_tags(trace: TraceRecord, span: SpanRecord) -> list[Tag]:
    """A span's attributes, with its status and kind as Jaeger shows them."""
    raw = span.raw
    try:
        result = tags(raw.get("attributes") or ())
        status = raw.get("status") or {}
        if status.get("code") in STATUS_ERROR:
            result.append(Tag("otel.status_code", "ERROR"))
            if status.get("message"):
                result.append(Tag("otel.status_description", status["message"]))
    except _FAILURES:
        raise SourceError(
            f"cannot read the tags: {problem(check_span, raw, f'span {span.span_id}')}"
        ) from None
    if span.kind:
        result.append(Tag("span.kind", span.kind))
    return result


def details(trace: TraceRecord, span: SpanRecord) -> SpanDetails:
    """Attributes (with the status and kind as Jaeger shows them), resource
    attributes, events and references of one span."""
    raw = span.raw
    process = trace.processes.get(span.process_id)
    try:
        logs = [
            Log(
                wire_int(event.get("timeUnixNano") or 0) // 1000,
                [Tag("event", event.get("name", "")), *tags(event.get("attributes") or ())],
            )
            for event in raw.get("events") or ()
        ]
        return SpanDetails(
            tags=span_tags(trace, span),
            process_tags=[
                tag for tag in tags(process.raw_tags if process else ()) if tag.key != "service.name"
            ],
            logs=sorted(logs, key=lambda log: log.timestamp_us),
            references=[Reference(ref_type, trace.trace_id, span_id) for ref_type, span_id in span.refs],
            warnings=list(span.warnings),
        )
    except _FAILURES:
        raise SourceError(
            f"cannot read the details: {problem(check_span, raw, f'span {span.span_id}')}"
        ) from None


def tag_text(span: SpanRecord) -> Iterator[tuple[str, str]]:
    """(key, value) of a span's attributes as text, for find-in-trace."""
    attributes = span.raw.get("attributes")
    for attribute in attributes if isinstance(attributes, list) else ():
        if isinstance(attribute, dict) and isinstance(attribute.get("value"), dict):
            try:
                value = value_of(attribute["value"])[0]
            except _FAILURES:
                continue  # malformed: the span's details say where
            yield str(attribute.get("key")), str(value)


# --- shape checks: name the first field that is not what it should be ---


def _check_value(value: Any, where: str) -> None:
    if not value:
        return
    value = shape.json_object(value, where)
    if "intValue" in value:
        shape.integer(value["intValue"], at(where, "intValue"), "a number")
    if "doubleValue" in value and not isinstance(value["doubleValue"], (int, float, str)):
        raise ShapeError(at(where, "doubleValue"), "expected a number")
    for key, check in (("arrayValue", _check_value), ("kvlistValue", _check_attribute)):
        if key in value:
            shape.each(
                shape.json_object(value[key], at(where, key)).get("values"), at(where, f"{key}.values"), check
            )
            return


def _check_attribute(attribute: Any, where: str) -> None:
    attribute = shape.json_object(attribute, where)
    if not isinstance(attribute.get("key"), str):
        raise ShapeError(at(where, "key"), "expected a string")
    _check_value(attribute.get("value"), at(where, "value"))


def _check_link(link: Any, where: str) -> None:
    link = shape.json_object(link, where)
    shape.present(link.get("spanId"), at(where, "spanId"))
    shape.each(link.get("attributes"), at(where, "attributes"), _check_attribute)


def _check_event(event: Any, where: str) -> None:
    event = shape.json_object(event, where)
    shape.integer(event.get("timeUnixNano"), at(where, "timeUnixNano"), "ns", optional=True)
    shape.each(event.get("attributes"), at(where, "attributes"), _check_attribute)


def check_span(raw: Any, where: str) -> None:
    raw = shape.json_object(raw, where)
    shape.present(raw.get("traceId"), at(where, "traceId"))
    shape.present(raw.get("spanId"), at(where, "spanId"))
    shape.string(raw.get("parentSpanId") or None, at(where, "parentSpanId"))
    nanoseconds = MAX_SPAN_US * 1000 + 999
    shape.integer(
        raw.get("startTimeUnixNano"), at(where, "startTimeUnixNano"), "ns since the epoch", high=nanoseconds
    )
    shape.integer(
        raw.get("endTimeUnixNano") or None,
        at(where, "endTimeUnixNano"),
        "ns since the epoch",
        optional=True,
        high=nanoseconds,
    )
    if raw.get("status"):
        shape.json_object(raw["status"], at(where, "status"))
    shape.each(raw.get("attributes"), at(where, "attributes"), _check_attribute)
    shape.each(raw.get("links"), at(where, "links"), _check_link)
    shape.each(raw.get("events"), at(where, "events"), _check_event)


def _check_scope(scope: Any, where: str) -> None:
    shape.each(shape.json_object(scope, where).get("spans"), at(where, "spans"), check_span)


def _check_resource(resource_spans: Any, where: str) -> None:
    resource_spans = shape.json_object(resource_spans, where)
    resource = resource_spans.get("resource")
    if resource:
        shape.json_object(resource, at(where, "resource"))
    shape.each((resource or {}).get("attributes"), at(where, "resource.attributes"), _check_attribute)
    scope_key = next((key for key in SCOPE_KEYS if resource_spans.get(key)), SCOPE_KEYS[0])
    shape.each(resource_spans.get(scope_key), at(where, scope_key), _check_scope)


def check_document(document: Any, where: str) -> None:
    document = shape.json_object(document, where or "the document")
    for wrapper in ("result", "trace"):
        if wrapper in document:
            document, where = shape.json_object(document[wrapper], at(where, wrapper)), at(where, wrapper)
    key = next((key for key in RESOURCE_KEYS if document.get(key)), RESOURCE_KEYS[0])
    shape.each(document.get(key), at(where, key), _check_resource)
