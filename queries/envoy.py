"""Envoy's names, as Istio's sidecars report them in metrics and span tags."""

from __future__ import annotations

from dataclasses import dataclass

# Response flags (`response_flags` label, `response_flags` span tag).
UPSTREAM_OVERFLOW = "UO"  # a circuit breaker is full: the caller's sidecar sheds the request
RETRY_OVERFLOW = "URX"  # retry or connect-attempt limit reached
NO_HEALTHY_UPSTREAM = "UH"  # outlier detection ejected every host (or none exist)
# Flags of requests a breaker sheds.
SHEDDING_FLAGS = (UPSTREAM_OVERFLOW, RETRY_OVERFLOW)
NO_FLAG = "-"

# What each response flag means, in words for the span details (Envoy's
# access-log documentation, %RESPONSE_FLAGS%, said shorter).
RESPONSE_FLAG_MEANINGS = {
    NO_HEALTHY_UPSTREAM: "no healthy upstream: every host ejected by outlier detection, or none exist",
    "UF": "upstream connection failure",
    UPSTREAM_OVERFLOW: "upstream overflow: a circuit breaker is full, the caller's sidecar shed the request",
    "NR": "no route configured for the request",
    RETRY_OVERFLOW: "retry or connect-attempt limit reached",
    "NC": "upstream cluster not found",
    "DT": "maximum connection or request duration exceeded",
    "DC": "the downstream connection was closed (the caller went away)",
    "LH": "the local service failed its health check",
    "UT": "upstream request timeout",
    "LR": "connection reset by this proxy",
    "UR": "the upstream reset the stream",
    "UC": "the upstream connection was terminated",
    "DI": "delayed by fault injection",
    "FI": "aborted by fault injection",
    "RL": "rate-limited by this proxy",
    "UAEX": "denied by the external authorization service",
    "RLSE": "the rate limit service failed",
    "IH": "invalid value in a strictly checked header",
    "SI": "stream idle timeout",
    "DPE": "the downstream request broke the HTTP protocol",
    "UPE": "the upstream response broke the HTTP protocol",
    "UMSDR": "the upstream request reached its maximum stream duration",
    "OM": "terminated by the overload manager",
    "DF": "DNS resolution failed",
    "NFCF": "no filter chain matched the connection",
}

# gRPC status names by code, as Envoy's %GRPC_STATUS% writes them.
GRPC_STATUS_NAMES = (
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
)


def response_flags(text: str | None) -> list[str]:
    """The flags of a `response_flags` value: Envoy joins several with commas, `-` is none."""
    return [flag.strip() for flag in (text or "").split(",") if flag.strip() and flag.strip() != NO_FLAG]


def node_pod(node_id: str | None) -> str | None:
    """The pod of an Istio proxy's node id, `<type>~<ip>~<pod>.<namespace>~<namespace>.svc.<domain>`
    (`sidecar~10.1.2.3~reviews-v2-7d79d5bd5d-8zwnp.bookinfo~bookinfo.svc.cluster.local`)."""
    parts = (node_id or "").split("~")
    if len(parts) != 4 or not parts[2]:
        return None
    return parts[2].split(".")[0] or None


@dataclass(frozen=True)
class OutboundCluster:
    """`outbound|<port>|<subset>|<host>`: a caller's cluster for one destination."""

    port: str
    subset: str
    host: str

    @property
    def service(self) -> str:
        return self.host.split(".")[0]

    @property
    def namespace(self) -> str | None:
        """The namespace of a Kubernetes service host (`<name>.<namespace>.svc[.<domain>]`)."""
        labels = self.host.split(".")
        return labels[1] if len(labels) >= 3 and labels[2] == "svc" and labels[1] else None


def outbound_cluster(name: str | None) -> OutboundCluster | None:
    """The parts of an outbound cluster name; None for anything else
    (inbound clusters, `PassthroughCluster`, ...)."""
    parts = (name or "").split("|")
    if len(parts) != 4 or parts[0] != "outbound" or not parts[3] or not parts[3].split(".")[0]:
        return None
    if parts[1] and not (parts[1].isascii() and parts[1].isdigit()):
        return None
    return OutboundCluster(port=parts[1], subset=parts[2], host=parts[3])
