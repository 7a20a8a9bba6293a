"""Find, hide, graph types, namespace boxes and export on the topology page,
as a person sees them in Chromium: what is highlighted, what is gone, what
is drawn for each graph type, and the files the export buttons download."""

from __future__ import annotations

from urllib.parse import parse_qs, quote, urlparse

import pytest

from dashboard.app import create_app
from dashboard.app.config import resolve
from dashboard.app.services import Services
from tests.support.telemetry import ScriptedSource, bookinfo_ejection

pytestmark = pytest.mark.browser

OPEN_EDGE = "workload:default:reviews-v2->service:default:ratings"
FOUND_YELLOW = "rgb(241,196,15)"


@pytest.fixture
def serve(serve_app):
    app = create_app(resolve({"refresh": "1"}, {}), Services(telemetry=ScriptedSource(bookinfo_ejection())))
    base = serve_app(app)
    return base, app.server.test_client()


def drawn(page) -> None:
    page.wait_for_function("() => window.cy && window.cy.nodes(':childless').length > 0", timeout=30_000)
    page.locator("#topology-status").get_by_text("nodes").wait_for(timeout=30_000)


def query(page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def test_find_circuit_open_highlights_the_cut_edge_alone(serve, browser_page):
    base, _ = serve
    page = browser_page
    page.goto(f"{base}/?find={quote('circuit = open')}")
    drawn(page)
    page.locator("#topology-status").get_by_text("1 found").wait_for(timeout=20_000)
    found = page.evaluate("() => window.cy.elements('[?found]').map(e => e.id())")
    assert found == [OPEN_EDGE]
    halo = page.evaluate(f"() => window.cy.getElementById('{OPEN_EDGE}').style('underlay-color')")
    assert halo == FOUND_YELLOW
    assert page.locator("#topology-find").input_value() == "circuit = open"


def test_a_bad_expression_says_why_beside_its_box_and_the_graph_stays(serve, browser_page):
    base, _ = serve
    page = browser_page
    page.goto(f"{base}/")
    drawn(page)
    nodes = page.evaluate("() => window.cy.nodes(':childless').length")
    page.locator("#topology-find").fill("rps >")
    page.locator("#topology-find").press("Enter")
    error = page.locator("#topology-find-error")
    error.get_by_text("expected a number after 'rps >'").wait_for(timeout=20_000)
    assert error.inner_text().startswith("find: bad expression")
    assert page.evaluate("() => window.cy.nodes(':childless').length") == nodes
    assert not page.locator("#topology-banner").is_visible()
    # Fixed, the line goes.
    page.locator("#topology-find").fill("rps > 1")
    page.locator("#topology-find").press("Enter")
    error.wait_for(state="hidden", timeout=20_000)
    assert query(page)["find"] == ["rps > 1"]


def test_hide_removes_without_moving_the_rest_until_re_layout(serve, browser_page):
    base, _ = serve
    page = browser_page
    page.goto(f"{base}/")
    drawn(page)
    positions = "() => Object.fromEntries(window.cy.nodes(':childless').map(n => [n.id(), n.position()]))"
    before = page.evaluate(positions)
    page.locator("#topology-hide").fill("name = ratings")
    page.locator("#topology-hide").press("Enter")
    page.wait_for_function(
        "() => !window.cy.getElementById('service:default:ratings').length", timeout=20_000
    )
    after = page.evaluate(positions)
    assert "workload:default:ratings-v1" not in after  # left with no edge: hidden too
    assert all(after[node] == before[node] for node in after)
    assert all("ratings" not in edge for edge in page.evaluate("() => window.cy.edges().map(e => e.id())"))
    assert "hidden by the hide expression" in page.locator("#topology-status").inner_text()
    assert query(page)["hide"] == ["name = ratings"]
    page.get_by_role("button", name="Re-layout").click()
    page.wait_for_function(f"() => JSON.stringify({positions}()) !== JSON.stringify({after})", timeout=20_000)


@pytest.mark.parametrize("graph_type", ["versioned", "app", "workload", "service"])
def test_each_graph_type_draws_its_documents_nodes_and_edges(serve, browser_page, graph_type):
    base, client = serve
    page = browser_page
    page.goto(f"{base}/?graph={graph_type}")
    drawn(page)
    document = client.get(f"/api/graph?graph={graph_type}").get_json()
    nodes = page.evaluate("() => window.cy.nodes(':childless').map(n => n.id()).sort()")
    edges = page.evaluate("() => window.cy.edges().map(e => e.id()).sort()")
    assert nodes == sorted(node["id"] for node in document["nodes"])
    assert edges == sorted(edge["id"] for edge in document["edges"] if edge["health"] != "idle")
    kinds = {node["kind"] for node in document["nodes"]}
    if graph_type == "workload":
        assert "service" not in kinds or all(
            node["kind"] != "service" or node["id"] in {e["target"] for e in document["edges"]}
            for node in document["nodes"]
        )
    if graph_type == "service":
        targets = {edge["target"] for edge in document["edges"]}
        assert all(node["kind"] == "service" for node in document["nodes"] if node["id"] in targets)
    shown = page.locator("#topology-graph-type").inner_text()
    assert graph_type.split()[0] in shown
    assert query(page).get("graph", ["versioned"]) == [graph_type]


def test_a_bad_graph_type_in_the_address_says_why(serve, browser_page):
    base, _ = serve
    browser_page.goto(f"{base}/?graph=mesh")
    banner = browser_page.locator("#topology-banner")
    banner.get_by_text("choose one of versioned, app, workload, service").wait_for(timeout=20_000)


def test_namespace_boxes_are_on_by_default_and_toggle_off(serve, browser_page):
    base, _ = serve
    page = browser_page
    page.goto(f"{base}/")
    drawn(page)
    boxes = page.evaluate("() => window.cy.nodes(':parent').map(n => n.data('label')).sort()")
    assert boxes == ["default", "istio-system"]
    inside = page.evaluate(
        "() => window.cy.nodes(':childless').every(n => n.parent().length && "
        "n.parent().data('label') === n.data('namespace'))"
    )
    assert inside
    # No box overlaps another: each namespace has rows of its own.
    frames = page.evaluate("() => window.cy.nodes(':parent').map(n => n.boundingBox({includeLabels: false}))")
    a, b = frames
    assert a["y2"] <= b["y1"] or b["y2"] <= a["y1"] or a["x2"] <= b["x1"] or b["x2"] <= a["x1"]
    page.get_by_text("namespace boxes").click()
    page.wait_for_function("() => window.cy.nodes(':parent').length === 0", timeout=20_000)
    assert query(page)["boxes"] == ["0"]


@pytest.mark.parametrize("kind", ["png", "svg"])
def test_export_downloads_the_view_as_an_image(serve, browser_page, kind, tmp_path):
    base, _ = serve
    page = browser_page
    page.goto(f"{base}/")
    drawn(page)
    with page.expect_download(timeout=30_000) as download:
        page.get_by_role("button", name=kind.upper()).click()
    name = download.value.suggested_filename
    assert name.startswith("meshwatch-topology-") and name.endswith(f".{kind}")
    saved = tmp_path / name
    download.value.save_as(saved)
    content = saved.read_bytes()
    if kind == "png":
        assert content.startswith(b"\x89PNG") and len(content) > 10_000
    else:
        assert b"<svg" in content[:500] and content.count(b"<path") > 20
