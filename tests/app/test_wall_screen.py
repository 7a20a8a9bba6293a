"""The topology as a wall screen shows it, at 1920x1080 and 1366x768: labels
never on top of each other or of a node, type readable from across the
room, the kiosk filling the screen, namespaces rotating."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from dashboard.app import create_app
from dashboard.app.config import resolve
from dashboard.app.services import Services, demo_services
from tests.support.frames import labels
from tests.support.telemetry import ScriptedSource, bookinfo_ejection, with_calls

pytestmark = pytest.mark.browser
SCREENS = [{"width": 1920, "height": 1080}, {"width": 1366, "height": 768}]

# Every label drawn, as boxes in the graph's own coordinates.
LABEL_BOXES = """() => {
    const cy = window.cy, out = [];
    const box = (e, main, source) => e.boundingBox({includeNodes: false, includeEdges: false,
        includeLabels: true, includeMainLabels: main, includeSourceLabels: source,
        includeTargetLabels: false, includeOverlays: false});
    const shown = t => t && t.trim() && t !== "\\u200b";
    cy.nodes().forEach(n => {
        // A namespace box is no obstacle (nodes sit in it); its name is a label like any other.
        if (!n.isParent()) {
            out.push({id: n.id(), kind: "node", box: n.boundingBox({includeLabels: false, includeOverlays: false})});
        }
        if (Number(n.style("text-opacity")) > 0 && shown(n.style("label"))) {
            out.push({id: n.id(), kind: n.isParent() ? "box" : "name", box: box(n, true, false), text: n.style("label")});
        }
    });
    cy.edges().forEach(e => {
        if (Number(e.style("text-opacity")) === 0) { return; }
        if (shown(e.style("label"))) { out.push({id: e.id(), kind: "label", box: box(e, true, false), text: e.style("label")}); }
        if (shown(e.style("source-label"))) { out.push({id: e.id(), kind: "label", box: box(e, false, true), text: e.style("source-label")}); }
    });
    return out;
}"""


def overlaps(a: dict[str, float], b: dict[str, float]) -> bool:
    return a["x1"] < b["x2"] and b["x1"] < a["x2"] and a["y1"] < b["y2"] and b["y1"] < a["y2"]


def collisions(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Label on label, label on a node, or a name on another node."""
    found = []
    for i, a in enumerate(items):
        for b in items[i + 1 :]:
            if a["kind"] == "node" and b["kind"] == "node":
                continue
            if a["id"] == b["id"] and "name" in (a["kind"], b["kind"]):
                continue  # a node's name sits on its own node
            if overlaps(a["box"], b["box"]):
                found.append(
                    (f"{a['kind']} {a.get('text', a['id'])}", f"{b['kind']} {b.get('text', b['id'])}")
                )
    return found


def decluttered(page: Any) -> None:
    page.wait_for_function("() => window.cy && window.cy.nodes().length > 0", timeout=20_000)
    page.wait_for_function(
        "() => document.getElementById('topology-decluttered').hasAttribute('data-decluttered')",
        timeout=20_000,
    )
    page.wait_for_timeout(300)  # the declutter settles 60 ms after the last change: let a pass finish


@contextmanager
def screen_page(chromium: Any, screen: dict) -> Iterator[Any]:
    """A page in a browser window of the screen's size, closed after."""
    context = chromium.new_context(viewport=screen)
    try:
        yield context.new_page()
    finally:
        context.close()


def busy_mesh() -> ScriptedSource:
    """Bookinfo plus a fan of callers and services, long names included."""
    calls = [
        (labels(f"checkout-frontend-{i}-v1", "payments-gateway", f"payments-gateway-v{1 + i % 3}"), 1.0 + i)
        for i in range(6)
    ]
    calls += [
        (labels("payments-gateway-v1", f"ledger-{i}", f"ledger-{i}-v1", response_code="503"), 0.5)
        for i in range(5)
    ]
    return ScriptedSource(with_calls(bookinfo_ejection(), *calls))


@pytest.mark.parametrize("screen", SCREENS, ids=["1920", "1366"])
@pytest.mark.parametrize("address", ["/", "/?kiosk=1"])
def test_no_label_sits_on_another_or_on_a_node(
    chromium: Any, serve_app: Any, screen: dict, address: str
) -> None:
    with screen_page(chromium, screen) as page:
        app = create_app(resolve({"refresh": "3600"}, {}), Services(telemetry=busy_mesh()))
        page.goto(serve_app(app) + address)
        decluttered(page)
        items = page.evaluate(LABEL_BOXES)
        assert collisions(items) == []
        shown = [item["text"] for item in items if item["kind"] == "label"]
        assert any("OPEN" in text for text in shown)  # the open circuit always says so
        names = [item for item in items if item["kind"] == "name"]
        nodes = [item for item in items if item["kind"] == "node"]
        assert len(names) >= 0.4 * len(nodes) and len(shown) >= 2  # what has no room is in the panel


# For every edge's label at each of its placements and every node's name at
# each spot: how far the box the declutter figures strays outside the box
# Cytoscape measures once the label is set there (and, for a box meant to
# be exact, inside it), in screen pixels.
FIGURED_AGAINST_MEASURED = """() => {
    const cy = window.cy, zoom = cy.zoom(), nodes = cy.nodes(':childless');
    const fonts = mwLabelFonts(cy, mwLabelPixels()), edgeFont = fonts.edge, nodeFont = fonts.node;
    // Cytoscape keeps a text's width by a hash of it and its font, which a new
    // font size or another text can share (its box is then not of the glyphs
    // drawn: "re…s" took "de…s"'s): measured afresh, and only texts it measures
    // as the canvas does.
    const renderer = cy.renderer();
    renderer.labelDimCache = null;
    const out = {figured: 0, outside: 0, inside: 0, unlike: 0};
    const compare = (ele, text, css, figured, measured) => {
        if (renderer.calculateLabelDimensions(ele, text).width !== mwTextWidth(text, css)) {
            out.unlike++;
            return;
        }
        out.figured++;
        const outside = Math.max(measured.x1 - figured.x1, figured.x2 - measured.x2,
                                 measured.y1 - figured.y1, figured.y2 - measured.y2);
        const inside = Math.max(figured.x1 - measured.x1, measured.x2 - figured.x2,
                                figured.y1 - measured.y1, measured.y2 - figured.y2);
        out.outside = Math.max(out.outside, outside * zoom);
        if (figured.exact !== false) { out.inside = Math.max(out.inside, inside * zoom); }
    };
    cy.edges().forEach(edge => {
        const shape = mwEdgeShape(edge);
        mwPlacements(edge, shape).forEach(t => {
            if (!t.text) { return; }
            mwShowEdgeLabel(edge, t, edgeFont);
            const figured = mwLabelBox(shape, t.text, t.along, edgeFont);
            if (figured) { compare(edge, t.text, edgeFont.css, figured, mwBox(edge, true, t.along !== undefined)); }
        });
    });
    nodes.forEach(node => {
        [node.data("label")].concat(node.data("short_labels") || []).forEach(name => MW_NODE_SPOTS.forEach(spot => {
            mwShowNodeLabel(node, name, spot, nodeFont);
            const figured = mwNodeLabelBox(node, name, spot, nodeFont);
            if (figured) { compare(node, name, nodeFont.css, figured, mwBox(node, true)); }
        }));
    });
    return out;
}"""


@pytest.mark.parametrize("screen", SCREENS, ids=["1920", "1366"])
def test_the_declutter_figures_the_boxes_cytoscape_measures(
    chromium: Any, serve_app: Any, screen: dict
) -> None:
    # It figures each try's label box rather than restyling the element and
    # asking Cytoscape (at 5,000 workloads an opened namespace's labels are
    # placed in a quarter of a second, not in a second, twice): a box it
    # figured smaller than Cytoscape's could let labels overlap.
    with screen_page(chromium, screen) as page:
        app = create_app(resolve({"refresh": "3600"}, {}), Services(telemetry=busy_mesh()))
        page.goto(serve_app(app) + "/")
        decluttered(page)
        for zoom in (1.0, 2.5):
            page.evaluate(
                "(by) => window.cy.zoom({level: window.cy.zoom() * by, renderedPosition: {x: 500, y: 300}})",
                zoom,
            )
            found = page.evaluate(FIGURED_AGAINST_MEASURED)
            assert found["figured"] > 100 and found["unlike"] < 0.05 * found["figured"]
            assert found["outside"] <= 0.05 and found["inside"] <= 0.05, found


@pytest.mark.parametrize("screen", SCREENS, ids=["1920", "1366"])
def test_the_kiosk_fills_the_screen_in_type_read_from_across_the_room(
    chromium: Any, serve_app: Any, screen: dict
) -> None:
    with screen_page(chromium, screen) as page:
        settings = resolve({"refresh": "3600", "phase": "ejection"}, {})
        page.goto(serve_app(create_app(settings, demo_services(settings))) + "/?kiosk=1")
        decluttered(page)
        graph = page.locator("#topology-graph").bounding_box()
        assert graph["width"] * graph["height"] >= 0.9 * screen["width"] * screen["height"] * 0.93
        assert graph["width"] >= 0.98 * screen["width"] and graph["height"] >= 0.9 * screen["height"]
        for hidden in (".mw-controls", ".mw-legend", ".mw-details", ".mw-header"):
            assert not page.locator(hidden).first.is_visible()
        clock = page.locator("#topology-clock")
        assert clock.is_visible() and "as of" in clock.inner_text() and "OPEN" in clock.inner_text()
        # Labels on screen: about 2.6 % of the height (28 px at 1080) for names, 85 % of that on edges.
        sizes = page.evaluate(
            "() => [window.cy.nodes(':childless.mw-label')[0].renderedStyle('font-size'),"
            " window.cy.edges('.mw-label')[0].renderedStyle('font-size')]"
        )
        node_px, edge_px = (float(size.removesuffix("px")) for size in sizes)
        assert node_px >= 0.025 * screen["height"] and edge_px >= 0.021 * screen["height"]
        assert (node_px >= 24) if screen["height"] == 1080 else (node_px >= 17)


def test_a_stale_wall_still_says_so(serve_app: Any, browser_page: Any) -> None:
    source = ScriptedSource(bookinfo_ejection())
    browser_page.goto(
        serve_app(create_app(resolve({"refresh": "1"}, {}), Services(telemetry=source))) + "/?kiosk=1"
    )
    decluttered(browser_page)
    source.failure = "cannot reach Prometheus at http://prometheus:9090: Connection refused"
    banner = browser_page.locator("#topology-banner")
    banner.get_by_text("stale since").wait_for()
    assert banner.is_visible()


def test_a_wall_rotates_through_its_namespaces(serve_app: Any, browser_page: Any) -> None:
    source = ScriptedSource(bookinfo_ejection())
    app = create_app(resolve({"refresh": "1"}, {}), Services(telemetry=source))
    browser_page.goto(serve_app(app) + "/?kiosk=1&rotate=5s&namespace=istio-system&namespace=default")
    clock = browser_page.locator("#topology-clock")
    clock.get_by_text("istio-system · as of").wait_for()
    clock.get_by_text("default · as of").wait_for(timeout=15_000)
    clock.get_by_text("istio-system · as of").wait_for(timeout=15_000)
