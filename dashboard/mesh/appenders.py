"""Appenders: each adds one kind of fact to the service graph.

Every appender has the signature `(graph, telemetry, rules) -> None` and
may rely on the ones before it in `PIPELINE` (dashboard.mesh.build runs them).

A series of the request frame is one hop, which in the versioned graph
belongs to up to two edges: the caller's workload -> service edge always,
and the service -> workload edge when the request reached a workload
(`destination_workload` known). Requests a caller's sidecar rejected (UO,
UH, ...) carry `destination_workload="unknown"` and so stay on the caller's
edge only. Other graph types draw the same hops otherwise: the graph's
`projection` attribute (dashboard.mesh.graph_types) says how, while it is
being assembled.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from typing import Protocol

import networkx as nx
import numpy as np
import pandas as pd

from dashboard.mesh.circuit import (
    CLOSED,
    CircuitThresholds,
    ClusterState,
    EdgeRejections,
    circuit_state,
    worst_circuit,
)
from dashboard.mesh.graph import (
    SERVICE,
    UNKNOWN_KIND,
    UNKNOWN_NODE,
    WAYPOINT,
    WORKLOAD,
    Node,
    add_edge,
    add_node,
    nodes_of,
    service_id,
    workload_id,
)
from dashboard.mesh.graph_types import CLUSTERS, VERSIONED_PROJECTION, Hops, Projection
from dashboard.mesh.health import (
    HEALTHY,
    IDLE,
    NO_HEALTH,
    HealthThresholds,
    RequestCounts,
    request_health,
    worst,
)
from dashboard.mesh.histogram import histogram_quantiles, quantile_grid
from dashboard.mesh.security import mtls_state
from queries.telemetry import OVERFLOW_STATS, SECURITY_POLICY, UNKNOWN, MeshTelemetry, bucket_bounds


class GraphRules(Protocol):
    """The rules graph assembly follows (dashboard.app.config.Settings has them)."""

    health: HealthThresholds
    circuit: CircuitThresholds
    ingress: str  # regex naming ingress gateway workloads
    waypoint: str  # regex naming ambient mode's waypoint proxies


Appender = Callable[[nx.DiGraph, MeshTelemetry, GraphRules], None]
QUANTILES = (0.50, 0.95, 0.99)  # p50_ms, p95_ms, p99_ms
EDGE = ["source", "target"]
# The graph attributes holding the Projection, the compiled waypoint rule
# and the frames' edge rows (frame_rows) while the graph is assembled.
PROJECTION, WAYPOINT_RULE, ASSEMBLY_ROWS = "projection", "waypoint_rule", "assembly_rows"
CLUSTER_LABELS = ("source_cluster", "destination_cluster")


def projection_of(graph: nx.DiGraph) -> Projection:
    return graph.graph.get(PROJECTION, VERSIONED_PROJECTION)


def known_cluster(value: object) -> bool:
    """A cluster label that names one (Istio says `unknown` when it cannot tell)."""
    return isinstance(value, str) and value not in ("", UNKNOWN)


def telemetry_clusters(telemetry: MeshTelemetry) -> list[str]:
    """The clusters the telemetry's series name, sorted."""
    found: set[str] = set()
    for frame in (telemetry.requests, telemetry.tcp):
        for label in CLUSTER_LABELS:
            if label in frame:
                found.update(str(v) for v in frame[label].dropna().unique().tolist() if known_cluster(v))
    return sorted(found)


def clustered(graph: nx.DiGraph) -> bool:
    """Whether node ids carry the cluster: the telemetry spans more than one."""
    return len(graph.graph.get(CLUSTERS, ())) > 1


def _ids(
    namespaces: pd.Series, names: pd.Series, prefix: str, clusters: pd.Series | None = None
) -> pd.Series:
    # A comprehension over plain lists builds the ids four times faster than
    # pandas string arithmetic, and edge_rows runs this for every series.
    unknown_is_one_node = prefix == WORKLOAD
    if clusters is None:
        ids = [
            UNKNOWN_NODE if unknown_is_one_node and name == UNKNOWN else f"{prefix}:{namespace}:{name}"
            for namespace, name in zip(namespaces.tolist(), names.tolist())
        ]
    else:
        ids = [
            UNKNOWN_NODE
            if name == UNKNOWN
            else f"{prefix}:{cluster if known_cluster(cluster) else UNKNOWN}:{namespace}:{name}"
            for cluster, namespace, name in zip(clusters.tolist(), namespaces.tolist(), names.tolist())
        ]
    return pd.Series(ids, index=names.index, dtype="string")


def _waypoints(frame: pd.DataFrame, side: str, pattern: re.Pattern[str] | None) -> pd.Series:
    """Which of the side's (`source`, `destination`) workloads are waypoints,
    by name or canonical service (when the frame has it)."""
    columns = [c for c in (f"{side}_workload", f"{side}_canonical_service") if c in frame]
    if pattern is None:
        return pd.Series(False, index=frame.index)
    texts = pd.concat([frame[c] for c in columns]).dropna().unique().tolist()
    matched = {text for text in texts if pattern.search(text)}
    return frame[columns].isin(matched).any(axis=1)


def hops(frame: pd.DataFrame, graph: nx.DiGraph | None = None) -> Hops:
    """The versioned node ids of each series' caller, service and callee;
    workloads carry their cluster when the graph's telemetry spans several,
    and legs to or from a waypoint (the graph's rule) are drawn direct."""
    if graph is not None and clustered(graph):
        sources, destinations = frame["source_cluster"], frame["destination_cluster"]
        caller = _ids(frame["source_workload_namespace"], frame["source_workload"], WORKLOAD, sources)
        callee = _ids(
            frame["destination_workload_namespace"], frame["destination_workload"], WORKLOAD, destinations
        )
    else:
        caller = _ids(frame["source_workload_namespace"], frame["source_workload"], WORKLOAD)
        callee = _ids(frame["destination_workload_namespace"], frame["destination_workload"], WORKLOAD)
    pattern = waypoint_rule(graph)
    delivered = frame["destination_workload"] != UNKNOWN
    to_waypoint, from_waypoint = (
        _waypoints(frame, "destination", pattern),
        _waypoints(frame, "source", pattern),
    )
    return Hops(
        caller=caller,
        service=_ids(frame["destination_service_namespace"], frame["destination_service_name"], SERVICE),
        callee=callee,
        delivered=delivered,
        direct=delivered & (to_waypoint | from_waypoint),
    )


def waypoint_rule(graph: nx.DiGraph | None) -> re.Pattern[str] | None:
    return None if graph is None else graph.graph.get(WAYPOINT_RULE)


def edge_rows(frame: pd.DataFrame, graph: nx.DiGraph | None = None, with_hops: bool = False) -> pd.DataFrame:
    """The frame's series once per edge they belong to in the graph (its
    projection, ids and waypoint rule), with `source`/`target` ids;
    `with_hops` adds each row's versioned `caller` and `service` and whether
    the edge is the caller's side of the hop (`call`)."""
    hop = hops(frame, graph)
    projection = VERSIONED_PROJECTION if graph is None else projection_of(graph)
    parts = []
    for piece in projection.pieces(hop):
        rows = frame if piece.rows is None else frame[piece.rows]

        def picked(series: pd.Series, mask: pd.Series | None = piece.rows) -> pd.Series:
            return series if mask is None else series[mask]

        columns = {"source": picked(piece.source), "target": picked(piece.target)}
        if with_hops:
            columns.update(caller=picked(hop.caller), service=picked(hop.service), call=piece.call)
        parts.append(rows.assign(**columns))
    return pd.concat(parts, ignore_index=True)


def frame_rows(
    graph: nx.DiGraph, telemetry: MeshTelemetry, name: str
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The telemetry's frame `name` (its series that name their service) and
    their edge_rows (None when it has none), with hops in a graph that
    carries the versioned graph's circuits (_carried_circuits reads them):
    figured once per assembly for every appender that reads them."""
    kept = graph.graph.get(ASSEMBLY_ROWS)
    if kept is not None and name in kept:
        return kept[name]
    frame = _named(getattr(telemetry, name))
    carried = projection_of(graph).circuits is not None
    figured = frame, None if frame.empty else edge_rows(frame, graph, with_hops=carried)
    if kept is not None:
        kept[name] = figured
    return figured


def _known(value: str | None) -> str | None:
    return value if value and value != UNKNOWN else None


def _add_nodes(graph: nx.DiGraph, frame: pd.DataFrame, rows: pd.DataFrame) -> None:
    """The nodes the rows' edges join: described from the series' labels in
    the versioned graph, taken from the projection's nodes in the others."""
    nodes = projection_of(graph).nodes
    if nodes is None:
        for node in _labelled_nodes(frame, clustered(graph), waypoint_rule(graph)):
            kept = add_node(graph, node)
            if kept.cluster is None:
                kept.cluster = node.cluster
        return
    for node_id in pd.concat([rows["source"], rows["target"]]).dropna().unique().tolist():
        if node_id not in graph:
            add_node(graph, dataclasses.replace(nodes[node_id]))


def _labelled_nodes(
    frame: pd.DataFrame, in_cluster: bool = False, waypoints: re.Pattern[str] | None = None
) -> Iterator[Node]:
    """Callers, services and callees of the series, as their labels describe
    them (workload ids `in_cluster` when the mesh spans several)."""
    callers = frame[
        [
            "source_workload",
            "source_workload_namespace",
            "source_canonical_service",
            "source_canonical_revision",
            "source_cluster",
        ]
    ].drop_duplicates()
    for workload, namespace, app, version, cluster in callers.itertuples(index=False):
        yield _workload_node(workload, namespace, app, version, cluster, in_cluster, waypoints)
    # A service's app is the canonical service of the workloads behind it,
    # when they agree: Kubernetes service names need not match app labels.
    delivered = frame[frame["destination_workload"] != UNKNOWN]
    apps = delivered.groupby(["destination_service_name", "destination_service_namespace"])[
        "destination_canonical_service"
    ].unique()
    services = frame[["destination_service_name", "destination_service_namespace"]].drop_duplicates()
    for name, namespace in services.itertuples(index=False):
        behind = [app for app in apps.get((name, namespace), []) if _known(app)]
        yield Node(
            id=service_id(namespace, name),
            kind=SERVICE,
            namespace=namespace,
            name=name,
            app=behind[0] if len(behind) == 1 else None,
        )
    callees = frame[
        [
            "destination_workload",
            "destination_workload_namespace",
            "destination_canonical_service",
            "destination_canonical_revision",
            "destination_cluster",
        ]
    ].drop_duplicates()
    for workload, namespace, app, version, cluster in callees.itertuples(index=False):
        if workload != UNKNOWN:
            yield _workload_node(workload, namespace, app, version, cluster, in_cluster, waypoints)


def _workload_node(
    workload: str,
    namespace: str,
    app: str,
    version: str,
    cluster: str | None = None,
    in_cluster: bool = False,
    waypoints: re.Pattern[str] | None = None,
) -> Node:
    if workload == UNKNOWN:
        return Node(id=UNKNOWN_NODE, kind=UNKNOWN_KIND, namespace=UNKNOWN, name=UNKNOWN)
    known = cluster if known_cluster(cluster) else None
    app = _known(app) or workload
    waypoint = waypoints is not None and bool(waypoints.search(workload) or waypoints.search(app))
    return Node(
        id=workload_id(namespace, workload, (known or UNKNOWN) if in_cluster else None),
        kind=WAYPOINT if waypoint else WORKLOAD,
        namespace=namespace,
        name=workload,
        app=app,
        version=_known(version),
        cluster=known,
    )


def ingress(graph: nx.DiGraph, telemetry: MeshTelemetry, rules: GraphRules) -> None:
    """Flag ingress gateways: workloads whose name or app matches the rule's
    pattern (Istio's `istio-ingressgateway`, Gateway API's `<gateway>-istio`)."""
    pattern = re.compile(rules.ingress)
    for node in nodes_of(graph):
        node.ingress = node.kind == WORKLOAD and bool(
            pattern.search(node.name) or pattern.search(node.app or "")
        )


def _per_edge(
    frame: pd.DataFrame, column: str, value: str = "rps"
) -> dict[tuple[str, str], dict[str, float]]:
    """{edge: {label value: rate}} for the rows with traffic."""
    busy = frame[frame[value] > 0]
    sums = busy.groupby([*EDGE, column], sort=True)[value].sum().reset_index()
    result: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    # Plain lists: iterating a MultiIndex (or a string column) goes element by element through pandas.
    for source, target, label, rate in zip(*(sums[name].tolist() for name in (*EDGE, column, value))):
        result[source, target][str(label)] = float(rate)
    return result


def _named(frame: pd.DataFrame) -> pd.DataFrame:
    """Series that name their destination service: one without it (a proxy
    that could not tell) never becomes a node with an empty name."""
    return frame[frame["destination_service_name"].fillna("") != ""]


def outcomes(rows: pd.DataFrame) -> pd.DataFrame:
    """Each series' outcome, Kiali's way: HTTP requests by their HTTP code,
    gRPC requests by their gRPC status (the HTTP code when the status is
    missing), both by "no response" (code 0)."""
    code = rows["response_code"].fillna("")
    grpc = rows["request_protocol"].fillna("").str.lower() == "grpc"
    status = rows["grpc_response_status"].fillna("")
    grpc_code = status.where(status != "", code)
    no_response = code.isin(["0", "-", ""])
    table = pd.DataFrame(
        {
            "http": ~grpc,
            "http_5xx": ~grpc & code.str.match(r"^5\d\d$"),
            "http_4xx": ~grpc & code.str.match(r"^4\d\d$"),
            "http_no_response": ~grpc & no_response,
            "grpc": grpc,
            "grpc_error": grpc & ~no_response & grpc_code.isin([str(s) for s in range(1, 17)]),
            "grpc_no_response": grpc & no_response,
        }
    )
    table["error"] = table["http_5xx"] | table["grpc_error"] | no_response
    return table


def traffic(graph: nx.DiGraph, telemetry: MeshTelemetry, rules: GraphRules) -> None:
    """Nodes and request edges: rps, error ratio, codes, flags, protocol."""
    requests, rows = frame_rows(graph, telemetry, "requests")
    if rows is None:
        return
    _add_nodes(graph, requests, rows)
    protocol = rows["request_protocol"].fillna("").str.lower()
    weighted = (
        outcomes(rows)
        .mul(rows["rps"], axis=0)
        .assign(rps=rows["rps"], source=rows["source"], target=rows["target"])
    )
    totals = weighted.groupby(EDGE, sort=False).sum().reset_index()
    codes = _per_edge(rows, "response_code")
    flagged = rows[~rows["response_flags"].fillna("-").isin(["-", ""])]
    flags = _per_edge(
        flagged.assign(response_flags=flagged["response_flags"].str.split(","))
        .explode("response_flags")
        .query("response_flags != '-' and response_flags != ''"),
        "response_flags",
    )
    # The busiest protocol of each edge; ties go to the first by name, as idxmax would.
    protocols = (
        rows.assign(protocol=protocol.replace("", "http"))
        .groupby([*EDGE, "protocol"])["rps"]
        .sum()
        .reset_index()
        .sort_values("rps", ascending=False, kind="stable")
        .drop_duplicates(EDGE)
    )
    main_protocol = dict(
        zip(zip(protocols["source"].tolist(), protocols["target"].tolist()), protocols["protocol"].tolist())
    )
    crossing = _crossing(graph, rows)
    # itertuples, not iterrows: a Series per edge costs a second at a thousand workloads.
    for total in totals.itertuples(index=False):
        key = (total.source, total.target)
        edge = add_edge(graph, *key)
        edge.rps = float(total.rps)
        edge.error_ratio = float(total.error / total.rps) if total.rps > 0 else None
        edge.codes = codes.get(key, {})
        edge.flags = flags.get(key, {})
        edge.protocol = main_protocol[key]
        edge.cross_cluster = key in crossing
        graph.edges[key]["counts"] = RequestCounts(
            http=float(total.http),
            http_5xx=float(total.http_5xx),
            http_4xx=float(total.http_4xx),
            http_no_response=float(total.http_no_response),
            grpc=float(total.grpc),
            grpc_error=float(total.grpc_error),
            grpc_no_response=float(total.grpc_no_response),
        )
        graph.edges[key]["errors"] = float(total.error)


def tcp(graph: nx.DiGraph, telemetry: MeshTelemetry, rules: GraphRules) -> None:
    """TCP edges and bytes per second (sent plus received)."""
    frame, rows = frame_rows(graph, telemetry, "tcp")
    if rows is None:
        return
    _add_nodes(graph, frame, rows)
    sums = rows.groupby(EDGE)["bytes_per_s"].sum()
    crossing = _crossing(graph, rows)
    for (source, target), rate in sums.items():
        known = graph.has_edge(source, target)
        edge = add_edge(graph, source, target)
        edge.bytes_per_s = float(rate)
        edge.cross_cluster = edge.cross_cluster or (source, target) in crossing
        if not known:
            edge.protocol = "tcp"


def _crossing(graph: nx.DiGraph, rows: pd.DataFrame) -> set[tuple[str, str]]:
    """Edges some of whose rows went from a workload in one cluster to one in
    another (both clusters known); none while the mesh is one cluster."""
    if not clustered(graph):
        return set()
    sources, destinations = rows["source_cluster"], rows["destination_cluster"]
    known = sources.map(known_cluster).astype(bool) & destinations.map(known_cluster).astype(bool)
    across = rows.loc[known & (sources != destinations), EDGE].drop_duplicates()
    return set(zip(across["source"].tolist(), across["target"].tolist()))


def service_clusters(graph: nx.DiGraph, telemetry: MeshTelemetry, rules: GraphRules) -> None:
    """A service's cluster: the one cluster all the workloads behind it run
    in (none when they run in several: Istio balances over them all)."""
    for node_id, data in graph.nodes(data=True):
        node = data["node"]
        if node.kind != SERVICE:
            continue
        behind = {
            graph.nodes[target]["node"].cluster
            for target in graph.successors(node_id)
            if graph.nodes[target]["node"].kind == WORKLOAD
        }
        if behind:
            node.cluster = behind.pop() if len(behind) == 1 else None


@dataclasses.dataclass(frozen=True)
class BucketGrid:
    """Histograms as arrays: one row per histogram, one column per bound
    (ascending, numbers): the bucket's count, and whether the histogram has
    that bound at all."""

    bounds: np.ndarray
    counts: np.ndarray
    present: np.ndarray

    def summed(self, groups: np.ndarray) -> BucketGrid:
        """The rows added up by group (0..n-1): a group has every bound one of its rows has."""
        counts = pd.DataFrame(self.counts).groupby(groups, sort=True).sum().to_numpy()
        present = pd.DataFrame(self.present).groupby(groups, sort=True).any().to_numpy()
        return BucketGrid(self.bounds, counts, present)

    def quantiles(self) -> list[tuple[float | None, ...]]:
        """p50/p95/p99 of each row, exactly as histogram_quantile: whole rows
        at once, and a row lacking some bounds on its own (a mesh of mixed
        bucket layouts)."""
        values = quantile_grid(QUANTILES, self.bounds, self.counts)
        whole = self.present.all(axis=1)
        result: list[tuple[float | None, ...]] = []
        for row, (figures, complete) in enumerate(zip(values.tolist(), whole.tolist())):
            if complete:
                result.append(tuple(None if math.isnan(value) else value for value in figures))
                continue
            have = self.present[row]
            pairs = list(zip(self.bounds[have].tolist(), self.counts[row, have].tolist()))
            result.append(tuple(histogram_quantiles(QUANTILES, pairs)))
        return result


def bucket_series(frame: pd.DataFrame) -> tuple[pd.DataFrame, BucketGrid]:
    """The latency frame's histograms: one row per series (its labels, row
    `i` the grid's row `i`) and their buckets as a grid. A bound is its `le`
    read as a number; a bucket whose `le` is none is left out."""
    bound = bucket_bounds(frame["le"])
    usable = ~np.isnan(bound)
    frame, bound = frame[usable], bound[usable]
    keys = [column for column in frame.columns if column not in ("le", "rate")]
    series = frame.groupby(keys, sort=False, dropna=False).ngroup().to_numpy()
    bounds = np.unique(bound)
    column = np.searchsorted(bounds, bound)
    counts = np.zeros((series.max() + 1 if len(series) else 0, len(bounds)))
    np.add.at(counts, (series, column), frame["rate"].to_numpy(dtype="float64"))
    present = np.zeros(counts.shape, dtype=bool)
    present[series, column] = True
    _, first_row = np.unique(series, return_index=True)
    labels = frame.iloc[first_row][keys].reset_index(drop=True)
    return labels, BucketGrid(bounds, counts, present)


def latency(graph: nx.DiGraph, telemetry: MeshTelemetry, rules: GraphRules) -> None:
    """p50/p95/p99 from the duration histogram of the edge's reporter; a
    node's from all the requests into it (its inbound edges' buckets summed).
    Each series' buckets are one row of a grid, so the edges are found once
    per series rather than once per bucket."""
    frame = _named(telemetry.latency)
    if frame.empty:
        return
    labels, grid = bucket_series(frame)
    rows = edge_rows(labels.assign(histogram=np.arange(len(labels))), graph)
    pairs = list(zip(rows["source"].tolist(), rows["target"].tolist()))
    drawn = np.array([graph.has_edge(source, target) for source, target in pairs], dtype=bool)
    rows = rows[drawn]
    if rows.empty:
        return
    edge_of = rows.groupby(EDGE, sort=False).ngroup().to_numpy()
    edges = rows[~rows.duplicated(EDGE)]  # in the order of their group numbers
    taken = rows["histogram"].to_numpy()
    per_edge = BucketGrid(grid.bounds, grid.counts[taken], grid.present[taken]).summed(edge_of)
    for source, target, figures in zip(
        edges["source"].tolist(), edges["target"].tolist(), per_edge.quantiles()
    ):
        edge = graph.edges[source, target]["edge"]
        edge.p50_ms, edge.p95_ms, edge.p99_ms = figures
    targets, node_of = np.unique(edges["target"].to_numpy(dtype=object), return_inverse=True)
    for node_id, figures in zip(targets.tolist(), per_edge.summed(node_of).quantiles()):
        node = graph.nodes[node_id]["node"]
        node.p50_ms, node.p95_ms, node.p99_ms = figures


def share(graph: nx.DiGraph, telemetry: MeshTelemetry, rules: GraphRules) -> None:
    """Each service -> workload edge's fraction of the service's delivered
    traffic (requests, or bytes for TCP-only services): the canary split.
    A service's calls to other services (the `service` graph) have none."""
    for node_id, data in graph.nodes(data=True):
        if data["node"].kind != SERVICE:
            continue
        out = [
            graph.edges[node_id, target]["edge"]
            for target in graph.successors(node_id)
            if graph.nodes[target]["node"].kind == WORKLOAD
        ]
        for measure in ("rps", "bytes_per_s"):
            total = sum(getattr(edge, measure) or 0.0 for edge in out)
            if total > 0:
                for edge in out:
                    edge.share = (getattr(edge, measure) or 0.0) / total
                break


def health(graph: nx.DiGraph, telemetry: MeshTelemetry, rules: GraphRules) -> None:
    """Edge health from its request outcomes. A node's health comes from all
    the requests into it, summed (Kiali's rule, not its worst edge; `none`
    when nothing calls it); its `outbound_health` is the worst of its
    outbound edges, so a caller of something broken shows it."""
    for _, _, data in graph.edges(data=True):
        edge, counts = data["edge"], data.get("counts")
        if counts is not None and counts.total > 0:
            edge.health = request_health(counts, rules.health)
        else:
            edge.health = HEALTHY if (edge.bytes_per_s or 0) > 0 else IDLE
    for node_id, data in graph.nodes(data=True):
        node = data["node"]
        inbound = [graph.edges[source, node_id] for source in graph.predecessors(node_id)]
        counts = sum((d["counts"] for d in inbound if "counts" in d), RequestCounts())
        if not inbound:
            node.health = NO_HEALTH
        elif counts.total > 0:
            node.health = request_health(counts, rules.health)
        else:
            node.health = worst(d["edge"].health for d in inbound)
        node.outbound_health = worst(
            graph.edges[node_id, target]["edge"].health for target in graph.successors(node_id)
        )


def node_traffic(graph: nx.DiGraph, telemetry: MeshTelemetry, rules: GraphRules) -> None:
    """Requests per second into and out of every node, and the error ratio
    of those into it."""
    for node_id, data in graph.nodes(data=True):
        node = data["node"]
        inbound = [graph.edges[source, node_id] for source in graph.predecessors(node_id)]
        node.rps_in = sum(d["edge"].rps or 0.0 for d in inbound)
        node.rps_out = sum(graph.edges[node_id, t]["edge"].rps or 0.0 for t in graph.successors(node_id))
        errors = sum(d.get("errors", 0.0) for d in inbound)
        node.error_ratio = errors / node.rps_in if node.rps_in > 0 else None


def _cluster_states(stats: pd.DataFrame) -> dict[tuple[str, ...], list[ClusterState]]:
    """Envoy cluster stats per (caller ns, app, version, service, service ns)."""
    states: dict[tuple[str, ...], list[ClusterState]] = defaultdict(list)
    if stats.empty:
        return states
    keys = [
        "source_workload_namespace",
        "source_canonical_service",
        "source_canonical_revision",
        "destination_service_name",
        "destination_service_namespace",
    ]
    table = stats.pivot_table(index=[*keys, "subset"], columns="stat", values="value", aggfunc="sum")
    for index, row in table.iterrows():

        def value(stat: str, row: pd.Series = row) -> float | None:
            return float(row[stat]) if stat in row and pd.notna(row[stat]) else None

        overflow = sum(value(stat) or 0.0 for stat in OVERFLOW_STATS)
        states[tuple(index[:-1])].append(
            ClusterState(
                subset=str(index[-1]),
                membership_total=value("membership_total"),
                membership_healthy=value("membership_healthy"),
                ejections_active=value("ejections_active"),
                overflow_increase=overflow,
            )
        )
    return states


def circuit(graph: nx.DiGraph, telemetry: MeshTelemetry, rules: GraphRules) -> None:
    """Breaker state of every caller -> service edge (see dashboard.mesh.circuit);
    in other graph types, carried over from the versioned graph's."""
    projection = projection_of(graph)
    if projection.circuits is not None:
        _carried_circuits(graph, telemetry, projection.circuits)
        return
    clusters = _cluster_states(telemetry.cluster_stats)
    for source, target, data in graph.edges(data=True):
        caller, service = graph.nodes[source]["node"], graph.nodes[target]["node"]
        if service.kind != SERVICE or caller.kind == SERVICE:
            continue
        edge = data["edge"]
        key = (caller.namespace, caller.app, caller.version or UNKNOWN, service.name, service.namespace)
        edge.circuit = circuit_state(
            EdgeRejections(rps=edge.rps or 0.0, flags=edge.flags, clusters=tuple(clusters.get(key, ()))),
            rules.circuit,
        )


def _carried_circuits(
    graph: nx.DiGraph, telemetry: MeshTelemetry, circuits: Mapping[tuple[str, str], str]
) -> None:
    """An edge carrying callers' calls to a service shows the worst circuit
    of those callers' versioned edges to it (the breakers are theirs)."""
    carried: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    for name in ("requests", "tcp"):
        _, rows = frame_rows(graph, telemetry, name)
        if rows is None:
            continue
        calls = rows.loc[rows["call"], [*EDGE, "caller", "service"]].dropna().drop_duplicates()
        for source, target, caller, service in calls.itertuples(index=False):
            carried[source, target].add((caller, service))
    for key, hops_carried in carried.items():
        if graph.has_edge(*key):
            graph.edges[key]["edge"].circuit = worst_circuit(
                circuits.get(pair, CLOSED) for pair in hops_carried
            )


def security(graph: nx.DiGraph, telemetry: MeshTelemetry, rules: GraphRules) -> None:
    """Whether each edge's delivered requests were mutual TLS, from the
    destination's view of them (dashboard.mesh.security)."""
    frame = _named(telemetry.security)
    if frame.empty:
        return
    for key, policies in _per_edge(edge_rows(frame, graph), SECURITY_POLICY).items():
        if graph.has_edge(*key):
            graph.edges[key]["edge"].mtls = mtls_state(policies)


PIPELINE: list[Appender] = [
    traffic,
    tcp,
    service_clusters,
    ingress,
    latency,
    share,
    health,
    node_traffic,
    circuit,
    security,
]

# The appenders that read nothing but the graph (a node's facts from its
# edges): what a graph merged of two assemblies figures again.
GRAPH_FACTS: list[Appender] = [service_clusters, share, health, node_traffic]
