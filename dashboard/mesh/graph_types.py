"""Graph types: the same hops drawn four ways, as Kiali offers them.

Every series of the telemetry is one hop: a caller workload -> a service
(-> the callee workload, when the request reached one). A graph type says
which edges a hop draws and which node stands for a workload:

- `versioned` (the default): caller -> service -> callee, a node per
  workload (version).
- `app`: the same, with the versions of an app merged into one workload node
  per app and namespace, id `app:<namespace>:<app>` (`name` and `app` the
  app, `version` null).
- `workload`: caller -> callee, no service nodes; a hop that reached no
  workload (refused by the caller's sidecar, 503 UH or UO, or a service
  without endpoints) is drawn caller -> service, the only service nodes left.
- `service`: service -> service; a service's calls are those of the
  workloads behind it (its service -> workload edges in the versioned graph;
  a workload behind two services counts for both, as in Kiali). Callers
  behind no service (gateways, callers without a sidecar) stay as they are.

The appenders compute every graph type from the series themselves, never by
averaging edges: rates, codes and flags summed, the error ratio from summed
outcomes, quantiles from summed histogram buckets, health by the same rules,
share of a service's delivered traffic. A circuit breaker belongs to the
caller's sidecar, so an edge that carries callers' calls to a service shows
the worst circuit among those versioned caller -> service edges.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import networkx as nx
import pandas as pd

from dashboard.mesh.graph import NAMESPACE_KIND, SERVICE, UNKNOWN_KIND, WORKLOAD, Node, app_id, nodes_of

VERSIONED, APP, WORKLOAD_GRAPH, SERVICE_GRAPH = "versioned", "app", "workload", "service"
GRAPH_TYPES = (VERSIONED, APP, WORKLOAD_GRAPH, SERVICE_GRAPH)
# The graph attribute listing the clusters the telemetry spans (sorted).
CLUSTERS = "clusters"


@dataclass(frozen=True)
class Hops:
    """The versioned node ids of each series' hop, indexed like its frame.

    `direct`: a leg to or from a waypoint (ztunnel's L4 report of a
    connection into or out of ambient mode's waypoint proxy), drawn straight
    from caller to callee as Kiali does: the service's own requests are the
    waypoint's L7 report, drawn through the service."""

    caller: pd.Series
    service: pd.Series
    callee: pd.Series
    delivered: pd.Series  # the request reached a workload
    direct: pd.Series


@dataclass(frozen=True)
class Piece:
    """Edges some hops draw: the rows (a mask; None for all), their source
    and target ids, and whether this is the caller's side of the hop (where
    its sidecar's breaker sits)."""

    rows: pd.Series | None
    source: pd.Series
    target: pd.Series
    call: bool


@dataclass(frozen=True)
class Projection:
    """How one graph type draws the hops.

    - pieces: the edges of a frame's hops;
    - nodes: every node the type may draw, by id, as described before any
      appender (None for `versioned`, whose nodes come from the series' labels);
    - circuits: the versioned graph's circuit per (caller, service) edge
      (None for `versioned`, which judges them)."""

    graph_type: str
    pieces: Callable[[Hops], list[Piece]]
    nodes: Mapping[str, Node] | None = None
    circuits: Mapping[tuple[str, str], str] | None = None


def _through_services(hops: Hops, caller: pd.Series, callee: pd.Series) -> list[Piece]:
    """Caller -> service -> callee, waypoint legs caller -> callee."""
    via = ~hops.direct
    return [
        Piece(via, caller, hops.service, call=True),
        Piece(hops.delivered & via, hops.service, callee, call=False),
        Piece(hops.direct, caller, callee, call=True),
    ]


def _versioned_pieces(hops: Hops) -> list[Piece]:
    return _through_services(hops, hops.caller, hops.callee)


VERSIONED_PROJECTION = Projection(VERSIONED, _versioned_pieces)


def described(node: Node) -> Node:
    """A node with only what describes it (no figures of any window)."""
    return Node(node.id, node.kind, node.namespace, node.name, node.app, node.version, cluster=node.cluster)


def _typed(versioned: nx.DiGraph, stand_in: Callable[[Node], Node]) -> dict[str, Node]:
    """The type's nodes, by id, from the versioned graph's: the first to stand for an id describes it."""
    nodes: dict[str, Node] = {}
    for node in nodes_of(versioned):
        typed = stand_in(described(node))
        nodes.setdefault(typed.id, typed)
    return nodes


def _circuits(versioned: nx.DiGraph) -> dict[tuple[str, str], str]:
    return {(source, target): data["edge"].circuit for source, target, data in versioned.edges(data=True)}


def app_node(node: Node, clustered: bool = False) -> Node:
    """The node of a workload's app (`app:<namespace>:<app>`, in its cluster
    when the mesh spans several); others stay."""
    if node.kind != WORKLOAD or node.app is None:
        return node
    app = app_id(node.namespace, node.app, node.cluster if clustered else None)
    return dataclasses.replace(node, id=app, name=node.app, version=None)


def app_graph(versioned: nx.DiGraph) -> Projection:
    """The versions of an app as one workload node per app and namespace."""
    clustered = len(versioned.graph.get(CLUSTERS, ())) > 1

    def stand_in(node: Node) -> Node:
        return app_node(node, clustered)

    stands_for = {node.id: stand_in(described(node)).id for node in nodes_of(versioned)}

    def pieces(hops: Hops) -> list[Piece]:
        # Hops the versioned graph never drew map to nothing, and drop out.
        return _through_services(hops, hops.caller.map(stands_for), hops.callee.map(stands_for))

    return Projection(APP, pieces, _typed(versioned, stand_in), _circuits(versioned))


def workload_graph(versioned: nx.DiGraph) -> Projection:
    """Workload -> workload; a service only for the requests that reached no workload."""

    def pieces(hops: Hops) -> list[Piece]:
        return [
            Piece(hops.delivered, hops.caller, hops.callee, call=True),
            Piece(~hops.delivered, hops.caller, hops.service, call=True),
        ]

    return Projection(WORKLOAD_GRAPH, pieces, _typed(versioned, lambda node: node), _circuits(versioned))


def services_behind(versioned: nx.DiGraph) -> dict[str, list[str]]:
    """The services each workload is behind (those with an edge to it), sorted."""
    behind: dict[str, list[str]] = defaultdict(list)
    for source, target in versioned.edges:
        if versioned.nodes[source]["node"].kind == SERVICE:
            behind[target].append(source)
    return {workload: sorted(services) for workload, services in behind.items()}


def service_graph(versioned: nx.DiGraph) -> Projection:
    """Service -> service: a service calls what the workloads behind it call."""
    behind = services_behind(versioned)
    fronts = [
        {workload: services[rank] for workload, services in behind.items() if len(services) > rank}
        for rank in range(max((len(services) for services in behind.values()), default=0))
    ]

    def pieces(hops: Hops) -> list[Piece]:
        roots = ~hops.caller.isin(list(behind))
        drawn = [Piece(roots, hops.caller, hops.service, call=True)]
        for front in fronts:
            drawn.append(
                Piece(hops.caller.isin(list(front)), hops.caller.map(front), hops.service, call=True)
            )
        return drawn

    return Projection(SERVICE_GRAPH, pieces, _typed(versioned, lambda node: node), _circuits(versioned))


@dataclass(frozen=True)
class Overview:
    """A big mesh on one screen: above `above` nodes, every namespace but the
    `expanded` ones drawn as one node (`namespace:<ns>`, kind `namespace`)."""

    above: int
    expanded: frozenset[str] = frozenset()


def namespace_node_id(namespace: str) -> str:
    return f"namespace:{namespace}"


def namespace_overview(drawn: Projection, versioned: nx.DiGraph, expanded: frozenset[str]) -> Projection:
    """`drawn` with each namespace not `expanded` folded into one node.

    Its edges go namespace to namespace, figured from the series like any
    other (an open circuit inside a namespace is its loop's). A hop two of
    whose edges land on the same pair (caller -> service -> callee inside one
    folded namespace) counts there once."""
    nodes = dict(drawn.nodes) if drawn.nodes is not None else _typed(versioned, lambda node: node)
    stands_for: dict[str, str] = {}
    for node_id, node in list(nodes.items()):
        if node.kind == UNKNOWN_KIND or node.namespace in expanded:
            stands_for[node_id] = node_id
            continue
        folded = namespace_node_id(node.namespace)
        stands_for[node_id] = folded
        nodes.setdefault(folded, Node(folded, NAMESPACE_KIND, node.namespace, node.namespace))

    # A Series, not the dict: pandas would turn a dict of every node into one on each map.
    lookup = pd.Series(stands_for, dtype=object)

    def pieces(hops: Hops) -> list[Piece]:
        result: list[Piece] = []
        pairs: list[tuple[pd.Series, pd.Series, pd.Series]] = []
        for piece in drawn.pieces(hops):
            source, target = piece.source.map(lookup), piece.target.map(lookup)
            rows = pd.Series(True, index=source.index) if piece.rows is None else piece.rows
            taken = rows.copy()
            for earlier_rows, earlier_source, earlier_target in pairs:
                taken &= ~(earlier_rows & (earlier_source == source) & (earlier_target == target))
            pairs.append((rows, source, target))
            result.append(Piece(taken, source, target, piece.call))
        return result

    return Projection(drawn.graph_type, pieces, nodes, drawn.circuits or _circuits(versioned))


PROJECTIONS: dict[str, Callable[[nx.DiGraph], Projection]] = {
    APP: app_graph,
    WORKLOAD_GRAPH: workload_graph,
    SERVICE_GRAPH: service_graph,
}


def projection(graph_type: str, versioned: nx.DiGraph) -> Projection:
    """How `graph_type` draws the hops of the versioned graph's telemetry."""
    if graph_type == VERSIONED:
        return VERSIONED_PROJECTION
    if graph_type not in PROJECTIONS:
        raise ValueError(f"unknown graph type {graph_type!r}: choose one of {', '.join(GRAPH_TYPES)}")
    return PROJECTIONS[graph_type](versioned)
