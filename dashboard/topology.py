"""Graph assembly: telemetry in, the finished service graph out."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import networkx as nx

from dashboard import appenders
from dashboard.graph import filter_namespaces
from queries.telemetry import MeshTelemetry


def build_graph(telemetry: MeshTelemetry, rules: appenders.GraphRules,
                namespaces: Sequence[str] = ()) -> nx.DiGraph:
    """The mesh as a graph with every appender's facts, filtered to the
    namespaces (and their direct neighbours) when any are given."""
    graph = nx.DiGraph(at=telemetry.at, window=telemetry.window)
    for append in appenders.PIPELINE:
        append(graph, telemetry, rules)
    return filter_namespaces(graph, namespaces)


def missing_namespaces(graph: nx.DiGraph, namespaces: Sequence[str]) -> list[str]:
    """Requested namespaces with no node in the graph (unknown, or silent in the window)."""
    present = {data["node"].namespace for _, data in graph.nodes(data=True)}
    return [ns for ns in namespaces if ns not in present]


def jaeger_service(node: Mapping[str, Any]) -> str:
    """The Jaeger service of a node's spans: Istio's proxies name it
    `<canonical service>.<namespace>`; a service node goes by the canonical
    service of the workloads behind it (its name when they disagree)."""
    return f"{node.get('app') or node['name']}.{node['namespace']}"


def edges_on_trace(document: Mapping[str, Any], hops: Iterable[Sequence[str]]) -> set[str]:
    """Ids of the edges a trace's (caller, callee) service hops went along:
    caller workloads -> callee service, and that service -> its workloads."""
    calls = {(caller, callee) for caller, callee in hops}
    callees = {callee for _, callee in calls}
    nodes = {node["id"]: node for node in document["nodes"]}
    on_path = set()
    for edge in document["edges"]:
        source, target = nodes[edge["source"]], nodes[edge["target"]]
        caller, callee = jaeger_service(source), jaeger_service(target)
        if target["kind"] == "service" and (caller, callee) in calls:
            on_path.add(edge["id"])
        elif source["kind"] == "service" and caller in callees and callee in callees:
            on_path.add(edge["id"])
    return on_path
