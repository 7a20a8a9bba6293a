"""The topology graph as Cytoscape draws it: layered positions that stay
put across refreshes, node and edge labels, elements and the stylesheet.

Pure: the snapshot document (dashboard.mesh.snapshot) in, Cytoscape elements
out; state such as node positions arrives as arguments. Health and circuit
live in element `data` and are styled with data selectors, because Cytoscape
drops `classes` whenever the browser rewrites its elements.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from itertools import groupby
from typing import Any

import networkx as nx

from dashboard.format import byte_rate, percent, rate
from dashboard.mesh.circuit import NO_HEALTHY_UPSTREAM, SHEDDING_FLAGS
from dashboard.mesh.graph import NAMESPACE_KIND
from dashboard.mesh.graph_types import namespace_node_id
from dashboard.mesh.trace_path import edges_on_trace, jaeger_service
from layouts.text import visible

Position = tuple[float, float]

HEALTH_COLOURS = {
    "healthy": "#2ecc71",
    "degraded": "#f39c12",
    "failing": "#e74c3c",
    "idle": "#4a6278",
    "none": "#95a5a6",
}
# A breaker, on an open circuit's label: it reads without colour.
BREAKER_GLYPH = "⊘"
# A node's fill by kind; an ingress gateway's and a retired version's; and
# its fill when its own calls degrade or fail.
NODE_FILLS = {
    "workload": "#2c3e50",
    "service": "#1f2d3a",
    "unknown": "#555555",
    "waypoint": "#4a2f63",
    "namespace": "#22313f",
}
INGRESS_FILL, RETIRED_FILL = "#2980b9", "#3a3a3a"
OUTBOUND_FILLS = {"degraded": "#6b4a12", "failing": "#7a1e1e"}
# The mark at the caller's end of an edge: all its requests mTLS, or some plain text.
MTLS_COLOUR, PLAIN_TEXT_COLOUR = "#ecf0f1", "#f1c40f"
# Grey means an open circuit; light enough to stand out on the dark ground.
CIRCUIT_OPEN_COLOUR = "#d0d3d4"
TRIPPING_COLOUR = "#ff8c00"
TRACE_COLOUR = "#3498db"
TRACE_ERROR_COLOUR = "#ff2d55"
FOUND_COLOUR = "#f1c40f"
SELECTED_COLOUR = "#ffffff"
BOX_COLOUR = "#5d6d7e"
LAYER_GAP, COLUMN_GAP, ROW_GAP = 250.0, 190.0, 110.0
# Fields that only mean something when true: left out of element data when false.
MARKS = ("cross_cluster",)
# Height over width of the graph a wide (16:9) screen shows whole, with room for the labels.
SCREEN_ASPECT = 0.45


# ---- positions: layered left to right, stable across refreshes ----


def _layers(nodes: list[dict], edges: list[dict]) -> dict[str, int]:
    """Layer (column) of every node, reading left to right along the calls.

    Longest path from the callers nobody calls, over the graph with each
    loop collapsed into one step; a caller nobody calls then moves right to
    sit just before the first thing it calls (an idle reviews-v3 sits beside
    reviews-v1, not at the far left)."""
    graph = nx.DiGraph()
    graph.add_nodes_from(node["id"] for node in nodes)
    graph.add_edges_from((e["source"], e["target"]) for e in edges if e["source"] != e["target"])
    condensed = nx.condensation(graph)
    members = condensed.graph["mapping"]
    depth: dict[int, int] = {}
    for component in nx.topological_sort(condensed):
        depth[component] = max((depth[p] + 1 for p in condensed.predecessors(component)), default=0)
    for component in condensed.nodes:
        following = [depth[s] for s in condensed.successors(component)]
        if condensed.in_degree(component) == 0 and following:
            depth[component] = min(following) - 1
    return {node_id: depth[members[node_id]] for node_id in graph.nodes}


def row_gap(width: float, rows: int) -> float:
    """The first layout's row spacing: rows spread until the graph is about as
    tall as a wide screen allows for its width (fitting it is bound by its
    width then, so the room is free and labels get it), never closer than
    ROW_GAP nor wider than 2.5 times it."""
    if rows < 2:
        return ROW_GAP
    return min(2.5 * ROW_GAP, max(ROW_GAP, SCREEN_ASPECT * width / (rows - 1)))


def _spacing(positions: Mapping[str, Position]) -> float:
    """The row spacing a layout was made with, read back off its columns."""
    columns: dict[float, list[float]] = defaultdict(list)
    for x, y in positions.values():
        columns[x].append(y)
    gaps = [b - a for ys in columns.values() for a, b in zip(sorted(ys), sorted(ys)[1:]) if b > a]
    return min(gaps, default=ROW_GAP)


def place(nodes: list[dict], edges: list[dict], previous: Mapping[str, Position]) -> dict[str, Position]:
    """Positions for every node, left to right by layer, each namespace in a
    band of rows of its own (so its box holds only its nodes).

    A node placed before keeps its place, and a new node goes below its
    namespace's last node in its layer's column when that spot is free, else
    to the bottom of the column (at the layout's row spacing), so a refresh
    never moves what the operator already knows. On the first layout a layer
    taller than about 1.5 * sqrt(nodes) rows wraps into several columns, so a
    big mesh stays readable when fitted to the screen, and rows spread to use
    a wide screen's height. A namespace folded before and open now is laid
    out where its node stood (`expand_in_place`)."""
    previous = _opened(nodes, edges, previous)
    positions = {node["id"]: tuple(previous[node["id"]]) for node in nodes if node["id"] in previous}
    new = [node for node in nodes if node["id"] not in positions]
    if not new:
        return positions
    layers = _layers(nodes, edges)
    clustered = len(spanned_clusters(nodes)) > 1
    bands = {node["id"]: band(node, clustered) for node in nodes}
    new.sort(key=lambda n: (layers[n["id"]], bands[n["id"]], n["kind"] != "service", n["name"]))
    if not positions:
        return _first_layout(new, layers, bands)
    return {**positions, **_added(new, layers, positions, bands)}


def _first_layout(
    nodes: list[dict], layers: Mapping[str, int], bands: Mapping[str, tuple[str, str]]
) -> dict[str, Position]:
    """Columns by layer; rows in one band per namespace (of each cluster,
    the clusters' bands one after another), a free row between bands and
    two between clusters. A tall layer wraps into several columns, as many
    as make the graph fill a wide screen best when fitted to it."""
    most = max(8, math.ceil(1.5 * math.sqrt(len(nodes))))
    wraps = sorted({most, *(max(2, most // 2**k) for k in range(1, 5))}, reverse=True)
    placed, width, rows = max((_banded(nodes, layers, bands, wrap) for wrap in wraps), key=_fitted_scale)
    gap = row_gap(width, rows)
    return {node_id: (column, row * gap) for node_id, column, row in placed}


def _fitted_scale(banded: tuple[list, float, int]) -> float:
    """How large a banded layout shows when fitted to a wide screen (an
    outer layer's width of margin on either side, ROW_GAP rows)."""
    _, width, rows = banded
    return min(1 / (width + LAYER_GAP), SCREEN_ASPECT / (rows * ROW_GAP))


def _banded(
    nodes: list[dict], layers: Mapping[str, int], bands: Mapping[str, tuple[str, str]], wrap: int
) -> tuple[list[tuple[str, float, int]], float, int]:
    """(node, x, row) with a layer's band wrapping after `wrap` rows; the
    layout's width and its number of rows."""
    groups = {
        key: list(members) for key, members in groupby(nodes, key=lambda n: (layers[n["id"]], bands[n["id"]]))
    }
    height: dict[tuple[str, str], int] = defaultdict(int)
    for (_, group), members in groups.items():
        height[group] = max(height[group], min(wrap, len(members)))
    top, row, cluster = {}, 0, None
    for group in sorted(height):
        # A cluster's box frames its namespaces' boxes: one more free row around it.
        row += cluster is not None and group[0] != cluster
        top[group], row, cluster = row, row + height[group] + 1, group[0]
    x, placed = 0.0, []
    for _, layer_groups in groupby(groups.items(), key=lambda item: item[0][0]):
        columns = 1
        for (_, group), members in layer_groups:
            placed += [
                (node["id"], x + (index // wrap) * COLUMN_GAP, top[group] + index % wrap)
                for index, node in enumerate(members)
            ]
            columns = max(columns, math.ceil(len(members) / wrap))
        x += (columns - 1) * COLUMN_GAP + LAYER_GAP
    return placed, x - LAYER_GAP, max(row for _, _, row in placed) + 1


def _added(
    nodes: list[dict],
    layers: Mapping[str, int],
    positions: Mapping[str, Position],
    bands: Mapping[str, tuple[str, str]],
) -> dict[str, Position]:
    """Places for nodes new since the last layout, around the ones already placed."""
    gap = _spacing(positions)
    column_of_layer: dict[int, float] = {}
    for node_id, (x, _) in positions.items():
        layer = layers.get(node_id)
        if layer is not None:
            column_of_layer[layer] = max(column_of_layer.get(layer, x), x)
    taken = {(x, y) for x, y in positions.values()}
    lowest: dict[float, float] = defaultdict(lambda: -gap)
    lowest_of: dict[tuple[float, tuple[str, str]], float] = {}
    for node_id, (x, y) in positions.items():
        lowest[x] = max(lowest[x], y)
        key = (x, bands.get(node_id, ("", "")))
        lowest_of[key] = max(lowest_of.get(key, y), y)
    rightmost = max(x for x, _ in positions.values())
    added: dict[str, Position] = {}
    for node in nodes:
        layer = layers[node["id"]]
        if layer not in column_of_layer:
            left = [x for known, x in column_of_layer.items() if known < layer]
            column_of_layer[layer] = (max(left) + LAYER_GAP) if left else rightmost + LAYER_GAP
        x = column_of_layer[layer]
        own = (x, bands[node["id"]])
        below_its_own = (x, lowest_of[own] + gap) if own in lowest_of else None
        if below_its_own and below_its_own not in taken:
            spot = below_its_own
        else:
            spot = (x, lowest[x] + gap)
        taken.add(spot)
        lowest[x] = max(lowest[x], spot[1])
        lowest_of[own] = spot[1]
        added[node["id"]] = spot
    return added


def expand_in_place(
    positions: Mapping[str, Position], folded: str, nodes: list[dict], edges: list[dict]
) -> dict[str, Position]:
    """Positions after a folded namespace (`folded`, a node placed before)
    opens into `nodes`: they are laid out where it stood, and what lay right
    of it or below it in its column moves over by their width or height, so
    nothing else changes order."""
    if folded not in positions or not nodes:
        return dict(positions)
    layers = _layers(nodes, [e for e in edges if e["source"] in _ids(nodes) and e["target"] in _ids(nodes)])
    clustered = len(spanned_clusters(nodes)) > 1
    bands = {node["id"]: band(node, clustered) for node in nodes}
    nodes = sorted(nodes, key=lambda n: (layers[n["id"]], bands[n["id"]], n["kind"] != "service", n["name"]))
    inside = _first_layout(nodes, layers, bands)
    width = max(x for x, _ in inside.values()) - min(x for x, _ in inside.values())
    height = max(y for _, y in inside.values()) - min(y for _, y in inside.values())
    x0, y0 = positions[folded]
    moved: dict[str, Position] = {}
    for node_id, (x, y) in positions.items():
        if node_id == folded:
            continue
        moved[node_id] = (
            x + width if x > x0 else x,
            y + height if x == x0 and y > y0 else y,
        )
    return {**moved, **{node_id: (x0 + x, y0 + y) for node_id, (x, y) in inside.items()}}


def _opened(nodes: list[dict], edges: list[dict], previous: Mapping[str, Position]) -> Mapping[str, Position]:
    """`previous` with each namespace whose folded node it placed, and whose
    nodes are new now, opened where that node stood."""
    present = _ids(nodes)
    new = [node for node in nodes if node["id"] not in previous]
    for namespace in sorted({node["namespace"] for node in new}):
        folded = namespace_node_id(namespace)
        if folded in previous and folded not in present:
            inside = [node for node in new if node["namespace"] == namespace]
            previous = expand_in_place(previous, folded, inside, edges)
    return previous


def _ids(nodes: list[dict]) -> set[str]:
    return {node["id"] for node in nodes}


# ---- elements ----


def rejected_ratio(edge: Mapping[str, Any], flags: Iterable[str]) -> float:
    """Share of the edge's requests carrying any of the response flags."""
    if not edge.get("rps"):
        return 0.0
    return sum(edge["flags"].get(flag, 0.0) for flag in flags) / edge["rps"]


def edge_label(edge: Mapping[str, Any]) -> str:
    """What a wall screen shows on an edge: traffic, errors, and breakers."""
    if edge["protocol"] == "tcp" and edge.get("rps") is None:
        text = byte_rate(edge.get("bytes_per_s"))
    else:
        text = rate(edge.get("rps"))
        if edge.get("error_ratio"):
            text += f" · {percent(edge['error_ratio'], None)} err"
    if edge["circuit"] == "open":
        shed = rejected_ratio(edge, SHEDDING_FLAGS)
        return (
            f"{BREAKER_GLYPH} OPEN · {rate(edge.get('rps'))} · "
            f"UH {percent(rejected_ratio(edge, [NO_HEALTHY_UPSTREAM]), None)}"
            + (f" · UO {percent(shed, None)}" if shed else "")
        )
    if edge["circuit"] == "tripping":
        shed = rejected_ratio(edge, SHEDDING_FLAGS)
        # Tripping without UO in the window: Envoy's overflow counters rose.
        return f"{text} · shed UO {percent(shed, None)}" if shed else f"{text} · breaker overflowing"
    if edge.get("share") is not None and edge["share"] < 0.999:
        text += f" · {edge['share'] * 100:.0f} %"
    return text


def short_edge_label(edge: Mapping[str, Any]) -> str:
    """What an edge says where its full label has no room: the one fact
    that matters most there."""
    if edge["circuit"] == "open":
        return f"{BREAKER_GLYPH} OPEN"
    if edge["circuit"] == "tripping":
        shed = rejected_ratio(edge, SHEDDING_FLAGS)
        return f"shed UO {percent(shed, None)}" if shed else "overflowing"
    if edge.get("error_ratio"):
        return f"{percent(edge['error_ratio'], None)} err"
    if edge["protocol"] == "tcp" and edge.get("rps") is None:
        return byte_rate(edge.get("bytes_per_s"))
    return rate(edge.get("rps"))


def _name_parts(node: Mapping[str, Any]) -> tuple[str, str]:
    """A node's name as what may be cut and what may not (its version, retired)."""
    # Istio's canonical revision defaults to "latest": not worth a word on screen.
    if node["kind"] == "workload" and node.get("version") and node["version"] != "latest":
        head, tail = node["app"], f" {node['version']}"
    else:
        head, tail = node["name"], ""
    return head, tail + (" (retired)" if node.get("retired") else "")


def node_label(node: Mapping[str, Any]) -> str:
    """What a node says on screen (label values made visible: layouts.text)."""
    head, tail = _name_parts(node)
    return visible(head + tail)


# How much of a name the shorter forms keep, for a crowded graph.
SHORT_NAME_LENGTHS = (16, 10, 6, 3)


def short_node_labels(node: Mapping[str, Any]) -> list[str]:
    """Shorter forms of the node's name, longest first: the name cut in its
    middle, so that names told apart by their ends stay apart (team-001 and
    team-002, svc-0041 and svc-0042: a big mesh's names), its version kept
    (two versions of one app must stay apart)."""
    head, tail = _name_parts(node)
    return [
        visible(f"{head[: (n + 1) // 2]}…{head[len(head) - n // 2 :]}{tail}")
        for n in SHORT_NAME_LENGTHS
        if len(head) > n + 1
    ]


def spanned_clusters(nodes: Iterable[Mapping[str, Any]]) -> set[str]:
    """The clusters the drawn nodes run in (a folded namespace runs in none)."""
    return {node.get("cluster") for node in nodes if node["kind"] != NAMESPACE_KIND} - {None}


def band(node: Mapping[str, Any], clustered: bool) -> tuple[str, str]:
    """What a node is grouped by, on screen and in the layout's rows: its
    (cluster, namespace) when the mesh spans several clusters, else its
    namespace alone. A node of no one cluster (a service whose workloads
    run in several) groups before the clusters'. The folded namespaces of
    an overview are one group, before the open ones: each its own band
    would stack forty namespaces in one column too tall to fit the screen."""
    return ("", "") if node["kind"] == NAMESPACE_KIND else _home(node, clustered)


def _home(node: Mapping[str, Any], clustered: bool) -> tuple[str, str]:
    return ((node.get("cluster") or "") if clustered else "", node["namespace"])


def box_id(node: Mapping[str, Any], clustered: bool) -> str:
    """The namespace box a node sits in (in its cluster's, when the mesh
    spans several); `box:` keeps its id apart from a folded namespace's node."""
    cluster, namespace = _home(node, clustered)
    return f"box:namespace:{cluster}:{namespace}" if cluster else f"box:namespace:{namespace}"


def boxes(nodes: Sequence[Mapping[str, Any]]) -> list[dict]:
    """Compound nodes: a box per namespace, inside a box per cluster when the
    mesh spans more than one. Cytoscape sizes them around their nodes."""
    nodes = [node for node in nodes if node["kind"] != NAMESPACE_KIND]
    clustered = len(spanned_clusters(nodes)) > 1
    result: dict[str, dict] = {}
    for node in nodes:
        data = {"id": box_id(node, clustered), "label": node["namespace"], "box": "namespace"}
        if clustered and node.get("cluster"):
            data["parent"] = f"box:cluster:{node['cluster']}"
            cluster = {"id": data["parent"], "label": f"cluster {node['cluster']}", "box": "cluster"}
            result.setdefault(cluster["id"], {"data": cluster, "selectable": False})
        result.setdefault(data["id"], {"data": data, "selectable": False})
    return list(result.values())


def elements(
    document: Mapping[str, Any],
    positions: Mapping[str, Position],
    show_idle: bool,
    circuit_since: Mapping[str, float] | None = None,
    trace_hops: Iterable[Sequence[Any]] = (),
    boxed: bool = False,
) -> list[dict]:
    """Cytoscape elements for a snapshot document, at the given positions;
    edges along `trace_hops` carry `on_trace` = "ok" or "error", elements a
    find matched `found`, and with `boxed` every node sits in its namespace's box."""
    circuit_since = circuit_since or {}
    on_trace = edges_on_trace(document, trace_hops)
    found = set(document.get("found") or ())
    services = {node["id"]: jaeger_service(node) for node in document["nodes"]}
    kinds = {node["id"]: node["kind"] for node in document["nodes"]}
    versions = {node["id"]: node.get("version") for node in document["nodes"]}
    edges = [e for e in document["edges"] if show_idle or e["health"] != "idle"]
    result: list[dict] = boxes(document["nodes"]) if boxed else []
    clustered = len(spanned_clusters(document["nodes"])) > 1
    labels = {node["id"]: node_label(node) for node in document["nodes"]}
    for node in document["nodes"]:
        x, y = positions[node["id"]]
        data = {
            **node,
            "label": labels[node["id"]],
            "short_labels": short_node_labels(node) or None,
            "traces_service": services[node["id"]],
            "traces_version": versions[node["id"]],
            "parent": box_id(node, clustered) if boxed and node["kind"] != NAMESPACE_KIND else None,
            # One cluster's name on every node tells the page nothing (and
            # weighs ~0.1 MB at 1000 workloads): only a mesh of several carries it.
            "cluster": node.get("cluster") if clustered else None,
            "found": node["id"] in found or None,
        }
        # Ids are built from label values: the browser gets them made visible too.
        data["id"] = visible(node["id"])
        result.append({"data": _compact(data), "position": {"x": round(x), "y": round(y)}})
    for edge in edges:
        # A caller's sidecar records its calls (and the ones it rejects): look there.
        spans_of = edge["source"] if kinds[edge["source"]] == "workload" else edge["target"]
        data = {
            **edge,
            "label": edge_label(edge),
            "short_label": short_edge_label(edge),
            "source_label": labels[edge["source"]],
            "target_label": labels[edge["target"]],
            "traces_service": services[spans_of],
            "traces_version": versions[spans_of],
        }
        data.update(id=visible(edge["id"]), source=visible(edge["source"]), target=visible(edge["target"]))
        if edge["id"] in on_trace:
            data["on_trace"] = on_trace[edge["id"]]
        if edge["id"] in found:
            data["found"] = True
        data = _compact(data)
        if edge["id"] in circuit_since:
            data["open_since"] = circuit_since[edge["id"]]
        result.append({"data": data})
    return result


def _compact(data: Mapping[str, Any]) -> dict[str, Any]:
    """Element data as the browser needs it: no nulls or empty maps (an edge
    without response flags has none), no marks that are off (MARKS), numbers to 4 significant digits (the
    page shows fewer), so a 1000-workload mesh stays a payload the browser
    takes in at once."""

    def short(value: Any) -> Any:
        if isinstance(value, float):
            return float(f"{value:.4g}")
        if isinstance(value, dict):
            return {key: short(item) for key, item in value.items()}
        return value

    return {
        key: short(value)
        for key, value in data.items()
        if value is not None and value != {} and not (key in MARKS and value is False)
    }


def stylesheet() -> list[dict]:
    """Data-selector styles: health colours, idle faint, open circuits grey."""
    styles: list[dict] = [
        # No node or edge label here: the page's declutter (assets/meshwatch.js)
        # writes each one where it fits, sized to the screen, and marks it
        # `mw-label` for the colours below. A namespace of 5,000 workloads opened
        # drew all its few hundred labels first, a tenth of a second, to keep
        # five; and styling its every element's label cost a tenth more.
        {
            "selector": "node",
            "style": {
                "background-color": NODE_FILLS["workload"],
                "border-width": 5,
                "border-color": "#95a5a6",
                "width": 46,
                "height": 46,
                "shape": "round-rectangle",
            },
        },
        {
            "selector": 'node[kind = "service"]',
            "style": {
                "shape": "diamond",
                "width": 56,
                "height": 56,
                "background-color": NODE_FILLS["service"],
            },
        },
        {
            "selector": 'node[kind = "unknown"]',
            "style": {
                "shape": "ellipse",
                "background-color": NODE_FILLS["unknown"],
                "border-style": "dashed",
            },
        },
        # Ambient mode's waypoint proxy: neither a version of an app nor a service.
        {
            "selector": 'node[kind = "waypoint"]',
            "style": {
                "shape": "hexagon",
                "width": 52,
                "height": 52,
                "background-color": NODE_FILLS["waypoint"],
            },
        },
        {"selector": "node[?ingress]", "style": {"shape": "round-tag", "background-color": INGRESS_FILL}},
        # A version the routing config no longer names: kept while callers still count it, marked gone.
        {
            "selector": "node[?retired]",
            "style": {"border-style": "dashed", "opacity": 0.5, "background-color": RETIRED_FILL},
        },
        {
            "selector": "edge",
            "style": {
                "curve-style": "bezier",
                "target-arrow-shape": "triangle",
                "arrow-scale": 1.6,
                "width": 4,
                "line-color": HEALTH_COLOURS["healthy"],
                "target-arrow-color": HEALTH_COLOURS["healthy"],
            },
        },
        # The labels the declutter shows; an open circuit's are its own (below).
        {
            "selector": "node.mw-label",
            "style": {"color": "#ecf0f1", "text-wrap": "ellipsis", "text-outline-color": "#111"},
        },
        {
            "selector": "edge.mw-label",
            "style": {
                "color": "#ecf0f1",
                "text-rotation": "autorotate",
                "text-outline-color": "#111",
                "text-background-color": "#101317",
                "text-background-opacity": 0.75,
            },
        },
        # White, not the trace path's blue: what is selected and what a trace took stay apart.
        {"selector": ":selected", "style": {"overlay-color": SELECTED_COLOUR, "overlay-opacity": 0.3}},
    ]
    for health, colour in HEALTH_COLOURS.items():
        styles.append({"selector": f'node[health = "{health}"]', "style": {"border-color": colour}})
        styles.append(
            {
                "selector": f'edge[health = "{health}"]',
                "style": {"line-color": colour, "target-arrow-color": colour},
            }
        )
    # The border is the health of the requests into a node; its fill turns
    # when its own calls fail, so a caller of something broken shows it.
    for health, fill in OUTBOUND_FILLS.items():
        styles.append(
            {"selector": f'node[outbound_health = "{health}"]', "style": {"background-color": fill}}
        )
    # Security at the caller's end: a filled square when every request was
    # mutual TLS, a hollow amber diamond when any went in plain text (`mtls`
    # false: defined and falsy; null is dropped from element data).
    styles += [
        {
            "selector": "edge[?mtls]",
            "style": {"source-arrow-shape": "square", "source-arrow-color": MTLS_COLOUR},
        },
        {
            "selector": "edge[mtls][!mtls]",
            "style": {
                "source-arrow-shape": "diamond",
                "source-arrow-fill": "hollow",
                "source-arrow-color": PLAIN_TEXT_COLOUR,
            },
        },
    ]
    # Traffic between clusters: the line doubled (a ghost beside it), whatever its health.
    styles.append(
        {
            "selector": "edge[?cross_cluster]",
            "style": {"ghost": "yes", "ghost-offset-x": 0, "ghost-offset-y": 7, "ghost-opacity": 0.5},
        }
    )
    styles += [
        {
            "selector": 'edge[health = "idle"]',
            "style": {"width": 1.5, "opacity": 0.35, "line-style": "dotted", "label": ""},
        },
        {
            "selector": 'edge[circuit = "tripping"]',
            "style": {
                "line-color": TRIPPING_COLOUR,
                "target-arrow-color": TRIPPING_COLOUR,
                "line-style": "dashed",
                "line-dash-pattern": [12, 6],
                "width": 6,
            },
        },
        {
            "selector": "edge[on_trace]",
            "style": {"underlay-color": TRACE_COLOUR, "underlay-opacity": 0.55, "underlay-padding": 9},
        },
        {"selector": 'edge[on_trace = "error"]', "style": {"underlay-color": TRACE_ERROR_COLOUR}},
        # A folded namespace of a big mesh: a wide block, opened by a click.
        {
            "selector": f'node[kind = "{NAMESPACE_KIND}"]',
            "style": {
                "shape": "round-rectangle",
                "width": 120,
                "height": 70,
                "background-color": NODE_FILLS["namespace"],
                "border-style": "double",
                "border-width": 7,
                "text-valign": "center",
                "text-halign": "center",
                "text-margin-y": 0,
            },
        },
        # The traffic inside a folded namespace: a loop on it.
        {
            "selector": "edge:loop",
            "style": {"loop-direction": "0deg", "loop-sweep": "-60deg", "control-point-step-size": 90},
        },
        # What a find matched: a bright halo, on nodes and edges alike.
        {
            "selector": "[?found]",
            "style": {"underlay-color": FOUND_COLOUR, "underlay-opacity": 0.7, "underlay-padding": 12},
        },
        # Namespace (and cluster) boxes: a faint frame with the name on top,
        # behind everything; they carry no health of their own.
        {
            "selector": "node[box]",
            "style": {
                "shape": "round-rectangle",
                "background-color": "#ffffff",
                "background-opacity": 0.03,
                "border-width": 2,
                "border-style": "dashed",
                "border-color": BOX_COLOUR,
                "label": "data(label)",
                "color": "#aab7b8",
                "text-outline-color": "#111",
                "text-valign": "top",
                "text-halign": "center",
                "text-margin-y": -4,
                "padding": 34,
                "text-max-width": 4000,
                "z-compound-depth": "bottom",
                "events": "no",
            },
        },
        {"selector": 'node[box = "cluster"]', "style": {"border-style": "solid", "border-color": "#8e44ad"}},
        {
            "selector": 'edge[circuit = "open"]',
            "style": {
                "line-color": CIRCUIT_OPEN_COLOUR,
                "target-arrow-color": CIRCUIT_OPEN_COLOUR,
                "line-style": "dashed",
                "line-dash-pattern": [18, 10],
                "width": 10,
                "mid-target-arrow-shape": "tee",
                "mid-target-arrow-color": "#ff3b30",
                "arrow-scale": 2.2,
                "color": "#ffffff",
                "text-background-color": "#3b0d0d",
                "text-background-opacity": 0.9,
                "z-index": 10,
            },
        },
    ]
    return styles
