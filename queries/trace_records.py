"""Plain trace records, the same whether a trace came from Jaeger's v1 API,
its v3 API (OTLP JSON) or a "Download JSON" export file.

Parsing is deliberately shallow: a span keeps only what the tree, the
critical path and the error/proxy marks need, plus its raw JSON. Tags, logs
and references are read only when a span's details are asked for
(`read_details`), so a 100k-span trace costs little more than `json.load`.
Parsing runs without shape checks for the same reason; only when it fails
does a second pass walk the document to name the offending field
(`data[0].spans: expected a list`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

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


# A tag as read from the wire: (key, value, Jaeger's type: string, bool,
# int64, float64 or binary).
TagTuple = tuple[str, Any, str]


@dataclass(frozen=True)
class DetailRecord:
    """What a span's details hold on the wire, read when someone opens the
    span: `logs` are (timestamp µs, fields), `references` (ref type, trace
    id, span id)."""

    tags: list[TagTuple]
    process_tags: list[TagTuple]
    logs: list[tuple[int, list[TagTuple]]]
    references: list[tuple[str, str, str]]


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

def parse_v1_trace(document: Any, where: str = "") -> TraceRecord:
    """A v1 trace object `{traceID, spans, processes, warnings}`; `where` is
    its path in the enclosing document, for error messages."""
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
                warnings=list(raw.get("warnings") or []),
                raw=raw,
            ))
        return TraceRecord(
            trace_id=str(document.get("traceID") or (spans[0].raw.get("traceID") if spans else "")),
            spans=spans,
            processes=processes,
            warnings=list(document.get("warnings") or []),
            dialect=V1,
        )
    except (AttributeError, KeyError, TypeError, ValueError, OverflowError):
        problem = _v1_trace_problem(document, where) or f"{where or 'the trace'} has a field of an unexpected shape"
        raise SourceError(f"not a Jaeger trace: {problem}") from None


def _v1_tags(raw_tags: Iterable[dict[str, Any]]) -> list[TagTuple]:
    tags = []
    for tag in raw_tags:
        kind, value = tag.get("type") or "string", tag.get("value")
        if kind == "int64" and isinstance(value, str):
            value = int(value) if value.lstrip("-").isdigit() else value
        elif kind == "bool" and isinstance(value, str):
            value = value.lower() == "true"
        tags.append((str(tag["key"]), value, kind))
    return tags


# --- OTLP JSON (Jaeger's v3 API) ---

def _otlp_value(value: dict[str, Any]) -> tuple[Any, str]:
    if not isinstance(value, dict):
        raise TypeError("an OTLP AnyValue is an object")
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


def _otlp_tags(attributes: Iterable[dict[str, Any]]) -> list[TagTuple]:
    tags = []
    for attribute in attributes:
        value, kind = _otlp_value(attribute.get("value") or {})
        tags.append((str(attribute["key"]), value, kind))
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


def parse_otlp(document: Any, where: str = "") -> list[TraceRecord]:
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
    except (AttributeError, KeyError, TypeError, ValueError, OverflowError):
        problem = _otlp_document_problem(document, where) or f"{where or 'the document'} has a field of an unexpected shape"
        raise SourceError(f"not an OTLP trace: {problem}") from None


# --- details, on demand ---

def read_details(trace: TraceRecord, span: SpanRecord) -> DetailRecord:
    """Tags, process tags, logs and references of one span, as on the wire."""
    try:
        return _read_details(trace, span)
    except (AttributeError, KeyError, TypeError, ValueError, OverflowError):
        where = f"span {span.span_id}"
        if trace.dialect == OTLP:
            problem = _otlp_span_problem(span.raw, where)
        else:
            problem = _v1_span_problem(span.raw, where)
        raise SourceError(f"cannot read the details: {problem or where + ' has a field of an unexpected shape'}") from None


def _read_details(trace: TraceRecord, span: SpanRecord) -> DetailRecord:
    raw = span.raw
    process = trace.processes.get(span.process_id)
    if trace.dialect == OTLP:
        tags = _otlp_tags(raw.get("attributes") or ())
        status = raw.get("status") or {}
        if status.get("code") in _OTLP_STATUS_ERROR:
            tags.append(("otel.status_code", "ERROR", "string"))
            if status.get("message"):
                tags.append(("otel.status_description", status["message"], "string"))
        if span.kind:
            tags.append(("span.kind", span.kind, "string"))
        logs = [(_int(event.get("timeUnixNano") or 0) // 1000,
                 [("event", event.get("name", ""), "string"), *_otlp_tags(event.get("attributes") or ())])
                for event in raw.get("events") or ()]
        references = [(ref_type, trace.trace_id, span_id) for ref_type, span_id in span.refs]
        process_tags = [tag for tag in _otlp_tags(process.raw_tags if process else ()) if tag[0] != "service.name"]
    else:
        tags = _v1_tags(raw.get("tags") or ())
        logs = [(_int(log.get("timestamp") or 0), _v1_tags(log.get("fields") or ())) for log in raw.get("logs") or ()]
        references = [(ref.get("refType") or CHILD_OF, str(ref.get("traceID") or trace.trace_id), str(ref["spanID"]))
                      for ref in raw.get("references") or ()]
        process_tags = _v1_tags(process.raw_tags if process else ())
    return DetailRecord(tags=tags, process_tags=process_tags, logs=sorted(logs, key=lambda log: log[0]),
                        references=references)


def tag_text(span: SpanRecord, dialect: str) -> Iterable[tuple[str, str]]:
    """(key, value) of a span's tags as text, for find-in-trace."""
    if dialect == OTLP:
        for attribute in span.raw.get("attributes") or ():
            if isinstance(attribute, dict) and isinstance(attribute.get("value"), dict):
                yield str(attribute.get("key")), str(_otlp_value(attribute["value"])[0])
    else:
        for tag in span.raw.get("tags") or ():
            if isinstance(tag, dict):
                yield str(tag.get("key")), str(tag.get("value"))


# --- shape problems: the path of the first field that is not what it should be ---

def _at(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _is_int(value: Any) -> bool:
    """What `_int` accepts: a number, or a string of digits (int64 beyond 2^53)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, float):
        return value == value and abs(value) != float("inf")
    return isinstance(value, str) and value.strip().lstrip("-").isdigit()


def _first(*problems: Callable[[], str | None]) -> str | None:
    for problem in problems:
        found = problem()
        if found:
            return found
    return None


def _each(value: Any, where: str, item_problem: Callable[[Any, str], str | None]) -> str | None:
    """An optional list (null or empty are fine) whose items must pass `item_problem`."""
    if not value:
        return None
    if not isinstance(value, list):
        return f"{where}: expected a list"
    for i, item in enumerate(value):
        found = item_problem(item, f"{where}[{i}]")
        if found:
            return found
    return None


def _object_problem(value: Any, where: str) -> str | None:
    return None if isinstance(value, dict) else f"{where}: expected an object"


def _an_object(check: Callable[[dict[str, Any], str], str | None]) -> Callable[[Any, str], str | None]:
    """A field check that first makes sure the value is a JSON object."""
    def checked(value: Any, where: str) -> str | None:
        return _object_problem(value, where) or check(value, where)

    return checked


def _int_problem(value: Any, where: str, unit: str, optional: bool = False) -> str | None:
    if optional and value is None:
        return None
    if value is None:
        return f"{where}: missing"
    return None if _is_int(value) else f"{where}: expected an integer ({unit})"


def _required(raw: dict[str, Any], key: str, where: str) -> str | None:
    return f"{_at(where, key)}: missing" if raw.get(key) is None else None


@_an_object
def _v1_tag_problem(tag: dict[str, Any], where: str) -> str | None:
    return None if isinstance(tag.get("key"), str) else f"{_at(where, 'key')}: expected a string"


@_an_object
def _v1_log_problem(log: dict[str, Any], where: str) -> str | None:
    return _first(lambda: _int_problem(log.get("timestamp"), _at(where, "timestamp"), "µs", optional=True),
                  lambda: _each(log.get("fields"), _at(where, "fields"), _v1_tag_problem))


@_an_object
def _v1_reference_problem(ref: dict[str, Any], where: str) -> str | None:
    return _required(ref, "spanID", where)


@_an_object
def _v1_process_problem(process: dict[str, Any], where: str) -> str | None:
    return _each(process.get("tags"), _at(where, "tags"), _v1_tag_problem)


@_an_object
def _v1_span_problem(raw: dict[str, Any], where: str) -> str | None:
    process = raw.get("process")
    return _first(
        lambda: _required(raw, "spanID", where),
        lambda: _int_problem(raw.get("startTime"), _at(where, "startTime"), "µs since the epoch"),
        lambda: _int_problem(raw.get("duration"), _at(where, "duration"), "µs", optional=True),
        lambda: None if isinstance(raw.get("processID") or "", str) else f"{_at(where, 'processID')}: expected a string",
        lambda: _v1_process_problem(process, _at(where, "process")) if process else None,
        lambda: _each(raw.get("tags"), _at(where, "tags"), _v1_tag_problem),
        lambda: _each(raw.get("references"), _at(where, "references"), _v1_reference_problem),
        lambda: _each(raw.get("logs"), _at(where, "logs"), _v1_log_problem),
        lambda: _each(raw.get("warnings"), _at(where, "warnings"), lambda _, __: None),
    )


def _v1_trace_problem(document: Any, where: str) -> str | None:
    if not isinstance(document, dict):
        return f"{where or 'the trace'}: expected an object"
    processes = document.get("processes") or {}
    if not isinstance(processes, dict):
        return f"{_at(where, 'processes')}: expected an object"
    for pid, process in processes.items():
        found = _v1_process_problem(process, _at(where, f"processes.{pid}"))
        if found:
            return found
    return _first(lambda: _each(document.get("spans"), _at(where, "spans"), _v1_span_problem),
                  lambda: _each(document.get("warnings"), _at(where, "warnings"), lambda _, __: None))


def _otlp_value_problem(value: Any, where: str) -> str | None:
    if not value:
        return None
    if not isinstance(value, dict):
        return f"{where}: expected an object"
    if "intValue" in value:
        return _int_problem(value["intValue"], _at(where, "intValue"), "a number")
    if "doubleValue" in value and not isinstance(value["doubleValue"], (int, float, str)):
        return f"{_at(where, 'doubleValue')}: expected a number"
    for key, item_problem in (("arrayValue", _otlp_value_problem), ("kvlistValue", _otlp_attribute_problem)):
        if key in value:
            inner = value[key]
            if not isinstance(inner, dict):
                return f"{_at(where, key)}: expected an object"
            return _each(inner.get("values"), _at(where, f"{key}.values"), item_problem)
    return None


@_an_object
def _otlp_attribute_problem(attribute: dict[str, Any], where: str) -> str | None:
    if not isinstance(attribute.get("key"), str):
        return f"{_at(where, 'key')}: expected a string"
    return _otlp_value_problem(attribute.get("value"), _at(where, "value"))


@_an_object
def _otlp_link_problem(link: dict[str, Any], where: str) -> str | None:
    return _first(lambda: _required(link, "spanId", where),
                  lambda: _each(link.get("attributes"), _at(where, "attributes"), _otlp_attribute_problem))


@_an_object
def _otlp_event_problem(event: dict[str, Any], where: str) -> str | None:
    return _first(lambda: _int_problem(event.get("timeUnixNano"), _at(where, "timeUnixNano"), "ns", optional=True),
                  lambda: _each(event.get("attributes"), _at(where, "attributes"), _otlp_attribute_problem))


@_an_object
def _otlp_span_problem(raw: dict[str, Any], where: str) -> str | None:
    status = raw.get("status")
    return _first(
        lambda: _required(raw, "traceId", where),
        lambda: _required(raw, "spanId", where),
        lambda: _int_problem(raw.get("startTimeUnixNano"), _at(where, "startTimeUnixNano"), "ns since the epoch"),
        lambda: _int_problem(raw.get("endTimeUnixNano") or None, _at(where, "endTimeUnixNano"), "ns since the epoch",
                             optional=True),
        lambda: _object_problem(status, _at(where, "status")) if status else None,
        lambda: _each(raw.get("attributes"), _at(where, "attributes"), _otlp_attribute_problem),
        lambda: _each(raw.get("links"), _at(where, "links"), _otlp_link_problem),
        lambda: _each(raw.get("events"), _at(where, "events"), _otlp_event_problem),
    )


@_an_object
def _otlp_scope_problem(scope: dict[str, Any], where: str) -> str | None:
    return _each(scope.get("spans"), _at(where, "spans"), _otlp_span_problem)


@_an_object
def _otlp_resource_problem(resource_spans: dict[str, Any], where: str) -> str | None:
    resource = resource_spans.get("resource")
    if resource and not isinstance(resource, dict):
        return f"{_at(where, 'resource')}: expected an object"
    scope_key = "scopeSpans" if resource_spans.get("scopeSpans") else "instrumentationLibrarySpans"
    return _first(
        lambda: _each((resource or {}).get("attributes"), _at(where, "resource.attributes"), _otlp_attribute_problem),
        lambda: _each(resource_spans.get(scope_key), _at(where, scope_key), _otlp_scope_problem),
    )


def _otlp_document_problem(document: Any, where: str) -> str | None:
    if not isinstance(document, dict):
        return f"{where or 'the document'}: expected an object"
    if "result" in document:
        document, where = document["result"], _at(where, "result")
        if not isinstance(document, dict):
            return f"{where}: expected an object"
    return _each(document.get("resourceSpans"), _at(where, "resourceSpans"), _otlp_resource_problem)


# --- export files ---

def read_export(document: Any) -> list[TraceRecord]:
    """Every trace of a Jaeger JSON export: the UI's `{"data": [trace, ...]}`
    envelope, a bare v1 trace, a list of traces, or OTLP JSON."""
    if isinstance(document, dict) and ("resourceSpans" in document or "result" in document):
        return parse_otlp(document)
    where = ""
    if isinstance(document, dict) and "data" in document:
        document, where = document["data"], "data"
    if isinstance(document, dict) and "spans" in document:
        return [parse_v1_trace(document, where)]
    if isinstance(document, list):
        for i, item in enumerate(document):
            if not isinstance(item, dict) or "spans" not in item:
                raise SourceError(f"not a Jaeger trace: {where}[{i}]: expected a trace object with spans")
        return [parse_v1_trace(item, f"{where}[{i}]") for i, item in enumerate(document)]
    if where:
        raise SourceError("not a Jaeger trace export: data: expected a list of traces")
    raise SourceError("not a Jaeger trace export: expected {\"data\": [trace, ...]}, a trace, or OTLP resourceSpans")


def load_export(path: str) -> list[TraceRecord]:
    """Read a Jaeger JSON export file; SourceError names what is wrong with it."""
    try:
        with open(path, "rb") as handle:
            document = json.load(handle)
    except OSError as error:
        raise SourceError(f"cannot read {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise SourceError(f"{path} is not valid JSON: not UTF-8 text") from None
    except json.JSONDecodeError as error:
        if not error.doc.strip():
            raise SourceError(f"{path} is empty") from None
        raise SourceError(f"{path} is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except RecursionError:
        raise SourceError(f"{path} is not valid JSON: nested too deeply") from None
    try:
        return read_export(document)
    except SourceError as error:
        raise SourceError(f"{path}: {error}") from None


def pick_trace(traces: list[TraceRecord], trace_id: str | None, source: str) -> TraceRecord:
    """The one trace asked for; ValueError (bad input) when the choice is
    unclear. Traces without spans do not count."""
    traces = [trace for trace in traces if trace.spans]
    if not traces:
        raise ValueError(f"{source} holds no spans")
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
