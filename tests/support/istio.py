"""Istio's standard metric labels exactly as the proxies emit them, for
series backfilled into a real Prometheus: sidecars and gateways (Envoy's
stats filter), ambient mode's ztunnel (L4 only: `istio_tcp_*`, reporter
`source` on the client's node, `destination` on the server's) and waypoints
(L7 and L4 with `reporter="waypoint"`; the waypoint's own identity only in
the labels Prometheus' Kubernetes pod scrape adds).

Every label is there, with `unknown` where the proxy cannot tell, plus the
scrape labels (`namespace`, `pod`, `job`, pod labels) Istio's sample
Prometheus configuration adds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

UNKNOWN = "unknown"
DEFAULT_CLUSTER = "Kubernetes"  # Istio's CLUSTER_ID when none is configured


@dataclass(frozen=True)
class Peer:
    """One end of a request: a workload as Istio's peer metadata names it."""

    workload: str
    namespace: str
    app: str
    version: str
    cluster: str = DEFAULT_CLUSTER
    service_account: str = "default"

    @property
    def principal(self) -> str:
        return f"spiffe://cluster.local/ns/{self.namespace}/sa/{self.service_account}"


def workload(name: str, namespace: str, cluster: str = DEFAULT_CLUSTER) -> Peer:
    """`reviews-v2` as app `reviews`, version `v2`; a name without a version is `latest`."""
    app, _, version = name.rpartition("-")
    if not version.startswith("v") or not app:
        app, version = name, "latest"
    return Peer(name, namespace, app, version, cluster, service_account=f"bookinfo-{app}")


def _side(prefix: str, peer: Peer | None) -> dict[str, str]:
    if peer is None:
        names = ("workload", "workload_namespace", "principal", "app", "version")
        names += ("canonical_service", "canonical_revision", "cluster")
        return {f"{prefix}_{name}": UNKNOWN for name in names}
    return {
        f"{prefix}_workload": peer.workload,
        f"{prefix}_workload_namespace": peer.namespace,
        f"{prefix}_principal": peer.principal,
        f"{prefix}_app": peer.app,
        f"{prefix}_version": peer.version,
        f"{prefix}_canonical_service": peer.app,
        f"{prefix}_canonical_revision": peer.version,
        f"{prefix}_cluster": peer.cluster,
    }


def _service(service: str | None, namespace: str | None) -> dict[str, str]:
    if service is None:
        names = ("destination_service", "destination_service_name", "destination_service_namespace")
        return dict.fromkeys(names, UNKNOWN)
    return {
        "destination_service": f"{service}.{namespace}.svc.cluster.local",
        "destination_service_name": service,
        "destination_service_namespace": str(namespace),
    }


def _security(reporter: str, source: Peer | None, security: str | None) -> str:
    """Only the server side knows (a waypoint is the server of its callers'
    connections); a caller without a proxy speaks plain text."""
    if security is not None:
        return security
    if reporter == "source":
        return UNKNOWN
    return "none" if source is None else "mutual_tls"


def request_labels(
    reporter: str,
    source: Peer | None,
    service: str,
    namespace: str,
    destination: Peer | None,
    *,
    code: str = "200",
    flags: str = "-",
    protocol: str = "http",
    grpc_status: str = "",
    security: str | None = None,
    scrape: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """`istio_requests_total` (and the duration histogram's) labels."""
    return {
        "reporter": reporter,
        **_side("source", source),
        **_side("destination", destination),
        **_service(service, namespace),
        "request_protocol": protocol,
        "response_code": code,
        "grpc_response_status": grpc_status,
        "response_flags": flags,
        "connection_security_policy": _security(reporter, source, security),
        **(scrape or {}),
    }


def tcp_labels(
    reporter: str,
    source: Peer | None,
    service: str | None,
    namespace: str | None,
    destination: Peer | None,
    *,
    flags: str = "-",
    security: str | None = None,
    scrape: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """`istio_tcp_*` labels: no response code; ztunnel reports every
    connection as `tcp`, even HTTP."""
    return {
        "reporter": reporter,
        **_side("source", source),
        **_side("destination", destination),
        **_service(service, namespace),
        "request_protocol": "tcp",
        "response_flags": flags,
        "connection_security_policy": _security(reporter, source, security),
        **(scrape or {}),
    }


def sidecar_scrape(peer: Peer) -> dict[str, str]:
    """What Prometheus' kubernetes-pods job adds to a sidecar's series."""
    return {
        "job": "kubernetes-pods",
        "namespace": peer.namespace,
        "pod": f"{peer.workload}-5d8f7c9b4-x2x7q",
        "app": peer.app,
        "version": peer.version,
        "service_istio_io_canonical_name": peer.app,
        "service_istio_io_canonical_revision": peer.version,
    }


def ztunnel_scrape(node: str = "worker-1") -> dict[str, str]:
    """A ztunnel pod's scrape labels: it runs in istio-system, one per node."""
    return {
        "job": "kubernetes-pods",
        "namespace": "istio-system",
        "pod": f"ztunnel-{node}",
        "app": "ztunnel",
    }


def waypoint_scrape(gateway: str, namespace: str) -> dict[str, str]:
    """A waypoint pod's scrape labels (its Gateway's name among the pod labels)."""
    return {
        "job": "kubernetes-pods",
        "namespace": namespace,
        "pod": f"{gateway}-777578b889-8gmtt",
        "gateway_networking_k8s_io_gateway_name": gateway,
        "gateway_istio_io_managed": "istio.io-mesh-controller",
        "service_istio_io_canonical_name": gateway,
        "service_istio_io_canonical_revision": "latest",
        "istio_io_dataplane_mode": "none",
    }
