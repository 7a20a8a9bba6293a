"""A cold page paints the graph from the refresh's early report (rates,
errors, health and circuits) without waiting for the latency buckets, the
slowest query by far, and the latency follows by itself; the JSON API
always answers whole."""

from __future__ import annotations

import threading

import bcrypt
import pytest
import requests

from dashboard.app import create_app
from dashboard.app.config import resolve
from dashboard.app.services import Services
from tests.support.telemetry import ScriptedSource, bookinfo_ejection

LOADING = "latency loading"
STATUS = "(document.getElementById('topology-status') || {innerText: ''}).innerText"


def cy(page, script: str):
    return page.evaluate(f"() => {{ const cy = window.cy; return {script}; }}")


@pytest.mark.browser
def test_a_first_paint_does_not_wait_for_latency_which_follows_unasked(serve_app, browser_page):
    page, held = browser_page, threading.Event()
    source = ScriptedSource(bookinfo_ejection(), latency_held=held)
    # A refresh a minute apart: only the page's own follow-up can bring the latency sooner.
    url = serve_app(create_app(resolve({"refresh": "60"}, {}), Services(telemetry=source)))
    answered: list[dict] = []
    api = threading.Thread(
        target=lambda: answered.append(requests.get(url + "/api/graph", timeout=30).json())
    )
    try:
        page.goto(url + "/")
        page.wait_for_function(f"() => {STATUS}.includes('{LOADING}')", timeout=20_000)
        page.wait_for_function("() => window.cy && window.cy.edges().length > 0")
        # Drawn while the latency buckets are held: health and the open circuit, no latency.
        assert cy(page, "cy.edges().filter(e => e.data('circuit') === 'open').length") == 1
        assert cy(page, "cy.edges().filter(e => e.data('health') === 'failing').length") >= 1
        assert cy(page, "cy.edges().filter(e => e.data('p99_ms') != null).length") == 0
        api.start()
        api.join(1.0)
        assert not answered  # the API waits for the whole graph
        held.set()
        page.wait_for_function(f"() => !{STATUS}.includes('{LOADING}')", timeout=10_000)
        page.wait_for_function("() => window.cy.edges().some(e => e.data('p99_ms') != null)", timeout=5_000)
        assert len(source.calls) == 1  # one refresh, drawn twice
        api.join(10)
        assert [edge["p99_ms"] is not None for edge in answered[0]["edges"]].count(True) >= 1
    finally:
        held.set()


def noted_source() -> tuple[ScriptedSource, threading.Event]:
    """Bookinfo, and an event set when a refresh asks for it."""
    source, asked = ScriptedSource(bookinfo_ejection()), threading.Event()
    scripted = source.mesh

    def noted(*args):
        asked.set()
        return scripted(*args)

    source.mesh = noted
    return source, asked


def test_loading_the_page_begins_the_graph_its_first_poll_asks_for():
    # The page's scripts take a second or more before they ask.
    source, asked = noted_source()
    client = create_app(resolve({}, {}), Services(telemetry=source, clock=lambda: 1.8e9)).server.test_client()
    # A fixed time, or an address the poll will refuse, begins nothing.
    for refused in ("/?at=2027-01-01T00:00:00Z", "/?namespace=Not_A_Namespace!", "/topology?graph=nonsense"):
        assert client.get(refused).status_code == 200
    assert client.get("/topology?namespace=bookinfo&window=5m").status_code == 200
    assert asked.wait(10)
    assert [(window, namespaces) for _, window, namespaces in source.calls] == [("5m", ("bookinfo",))]


def test_a_page_load_refused_by_access_control_begins_nothing(tmp_path):
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text("sre:" + bcrypt.hashpw(b"secret", bcrypt.gensalt(rounds=4)).decode() + "\n")
    source, asked = noted_source()
    settings = resolve({"auth": "basic", "auth_htpasswd": str(htpasswd)}, {})
    client = create_app(settings, Services(telemetry=source, clock=lambda: 1.8e9)).server.test_client()
    assert client.get("/").status_code == 401
    assert client.get("/", auth=("sre", "secret")).status_code == 200
    assert asked.wait(10) and len(source.calls) == 1
