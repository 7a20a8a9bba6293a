"""Trace files: what the Jaeger UI's "Download JSON" writes, bare traces and
OTLP JSON, read from disk or from an upload."""

from __future__ import annotations

import json
import os
import stat
from typing import Any

from queries.errors import SourceError
from queries.traces import jaeger_v1, otlp
from queries.traces.records import TraceRecord, canonical_trace_id, share_wire_bytes


def read_export(document: Any) -> list[TraceRecord]:
    """Every trace of a Jaeger JSON export: the UI's `{"data": [trace, ...]}`
    envelope, a bare v1 trace, a list of traces, or OTLP JSON."""
    if isinstance(document, dict) and ("resourceSpans" in document or "result" in document):
        return otlp.parse_traces(document)
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
    raise SourceError(
        'not a Jaeger trace export: expected {"data": [trace, ...]}, a trace, or OTLP resourceSpans'
    )


def read_file(path: str, max_bytes: int) -> bytes:
    """A regular file's bytes, refused unread when larger than `max_bytes`
    (a device such as /dev/zero or a pipe never ends: refused too)."""
    try:
        with open(path, "rb") as handle:
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
    """Read a Jaeger JSON export file of at most `max_bytes`; SourceError
    names what is wrong with it."""
    data = read_file(path, max_bytes)
    try:
        document = json.loads(data)
    except UnicodeDecodeError:
        raise SourceError(f"{path} is not valid JSON: not UTF-8 text") from None
    except json.JSONDecodeError as error:
        if not error.doc.strip():
            raise SourceError(f"{path} is empty") from None
        raise SourceError(
            f"{path} is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:
        raise SourceError(f"{path} is not valid JSON: nested too deeply") from None
    try:
        return share_wire_bytes(read_export(document), len(data))
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
