"""A big mesh in headless Chromium: above --overview-nodes the page opens on
one node per namespace (an open circuit inside showing), a click opens a
namespace where it stood, and Fold folds them again."""

from __future__ import annotations

import json
import threading

import pytest

from dashboard.app import create_app, views
from dashboard.app.config import resolve
from dashboard.app.services import Services
from tests.support.frames import labels
from tests.support.telemetry import ScriptedSource, bookinfo_ejection, with_calls

pytestmark = pytest.mark.browser


def shop_mesh() -> ScriptedSource:
    """Bookinfo (its ratings circuit open) in `default`, plus a shop calling a data namespace."""
    calls = [
        (labels("web-v1", "api", "api-v1", ns="shop"), 5.0),
        (labels("api-v1", "orders", "orders-v1", ns="data", caller_ns="shop"), 3.0),
        (labels("api-v1", "stock", "stock-v1", ns="data", caller_ns="shop"), 2.0),
        (labels("productpage-v1", "api", "api-v1", ns="shop", caller_ns="default"), 1.0),
    ]
    return ScriptedSource(with_calls(bookinfo_ejection(), *calls))


def cy(page, script: str):
    return page.evaluate(f"() => {{ const cy = window.cy; return {script}; }}")


def drawn_ids(page) -> set[str]:
    return set(cy(page, "cy.nodes(':childless').map(n => n.id())"))


def test_a_big_mesh_opens_on_its_namespaces_and_a_click_opens_one_in_place(serve_app, browser_page):
    page = browser_page
    app = create_app(resolve({"refresh": "3600", "overview_nodes": "5"}, {}), Services(telemetry=shop_mesh()))
    page.goto(serve_app(app) + "/")
    page.wait_for_function("() => window.cy && window.cy.nodes().length > 0", timeout=20_000)
    status = page.locator("#topology-status")
    status.get_by_text("namespaces folded").wait_for()
    assert drawn_ids(page) == {
        "namespace:default",
        "namespace:shop",
        "namespace:data",
        "namespace:istio-system",
    }
    assert "4 namespaces folded" in status.inner_text()
    loop = "namespace:default->namespace:default"
    assert cy(page, f"cy.getElementById('{loop}').data('circuit')") == "open"  # the circuit inside shows
    fold = page.locator("#topology-fold")
    assert fold.is_visible()
    before = cy(page, "Object.fromEntries(cy.nodes(':childless').map(n => [n.id(), n.position()]))")
    cy(page, "(cy.elements().forEach(e => e.scratch('kept', true)), 0)")

    box = page.locator("#topology-graph").bounding_box()
    point = cy(page, "cy.getElementById('namespace:shop').renderedPosition()")
    asked: list[str] = []
    page.on(
        "request",
        lambda request: (
            asked.append(json.loads(request.post_data)["output"])
            if "_dash-update-component" in request.url
            else None
        ),
    )
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
    page.wait_for_function(
        "() => window.cy.getElementById('workload:shop:api-v1').length === 1", timeout=15_000
    )
    # The click selects nothing: a request for the selection had held its refresh back.
    assert any("topology-patch" in output for output in asked)
    assert not any("topology-selected" in output for output in asked)
    opened = drawn_ids(page)
    assert {"workload:shop:web-v1", "service:shop:api", "workload:shop:api-v1"} <= opened
    assert "namespace:shop" not in opened and {"namespace:default", "namespace:data"} <= opened
    after = cy(page, "Object.fromEntries(cy.nodes(':childless').map(n => [n.id(), n.position()]))")
    # Opened where it stood: its first node at the folded node's place; what lay left of it stays.
    inside = [after[node] for node in opened if ":shop:" in node]
    assert min(p["x"] for p in inside) == pytest.approx(before["namespace:shop"]["x"])
    for node, place in before.items():
        if node != "namespace:shop" and place["x"] < before["namespace:shop"]["x"]:
            assert after[node] == place
    status.get_by_text("3 namespaces folded").wait_for()
    # Only what the click changed was sent and drawn: the other namespaces are the elements they were.
    assert cy(page, "cy.getElementById('namespace:data').scratch('kept')") is True
    assert cy(page, "cy.getElementById('namespace:default->namespace:default').scratch('kept')") is True

    fold.click()
    page.wait_for_function("() => window.cy.getElementById('namespace:shop').length === 1", timeout=15_000)
    assert "workload:shop:api-v1" not in drawn_ids(page)


def test_a_click_while_the_next_refresh_is_out_draws_from_the_graph_shown(serve_app, browser_page):
    # At 5,000 workloads a refresh outlasts the interval: a click that opened a
    # namespace asked for the present's queries and waited for all of them.
    page, now, gate = browser_page, [1_800_000_000.0], threading.Event()
    gate.set()
    source = shop_mesh()
    scripted = source.mesh

    def held(*args):
        gate.wait(30)
        return scripted(*args)

    source.mesh = held
    settings = resolve({"refresh": "5", "overview_nodes": "5"}, {})
    page.goto(serve_app(create_app(settings, Services(telemetry=source, clock=lambda: now[0]))) + "/")
    page.wait_for_function("() => window.cy && window.cy.getElementById('namespace:shop').length === 1")
    try:
        gate.clear()
        now[0] += 10  # two intervals on: the present's queries are out, and held
        box = page.locator("#topology-graph").bounding_box()
        point = cy(page, "cy.getElementById('namespace:shop').renderedPosition()")
        page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
        page.wait_for_function(
            "() => window.cy.getElementById('workload:shop:api-v1').length === 1", timeout=3_000
        )
        assert not gate.is_set()
    finally:
        gate.set()


def test_a_pointer_resting_on_a_folded_namespace_builds_its_opening_before_the_click(
    serve_app, browser_page, monkeypatch
):
    # The first click on a namespace is otherwise its build (0.25 s at 5,000 workloads).
    page, opened, built = browser_page, threading.Event(), []
    drawn_of = views.graph_of

    def noted(mesh, settings, namespaces, config, graph_type, overview, *rest):
        if overview is not None and overview.expanded:
            built.append(overview.expanded)
            opened.set()
        return drawn_of(mesh, settings, namespaces, config, graph_type, overview, *rest)

    monkeypatch.setattr(views, "graph_of", noted)
    app = create_app(resolve({"refresh": "3600", "overview_nodes": "5"}, {}), Services(telemetry=shop_mesh()))
    page.goto(serve_app(app) + "/")
    page.wait_for_function("() => window.cy && window.cy.getElementById('namespace:shop').length === 1")
    box = page.locator("#topology-graph").bounding_box()
    point = cy(page, "cy.getElementById('namespace:shop').renderedPosition()")
    page.mouse.move(box["x"] + point["x"], box["y"] + point["y"])
    assert opened.wait(10) and built == [frozenset({"shop"})]
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
    page.wait_for_function("() => window.cy.getElementById('workload:shop:api-v1').length === 1")
    assert built == [frozenset({"shop"})]  # the click drew what the rest had built
