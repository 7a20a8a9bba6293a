"""A span's details and tag text, read from its raw JSON in the format it came in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from queries.traces import jaeger_v1, otlp, zipkin
from queries.traces.records import OTLP, ZIPKIN, SpanDetails, SpanRecord, Tag, TraceRecord

_FORMATS = {OTLP: otlp, ZIPKIN: zipkin}


def read_details(trace: TraceRecord, span: SpanRecord) -> SpanDetails:
    """Tags, process tags, logs and references of one span, as on the wire;
    SourceError naming the field when the span's JSON has one of the wrong shape."""
    return _FORMATS.get(trace.dialect, jaeger_v1).details(trace, span)


def read_tags(trace: TraceRecord, span: SpanRecord) -> list[Tag]:
    """A span's own tags, as on the wire; SourceError naming the field of the wrong shape."""
    return _FORMATS.get(trace.dialect, jaeger_v1).span_tags(trace, span)


def read_tag_values(trace: TraceRecord, span: SpanRecord) -> dict[str, Any]:
    """A span's tags as `{key: value}`, the first value of a key repeated on the
    wire; SourceError naming the field of the wrong shape."""
    fast = getattr(_FORMATS.get(trace.dialect, jaeger_v1), "tag_values", None)
    if fast is not None:
        return fast(trace, span)
    values: dict[str, Any] = {}
    for tag in read_tags(trace, span):
        values.setdefault(tag.key, tag.value)
    return values


def tag_text(span: SpanRecord, dialect: str) -> Iterator[tuple[str, str]]:
    """(key, value) of a span's tags as text, for find-in-trace and tag filters."""
    return _FORMATS.get(dialect, jaeger_v1).tag_text(span)
