"""Traces of the simulated requests, in Jaeger's JSON shape, and a bounded
store that answers Jaeger's queries over them.

Every hop has a client span (the caller's sidecar) and a server span (the
callee's sidecar), both named `host:port/path` as Istio names them and
tagged as Envoy tags them (string `http.status_code`, `response_flags`,
`upstream_cluster`, `node_id`, `guid:x-request-id`, `istio.*`,
`component=proxy`, boolean `error` on 5xx); the application adds its own
span under the server span, typed as an OpenTelemetry SDK types it (int64
status code). Spans are kept as small records and turned into JSON only
when asked for.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from queries.simulator.bookinfo import PORT, Workload
from queries.simulator.istio import fqdn

CLIENT, SERVER, APP = "client", "server", "app"
MESH_ID = "cluster.local"
_LOW_64 = (1 << 64) - 1


@dataclass(slots=True)
class Span:
    span_id: int
    parent_id: int | None
    kind: str
    workload: Workload
    service: str
    path: str
    namespace: str
    subset: str = ""
    caller: Workload | None = None
    user_agent: str = ""
    code: int = 0
    flags: str = "-"
    start: float = 0.0
    duration: float = 0.0
    response_size: int = 0

    @property
    def operation(self) -> str:
        if self.kind == APP:
            return f"GET {self.path}"
        return f"{fqdn(self.service, self.namespace)}:{PORT}{self.path}"

    @property
    def span_kind(self) -> str:
        return CLIENT if self.kind == CLIENT else SERVER

    @property
    def error(self) -> bool:
        return self.code >= 500 or self.code == 0


@dataclass(slots=True)
class Trace:
    trace_id: int
    request_id: str
    start: float
    spans: list[Span] = field(default_factory=list)


def trace_id_hex(trace_id: int) -> str:
    """Jaeger's spelling: the low 64 bits zero-padded, the high bits not."""
    high, low = trace_id >> 64, trace_id & _LOW_64
    return f"{high:x}{low:016x}" if high else f"{low:016x}"


def _tag(key: str, value: Any) -> dict[str, Any]:
    kind = "bool" if isinstance(value, bool) else "int64" if isinstance(value, int) else "string"
    return {"key": key, "type": kind, "value": value}


def _node_id(workload: Workload) -> str:
    role = "router" if not workload.version_label else "sidecar"
    return f"{role}~{workload.ip}~{workload.pod}.{workload.namespace}~{workload.namespace}.svc.cluster.local"


def span_tags(span: Span, request_id: str) -> list[dict[str, Any]]:
    """The span's tags as Jaeger serves them, sorted by key like Jaeger's
    SortTagsAndLogFields adjuster."""
    if span.kind == APP:
        tags = [
            _tag("http.method", "GET"),
            _tag("http.route", span.path),
            _tag("http.status_code", span.code),
            _tag("net.host.name", span.workload.pod),
            _tag("otel.library.name", "bookinfo"),
            _tag("span.kind", SERVER),
        ]
    else:
        owner = span.workload
        host = fqdn(span.service, span.namespace)
        tags = [
            _tag("component", "proxy"),
            _tag("downstream_cluster", "-"),
            _tag("guid:x-request-id", request_id),
            _tag("http.method", "GET"),
            _tag("http.protocol", "HTTP/1.1"),
            _tag("http.status_code", str(span.code)),
            _tag("http.url", f"http://{span.service}:{PORT}{span.path}"),
            _tag("istio.canonical_revision", owner.version),
            _tag("istio.canonical_service", owner.app),
            _tag("istio.mesh_id", MESH_ID),
            _tag("istio.namespace", owner.namespace),
            _tag("node_id", _node_id(owner)),
            _tag("peer.address", span.caller.ip if span.caller else owner.ip),
            _tag("request_size", "0"),
            _tag("response_flags", span.flags),
            _tag("response_size", str(span.response_size)),
            _tag("span.kind", span.span_kind),
            _tag(
                "upstream_cluster",
                f"outbound|{PORT}|{span.subset}|{host}" if span.kind == CLIENT else f"inbound|{PORT}||",
            ),
            _tag(
                "upstream_cluster.name",
                f"outbound|{PORT}|{span.subset}|{host}" if span.kind == CLIENT else f"inbound|{PORT}||",
            ),
            _tag("user_agent", span.user_agent),
        ]
        if span.error:
            tags.append(_tag("error", True))
            tags.sort(key=lambda tag: tag["key"])
    return tags


def _process(workload: Workload) -> dict[str, Any]:
    return {
        "serviceName": workload.tracing_service,
        "tags": [_tag("hostname", workload.pod), _tag("ip", workload.ip)],
    }


def trace_json(trace: Trace) -> dict[str, Any]:
    """One trace as `GET /api/traces/{id}` returns it."""
    trace_hex = trace_id_hex(trace.trace_id)
    process_ids: dict[str, str] = {}
    processes: dict[str, Any] = {}
    spans = []
    for span in trace.spans:
        pod = span.workload.pod
        if pod not in process_ids:
            process_ids[pod] = f"p{len(process_ids) + 1}"
            processes[process_ids[pod]] = _process(span.workload)
        references = (
            []
            if span.parent_id is None
            else [{"refType": "CHILD_OF", "traceID": trace_hex, "spanID": f"{span.parent_id:016x}"}]
        )
        spans.append(
            {
                "traceID": trace_hex,
                "spanID": f"{span.span_id:016x}",
                "flags": 1,
                "operationName": span.operation,
                "references": references,
                "startTime": int(round(span.start * 1e6)),
                "duration": max(1, int(round(span.duration * 1e6))),
                "tags": span_tags(span, trace.request_id),
                "logs": [],
                "processID": process_ids[pod],
                "warnings": None,
            }
        )
    return {"traceID": trace_hex, "spans": spans, "processes": processes, "warnings": None}


@dataclass(frozen=True)
class TraceQuery:
    """Jaeger's FindTraces parameters (times in unix seconds, durations in s)."""

    service: str
    operation: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    start_min: float | None = None
    start_max: float | None = None
    duration_min: float | None = None
    duration_max: float | None = None
    limit: int = 100


def _tag_text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _span_matches(span: Span, request_id: str, query: TraceQuery) -> bool:
    """Jaeger's memory store: one span must satisfy every condition."""
    if span.workload.tracing_service != query.service:
        return False
    if query.operation and span.operation != query.operation:
        return False
    if query.start_min is not None and span.start < query.start_min:
        return False
    if query.start_max is not None and span.start > query.start_max:
        return False
    if query.duration_min is not None and span.duration < query.duration_min:
        return False
    if query.duration_max is not None and span.duration > query.duration_max:
        return False
    if query.tags:
        known = {tag["key"]: _tag_text(tag["value"]) for tag in span_tags(span, request_id)}
        known.update({tag["key"]: _tag_text(tag["value"]) for tag in _process(span.workload)["tags"]})
        return all(known.get(key) == value for key, value in query.tags)
    return True


class TraceStore:
    """The most recent `capacity` traces (older ones are dropped), plus every
    service and operation ever seen, as Jaeger's in-memory storage keeps them."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._traces: deque[Trace] = deque()
        self._by_id: dict[int, Trace] = {}
        self._operations: dict[str, set[tuple[str, str]]] = {}

    def add(self, trace: Trace) -> None:
        self._traces.append(trace)
        self._by_id[trace.trace_id] = trace
        for span in trace.spans:
            self._operations.setdefault(span.workload.tracing_service, set()).add(
                (span.operation, span.span_kind)
            )
        while len(self._traces) > self.capacity:
            del self._by_id[self._traces.popleft().trace_id]

    def __len__(self) -> int:
        return len(self._traces)

    def __iter__(self) -> Iterator[Trace]:
        return iter(self._traces)

    def get(self, trace_id: int) -> Trace | None:
        return self._by_id.get(trace_id)

    def services(self) -> list[str]:
        return sorted(self._operations)

    def operations(self, service: str, span_kind: str = "") -> list[tuple[str, str]]:
        return sorted(
            (name, kind)
            for name, kind in self._operations.get(service, ())
            if not span_kind or kind == span_kind
        )

    def find(self, query: TraceQuery) -> list[Trace]:
        """Newest first, at most `limit` traces with a span matching the query."""
        found: list[Trace] = []
        for trace in reversed(self._traces):
            if len(found) >= query.limit:
                break
            if any(_span_matches(span, trace.request_id, query) for span in trace.spans):
                found.append(trace)
        return found

    def dependencies(self, start: float, end: float) -> list[tuple[str, str, int]]:
        """Calls between services (parent span's service -> child's) in
        traces that started within [start, end]."""
        counts: dict[tuple[str, str], int] = {}
        for trace in self._traces:
            if not start <= trace.start <= end:
                continue
            owners = {span.span_id: span.workload.tracing_service for span in trace.spans}
            for span in trace.spans:
                parent = owners.get(span.parent_id) if span.parent_id is not None else None
                child = span.workload.tracing_service
                if parent is not None and parent != child:
                    counts[parent, child] = counts.get((parent, child), 0) + 1
        return [(parent, child, count) for (parent, child), count in sorted(counts.items())]
