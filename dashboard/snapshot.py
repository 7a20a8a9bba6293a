"""The graph as the public JSON document of `meshwatch snapshot` and `/api/graph`.

Schema (stable; see README):
{"at": <unix s>, "window": "1m",
 "nodes": [{"id", "kind", "namespace", "name", "app", "version", "health", "ingress"}],
 "edges": [{"id", "source", "target", "protocol", "rps", "error_ratio", "codes",
            "flags", "p50_ms", "p95_ms", "p99_ms", "share", "bytes_per_s",
            "health", "circuit"}]}
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

import networkx as nx

from dashboard.graph import edges_of, nodes_of

NODE_FIELDS = ("id", "kind", "namespace", "name", "app", "version", "health", "ingress")
EDGE_FIELDS = ("id", "source", "target", "protocol", "rps", "error_ratio", "codes", "flags",
               "p50_ms", "p95_ms", "p99_ms", "share", "bytes_per_s", "health", "circuit")


def _number(value: Any) -> Any:
    """Floats stay floats; NaN and infinities, which JSON cannot carry, become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def snapshot_document(graph: nx.DiGraph) -> dict[str, Any]:
    nodes = sorted(nodes_of(graph), key=lambda node: node.id)
    edges = sorted(edges_of(graph), key=lambda edge: edge.id)
    return {
        "at": float(graph.graph["at"]),
        "window": graph.graph["window"],
        "nodes": [{key: asdict(node)[key] for key in NODE_FIELDS} for node in nodes],
        "edges": [
            {key: _number(value) for key, value in asdict(edge).items() if key in EDGE_FIELDS}
            for edge in edges
        ],
    }
