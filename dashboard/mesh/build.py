"""Graph assembly: telemetry in, the finished service graph out."""

from __future__ import annotations

import re
from collections.abc import Sequence

import networkx as nx

from dashboard.mesh import appenders
from dashboard.mesh.graph import filter_namespaces
from dashboard.mesh.graph_types import (
    CLUSTERS,
    VERSIONED,
    VERSIONED_PROJECTION,
    Overview,
    Projection,
    namespace_overview,
    projection,
)
from queries.telemetry import MeshTelemetry


def _assemble(telemetry: MeshTelemetry, rules: appenders.GraphRules, drawn: Projection) -> nx.DiGraph:
    graph = nx.DiGraph(
        at=telemetry.at,
        window=telemetry.window,
        ignored=dict(telemetry.ignored),
        warnings=list(telemetry.warnings),
        **{
            CLUSTERS: appenders.telemetry_clusters(telemetry),
            appenders.PROJECTION: drawn,
            appenders.WAYPOINT_RULE: re.compile(rules.waypoint),
        },
    )
    for append in appenders.PIPELINE:
        append(graph, telemetry, rules)
    del graph.graph[appenders.PROJECTION], graph.graph[appenders.WAYPOINT_RULE]
    return graph


def versioned_graph(telemetry: MeshTelemetry, rules: appenders.GraphRules) -> nx.DiGraph:
    """The whole telemetry's versioned graph with every appender's facts:
    what every other graph type and the namespace overview are drawn after."""
    return _assemble(telemetry, rules, VERSIONED_PROJECTION)


def build_graph(
    telemetry: MeshTelemetry,
    rules: appenders.GraphRules,
    namespaces: Sequence[str] = (),
    graph_type: str = VERSIONED,
    clusters: Sequence[str] = (),
    overview: Overview | None = None,
    versioned: nx.DiGraph | None = None,
) -> nx.DiGraph:
    """The mesh as a graph of the type (dashboard.mesh.graph_types) with
    every appender's facts, filtered to the namespaces and clusters (and
    their direct neighbours) when any are given. Other types than
    `versioned` are drawn from the same telemetry after the versioned graph
    (`versioned`, when already built of this telemetry), whose nodes and
    circuits they take; so is the namespace overview of a graph bigger than
    `overview.above` nodes. The graph attribute `clusters` lists the
    clusters the telemetry spans; the series the telemetry left out for bad
    values ride along as `ignored`, the backend's warnings as `warnings`."""
    graph = versioned_graph(telemetry, rules) if versioned is None else versioned
    filtered = filter_namespaces(graph, namespaces, clusters)
    drawn = projection(graph_type, graph)
    if overview is not None and filtered.number_of_nodes() > overview.above:
        drawn = namespace_overview(drawn, graph, overview.expanded)
    if drawn is VERSIONED_PROJECTION:
        return filtered
    return filter_namespaces(_assemble(telemetry, rules, drawn), namespaces, clusters)


def missing_namespaces(graph: nx.DiGraph, namespaces: Sequence[str]) -> list[str]:
    """Requested namespaces with no node in the graph (unknown, or silent in the window)."""
    present = {data["node"].namespace for _, data in graph.nodes(data=True)}
    return [ns for ns in namespaces if ns not in present]


def missing_clusters(graph: nx.DiGraph, clusters: Sequence[str]) -> list[str]:
    """Requested clusters with no node in the graph (unknown, or silent in the window)."""
    present = {data["node"].cluster for _, data in graph.nodes(data=True)}
    return [cluster for cluster in clusters if cluster not in present]
