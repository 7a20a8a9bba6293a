"""A span's details and tag text, read from its raw JSON in the format it came in."""

from __future__ import annotations

from collections.abc import Iterator

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


def tag_text(span: SpanRecord, dialect: str) -> Iterator[tuple[str, str]]:
    """(key, value) of a span's tags as text, for find-in-trace and tag filters."""
    return _FORMATS.get(dialect, jaeger_v1).tag_text(span)
