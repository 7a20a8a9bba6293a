"""The snapshot document as Graphviz DOT (`meshwatch snapshot --format dot`),
drawn as the page draws it: left to right on the dark ground, node shapes
and fills by kind, borders by the health of the requests in, fills by the
health of a node's own calls; edges by health, idle dotted, a tripping
breaker orange dashed, an open circuit grey dashed with a breaker's tee; the
page's labels; mTLS as a box at the caller's end, plain text said in the label.
Elements listed in the document's `found` are drawn thicker.

Every id and label is a quoted DOT string with backslashes and quotes
escaped, so label text never becomes Graphviz markup or an escape sequence.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from layouts.topology.graph import (
    CIRCUIT_OPEN_COLOUR,
    HEALTH_COLOURS,
    INGRESS_FILL,
    NODE_FILLS,
    OUTBOUND_FILLS,
    RETIRED_FILL,
    TRIPPING_COLOUR,
    edge_label,
    node_label,
)

BACKGROUND, TEXT = "#101317", "#ecf0f1"
# The page's Cytoscape shapes in Graphviz's words.
SHAPES = {
    "workload": ("box", "rounded"),
    "service": ("diamond", ""),
    "unknown": ("ellipse", "dashed"),
    "waypoint": ("hexagon", ""),
}
INGRESS_SHAPE = "cds"


def quoted(text: Any) -> str:
    """A DOT double-quoted string whose text reads literally."""
    value = str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\r", "").replace("\n", "\\n")
    return f'"{value}"'


def _attributes(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={quoted(value)}" for key, value in values.items())


def node_attributes(node: Mapping[str, Any], found: bool) -> dict[str, Any]:
    shape, style = SHAPES.get(node["kind"], SHAPES["unknown"])
    fill = NODE_FILLS.get(node["kind"], NODE_FILLS["unknown"])
    if node.get("ingress"):
        shape, fill = INGRESS_SHAPE, INGRESS_FILL
    fill = OUTBOUND_FILLS.get(node.get("outbound_health"), fill)
    if node.get("retired"):
        style, fill = "dashed", RETIRED_FILL
    return {
        "label": node_label(node),
        "shape": shape,
        "style": ",".join(part for part in ("filled", style) if part),
        "fillcolor": fill,
        "color": HEALTH_COLOURS.get(node["health"], HEALTH_COLOURS["none"]),
        "penwidth": 6 if found else 3,
        "peripheries": 2 if found else 1,
    }


def edge_attributes(edge: Mapping[str, Any], found: bool) -> dict[str, Any]:
    colour = HEALTH_COLOURS.get(edge["health"], HEALTH_COLOURS["healthy"])
    label, style, width, head = edge_label(edge), "solid", 2.0, "normal"
    if edge["health"] == "idle":
        label, style, width = "", "dotted", 1.0
    if edge["circuit"] == "tripping":
        colour, style, width = TRIPPING_COLOUR, "dashed", 3.0
    if edge["circuit"] == "open":
        colour, style, width, head = CIRCUIT_OPEN_COLOUR, "dashed", 3.5, "teenormal"
    if edge.get("mtls") is False:
        label += " · plain text"
    if edge.get("cross_cluster"):
        label += " · across clusters"
    attributes = {
        "label": label,
        "color": colour,
        "fontcolor": TEXT,
        "style": style,
        "penwidth": width * 2 if found else width,
        "arrowhead": head,
    }
    if edge.get("mtls") is True:
        attributes.update(dir="both", arrowtail="box")
    return attributes


def dot_document(document: Mapping[str, Any]) -> str:
    """The whole graph as one DOT digraph, nodes then edges in the document's order."""
    found = set(document.get("found", ()))
    lines = [
        "digraph meshwatch {",
        f"  graph [{_attributes({'rankdir': 'LR', 'bgcolor': BACKGROUND, 'fontcolor': TEXT})}];",
        f"  node [{_attributes({'fontcolor': TEXT, 'fontname': 'DejaVu Sans'})}];",
        f"  edge [{_attributes({'fontname': 'DejaVu Sans'})}];",
    ]
    for node in document["nodes"]:
        lines.append(f"  {quoted(node['id'])} [{_attributes(node_attributes(node, node['id'] in found))}];")
    for edge in document["edges"]:
        attributes = _attributes(edge_attributes(edge, edge["id"] in found))
        lines.append(f"  {quoted(edge['source'])} -> {quoted(edge['target'])} [{attributes}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
