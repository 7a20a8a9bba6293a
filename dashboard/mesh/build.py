"""Graph assembly: telemetry in, the finished service graph out."""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx

from dashboard.mesh import appenders
from dashboard.mesh.graph import filter_namespaces
from queries.telemetry import MeshTelemetry


def build_graph(
    telemetry: MeshTelemetry, rules: appenders.GraphRules, namespaces: Sequence[str] = ()
) -> nx.DiGraph:
    """The mesh as a graph with every appender's facts, filtered to the
    namespaces (and their direct neighbours) when any are given; the series
    the telemetry left out for bad values ride along as `ignored`."""
    graph = nx.DiGraph(at=telemetry.at, window=telemetry.window, ignored=dict(telemetry.ignored))
    for append in appenders.PIPELINE:
        append(graph, telemetry, rules)
    return filter_namespaces(graph, namespaces)


def missing_namespaces(graph: nx.DiGraph, namespaces: Sequence[str]) -> list[str]:
    """Requested namespaces with no node in the graph (unknown, or silent in the window)."""
    present = {data["node"].namespace for _, data in graph.nodes(data=True)}
    return [ns for ns in namespaces if ns not in present]
