"""What a version's requests go on to call: its own calls, and the calls of
every workload they reach, on the graph as it is now. Promoting a canary puts
every request on this path, so a broken call anywhere on it blocks promotion
even when the canary itself answers 100 % (it may hide the failure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import networkx as nx

from dashboard.canary.observation import Call, outbound_calls
from dashboard.mesh.graph import WORKLOAD, service_id

# Hops followed from the version's own workloads: a mesh path is rarely deeper.
MAX_DEPTH = 5


@dataclass(frozen=True)
class PathCall:
    """A call on a version's path: `caller` is the calling workload (the
    version itself at depth 0), `call` its requests to one service."""

    caller: str
    call: Call
    depth: int


def calls_on_path(graph: nx.DiGraph, workloads: Iterable[str], max_depth: int = MAX_DEPTH) -> list[PathCall]:
    """Every call made on the way down from `workloads` (node ids), breadth
    first; a workload reached twice is visited once."""
    frontier = [node for node in workloads if node in graph]
    seen = set(frontier)
    found: list[PathCall] = []
    for depth in range(max_depth):
        following: list[str] = []
        for workload in frontier:
            caller = graph.nodes[workload]["node"].name
            for call in outbound_calls(graph, workload):
                found.append(PathCall(caller, call, depth))
                target = service_id(call.namespace, call.service)
                for callee in graph.successors(target) if target in graph else ():
                    delivered = graph.edges[target, callee]["edge"]
                    node = graph.nodes[callee]["node"]
                    if node.kind == WORKLOAD and (delivered.rps or 0) > 0 and callee not in seen:
                        seen.add(callee)
                        following.append(callee)
        frontier = following
        if not frontier:
            break
    return found
