"""Plain trace records, the same whether a trace came from Jaeger's v1 API,
its v3 API (OTLP JSON) or a file.

Parsing is deliberately shallow: a span keeps only what the tree, the
critical path and the error/proxy marks need, plus its raw JSON. Tags, logs
and references are read only when a span's details are asked for
(`queries.traces.details`), so a 100k-span trace costs little more than
`json.load`. Parsing runs without shape checks for the same reason; only when
it fails does a second pass walk the document to name the offending field
(`data[0].spans: expected a list`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

V1, OTLP, ZIPKIN = "v1", "otlp", "zipkin"
CHILD_OF, FOLLOWS_FROM = "CHILD_OF", "FOLLOWS_FROM"

# Tag keys that decide a span's error / proxy / kind marks; every other tag is
# left raw until someone opens the span.
MARK_KEYS = frozenset(
    {
        "error",
        "http.status_code",
        "http.response.status_code",
        "grpc.status_code",
        "rpc.grpc.status_code",
        "otel.status_code",
        "component",
        "span.kind",
    }
)


@dataclass(slots=True)
class Process:
    service: str
    raw_tags: list[Any]


@dataclass(slots=True)
class SpanRecord:
    """One span, shallowly parsed. `refs` are (ref type, span id) in wire
    order; `kind` is lower-case (`server`, `client`, `producer`, ...) or "";
    `raw` is the span's JSON, read again only for its details."""

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
    """One trace; `wire_bytes` is its share of the JSON it was read from (0
    when unknown), what its memory is reckoned by."""

    trace_id: str
    spans: list[SpanRecord]
    processes: dict[str, Process]
    warnings: list[str] = field(default_factory=list)
    dialect: str = V1
    wire_bytes: int = 0


class TraceSearch(list[TraceRecord]):
    """The traces a search found, newest first, and `skipped`: why each
    trace the backend sent but meshwatch could not read was left out."""

    def __init__(self, traces: list[TraceRecord], skipped: list[str]) -> None:
        super().__init__(traces)
        self.skipped = skipped


def share_wire_bytes(traces: list[TraceRecord], size: int) -> list[TraceRecord]:
    """Give each trace read from `size` bytes of JSON its share, by span count."""
    spans = sum(len(trace.spans) for trace in traces) or 1
    for trace in traces:
        trace.wire_bytes = size * len(trace.spans) // spans
    return traces


@dataclass(frozen=True)
class Dependency:
    parent: str
    child: str
    call_count: int


class Tag(NamedTuple):
    """A tag as read from the wire; `type` is Jaeger's: string, bool, int64,
    float64 or binary. A named tuple: a 100k-span trace's document makes
    millions of them."""

    key: str
    value: Any
    type: str = "string"


@dataclass(frozen=True)
class Log:
    timestamp_us: int
    fields: list[Tag]


@dataclass(frozen=True)
class Reference:
    ref_type: str
    trace_id: str
    span_id: str


@dataclass(frozen=True)
class SpanDetails:
    """What the span detail panel shows besides the span's own facts; read
    when someone opens the span. `warnings` start as the span's own."""

    tags: list[Tag]
    process_tags: list[Tag]
    logs: list[Log]
    references: list[Reference]
    warnings: list[str]


_TRACE_ID = re.compile(r"^[0-9a-fA-F]{1,32}$")


def check_trace_id(trace_id: str) -> str:
    """A trace id as every backend spells it: up to 32 hex digits; ValueError otherwise."""
    value = trace_id.strip()
    if not _TRACE_ID.match(value):
        raise ValueError(f"bad trace id {trace_id!r}: expected up to 32 hex digits")
    return value


def canonical_trace_id(trace_id: str) -> str:
    """Jaeger treats `00ab` and `ab` as the same trace id."""
    return trace_id.strip().lower().lstrip("0") or "0"


def wire_int(value: Any) -> int:
    """int64 values arrive as numbers, or as strings beyond 2^53."""
    return value if type(value) is int else int(value)


# The latest a span may start, or the longest it may last: the end of year
# 9999 in µs, the last instant a date can show (±1e18 µs is no time at all).
MAX_SPAN_US = 253_402_300_799_999_999


def span_us(us: int) -> int:
    """A span's start (µs since the epoch) or duration (µs), from 0 to
    MAX_SPAN_US; ValueError otherwise."""
    if not 0 <= us <= MAX_SPAN_US:
        raise ValueError(f"{us} µs is out of range")
    return us


def truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


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


def span_marks(pairs: Iterable[tuple[str, Any]]) -> tuple[bool, bool, str]:
    """(error, proxy, kind) from the few tags that decide them."""
    error = proxy = False
    kind = ""
    for key, value in pairs:
        if key == "error":
            error = error or truthy(value)
        elif key in ("http.status_code", "http.response.status_code"):
            error = error or _status_error(value)
        elif key in ("grpc.status_code", "rpc.grpc.status_code"):
            error = error or _grpc_error(value)
        elif key == "otel.status_code":
            error = error or str(value).upper() == "ERROR"
        elif key == "component":
            proxy = proxy or value == "proxy"
        elif key == "span.kind":
            kind = str(value).lower()  # `SERVER` and `server` are one kind, as in Jaeger UI
    return error, proxy, kind
