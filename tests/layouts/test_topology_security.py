"""The mTLS field on the page's elements: true and false reach the browser
(styled by the stylesheet's data selectors), null and empty maps do not."""

from __future__ import annotations

from layouts.topology import graph as view


def edge(**fields) -> dict:
    base = {
        "id": "a->b",
        "source": "a",
        "target": "b",
        "protocol": "http",
        "rps": 1.0,
        "error_ratio": 0.0,
        "codes": {"200": 1.0},
        "flags": {},
        "share": None,
        "health": "healthy",
        "circuit": "closed",
        "mtls": None,
    }
    return {**base, **fields}


def document(*edges: dict) -> dict:
    nodes = [
        {"id": node_id, "kind": "workload", "namespace": "default", "name": node_id, "app": node_id}
        for node_id in ("a", "b")
    ]
    return {"nodes": nodes, "edges": list(edges)}


def edge_data(one: dict) -> dict:
    drawn = view.elements(document(one), {"a": (0, 0), "b": (100, 0)}, show_idle=True)
    return next(element["data"] for element in drawn if element["data"]["id"] == "a->b")


def test_mtls_reaches_the_browser_when_known():
    assert edge_data(edge(mtls=True))["mtls"] is True
    assert edge_data(edge(mtls=False))["mtls"] is False
    assert "mtls" not in edge_data(edge(mtls=None))


def test_no_empty_maps_in_element_data():
    data = edge_data(edge())
    assert "flags" not in data and data["codes"] == {"200": 1.0}


def test_the_stylesheet_marks_both_states_at_the_callers_end():
    rules = {rule["selector"]: rule["style"] for rule in view.stylesheet()}
    assert rules["edge[?mtls]"]["source-arrow-shape"] == "square"
    assert rules["edge[mtls][!mtls]"]["source-arrow-color"] == view.PLAIN_TEXT_COLOUR
    assert rules['edge[health = "failing"]']["line-color"] == view.HEALTH_COLOURS["failing"]
    assert rules['edge[health = "degraded"]']["line-color"] == view.HEALTH_COLOURS["degraded"]
