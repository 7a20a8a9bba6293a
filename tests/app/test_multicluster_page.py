"""A two-cluster mesh with the same workload names in both, on the topology
page in Chromium: both are drawn, each in its namespace's box inside its
cluster's box, the boxes apart, and the traffic between clusters marked.

east: productpage-v1 -> reviews -> reviews-v1 (east)   4/s
      productpage-v1 -> reviews -> reviews-v2 (west)   2/s, across clusters
      reviews-v1 -> ratings -> ratings-v1 (east)       1/s
west: productpage-v1 -> reviews -> reviews-v1 (west)   3/s
"""

from __future__ import annotations

import pytest

from dashboard.app import create_app
from dashboard.app.config import resolve
from dashboard.app.services import Services
from tests.support.frames import labels, telemetry
from tests.support.telemetry import ScriptedSource

pytestmark = pytest.mark.browser

NS = "bookinfo"
CROSSING = f"workload:east:{NS}:productpage-v1->service:{NS}:reviews"


def between(source: str, destination: str) -> dict[str, str]:
    return {"source_cluster": source, "destination_cluster": destination}


def two_clusters():
    return telemetry(
        requests=[
            (labels("productpage-v1", "reviews", "reviews-v1", ns=NS, **between("east", "east")), 4.0),
            (labels("productpage-v1", "reviews", "reviews-v2", ns=NS, **between("east", "west")), 2.0),
            (labels("reviews-v1", "ratings", "ratings-v1", ns=NS, **between("east", "east")), 1.0),
            (labels("productpage-v1", "reviews", "reviews-v1", ns=NS, **between("west", "west")), 3.0),
        ]
    )


@pytest.fixture
def base(serve_app):
    return serve_app(
        create_app(resolve({"refresh": "1"}, {}), Services(telemetry=ScriptedSource(two_clusters())))
    )


def drawn(page, nodes: int) -> None:
    page.wait_for_function(
        f"() => window.cy && window.cy.nodes(':childless').length === {nodes}", timeout=30_000
    )


@pytest.fixture
def page(base, browser_page):
    browser_page.goto(f"{base}/")
    drawn(browser_page, 8)
    return browser_page


def test_the_same_workload_names_in_two_clusters_draw_in_their_cluster_boxes(page):
    clusters = page.evaluate("() => window.cy.nodes('[box = \"cluster\"]').map(n => n.data('label')).sort()")
    assert clusters == ["cluster east", "cluster west"]
    # Every workload sits in its namespace's box, inside its own cluster's box.
    placed = page.evaluate(
        """() => window.cy.nodes('[kind = "workload"]').map(n => [
            n.data('name'), n.data('cluster'), n.parent().data('label'), n.parent().parent().id()])"""
    )
    assert sorted(placed) == [
        ["productpage-v1", "east", NS, "box:cluster:east"],
        ["productpage-v1", "west", NS, "box:cluster:west"],
        ["ratings-v1", "east", NS, "box:cluster:east"],
        ["reviews-v1", "east", NS, "box:cluster:east"],
        ["reviews-v1", "west", NS, "box:cluster:west"],
        ["reviews-v2", "west", NS, "box:cluster:west"],
    ]
    # A service served from both clusters is one, in a box of no one cluster;
    # one whose workloads run in one cluster sits in that cluster's.
    services = page.evaluate(
        """() => Object.fromEntries(window.cy.nodes('[kind = "service"]').map(n => [
            n.data('name'), n.parent().parent().length ? n.parent().parent().id() : null]))"""
    )
    assert services == {"reviews": None, "ratings": "box:cluster:east"}
    frames = page.evaluate(
        "() => window.cy.nodes('[box]').filter(n => !n.parent().length)"
        ".map(n => n.boundingBox({includeLabels: false}))"
    )
    assert len(frames) == 3
    for index, a in enumerate(frames):
        for b in frames[index + 1 :]:
            assert a["y2"] <= b["y1"] or b["y2"] <= a["y1"] or a["x2"] <= b["x1"] or b["x2"] <= a["x1"]


def test_traffic_between_clusters_is_marked(page):
    marks = page.evaluate("() => Object.fromEntries(window.cy.edges().map(e => [e.id(), e.style('ghost')]))")
    assert marks[CROSSING] == "yes"
    assert marks[f"service:{NS}:reviews->workload:west:{NS}:reviews-v2"] == "yes"
    assert marks[f"workload:west:{NS}:productpage-v1->service:{NS}:reviews"] == "no"
    assert sum(mark == "yes" for mark in marks.values()) == 2
    assert not page.errors


def test_the_address_keeps_a_cluster_and_its_neighbours(base, browser_page):
    page = browser_page
    page.goto(f"{base}/?cluster=west&window=5m")
    drawn(page, 4)
    drawn_ids = page.evaluate("() => window.cy.nodes(':childless').map(n => n.id()).sort()")
    # west's own, and the service they share with east (east's caller of it is no neighbour of west's).
    assert drawn_ids == sorted(
        [f"workload:west:{NS}:{name}" for name in ("productpage-v1", "reviews-v1", "reviews-v2")]
        + [f"service:{NS}:reviews"]
    )
    page.locator("#topology-status").get_by_text("nodes").wait_for(timeout=30_000)
    assert "in cluster west" in page.locator("#topology-clock").inner_text()
    page.wait_for_function("() => window.location.search.includes('cluster=west')", timeout=20_000)


def test_a_bad_or_silent_cluster_in_the_address_says_so(base, browser_page):
    page = browser_page
    page.goto(f"{base}/?cluster=a:b")
    page.locator("#topology-banner").get_by_text("bad cluster 'a:b'").wait_for(timeout=30_000)
    page.goto(f"{base}/?cluster=north")
    page.locator("#topology-banner").get_by_text(
        "No Istio telemetry in the window for cluster 'north'"
    ).wait_for(timeout=30_000)
