"""The service-to-service hops a trace crossed, with the workload versions
Istio's span tags name: what the topology overlays for a trace."""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.traces.tree import TraceTree
from dashboard.traces.versions import version_lookup
from queries.envoy import outbound_cluster
from queries.traces.details import tag_text
from queries.traces.records import SpanRecord

# Istio's tag for the cluster a client proxy span sent the request to
# (`outbound|9080|v1|ratings.bookinfo.svc.cluster.local`).
UPSTREAM_CLUSTER_TAG = "upstream_cluster"


@dataclass(frozen=True)
class Hop:
    """One service-to-service call a trace crossed: Jaeger service names
    (Istio's `<canonical service>.<namespace>`), the workload versions when
    the spans say them, and whether a call on this hop failed."""

    caller: str
    caller_version: str | None
    callee: str
    callee_version: str | None
    error: bool


def trace_hops(tree: TraceTree) -> list[Hop]:
    """The hops of a trace, one per (caller, version, callee, version), in
    display order; `error` when any call on it failed (the callee-side span,
    or the caller's client span, is an error span). A hop is where a span's
    service differs from its parent's, or a caller's client proxy span with no
    callee span under it (refused by the caller's sidecar, 503 UH/UO): its
    callee is the service its `upstream_cluster` names. Tags are read only
    for the spans at a hop."""
    spans, parent, dialect = tree.trace.spans, tree.parent, tree.trace.dialect
    lookup = version_lookup(tree)

    def version(index: int) -> str | None:
        return lookup(index).version

    hops: dict[tuple[str, str | None, str, str | None], bool] = {}
    for i in tree.order:
        span, p = spans[i], parent[i]
        if p >= 0 and spans[p].service != span.service:
            caller = spans[p]
            key = (caller.service, version(p), span.service, version(i))
            error = span.error or (caller.error and caller.kind == "client")
        elif (
            span.proxy
            and span.kind == "client"
            and all(spans[k].service == span.service for k in tree.children[i])
        ):
            callee = _outbound_service(_tag(span, dialect, UPSTREAM_CLUSTER_TAG))
            if callee is None:
                continue
            key, error = (span.service, version(i), callee, None), span.error
        else:
            continue
        hops[key] = hops.get(key, False) or error
    return [Hop(*key, error=error) for key, error in hops.items()]


def _tag(span: SpanRecord, dialect: str, key: str) -> str | None:
    return next((value for name, value in tag_text(span, dialect) if name == key), None)


def _outbound_service(cluster: str | None) -> str | None:
    """`<service>.<namespace>` of the Kubernetes service an Envoy outbound
    cluster names (`outbound|<port>|<subset>|<service>.<namespace>.svc.<domain>`)."""
    parsed = outbound_cluster(cluster)
    return f"{parsed.service}.{parsed.namespace}" if parsed and parsed.namespace else None
