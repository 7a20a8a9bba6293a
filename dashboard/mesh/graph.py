"""The versioned service graph model: workload -> service -> workload.

A networkx.DiGraph whose nodes carry a `Node` under the attribute "node" and
whose edges carry an `Edge` under "edge". `dashboard.mesh.build` builds it.

Node ids: `workload:<namespace>:<workload>`, `service:<namespace>:<service>`,
`unknown`; when the telemetry spans more than one cluster, workloads (and
the `app` graph's app nodes) carry their cluster too,
`workload:<cluster>:<namespace>:<workload>`, so the same workload name in
two clusters is two nodes. Services keep one id: Istio treats a service of
the same name and namespace in every cluster as one service (namespace
sameness) and balances its requests over the endpoints of all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import networkx as nx

from queries.telemetry import UNKNOWN

# Node kinds; a waypoint is ambient mode's L7 proxy in front of services.
WORKLOAD, SERVICE, UNKNOWN_KIND, WAYPOINT = "workload", "service", "unknown", "waypoint"
# A folded namespace of a big mesh's overview (graph_types.namespace_overview).
NAMESPACE_KIND = "namespace"
UNKNOWN_NODE = "unknown"


@dataclass
class Node:
    id: str
    kind: str
    namespace: str
    name: str
    app: str | None = None
    version: str | None = None
    health: str = "none"
    ingress: bool = False
    # Figures of the requests into (and out of) the node over the window.
    outbound_health: str = "none"
    rps_in: float | None = None
    rps_out: float | None = None
    error_ratio: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    # A version no route or subset names any more (set from the routing config).
    retired: bool = False
    # The Istio cluster (`source_cluster`/`destination_cluster`) a workload
    # runs in; a service's when all the workloads behind it run in one.
    cluster: str | None = None


@dataclass
class Edge:
    """Facts of one edge over the window; None where they do not apply."""

    id: str
    source: str
    target: str
    protocol: str = "http"
    rps: float | None = None
    error_ratio: float | None = None
    codes: dict[str, float] = field(default_factory=dict)
    flags: dict[str, float] = field(default_factory=dict)
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    share: float | None = None
    bytes_per_s: float | None = None
    health: str = "idle"
    circuit: str = "closed"
    # All its delivered requests mutual TLS (True), some plain text (False), unknown (None).
    mtls: bool | None = None
    # Some of its traffic went from a workload in one cluster to one in another.
    cross_cluster: bool = False


def workload_id(namespace: str, workload: str, cluster: str | None = None) -> str:
    """`cluster` only when the telemetry spans more than one cluster."""
    if workload == UNKNOWN:
        return UNKNOWN_NODE
    return f"workload:{cluster}:{namespace}:{workload}" if cluster else f"workload:{namespace}:{workload}"


def service_id(namespace: str, service: str) -> str:
    return f"service:{namespace}:{service}"


def app_id(namespace: str, app: str, cluster: str | None = None) -> str:
    """The one node of all versions of an app (the `app` graph type), in
    its cluster when the telemetry spans more than one."""
    return f"app:{cluster}:{namespace}:{app}" if cluster else f"app:{namespace}:{app}"


def edge_id(source: str, target: str) -> str:
    return f"{source}->{target}"


def nodes_of(graph: nx.DiGraph) -> list[Node]:
    return [data["node"] for _, data in graph.nodes(data=True)]


def edges_of(graph: nx.DiGraph) -> list[Edge]:
    return [data["edge"] for _, _, data in graph.edges(data=True)]


def add_node(graph: nx.DiGraph, node: Node) -> Node:
    """Add a node once; the first description of it wins."""
    if node.id not in graph:
        graph.add_node(node.id, node=node)
    return graph.nodes[node.id]["node"]


def add_edge(graph: nx.DiGraph, source: str, target: str) -> Edge:
    """The edge between two existing nodes, created empty if new."""
    if not graph.has_edge(source, target):
        graph.add_edge(source, target, edge=Edge(id=edge_id(source, target), source=source, target=target))
    return graph.edges[source, target]["edge"]


def filter_namespaces(
    graph: nx.DiGraph, namespaces: Sequence[str], clusters: Sequence[str] = ()
) -> nx.DiGraph:
    """Nodes in the namespaces and clusters (each when any are given), their
    direct neighbours, and the edges that touch a node inside."""
    if not namespaces and not clusters:
        return graph
    in_namespaces, in_clusters = set(namespaces), set(clusters)
    inside = {
        n
        for n, data in graph.nodes(data=True)
        if (not in_namespaces or data["node"].namespace in in_namespaces)
        and (not in_clusters or data["node"].cluster in in_clusters)
    }
    kept = nx.DiGraph(**graph.graph)
    for node_id in inside:
        kept.add_node(node_id, **graph.nodes[node_id])
    for source, target, data in graph.edges(data=True):
        if source in inside or target in inside:
            for node_id in (source, target):
                kept.add_node(node_id, **graph.nodes[node_id])
            kept.add_edge(source, target, **data)
    return kept
