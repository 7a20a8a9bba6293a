"""Node placement and element building of the topology page (pure view code)."""

from __future__ import annotations

from dashboard.app.config import resolve
from dashboard.app.pages.topology import traces_link, track_open_circuits
from dashboard.mesh.build import build_graph
from dashboard.mesh.snapshot import snapshot_document
from dashboard.mesh.trace_path import edges_on_trace
from layouts.topology import graph as view
from tests.support.frames import labels, telemetry
from tests.support.telemetry import bookinfo_ejection, with_calls


def bookinfo_document() -> dict:
    return snapshot_document(build_graph(bookinfo_ejection(), resolve({}, {})))


def test_layers_read_left_to_right_along_the_calls():
    document = bookinfo_document()
    x = {
        node_id: position[0]
        for node_id, position in view.place(document["nodes"], document["edges"], {}).items()
    }
    assert x["workload:istio-system:istio-ingressgateway"] < x["service:default:productpage"]
    assert x["service:default:productpage"] < x["workload:default:productpage-v1"]
    assert (
        x["workload:default:productpage-v1"] < x["service:default:reviews"] < x["workload:default:reviews-v2"]
    )
    assert x["workload:default:reviews-v2"] < x["service:default:ratings"] < x["workload:default:ratings-v1"]
    # A caller nobody calls sits just before what it calls, not at the far left.
    assert x["workload:default:reviews-v3"] == x["workload:default:reviews-v2"]


def test_no_two_nodes_share_a_place_and_big_layers_wrap():
    calls = [(labels("loadgen-v1", f"svc{i}", f"svc{i}-v1"), 1.0) for i in range(200)]
    document = snapshot_document(build_graph(telemetry(requests=calls), resolve({}, {})))
    positions = view.place(document["nodes"], document["edges"], {})
    assert len(set(positions.values())) == len(document["nodes"]) == 401
    columns = {x for x, _ in positions.values()}
    assert len(columns) > 3
    tallest = max(y for _, y in positions.values())
    assert tallest < 40 * view.ROW_GAP


def test_known_nodes_keep_their_place_and_new_ones_join_their_column():
    document = bookinfo_document()
    first = view.place(document["nodes"], document["edges"], {})
    grown = with_calls(bookinfo_ejection(), (labels("productpage-v1", "reviews", "reviews-v4"), 1.0))
    document = snapshot_document(build_graph(grown, resolve({}, {})))
    second = view.place(document["nodes"], document["edges"], first)
    assert {node: second[node] for node in first} == first
    new = second["workload:default:reviews-v4"]
    assert new[0] == first["workload:default:reviews-v2"][0]
    assert new not in first.values()


def test_edge_labels_say_what_a_wall_screen_needs():
    edges = {e["id"]: e for e in bookinfo_document()["edges"]}
    open_edge = edges["workload:default:reviews-v2->service:default:ratings"]
    assert view.edge_label(open_edge).startswith("⊘ OPEN · 4.00 rps")
    assert "UH 100 %" in view.edge_label(open_edge)
    split = edges["service:default:reviews->workload:default:reviews-v1"]
    assert view.edge_label(split) == "1.00 rps · 50 %"
    shedding = {**open_edge, "circuit": "tripping", "flags": {"UO": 1.0}, "rps": 4.0, "error_ratio": 0.25}
    assert view.edge_label(shedding) == "4.00 rps · 25 % err · shed UO 25 %"
    tcp = {**split, "protocol": "tcp", "rps": None, "bytes_per_s": 2500.0, "share": None}
    assert view.edge_label(tcp) == "2.5 kB/s"


def test_idle_edges_are_left_out_unless_asked_for():
    document = bookinfo_document()
    positions = view.place(document["nodes"], document["edges"], {})
    idle = [e["id"] for e in document["edges"] if e["health"] == "idle"]
    assert idle
    hidden = {el["data"]["id"] for el in view.elements(document, positions, show_idle=False)}
    shown = {el["data"]["id"] for el in view.elements(document, positions, show_idle=True)}
    assert not set(idle) & hidden
    assert set(idle) <= shown


def test_open_circuits_remember_when_they_opened():
    document = bookinfo_document()
    first = track_open_circuits(document, {}, now=100.0)
    assert first == {"workload:default:reviews-v2->service:default:ratings": 100.0}
    assert track_open_circuits(document, first, now=160.0) == first
    closed = {**document, "edges": [{**e, "circuit": "closed"} for e in document["edges"]]}
    assert track_open_circuits(closed, first, now=200.0) == {}


def test_a_trace_path_marks_the_edges_it_went_along():
    document = bookinfo_document()
    hops = [
        ("istio-ingressgateway.istio-system", None, "productpage.default", "v1", False),
        ("productpage.default", "v1", "reviews.default", "v2", False),
        # refused by reviews-v2's sidecar: ratings never saw it, so no version
        ("reviews.default", "v2", "ratings.default", None, True),
    ]
    on_path = edges_on_trace(document, hops)
    assert on_path == {
        "workload:istio-system:istio-ingressgateway->service:default:productpage": "ok",
        "service:default:productpage->workload:default:productpage-v1": "ok",
        "workload:default:productpage-v1->service:default:reviews": "ok",
        "service:default:reviews->workload:default:reviews-v2": "ok",
        "workload:default:reviews-v2->service:default:ratings": "error",
    }
    positions = view.place(document["nodes"], document["edges"], {})
    marked = {
        el["data"]["id"]: el["data"]["on_trace"]
        for el in view.elements(document, positions, True, trace_hops=hops)
        if "on_trace" in el["data"]
    }
    assert marked == on_path


def test_traces_are_found_by_the_canonical_service_not_the_kubernetes_name():
    mesh = telemetry(requests=[(labels("frontend-v1", "reviews-svc", "reviews-v2"), 1.0)])
    document = snapshot_document(build_graph(mesh, resolve({}, {})))
    positions = view.place(document["nodes"], document["edges"], {})
    data = {el["data"]["id"]: el["data"] for el in view.elements(document, positions, True)}
    edge = data["workload:default:frontend-v1->service:default:reviews-svc"]
    # The caller's sidecar records the calls, rejected ones included; a version's spans carry its tag.
    versioned = "/traces?service=frontend.default&tags=istio.canonical_revision%3Dv1"
    assert traces_link(edge) == versioned
    assert traces_link(data["service:default:reviews-svc"]) == "/traces?service=reviews.default"
    assert traces_link(data["workload:default:frontend-v1"]) == versioned
    hops = [("frontend.default", "v1", "reviews.default", "v2", False)]
    assert set(edges_on_trace(document, hops)) == {
        edge["id"],
        "service:default:reviews-svc->workload:default:reviews-v2",
    }


def test_elements_carry_compact_numbers_but_exact_times():
    document = bookinfo_document()
    positions = view.place(document["nodes"], document["edges"], {})
    since = {"workload:default:reviews-v2->service:default:ratings": 1_795_716_000.125}
    data = {el["data"]["id"]: el["data"] for el in view.elements(document, positions, True, since)}
    cut = data["workload:default:reviews-v2->service:default:ratings"]
    assert cut["open_since"] == 1_795_716_000.125
    assert "p50_ms" not in cut and "share" not in cut  # no latency data, no share: nulls left out
    split = data["service:default:reviews->workload:default:reviews-v1"]
    assert split["p95_ms"] == float(f"{document_edge(document, split['id'])['p95_ms']:.4g}")


def document_edge(document: dict, edge_id: str) -> dict:
    return next(edge for edge in document["edges"] if edge["id"] == edge_id)


def test_every_health_colours_its_edges_and_node_borders():
    styles: dict = {}
    for rule in view.stylesheet():  # later rules for a selector add to earlier ones, as in Cytoscape
        styles.setdefault(rule["selector"], {}).update(rule["style"])
    for health, colour in view.HEALTH_COLOURS.items():
        assert styles[f'edge[health = "{health}"]']["line-color"] == colour
        assert styles[f'node[health = "{health}"]']["border-color"] == colour
    assert styles['node[outbound_health = "failing"]']["background-color"] == view.OUTBOUND_FILLS["failing"]


def one_cluster_document() -> dict:
    """One cluster (`Kubernetes`) named on every series; `details` has no workload behind it."""
    local = {"source_cluster": "Kubernetes", "destination_cluster": "Kubernetes"}
    return snapshot_document(
        build_graph(
            telemetry(
                requests=[
                    (labels("productpage-v1", "reviews", "reviews-v1", **local), 3.0),
                    (labels("productpage-v1", "details", **local), 1.0),
                ]
            ),
            resolve({}, {}),
        )
    )


def test_one_cluster_draws_one_box_per_namespace_whatever_knows_its_cluster():
    document = one_cluster_document()
    clusters = {node["id"]: node.get("cluster") for node in document["nodes"]}
    assert clusters["service:default:details"] is None and clusters["service:default:reviews"] == "Kubernetes"
    elements = view.elements(document, view.place(document["nodes"], document["edges"], {}), True, boxed=True)
    boxes = [e["data"] for e in elements if e["data"].get("box")]
    assert boxes == [{"id": "box:namespace:default", "label": "default", "box": "namespace"}]
    parents = {e["data"].get("parent") for e in elements if "position" in e and not e["data"].get("box")}
    assert parents == {"box:namespace:default"}


def test_two_clusters_lay_out_in_bands_of_their_own():
    east, west = (
        {"source_cluster": "east", "destination_cluster": "east"},
        {"source_cluster": "west", "destination_cluster": "west"},
    )
    document = snapshot_document(
        build_graph(
            telemetry(
                requests=[
                    (labels("productpage-v1", "reviews", "reviews-v1", **east), 3.0),
                    (labels("productpage-v1", "reviews", "reviews-v1", **west), 3.0),
                    (labels("productpage-v1", "details", "details-v1", **west), 1.0),
                ]
            ),
            resolve({}, {}),
        )
    )
    positions = view.place(document["nodes"], document["edges"], {})
    rows: dict[str, list[float]] = {}
    for node in document["nodes"]:
        rows.setdefault(node.get("cluster") or "", []).append(positions[node["id"]][1])
    # Bands top to bottom: the service both serve, then east, then west, never mixed.
    assert max(rows[""]) < min(rows["east"]) and max(rows["east"]) < min(rows["west"])
    boxes = {e["data"]["id"]: e["data"].get("parent") for e in view.boxes(document["nodes"])}
    assert boxes == {
        "box:namespace:default": None,
        "box:cluster:east": None,
        "box:namespace:east:default": "box:cluster:east",
        "box:cluster:west": None,
        "box:namespace:west:default": "box:cluster:west",
    }


def test_one_cluster_leaves_its_name_out_of_the_elements():
    document = one_cluster_document()
    elements = view.elements(document, view.place(document["nodes"], document["edges"], {}), True)
    assert all("cluster" not in e["data"] for e in elements)


def test_short_names_keep_both_ends_and_the_version():
    workload = {"kind": "workload", "name": "reviews-v2", "app": "reviews-frontend-canary", "version": "v2"}
    forms = view.short_node_labels(workload)
    assert forms[0] == "reviews-…d-canary v2" and all(form.endswith(" v2") for form in forms)
    namespaces = [
        {"kind": "namespace", "name": f"team-{i:03d}", "namespace": f"team-{i:03d}"} for i in (1, 2)
    ]
    # Numbered names differ at their ends: every shorter form still tells them apart.
    first, second = (view.short_node_labels(node) for node in namespaces)
    assert first == ["tea…001", "te…1"] and all(a != b for a, b in zip(first, second))


def test_an_overview_of_many_namespaces_wraps_to_fit_a_wide_screen():
    nodes = [
        {
            "id": f"namespace:ns-{i:02d}",
            "kind": "namespace",
            "name": f"ns-{i:02d}",
            "namespace": f"ns-{i:02d}",
        }
        for i in range(40)
    ]
    edges = [{"source": "namespace:ns-00", "target": node["id"]} for node in nodes[1:]]
    positions = view.place(nodes, edges, {})
    xs, ys = {x for x, _ in positions.values()}, {y for _, y in positions.values()}
    # One band for the folded namespaces: the callees wrap into columns instead of one column of 39.
    assert len(xs) > 3 and len(ys) < 20
