"""Trace files: what the Jaeger UI's "Download JSON" writes, bare traces,
OTLP JSON (also as JSON Lines, one `TracesData` per line, as the
OpenTelemetry Collector's file exporter writes), Tempo's trace JSON and
Zipkin v2 JSON; read from disk or from an upload."""

from __future__ import annotations

import json
import os
import stat
from typing import Any

from queries.errors import SourceError
from queries.traces import jaeger_v1, otlp, zipkin
from queries.traces.records import TraceRecord, canonical_trace_id, share_wire_bytes

FORMATS_TEXT = (
    'expected a Jaeger export ({"data": [trace, ...]}), a trace, OTLP JSON or JSON Lines '
    "(resourceSpans), or Zipkin v2 JSON (a list of spans)"
)


def read_export(document: Any) -> list[TraceRecord]:
    """Every trace of one JSON document: the Jaeger UI's `{"data": [trace, ...]}`
    envelope, a bare v1 trace, a list of traces, OTLP JSON (or Tempo's), or Zipkin v2 spans."""
    if otlp.is_otlp(document):
        return otlp.parse_traces(document)
    if zipkin.is_zipkin(document):
        return zipkin.parse_spans(document)
    where = ""
    if isinstance(document, dict) and "data" in document:
        document, where = document["data"], "data"
    if isinstance(document, dict) and "spans" in document:
        return [jaeger_v1.parse_trace(document, where)]
    if isinstance(document, list):
        for i, item in enumerate(document):
            if not isinstance(item, dict) or "spans" not in item:
                raise SourceError(f"not a Jaeger trace: {where}[{i}]: expected a trace object with spans")
        return [jaeger_v1.parse_trace(item, f"{where}[{i}]") for i, item in enumerate(document)]
    if where:
        raise SourceError("not a Jaeger trace export: data: expected a list of traces")
    raise SourceError(f"not a Jaeger trace export, OTLP or Zipkin file: {FORMATS_TEXT}")


class Unreadable(SourceError):
    """A file that is not JSON at all; the message is what follows its name
    (`is empty`, `is not valid JSON: ...`)."""


def named(name: str, error: SourceError) -> SourceError:
    """The error with the file's name in front: `trace.json is empty`,
    `trace.json: not a Zipkin trace: ...`."""
    return SourceError(f"{name} {error}" if isinstance(error, Unreadable) else f"{name}: {error}")


def read_json_lines(text: str) -> list[TraceRecord]:
    """OTLP JSON Lines: one OTLP document per non-empty line; a trace may be spread over lines."""
    documents = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            document = json.loads(line)
        except json.JSONDecodeError as error:
            raise Unreadable(
                f"is not valid JSON Lines: line {number}: {error.msg} at column {error.colno}"
            ) from None
        except RecursionError:
            raise Unreadable(f"is not valid JSON Lines: line {number}: nested too deeply") from None
        if not otlp.is_otlp(document):
            raise SourceError(
                f"line {number}: not OTLP JSON: a JSON Lines file holds one TracesData per line"
            )
        documents.append((document, f"line {number}"))
    return otlp.parse_documents(documents)


def read_text(data: bytes) -> list[TraceRecord]:
    """Every trace in a file's bytes: one JSON document, or OTLP JSON Lines."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Unreadable("is not valid JSON: not UTF-8 text") from None
    if not text.strip():
        raise Unreadable("is empty")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        if error.msg == "Extra data":  # a second JSON value after the first: JSON Lines
            return share_wire_bytes(read_json_lines(text), len(data))
        raise Unreadable(
            f"is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:
        raise Unreadable("is not valid JSON: nested too deeply") from None
    return share_wire_bytes(read_export(document), len(data))


def read_file(path: str, max_bytes: int) -> bytes:
    """A regular file's bytes, refused unread when larger than `max_bytes`
    (a device such as /dev/zero or a pipe never ends: refused too)."""
    try:
        # Opened without blocking, so a named pipe with no writer is refused, not waited on.
        with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as handle:
            status = os.fstat(handle.fileno())
            if not stat.S_ISREG(status.st_mode):
                raise SourceError(f"cannot read {path}: not a regular file")
            if status.st_size > max_bytes:
                raise SourceError(
                    f"{path} is {_megabytes(status.st_size)}, more than the "
                    f"{_megabytes(max_bytes)} limit for trace files (--max-upload-mb)"
                )
            data = handle.read(status.st_size + 1)
    except OSError as error:
        raise SourceError(f"cannot read {path}: {error.strerror or error}") from None
    if len(data) > status.st_size:
        raise SourceError(f"cannot read {path}: it grew while read")
    return data


def _megabytes(size: int) -> str:
    return f"{size / (1 << 20):.3g} MB"


def load_export(path: str, max_bytes: int) -> list[TraceRecord]:
    """Read a trace file of at most `max_bytes`; SourceError names the file
    and what is wrong with it."""
    data = read_file(path, max_bytes)
    try:
        return read_text(data)
    except SourceError as error:
        raise named(path, error) from None


def pick_trace(traces: list[TraceRecord], trace_id: str | None, source: str) -> TraceRecord:
    """The one trace asked for; ValueError (bad input) when the choice is
    unclear. Traces without spans do not count."""
    traces = [trace for trace in traces if trace.spans]
    if not traces:
        raise ValueError(f"{source} holds no spans")
    if trace_id is None:
        if len(traces) > 1:
            raise ValueError(
                f"{source} holds {len(traces)} traces; choose one with --trace-id "
                f"({', '.join(t.trace_id for t in traces[:5])}{', ...' if len(traces) > 5 else ''})"
            )
        return traces[0]
    wanted = canonical_trace_id(trace_id)
    for trace in traces:
        if canonical_trace_id(trace.trace_id) == wanted:
            return trace
    raise ValueError(f"trace {trace_id} is not in {source}")
