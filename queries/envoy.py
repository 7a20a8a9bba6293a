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
