"""Graph assembly: telemetry in, the finished service graph out."""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Sequence

import networkx as nx
import pandas as pd

from dashboard.mesh import appenders
from dashboard.mesh.graph import NAMESPACE_KIND, filter_namespaces
from dashboard.mesh.graph_types import (
    CLUSTERS,
    VERSIONED,
    VERSIONED_PROJECTION,
    Overview,
    Projection,
    namespace_node_id,
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
        # What the telemetry still lacks (an early report's latency): drawn meanwhile.
        pending=tuple(telemetry.pending),
        **{
            CLUSTERS: appenders.telemetry_clusters(telemetry),
            appenders.PROJECTION: drawn,
            appenders.WAYPOINT_RULE: re.compile(rules.waypoint),
            appenders.ASSEMBLY_ROWS: {},
        },
    )
    for append in appenders.PIPELINE:
        append(graph, telemetry, rules)
    for assembling in (appenders.PROJECTION, appenders.WAYPOINT_RULE, appenders.ASSEMBLY_ROWS):
        del graph.graph[assembling]
    return graph


def versioned_graph(telemetry: MeshTelemetry, rules: appenders.GraphRules) -> nx.DiGraph:
    """The whole telemetry's versioned graph with every appender's facts:
    what every other graph type and the namespace overview are drawn after."""
    return _assemble(telemetry, rules, VERSIONED_PROJECTION)


def folded_graph(
    telemetry: MeshTelemetry, rules: appenders.GraphRules, graph_type: str, versioned: nx.DiGraph
) -> nx.DiGraph:
    """The whole telemetry's namespace overview with every namespace folded
    (of the graph type, drawn after `versioned`): the big mesh's first view,
    and what each namespace opened on it is drawn after."""
    drawn = namespace_overview(projection(graph_type, versioned), versioned, frozenset())
    return _assemble(telemetry, rules, drawn)


# The labels that place a series in namespaces: its caller's, its service's and its callee's.
NAMESPACE_LABELS = (
    "source_workload_namespace",
    "destination_service_namespace",
    "destination_workload_namespace",
)


def _touching(telemetry: MeshTelemetry, namespaces: frozenset[str]) -> MeshTelemetry:
    """The telemetry's series with a caller, service or callee in the namespaces."""

    def rows(frame: pd.DataFrame) -> pd.DataFrame:
        labels = [label for label in NAMESPACE_LABELS if label in frame.columns]
        return frame[frame[labels].isin(list(namespaces)).any(axis=1)] if labels else frame

    frames = {
        field.name: getattr(telemetry, field.name)
        for field in dataclasses.fields(telemetry)
        if isinstance(getattr(telemetry, field.name), pd.DataFrame)
    }
    return dataclasses.replace(telemetry, **{name: rows(frame) for name, frame in frames.items()})


def _opened(
    telemetry: MeshTelemetry,
    rules: appenders.GraphRules,
    drawn: Projection,
    folded: nx.DiGraph,
    expanded: frozenset[str],
) -> nx.DiGraph:
    """`folded` (folded_graph) with the `expanded` namespaces opened, the same
    graph as assembling the whole telemetry `drawn` so: only the series that
    touch those namespaces are assembled again (a click on one namespace of
    5,000 workloads reads its own few hundred series, not all of them).

    Their nodes and every edge touching them come from that assembly, the
    other nodes and edges from `folded`, whose every series they already
    summed; then the facts a node takes from its edges are figured again
    (a folded caller's worst outbound edge may now be one of the opened
    ones). Nodes and edges are copies: `folded` stays as cached."""
    inside = _assemble(_touching(telemetry, expanded), rules, drawn)
    opened = {
        node_id
        for node_id, data in inside.nodes(data=True)
        if data["node"].kind != NAMESPACE_KIND and data["node"].namespace in expanded
    }
    gone = opened | {namespace_node_id(namespace) for namespace in expanded}
    graph = nx.DiGraph(**folded.graph)
    for node_id, data in folded.nodes(data=True):
        if node_id not in gone:
            graph.add_node(node_id, **_copied(data))
    for node_id in opened:
        graph.add_node(node_id, **_copied(inside.nodes[node_id]))
    for start, end, data in folded.edges(data=True):
        if start not in gone and end not in gone:
            graph.add_edge(start, end, **_copied(data))
    for start, end, data in inside.edges(data=True):
        if start in opened or end in opened:
            graph.add_edge(start, end, **_copied(data))
    for append in appenders.GRAPH_FACTS:
        append(graph, telemetry, rules)
    return graph


def _copied(data: dict) -> dict:
    """A node's or edge's attributes with its node or edge record copied (the appenders set their fields)."""
    return {key: copy.copy(value) if key in ("node", "edge") else value for key, value in data.items()}


def build_graph(
    telemetry: MeshTelemetry,
    rules: appenders.GraphRules,
    namespaces: Sequence[str] = (),
    graph_type: str = VERSIONED,
    clusters: Sequence[str] = (),
    overview: Overview | None = None,
    versioned: nx.DiGraph | None = None,
    folded: nx.DiGraph | None = None,
) -> nx.DiGraph:
    """The mesh as a graph of the type (dashboard.mesh.graph_types) with
    every appender's facts, filtered to the namespaces and clusters (and
    their direct neighbours) when any are given. Other types than
    `versioned` are drawn from the same telemetry after the versioned graph
    (`versioned`, when already built of this telemetry), whose nodes and
    circuits they take; so is the namespace overview of a graph bigger than
    `overview.above` nodes. The graph attribute `clusters` lists the
    clusters the telemetry spans; the series the telemetry left out for bad
    values ride along as `ignored`, the backend's warnings as `warnings`.
    `folded`, the telemetry's folded_graph of this graph type when already
    built, is the overview, and what its opened namespaces are drawn after."""
    graph = versioned_graph(telemetry, rules) if versioned is None else versioned
    drawn = projection(graph_type, graph)
    if overview is not None and folds(graph, namespaces, clusters, overview):
        if folded is not None and not overview.expanded:
            return filter_namespaces(folded, namespaces, clusters)
        drawn = namespace_overview(drawn, graph, overview.expanded)
        if folded is not None:
            return filter_namespaces(
                _opened(telemetry, rules, drawn, folded, overview.expanded), namespaces, clusters
            )
    if drawn is VERSIONED_PROJECTION:
        return filter_namespaces(graph, namespaces, clusters)
    return filter_namespaces(_assemble(telemetry, rules, drawn), namespaces, clusters)


def folds(
    versioned: nx.DiGraph, namespaces: Sequence[str], clusters: Sequence[str], overview: Overview
) -> bool:
    """Whether the versioned graph, filtered to the namespaces and clusters, is drawn folded."""
    return filter_namespaces(versioned, namespaces, clusters).number_of_nodes() > overview.above


def missing_namespaces(graph: nx.DiGraph, namespaces: Sequence[str]) -> list[str]:
    """Requested namespaces with no node in the graph (unknown, or silent in the window)."""
    present = {data["node"].namespace for _, data in graph.nodes(data=True)}
    return [ns for ns in namespaces if ns not in present]


def missing_clusters(graph: nx.DiGraph, clusters: Sequence[str]) -> list[str]:
    """Requested clusters with no node in the graph (unknown, or silent in the window)."""
    present = {data["node"].cluster for _, data in graph.nodes(data=True)}
    return [cluster for cluster in clusters if cluster not in present]
