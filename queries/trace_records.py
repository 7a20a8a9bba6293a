"""Plain trace records, the same whether a trace came from Jaeger's v1 API,
its v3 API (OTLP JSON) or a "Download JSON" export file.

Parsing is deliberately shallow: a span keeps only what the tree, the
critical path and the error/proxy marks need, plus its raw JSON. Tags, logs
and references are turned into `Tag`/`LogEntry`/`Reference` objects only when
a span's details are asked for (`span_details`), so a 100k-span trace costs
little more than `json.load`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable

from queries.telemetry import SourceError

V1, OTLP = "v1", "otlp"
CHILD_OF, FOLLOWS_FROM = "CHILD_OF", "FOLLOWS_FROM"

# OTLP span kinds (integers on the wire, enum names from some encoders).
_OTLP_KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
_OTLP_KIND_NAMES = {f"SPAN_KIND_{name.upper()}": name for name in _OTLP_KINDS.values()}
_OTLP_STATUS_ERROR = (2, "STATUS_CODE_ERROR")
# Tag keys that decide a span's error / proxy / kind marks; every other tag is
# left raw until someone opens the span.
_MARK_KEYS = frozenset({"error", "http.status_code", "http.response.status_code", "grpc.status_code",
                        "rpc.grpc.status_code", "otel.status_code", "component", "span.kind"})


@dataclass(frozen=True, slots=True)
class Tag:
    key: str
    value: Any
    type: str = "string"


@dataclass(frozen=True, slots=True)
class LogEntry:
    timestamp_us: int
    fields: list[Tag]


@dataclass(frozen=True, slots=True)
class Reference:
    ref_type: str
    trace_id: str
    span_id: str


@dataclass(slots=True)
class Process:
    service: str
    raw_tags: list[Any]


@dataclass(slots=True)
class SpanRecord:
    """One span, shallowly parsed. `refs` are (ref type, span id) in wire
    order; `raw` is the span's JSON, read again only for its details."""

    span_id: str
    operation: str
    service: str
    process_id: str
    start_us: int
    duration_us: int
    refs: list[tuple[str, str]]
    kind: str
    error: bool
    proxy: bool
    warnings: list[str]
    raw: dict[str, Any]


@dataclass
class TraceRecord:
    trace_id: str
    spans: list[SpanRecord]
    processes: dict[str, Process]
    warnings: list[str] = field(default_factory=list)
    dialect: str = V1


@dataclass(frozen=True)
class Dependency:
    parent: str
    child: str
    call_count: int


@dataclass(frozen=True)
class SpanDetails:
    tags: list[Tag]
    process_tags: list[Tag]
    logs: list[LogEntry]
    references: list[Reference]
    warnings: list[str]


def canonical_trace_id(trace_id: str) -> str:
    """Jaeger treats `00ab` and `ab` as the same trace id."""
    return trace_id.strip().lower().lstrip("0") or "0"


def _int(value: Any) -> int:
    """int64 values arrive as numbers, or as strings beyond 2^53."""
    return value if type(value) is int else int(value)


def _status_error(code: Any) -> bool:
    try:
        return int(code) >= 500
    except (TypeError, ValueError):
        return False


def _grpc_error(code: Any) -> bool:
    try:
        return int(code) != 0
    except (TypeError, ValueError):
        return str(code).upper() not in ("", "OK")


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _marks(pairs: Iterable[tuple[str, Any]]) -> tuple[bool, bool, str]:
    """(error, proxy, kind) from the few tags that decide them."""
    error = proxy = False
    kind = ""
    for key, value in pairs:
        if key == "error":
            error = error or _truthy(value)
        elif key in ("http.status_code", "http.response.status_code"):
            error = error or _status_error(value)
        elif key in ("grpc.status_code", "rpc.grpc.status_code"):
            error = error or _grpc_error(value)
        elif key == "otel.status_code":
            error = error or str(value).upper() == "ERROR"
        elif key == "component":
            proxy = proxy or value == "proxy"
        elif key == "span.kind":
            kind = str(value)
    return error, proxy, kind


# --- Jaeger v1 JSON (the Query API and "Download JSON" exports) ---

def parse_v1_trace(document: Any) -> TraceRecord:
    """A v1 trace object `{traceID, spans, processes, warnings}`."""
    try:
        processes = {
            pid: Process(str(p.get("serviceName") or "unknown"), p.get("tags") or [])
            for pid, p in (document.get("processes") or {}).items()
        }
        spans = []
        mark_keys = _MARK_KEYS
        for raw in document.get("spans") or []:
            pid = raw.get("processID") or ""
            process = processes.get(pid)
            if process is None and isinstance(raw.get("process"), dict):
                # Older exports embed the process in each span.
                process = processes[pid or raw["spanID"]] = Process(
                    str(raw["process"].get("serviceName") or "unknown"), raw["process"].get("tags") or [])
            error, proxy, kind = _marks(
                (tag["key"], tag.get("value")) for tag in raw.get("tags") or () if tag["key"] in mark_keys)
            spans.append(SpanRecord(
                span_id=str(raw["spanID"]),
                operation=str(raw.get("operationName") or ""),
                service=process.service if process else "unknown",
                process_id=pid,
                start_us=_int(raw["startTime"]),
                duration_us=max(0, _int(raw.get("duration") or 0)),
                refs=[(ref.get("refType") or CHILD_OF, str(ref["spanID"])) for ref in raw.get("references") or ()],
                kind=kind,
                error=error,
                proxy=proxy,
                warnings=raw.get("warnings") or [],
                raw=raw,
            ))
        return TraceRecord(
            trace_id=str(document.get("traceID") or (spans[0].raw.get("traceID") if spans else "")),
            spans=spans,
            processes=processes,
            warnings=list(document.get("warnings") or []),
            dialect=V1,
        )
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise SourceError(f"not a Jaeger trace: {_what(error)}") from None


def _v1_tags(raw_tags: Iterable[dict[str, Any]]) -> list[Tag]:
    tags = []
    for tag in raw_tags:
        kind, value = tag.get("type") or "string", tag.get("value")
        if kind == "int64" and isinstance(value, str):
            value = int(value) if value.lstrip("-").isdigit() else value
        elif kind == "bool" and isinstance(value, str):
            value = value.lower() == "true"
        tags.append(Tag(str(tag["key"]), value, kind))
    return tags


# --- OTLP JSON (Jaeger's v3 API) ---

def _otlp_value(value: dict[str, Any]) -> tuple[Any, str]:
    if "stringValue" in value:
        return value["stringValue"], "string"
    if "boolValue" in value:
        return _truthy(value["boolValue"]), "bool"
    if "intValue" in value:
        return _int(value["intValue"]), "int64"
    if "doubleValue" in value:
        return float(value["doubleValue"]), "float64"
    if "bytesValue" in value:
        return value["bytesValue"], "binary"
    if "arrayValue" in value:
        return json.dumps([_otlp_value(v)[0] for v in value["arrayValue"].get("values") or []]), "string"
    if "kvlistValue" in value:
        return json.dumps({kv["key"]: _otlp_value(kv.get("value") or {})[0]
                           for kv in value["kvlistValue"].get("values") or []}), "string"
    return None, "string"


def _otlp_tags(attributes: Iterable[dict[str, Any]]) -> list[Tag]:
    tags = []
    for attribute in attributes:
        value, kind = _otlp_value(attribute.get("value") or {})
        tags.append(Tag(str(attribute["key"]), value, kind))
    return tags


def _otlp_kind(kind: Any) -> str:
    if isinstance(kind, str):
        return _OTLP_KIND_NAMES.get(kind, "")
    return _OTLP_KINDS.get(kind, "")


def _otlp_refs(raw: dict[str, Any], trace_id: str) -> list[tuple[str, str]]:
    """parentSpanId is CHILD_OF; links are FOLLOWS_FROM unless Jaeger's
    translator tagged them `opentracing.ref_type=child_of`."""
    refs = [(CHILD_OF, raw["parentSpanId"])] if raw.get("parentSpanId") else []
    for link in raw.get("links") or ():
        if link.get("traceId", trace_id) != trace_id:
            continue
        ref_type = FOLLOWS_FROM
        for attribute in link.get("attributes") or ():
            if attribute.get("key") == "opentracing.ref_type":
                ref_type = CHILD_OF if _otlp_value(attribute.get("value") or {})[0] == "child_of" else FOLLOWS_FROM
        refs.append((ref_type, str(link["spanId"])))
    return refs


def parse_otlp(document: Any) -> list[TraceRecord]:
    """Every trace in an OTLP JSON `{"resourceSpans": [...]}` (optionally
    wrapped in `{"result": ...}`), in order of first appearance."""
    try:
        body = document.get("result", document)
        traces: dict[str, TraceRecord] = {}
        for index, resource_spans in enumerate(body.get("resourceSpans") or ()):
            attributes = (resource_spans.get("resource") or {}).get("attributes") or []
            service = "unknown"
            for attribute in attributes:
                if attribute.get("key") == "service.name":
                    service = str(_otlp_value(attribute.get("value") or {})[0])
            pid = f"r{index}"
            process = Process(service, attributes)
            for scope_spans in resource_spans.get("scopeSpans") or resource_spans.get("instrumentationLibrarySpans") or ():
                for raw in scope_spans.get("spans") or ():
                    trace_id = str(raw["traceId"])
                    trace = traces.get(trace_id)
                    if trace is None:
                        trace = traces[trace_id] = TraceRecord(trace_id, [], {}, [], OTLP)
                    trace.processes[pid] = process
                    start_ns = _int(raw["startTimeUnixNano"])
                    end_ns = _int(raw.get("endTimeUnixNano") or start_ns)
                    attrs = raw.get("attributes") or ()
                    error, proxy, kind = _marks(
                        (a["key"], _otlp_value(a.get("value") or {})[0]) for a in attrs if a["key"] in _MARK_KEYS)
                    status = (raw.get("status") or {}).get("code")
                    trace.spans.append(SpanRecord(
                        span_id=str(raw["spanId"]),
                        operation=str(raw.get("name") or ""),
                        service=service,
                        process_id=pid,
                        start_us=start_ns // 1000,
                        duration_us=max(0, (end_ns - start_ns) // 1000),
                        refs=_otlp_refs(raw, trace_id),
                        kind=_otlp_kind(raw.get("kind")) or kind,
                        error=error or status in _OTLP_STATUS_ERROR,
                        proxy=proxy,
                        warnings=[],
                        raw=raw,
                    ))
        return list(traces.values())
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise SourceError(f"not an OTLP trace: {_what(error)}") from None


# --- details, on demand ---

def span_details(trace: TraceRecord, span: SpanRecord) -> SpanDetails:
    """Tags, process tags, logs, references and warnings of one span."""
    raw = span.raw
    process = trace.processes.get(span.process_id)
    if trace.dialect == OTLP:
        tags = _otlp_tags(raw.get("attributes") or ())
        status = raw.get("status") or {}
        if status.get("code") in _OTLP_STATUS_ERROR:
            tags.append(Tag("otel.status_code", "ERROR"))
            if status.get("message"):
                tags.append(Tag("otel.status_description", status["message"]))
        if span.kind:
            tags.append(Tag("span.kind", span.kind))
        logs = [LogEntry(_int(event.get("timeUnixNano") or 0) // 1000,
                         [Tag("event", event.get("name", "")), *_otlp_tags(event.get("attributes") or ())])
                for event in raw.get("events") or ()]
        references = [Reference(ref_type, trace.trace_id, span_id) for ref_type, span_id in span.refs]
        process_tags = [tag for tag in _otlp_tags(process.raw_tags if process else ()) if tag.key != "service.name"]
    else:
        tags = _v1_tags(raw.get("tags") or ())
        logs = [LogEntry(_int(log.get("timestamp") or 0), _v1_tags(log.get("fields") or ()))
                for log in raw.get("logs") or ()]
        references = [Reference(ref.get("refType") or CHILD_OF, str(ref.get("traceID") or trace.trace_id),
                                str(ref["spanID"])) for ref in raw.get("references") or ()]
        process_tags = _v1_tags(process.raw_tags if process else ())
    return SpanDetails(tags=tags, process_tags=process_tags, logs=sorted(logs, key=lambda log: log.timestamp_us),
                       references=references, warnings=list(span.warnings))


def tag_text(span: SpanRecord, dialect: str) -> Iterable[tuple[str, str]]:
    """(key, value) of a span's tags as text, for find-in-trace."""
    if dialect == OTLP:
        for attribute in span.raw.get("attributes") or ():
            yield str(attribute.get("key")), str(_otlp_value(attribute.get("value") or {})[0])
    else:
        for tag in span.raw.get("tags") or ():
            yield str(tag.get("key")), str(tag.get("value"))


def _what(error: Exception) -> str:
    if isinstance(error, KeyError):
        return f"missing field {error.args[0]!r}"
    return str(error).splitlines()[0][:120] if str(error) else type(error).__name__


def read_export(document: Any) -> list[TraceRecord]:
    """Every trace of a Jaeger JSON export: the UI's `{"data": [trace, ...]}`
    envelope, a bare v1 trace, a list of traces, or OTLP JSON."""
    if isinstance(document, dict) and ("resourceSpans" in document or "result" in document):
        return parse_otlp(document)
    if isinstance(document, dict) and "data" in document:
        document = document["data"]
    if isinstance(document, dict) and "spans" in document:
        return [parse_v1_trace(document)]
    if isinstance(document, list) and all(isinstance(item, dict) and "spans" in item for item in document):
        return [parse_v1_trace(item) for item in document]
    raise SourceError("not a Jaeger trace export: expected {\"data\": [trace, ...]}, a trace, or OTLP resourceSpans")


def load_export(path: str) -> list[TraceRecord]:
    """Read a Jaeger JSON export file; SourceError names what is wrong with it."""
    try:
        with open(path, "rb") as handle:
            document = json.load(handle)
    except OSError as error:
        raise SourceError(f"cannot read {path}: {error.strerror or error}") from None
    except (ValueError, RecursionError) as error:
        raise SourceError(f"{path} is not valid JSON: {str(error).splitlines()[0][:120]}") from None
    try:
        return read_export(document)
    except SourceError as error:
        raise SourceError(f"{path}: {error}") from None


def pick_trace(traces: list[TraceRecord], trace_id: str | None, source: str) -> TraceRecord:
    """The one trace asked for; ValueError (bad input) when the choice is unclear."""
    if not traces:
        raise ValueError(f"{source} holds no traces")
    if trace_id is None:
        if len(traces) > 1:
            raise ValueError(f"{source} holds {len(traces)} traces; choose one with --trace-id "
                             f"({', '.join(t.trace_id for t in traces[:5])}{', ...' if len(traces) > 5 else ''})")
        return traces[0]
    wanted = canonical_trace_id(trace_id)
    for trace in traces:
        if canonical_trace_id(trace.trace_id) == wanted:
            return trace
    raise ValueError(f"trace {trace_id} is not in {source}")
