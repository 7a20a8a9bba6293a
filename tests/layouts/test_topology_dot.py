"""`snapshot --format dot`: the document as Graphviz DOT, read back by
Graphviz's own parser (`dot -Tjson`, Debian's graphviz)."""

from __future__ import annotations

import dataclasses
import html
import json
import re
import subprocess

from dashboard.app.config import resolve
from dashboard.mesh.build import build_graph
from dashboard.mesh.find import apply, parse
from dashboard.mesh.snapshot import snapshot_document
from layouts.topology.dot import dot_document
from layouts.topology.graph import (
    BREAKER_GLYPH,
    CIRCUIT_OPEN_COLOUR,
    HEALTH_COLOURS,
    OUTBOUND_FILLS,
    TRIPPING_COLOUR,
    edge_label,
    node_label,
)
from queries.telemetry import SECURITY_LABELS
from tests.support.frames import frame, labels
from tests.support.telemetry import bookinfo_ejection, with_calls

OPEN_EDGE = "workload:default:reviews-v2->service:default:ratings"
SHED = "workload:default:productpage-v1->service:default:details"


def document(find: str | None = None) -> dict:
    mesh = with_calls(
        bookinfo_ejection(),
        (labels("productpage-v1", "details", response_code="503", response_flags="UO"), 0.5),
        (labels("unknown", "productpage", "productpage-v1", reporter="destination"), 1.0),
    )
    security = frame(
        [
            (labels("productpage-v1", "reviews", "reviews-v1", reporter="destination"), 1.0),
            (labels("unknown", "productpage", "productpage-v1", reporter="destination"), 1.0),
        ],
        SECURITY_LABELS,
        "rps",
    )
    graph = build_graph(dataclasses.replace(mesh, security=security), resolve({}, {}))
    return apply(snapshot_document(graph), parse(find) if find else None, None)


def graphviz(text: str) -> tuple[dict[str, dict], dict[str, dict]]:
    """Nodes and edges (`source->target`) as Graphviz read them."""
    done = subprocess.run(
        ["dot", "-Tjson"], input=text, capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stderr == ""
    read = json.loads(done.stdout)
    nodes = {o["name"]: o for o in read["objects"]}
    names = {o["_gvid"]: o["name"] for o in read["objects"]}
    edges = {f"{names[e['tail']]}->{names[e['head']]}": e for e in read.get("edges", [])}
    return nodes, edges


def test_graphviz_reads_every_node_and_edge_with_the_pages_labels():
    drawn = document()
    nodes, edges = graphviz(dot_document(drawn))
    assert set(nodes) == {n["id"] for n in drawn["nodes"]}
    assert set(edges) == {e["id"] for e in drawn["edges"]}
    for node in drawn["nodes"]:
        assert nodes[node["id"]]["label"] == node_label(node)
    for edge in drawn["edges"]:
        if edge["health"] != "idle" and edge["mtls"] is not False:
            assert edges[edge["id"]]["label"] == edge_label(edge)


def test_health_colours_and_the_grey_open_circuit():
    _, edges = graphviz(dot_document(document()))
    opened = edges[OPEN_EDGE]
    assert (opened["color"], opened["style"], opened["arrowhead"]) == (
        CIRCUIT_OPEN_COLOUR,
        "dashed",
        "teenormal",
    )
    assert opened["label"].startswith(f"{BREAKER_GLYPH} OPEN")
    tripping = edges[SHED]
    assert (tripping["color"], tripping["style"]) == (TRIPPING_COLOUR, "dashed")
    idle = edges["workload:default:reviews-v3->service:default:ratings"]
    assert (idle["style"], idle["label"]) == ("dotted", "")
    healthy = edges["service:default:reviews->workload:default:reviews-v1"]
    assert (healthy["color"], healthy["style"]) == (HEALTH_COLOURS["healthy"], "solid")


def test_node_shapes_and_fills_as_on_the_page():
    nodes, _ = graphviz(dot_document(document()))
    assert nodes["service:default:ratings"]["shape"] == "diamond"
    assert nodes["service:default:ratings"]["color"] == HEALTH_COLOURS["failing"]
    workload = nodes["workload:default:reviews-v1"]
    assert (workload["shape"], workload["style"]) == ("box", "filled,rounded")
    assert nodes["unknown"]["shape"] == "ellipse" and "dashed" in nodes["unknown"]["style"]
    assert nodes["workload:istio-system:istio-ingressgateway"]["shape"] == "cds"
    # reviews-v2's own calls fail: filled red like on the page.
    assert nodes["workload:default:reviews-v2"]["fillcolor"] == OUTBOUND_FILLS["failing"]


def test_mtls_and_plain_text_marks():
    _, edges = graphviz(dot_document(document()))
    secured = edges["service:default:reviews->workload:default:reviews-v1"]
    assert (secured["dir"], secured["arrowtail"]) == ("both", "box")
    assert edges["unknown->service:default:productpage"]["label"].endswith("plain text")
    assert "arrowtail" not in edges[OPEN_EDGE]


def test_found_elements_are_drawn_thicker():
    nodes, edges = graphviz(dot_document(document("circuit = open or name = ratings")))
    _, plain = graphviz(dot_document(document()))
    assert float(edges[OPEN_EDGE]["penwidth"]) == 2 * float(plain[OPEN_EDGE]["penwidth"])
    assert edges[SHED]["penwidth"] == plain[SHED]["penwidth"]
    assert nodes["service:default:ratings"]["peripheries"] == "2"
    assert nodes["service:default:details"]["peripheries"] == "1"


def test_hostile_names_stay_literal_text():
    drawn = document()
    hostile = {**drawn["nodes"][0], "name": 'x" -> "y\\N<b>', "kind": "service"}
    drawn["nodes"][0] = hostile
    nodes, edges = graphviz(dot_document(drawn))
    assert set(nodes) == {n["id"] for n in drawn["nodes"]}
    assert set(edges) == {e["id"] for e in drawn["edges"]}
    svg = subprocess.run(
        ["dot", "-Tsvg"], input=dot_document(drawn), capture_output=True, text=True, check=True, timeout=60
    ).stdout
    texts = [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]
    # Drawn as written: no markup, and `\N` is not Graphviz's "node name" escape.
    assert 'x" -> "y\\N<b>' in texts
