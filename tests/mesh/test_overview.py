"""A big mesh's namespace overview: each folded namespace one node, its edges
figured from the series like any other, an open circuit inside showing on
its loop, and an expanded namespace drawn in full."""

from __future__ import annotations

import pytest

from dashboard.app.config import resolve
from dashboard.mesh.build import build_graph, folded_graph, versioned_graph
from dashboard.mesh.graph_types import GRAPH_TYPES, Overview
from dashboard.mesh.snapshot import snapshot_document
from queries.duration import prometheus_duration
from queries.simulator import Simulation
from tests.support.frames import labels
from tests.support.telemetry import bookinfo_ejection, with_calls

RULES = resolve({}, {})


def document(telemetry, **options):
    return snapshot_document(build_graph(telemetry, RULES, **options))


def edges(doc):
    return {edge["id"]: edge for edge in doc["edges"]}


def test_under_the_size_the_graph_is_drawn_in_full():
    telemetry = bookinfo_ejection()
    assert document(telemetry, overview=Overview(above=1000)) == document(telemetry)


def test_every_namespace_folds_into_one_node_and_its_open_circuit_shows_on_its_loop():
    folded = document(bookinfo_ejection(), overview=Overview(above=0))
    assert {(n["id"], n["kind"]) for n in folded["nodes"]} == {
        ("namespace:default", "namespace"),
        ("namespace:istio-system", "namespace"),
    }
    drawn = edges(folded)
    loop = drawn["namespace:default->namespace:default"]
    assert loop["circuit"] == "open" and loop["health"] == "failing"
    into = drawn["namespace:istio-system->namespace:default"]
    full = edges(document(bookinfo_ejection()))
    gateway = "workload:istio-system:istio-ingressgateway->service:default:productpage"
    assert into["rps"] == pytest.approx(full[gateway]["rps"])
    # Each request handled inside once: the calls between its workloads (2 to
    # details, 2 to reviews, 4 from reviews-v2 to ratings) and the delivery
    # of the gateway's 2 to productpage-v1.
    assert loop["rps"] == pytest.approx(10.0)


def test_an_expanded_namespace_keeps_its_nodes_and_edges_to_the_folded():
    telemetry = with_calls(
        bookinfo_ejection(),
        (labels("checkout-v1", "payments", "payments-v1", ns="shop", caller_ns="shop"), 3.0),
    )
    shown = document(telemetry, overview=Overview(above=0, expanded=frozenset({"default"})))
    ids = {n["id"] for n in shown["nodes"]}
    assert (
        "workload:default:reviews-v2" in ids and "namespace:shop" in ids and "namespace:istio-system" in ids
    )
    drawn = edges(shown)
    assert drawn["workload:default:reviews-v2->service:default:ratings"]["circuit"] == "open"
    assert drawn["namespace:istio-system->service:default:productpage"]["rps"] == pytest.approx(2.0)
    assert drawn["namespace:shop->namespace:shop"]["rps"] == pytest.approx(3.0)  # call and delivery: once


def test_the_overview_folds_any_graph_type():
    shown = document(
        bookinfo_ejection(), graph_type="app", overview=Overview(above=0, expanded=frozenset({"default"}))
    )
    assert "app:default:reviews" in {n["id"] for n in shown["nodes"]}
    assert "namespace:istio-system" in {n["id"] for n in shown["nodes"]}


def rounded(value):
    """A document with its figures to 9 significant digits: sums in another order differ in the last bits."""
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return sorted((rounded(item) for item in value), key=repr)
    return value


@pytest.mark.parametrize("graph_type", GRAPH_TYPES)
def test_a_namespace_opened_on_the_folded_graph_is_the_graph_assembled_whole(graph_type):
    # The story's mesh at its ejection (latency, TCP, mTLS, Envoy's ejections),
    # with calls across namespaces both ways and a namespace of its own.
    simulation = Simulation(seed=1, start=1_800_000_000.0, wall_clock=lambda: 0.0, phase="ejection")
    telemetry = with_calls(
        simulation.telemetry.mesh(simulation.now, prometheus_duration("1m")),
        (labels("checkout-v1", "payments", "payments-v1", ns="shop", caller_ns="shop"), 3.0),
        (labels("checkout-v1", "reviews", "reviews-v1", caller_ns="shop"), 1.5),
        (labels("reviews-v1", "payments", "payments-v1", ns="shop", response_code="503"), 0.5),
        # Folded, web's one call into shop is healthy; opened, one of its two edges fails.
        (labels("front-v1", "payments", "payments-v1", ns="shop", caller_ns="web", response_code="503"), 1.0),
        (labels("front-v1", "stock", "stock-v1", ns="shop", caller_ns="web"), 99.0),
    )
    versioned = versioned_graph(telemetry, RULES)
    folded = folded_graph(telemetry, RULES, graph_type, versioned)
    namespaces = sorted({data["node"].namespace for _, data in versioned.nodes(data=True)})
    assert len(namespaces) >= 3
    for expanded in [*({namespace} for namespace in namespaces), {"default", "shop"}]:
        overview = Overview(above=0, expanded=frozenset(expanded))
        whole = build_graph(telemetry, RULES, (), graph_type, (), overview, versioned)
        opened = build_graph(telemetry, RULES, (), graph_type, (), overview, versioned, folded)
        assert rounded(snapshot_document(opened)) == rounded(snapshot_document(whole)), expanded
    # The cached folded graph is not touched by what was opened on it.
    assert rounded(snapshot_document(folded)) == rounded(
        snapshot_document(build_graph(telemetry, RULES, (), graph_type, (), Overview(above=0), versioned))
    )
