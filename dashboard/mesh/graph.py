"""The versioned service graph model: workload -> service -> workload.

A networkx.DiGraph whose nodes carry a `Node` under the attribute "node" and
whose edges carry an `Edge` under "edge". `dashboard.mesh.build` builds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import networkx as nx

from queries.telemetry import UNKNOWN

WORKLOAD, SERVICE, UNKNOWN_KIND = "workload", "service", "unknown"
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


def workload_id(namespace: str, workload: str) -> str:
    return UNKNOWN_NODE if workload == UNKNOWN else f"workload:{namespace}:{workload}"


def service_id(namespace: str, service: str) -> str:
    return f"service:{namespace}:{service}"


def app_id(namespace: str, app: str) -> str:
    """The one node of all versions of an app (the `app` graph type)."""
    return f"app:{namespace}:{app}"


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


def filter_namespaces(graph: nx.DiGraph, namespaces: Sequence[str]) -> nx.DiGraph:
    """Nodes in the namespaces, their direct neighbours, and the edges that
    touch a node in the namespaces."""
    if not namespaces:
        return graph
    wanted = set(namespaces)
    inside = {n for n, data in graph.nodes(data=True) if data["node"].namespace in wanted}
    kept = nx.DiGraph(**graph.graph)
    for node_id in inside:
        kept.add_node(node_id, **graph.nodes[node_id])
    for source, target, data in graph.edges(data=True):
        if source in inside or target in inside:
            for node_id in (source, target):
                kept.add_node(node_id, **graph.nodes[node_id])
            kept.add_edge(source, target, **data)
    return kept
