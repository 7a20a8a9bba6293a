"""The graph as the public JSON document of `meshwatch snapshot` and `/api/graph`.

Schema (stable; see README):
{"at": <unix s>, "window": "1m", "warnings": ["3 series with NaN values ignored"],
 "nodes": [{"id", "kind", "namespace", "name", "app", "version", "health", "ingress",
            ..., "retired", "cluster"}],
 "edges": [{"id", "source", "target", "protocol", "rps", "error_ratio", "codes",
            "flags", "p50_ms", "p95_ms", "p99_ms", "share", "bytes_per_s",
            "health", "circuit", "mtls", "cross_cluster"}]}
"""

from __future__ import annotations

from typing import Any

import networkx as nx

from dashboard.format import ignored_series, json_number
from dashboard.mesh.graph import edges_of, nodes_of

NODE_FIELDS = (
    "id",
    "kind",
    "namespace",
    "name",
    "app",
    "version",
    "health",
    "ingress",
    "outbound_health",
    "rps_in",
    "rps_out",
    "error_ratio",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "retired",
    "cluster",
)
EDGE_FIELDS = (
    "id",
    "source",
    "target",
    "protocol",
    "rps",
    "error_ratio",
    "codes",
    "flags",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "share",
    "bytes_per_s",
    "health",
    "circuit",
    "mtls",
    "cross_cluster",
)


def _copy(value: Any) -> Any:
    """A field as the document holds it: dicts copied, numbers (theirs too) as json_number."""
    if isinstance(value, dict):
        return {key: json_number(item) for key, item in value.items()}
    return json_number(value)


def snapshot_document(graph: nx.DiGraph) -> dict[str, Any]:
    nodes = sorted(nodes_of(graph), key=lambda node: node.id)
    edges = sorted(edges_of(graph), key=lambda edge: edge.id)
    return {
        "at": float(graph.graph["at"]),
        "window": str(graph.graph["window"]),
        # What the data left out (bad samples) and what the backend warned of (a
        # partial response), so an empty graph is never taken for a quiet mesh.
        "warnings": ignored_series(graph.graph.get("ignored", {})) + list(graph.graph.get("warnings", [])),
        # getattr, not dataclasses.asdict: asdict deep-copies every field
        # and dominated the snapshot time at a thousand workloads.
        "nodes": [{key: _copy(getattr(node, key)) for key in NODE_FIELDS} for node in nodes],
        "edges": [{key: _copy(getattr(edge, key)) for key in EDGE_FIELDS} for edge in edges],
    }
