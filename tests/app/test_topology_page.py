"""The topology page in headless Chromium, as a person at a wall screen sees it."""

from __future__ import annotations

import dataclasses
from urllib.parse import urlparse

import pandas as pd
import pytest

from dashboard.app import create_app
from dashboard.app.config import resolve
from dashboard.app.services import Services
from queries.telemetry import SELECTION_HISTORY_COLUMNS
from tests.support.frames import labels
from tests.support.telemetry import ScriptedSource, bookinfo_ejection, with_calls

pytestmark = pytest.mark.browser

OPEN_EDGE = "workload:default:reviews-v2->service:default:ratings"


@pytest.fixture
def topology(serve_app, browser_page):
    source = ScriptedSource(bookinfo_ejection())
    app = create_app(resolve({"refresh": "1"}, {}), Services(telemetry=source))
    browser_page.goto(serve_app(app) + "/")
    browser_page.wait_for_function("() => window.cy && window.cy.nodes().length > 0", timeout=20_000)
    # The status line appears with the first graph and moves it down: wait
    # for it before reading coordinates.
    browser_page.locator("#topology-status").get_by_text("nodes").wait_for()
    return browser_page, source


def cy(page, script: str):
    return page.evaluate(f"() => {{ const cy = window.cy; return {script}; }}")


def test_nodes_edges_and_grey_open_circuit_are_drawn(topology):
    page, _ = topology
    names = cy(page, "cy.nodes(':childless').map(n => n.data('label'))")
    assert {"productpage v1", "reviews v1", "reviews v2", "ratings", "details"} <= set(names)
    assert cy(page, f"cy.getElementById('{OPEN_EDGE}').data('circuit')") == "open"
    assert cy(page, f"cy.getElementById('{OPEN_EDGE}').style('line-color')") == "rgb(208,211,212)"
    assert cy(page, f"cy.getElementById('{OPEN_EDGE}').style('line-style')") == "dashed"
    assert "OPEN" in cy(page, f"cy.getElementById('{OPEN_EDGE}').data('label')")
    healthy = "workload:default:productpage-v1->service:default:details"
    assert cy(page, f"cy.getElementById('{healthy}').style('line-color')") == "rgb(46,204,113)"
    # Idle edges are hidden by default and the legend says what grey means.
    assert cy(page, "cy.edges().filter(e => e.data('health') === 'idle').length") == 0
    assert page.get_by_text("circuit OPEN: destination cut off").is_visible()


def test_clicking_an_edge_shows_its_details(topology):
    page, _ = topology
    box = page.locator("#topology-graph").bounding_box()
    point = cy(page, f"cy.getElementById('{OPEN_EDGE}').renderedMidpoint()")
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
    details = page.locator("#topology-details")
    details.get_by_text("Circuit OPEN").wait_for()
    assert "UH" in details.inner_text()
    assert details.get_by_text("Traces through this edge").is_visible()


def test_clicking_a_versioned_service_shows_its_release_state(topology):
    page, _ = topology
    box = page.locator("#topology-graph").bounding_box()
    point = cy(page, "cy.getElementById('service:default:reviews').renderedPosition()")
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
    details = page.locator(".mw-details")
    details.get_by_text("Canary view").wait_for()
    text = details.inner_text()
    assert "Release" in text and "v1" in text and "v2" in text and "50 %" in text


def test_failed_refresh_keeps_graph_under_stale_banner_and_recovers(topology):
    page, source = topology
    drawn = cy(page, "cy.nodes(':childless').length")
    source.failure = "cannot reach Prometheus at http://prometheus:9090: Connection refused"
    banner = page.locator("#topology-banner")
    banner.get_by_text("stale since").wait_for()
    assert "Connection refused" in banner.inner_text()
    assert cy(page, "cy.nodes(':childless').length") == drawn
    source.failure = None
    banner.wait_for(state="hidden")


def test_new_nodes_do_not_move_the_others(topology):
    page, source = topology
    before = cy(page, "Object.fromEntries(cy.nodes(':childless').map(n => [n.id(), n.position()]))")
    source.mesh_telemetry = with_calls(
        bookinfo_ejection(), (labels("productpage-v1", "reviews", "reviews-v3"), 0.5)
    )
    page.wait_for_function(
        "() => window.cy.getElementById('service:default:reviews->workload:default:reviews-v3').length === 1",
        timeout=10_000,
    )
    after = cy(page, "Object.fromEntries(cy.nodes(':childless').map(n => [n.id(), n.position()]))")
    assert {node: after[node] for node in before} == before


def test_a_poll_that_adds_an_element_leaves_the_view_where_the_viewer_put_it(topology):
    page, source = topology
    viewport = "({zoom: cy.zoom(), pan: cy.pan()})"
    cy(page, "(cy.on('layoutstart', () => { window.layouts = (window.layouts || 0) + 1; }), 0)")
    cy(
        page,
        "(cy.zoom({level: cy.zoom() * 1.5, renderedPosition: {x: 300, y: 200}}), cy.panBy({x: 40, y: -30}), 0)",
    )
    before = cy(page, viewport)
    source.mesh_telemetry = with_calls(
        bookinfo_ejection(), (labels("productpage-v1", "reviews", "reviews-v3"), 0.5)
    )
    page.wait_for_function(
        "() => window.cy.getElementById('service:default:reviews->workload:default:reviews-v3').length === 1",
        timeout=10_000,
    )
    # A later poll drawn: anything the addition set going has run by then.
    drawn = page.locator("#topology-drawn").inner_text()
    page.wait_for_function(
        "(seen) => document.getElementById('topology-drawn').innerText !== seen", arg=drawn, timeout=10_000
    )
    assert cy(page, viewport) == before
    assert cy(page, "window.layouts || 0") == 0


def test_a_shared_link_opens_with_its_namespace_and_window(serve_app, browser_page):
    source = ScriptedSource(bookinfo_ejection())
    app = create_app(resolve({"refresh": "1"}, {}), Services(telemetry=source))
    browser_page.goto(serve_app(app) + "/?namespace=istio-system&window=5m")
    browser_page.locator("#topology-status").get_by_text("window 5m").wait_for()
    assert source.calls[-1][1:] == ("5m", ("istio-system",))
    # istio-system's ingress gateway and its direct neighbour, nothing else.
    labels = browser_page.evaluate("() => window.cy.nodes(':childless').map(n => n.data('label')).sort()")
    assert labels == ["istio-ingressgateway", "productpage"]


def test_a_bad_namespace_in_a_link_says_so(serve_app, browser_page):
    app = create_app(resolve({"refresh": "1"}, {}), Services(telemetry=ScriptedSource(bookinfo_ejection())))
    browser_page.goto(serve_app(app) + "/?namespace=Bad_NS")
    browser_page.locator("#topology-banner").get_by_text("bad namespace 'Bad_NS'").wait_for()


@pytest.mark.parametrize(
    "address, words",
    [
        ("/?window=500ms", "bad window '500ms': a rate window needs at least 1s"),
        ("/?window=banana", "bad duration 'banana'"),
    ],
)
def test_a_bad_window_in_a_link_says_why(serve_app, browser_page, address, words):
    app = create_app(resolve({"refresh": "1"}, {}), Services(telemetry=ScriptedSource(bookinfo_ejection())))
    browser_page.goto(serve_app(app) + address)
    browser_page.locator("#topology-banner").get_by_text(words).wait_for()
    assert browser_page.locator("#topology-window").inner_text().strip().startswith(address.split("=")[1])
    assert browser_page.errors == []


def test_links_carry_the_base_path(serve_app, browser_page):
    app = create_app(
        resolve({"refresh": "1", "base_path": "/meshwatch"}, {}),
        Services(telemetry=ScriptedSource(bookinfo_ejection())),
    )
    browser_page.goto(serve_app(app) + "/meshwatch/")
    browser_page.wait_for_function("() => window.cy && window.cy.nodes().length > 0", timeout=20_000)
    hrefs = browser_page.eval_on_selector_all(
        ".mw-nav-link", "links => links.map(a => a.getAttribute('href'))"
    )
    assert hrefs == ["/meshwatch/", "/meshwatch/traces", "/meshwatch/canary"]
    browser_page.locator(".mw-nav-link", has_text="Canary").click()
    browser_page.locator(".mw-canary-title").wait_for()
    assert urlparse(browser_page.url).path == "/meshwatch/canary"


def click(page, script: str) -> None:
    box = page.locator("#topology-graph").bounding_box()
    point = cy(page, script)
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])


def test_the_side_panel_follows_the_graph_and_says_when_its_element_goes(topology):
    page, source = topology
    click(page, f"cy.getElementById('{OPEN_EDGE}').renderedMidpoint()")
    details = page.locator("#topology-details")
    details.get_by_text("Circuit OPEN").wait_for()
    assert "4.00 rps" in details.inner_text()
    mesh = bookinfo_ejection()
    ratings = mesh.requests["destination_service_name"] == "ratings"
    source.mesh_telemetry = dataclasses.replace(
        mesh,
        requests=mesh.requests.assign(
            rps=mesh.requests["rps"].mask(ratings & (mesh.requests["response_code"] == "503"), 8.0)
        ),
    )
    page.wait_for_function("() => document.querySelector('#topology-details').innerText.includes('8.00 rps')")
    assert "4.00 rps" not in details.inner_text()  # the panel agrees with the edge label again
    source.mesh_telemetry = dataclasses.replace(mesh, requests=mesh.requests[~ratings])
    details.get_by_text("no longer in the graph").wait_for()
    assert "reviews v2 → ratings" in details.inner_text()


def test_a_node_shows_its_inbound_figures(topology):
    page, _ = topology
    click(page, "cy.getElementById('service:default:reviews').renderedPosition()")
    page.locator("#topology-details").get_by_text("requests in", exact=True).wait_for()
    text = page.locator("#topology-details").inner_text()
    assert "requests in" in text and "2.00 rps" in text and "p50 / p95 / p99 in" in text
    assert "health of its calls" in text


def test_the_view_stays_put_when_nodes_come_and_go_until_fit(topology):
    page, source = topology
    page.evaluate("() => { window.cy.zoom(0.5); window.cy.pan({x: 11, y: 22}); }")
    source.mesh_telemetry = with_calls(
        bookinfo_ejection(), (labels("productpage-v1", "reviews", "reviews-v3"), 0.5)
    )
    page.wait_for_function(
        "() => window.cy.getElementById('workload:default:reviews-v3').length === 1", timeout=10_000
    )
    page.locator("#topology-status").get_by_text("nodes").wait_for()
    assert cy(page, "[cy.zoom(), cy.pan().x, cy.pan().y]") == [0.5, 11, 22]
    page.locator("#topology-fit").click()
    page.wait_for_function("() => window.cy.zoom() !== 0.5", timeout=10_000)


def test_the_address_follows_the_controls_and_reproduces_the_view(serve_app, browser_page):
    source = ScriptedSource(bookinfo_ejection())
    base = serve_app(create_app(resolve({"refresh": "1"}, {}), Services(telemetry=source)))
    page = browser_page
    page.goto(base + "/")
    page.locator("#topology-status").get_by_text("nodes").wait_for()
    page.locator("#topology-window").click()
    page.locator(".mw-topology [role=option], .mw-topology .Select-option").filter(
        has_text="5m"
    ).first.click()
    page.locator("#topology-show-idle input").check()
    page.wait_for_function(
        "() => location.search.includes('window=5m') && location.search.includes('idle=1')"
    )
    shared = page.url
    assert "refresh=1" in shared
    page.goto(shared)
    page.locator("#topology-status").get_by_text("window 5m").wait_for()
    assert page.locator("#topology-show-idle input").is_checked()
    assert source.calls[-1][1] == "5m"


def test_the_demo_reads_every_time_off_the_story_clock(serve_app, browser_page):
    from dashboard.app.services import demo_services

    settings = resolve({"refresh": "1", "phase": "canary"}, {})
    page = browser_page
    page.goto(serve_app(create_app(settings, demo_services(settings))) + "/")
    page.locator("#topology-status").get_by_text("story time").wait_for()
    page.locator("#mode-badge").get_by_text("story time").wait_for()


def _edge_history(flag: str) -> pd.DataFrame:
    """An edge's last three steps: 3 rps of 200s and 1 of `flag` 503s, then its latency buckets."""
    rows = []
    for back in (-60.0, -30.0, 0.0):
        rows += [
            (back, "requests", "200", "http", "", "-", "", 3.0),
            (back, "requests", "503", "http", "", flag, "", 1.0),
            (back, "latency", "", "", "", "", "10", 2.0),
            (back, "latency", "", "", "", "", "+Inf", 3.0),
        ]
    return pd.DataFrame(rows, columns=SELECTION_HISTORY_COLUMNS)


def test_a_selected_edge_shows_its_last_half_hour_and_a_failed_history_says_why(topology):
    page, source = topology
    source.selection_rows = _edge_history("UH<img src=x onerror=alert(1)>\u202e")
    click(page, f"cy.getElementById('{OPEN_EDGE}').renderedMidpoint()")
    charts = page.locator("#topology-sparklines")
    charts.get_by_text("Last 30 min").wait_for()
    heads = charts.locator(".mw-sparkline-head").all_inner_texts()
    assert [head.split("\n")[0] for head in heads] == [
        "requests",
        "errors",
        "p50 / p99",
        "response codes",
        "response flags",
    ]
    assert "4.00 rps" in heads[0] and "25" in heads[1] and "200, 503" in heads[3]
    assert "UH<img src=x onerror=alert(1)>\\u202e" in heads[4]  # as text, its hidden mark shown
    assert charts.locator("img").count() == 0
    page.wait_for_function("() => document.querySelectorAll('#topology-sparklines .main-svg').length >= 5")
    assert source.selections[-1].reporter == "source"
    # The history's backend fails: the charts make way for one line, the graph stays.
    source.failure = "Prometheus at http://prometheus:9090 is down"
    click(page, "cy.getElementById('service:default:reviews').renderedPosition()")
    charts.get_by_text("History unavailable").wait_for()
    assert "is down" in charts.inner_text()


def test_a_bad_refresh_in_the_address_says_why_and_keeps_refreshing(serve_app, browser_page):
    source = ScriptedSource(bookinfo_ejection())
    app = create_app(resolve({"refresh": "1"}, {}), Services(telemetry=source))
    browser_page.goto(serve_app(app) + "/?refresh=-1")
    banner = browser_page.locator("#topology-banner")
    banner.get_by_text("refresh: '-1' must be a number greater than zero").wait_for(timeout=20_000)
    assert "refreshing every 1 s" in banner.inner_text()
    browser_page.locator("#topology-status").get_by_text("nodes").wait_for()  # the graph is drawn too
    assert not browser_page.locator("#topology-paused").inner_text()  # refreshing, not paused


def test_a_still_graph_is_not_laid_out_again_and_again(serve_app, browser_page):
    """Labels are placed again when the graph or the view changes, never in
    a loop of their own: a wall screen's page must not spin the CPU while
    nothing changes (a stamp on Cytoscape's container once made it resize,
    which placed the labels again, which stamped it, every 300 ms)."""
    app = create_app(
        resolve({"refresh": "3600"}, {}), Services(telemetry=ScriptedSource(bookinfo_ejection()))
    )
    browser_page.goto(serve_app(app) + "/")
    browser_page.wait_for_function("() => window.cy && window.cy.nodes().length > 0", timeout=20_000)
    browser_page.evaluate(
        "() => { window.mwResizes = 0; window.mwLastResize = performance.now();"
        " window.cy.on('resize', () => { window.mwResizes += 1; window.mwLastResize = performance.now(); }); }"
    )
    # The page settles (its status line, the first fit); in the loop it never did.
    browser_page.wait_for_function("() => performance.now() - window.mwLastResize > 1000", timeout=10_000)
    resizes = browser_page.evaluate("() => window.mwResizes")
    stamp = browser_page.get_attribute("#topology-decluttered", "data-decluttered")
    browser_page.wait_for_timeout(1500)  # a stretch of nothing happening, observed: no readiness wait
    assert browser_page.evaluate("() => window.mwResizes") == resizes
    assert browser_page.get_attribute("#topology-decluttered", "data-decluttered") == stamp
