"""What failed in a span, in one line: the HTTP or gRPC status, Envoy's
response flags with what they mean, and the upstream cluster, read from the
span's tags (Envoy's and OpenTelemetry's names), so the cause of an error is
the first thing the span details say instead of one tag among twenty."""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.traces.details import Tag
from dashboard.traces.tree import TraceTree
from queries.envoy import GRPC_STATUS_NAMES, RESPONSE_FLAG_MEANINGS, response_flags

HTTP_STATUS_TAGS = ("http.status_code", "http.response.status_code")
GRPC_STATUS_TAGS = ("grpc.status_code", "rpc.grpc.status_code")
FLAGS_TAG = "response_flags"
UPSTREAM_TAGS = ("upstream_cluster", "upstream_cluster.name")
MESSAGE_TAGS = ("otel.status_description", "error.message", "exception.message")


@dataclass(frozen=True)
class Failure:
    """What a span's tags say failed; every part may be missing."""

    http_status: str | None
    grpc_status: str | None
    flags: tuple[tuple[str, str | None], ...]  # (flag, meaning when Envoy documents it)
    upstream: str | None
    message: str | None

    @property
    def short(self) -> str:
        """`HTTP 503 UH`: the status and flags alone, for a search result."""
        parts = [
            f"HTTP {self.http_status}" if self.http_status else "",
            f"gRPC {self.grpc_status}" if self.grpc_status else "",
        ]
        parts.append(",".join(flag for flag, _ in self.flags))
        return " ".join(part for part in parts if part) or "error"

    @property
    def line(self) -> str:
        """`HTTP 503 · UH: no healthy upstream: … · upstream outbound|9080|v1|ratings…`."""
        parts = []
        if self.http_status:
            parts.append(f"HTTP {self.http_status}")
        if self.grpc_status:
            parts.append(f"gRPC {self.grpc_status}")
        parts.extend(f"{flag}: {meaning}" if meaning else f"flag {flag}" for flag, meaning in self.flags)
        if self.message:
            parts.append(self.message)
        if self.upstream:
            parts.append(f"upstream {self.upstream}")
        return " · ".join(parts) if parts else "failed (its tags do not say how)"


def _first(tags: dict[str, str], keys: tuple[str, ...]) -> str | None:
    return next((tags[key] for key in keys if tags.get(key) not in (None, "")), None)


def _grpc_text(code: str | None) -> str | None:
    if code is None:
        return None
    try:
        number = int(code)
    except ValueError:
        return code
    if number == 0:
        return None
    name = GRPC_STATUS_NAMES[number] if 0 < number < len(GRPC_STATUS_NAMES) else None
    return f"{number} {name}" if name else str(number)


def _failed_status(http: str | None) -> bool:
    try:
        return http is not None and int(http) >= 400
    except ValueError:
        return False


def span_failure(tags: list[Tag], error: bool) -> Failure | None:
    """The failure a span's tags describe: for an error span, or one with a
    4xx/5xx status, a non-OK gRPC status or an Envoy response flag; None
    for a span that did not fail."""
    text = {}
    for tag in tags:
        text.setdefault(tag.key, "true" if tag.value is True else str(tag.value))
    http = _first(text, HTTP_STATUS_TAGS)
    grpc = _grpc_text(_first(text, GRPC_STATUS_TAGS))
    flags = tuple((flag, RESPONSE_FLAG_MEANINGS.get(flag)) for flag in response_flags(text.get(FLAGS_TAG)))
    if not (error or _failed_status(http) or grpc or flags):
        return None
    return Failure(
        http_status=http if _failed_status(http) or error else None,
        grpc_status=grpc,
        flags=flags,
        upstream=_first(text, UPSTREAM_TAGS) if flags or error else None,
        message=_first(text, MESSAGE_TAGS),
    )


def root_cause(tree: TraceTree, under: int | None = None) -> int | None:
    """The error span a trace's failure starts at: the earliest error span
    with no error span under it (an error passed up a chain of callers is
    reported where it began); with `under`, only among that span's
    descendants. None when nothing failed there."""
    spans = tree.trace.spans
    failing_below = [False] * len(spans)
    for i in reversed(tree.order):
        p = tree.parent[i]
        if p >= 0 and (spans[i].error or failing_below[i]):
            failing_below[p] = True
    if under is None:
        candidates = tree.order
    else:
        at = tree.order.index(under)  # depth-first: a subtree is a run of the order
        candidates = tree.order[at + 1 : at + tree.subtree_size[under]]
    causes = [i for i in candidates if spans[i].error and not failing_below[i]]
    return min(causes, key=lambda i: spans[i].start_us) if causes else None
