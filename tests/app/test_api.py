"""The JSON API and probes, through Flask's in-process test client."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from dashboard.app import create_app
from dashboard.app.config import resolve
from dashboard.app.services import Services
from dashboard.mesh.build import build_graph
from dashboard.mesh.snapshot import snapshot_document
from tests.support.telemetry import ScriptedSource, bookinfo_ejection


@pytest.fixture
def source() -> ScriptedSource:
    return ScriptedSource(bookinfo_ejection())


@pytest.fixture
def client(source):
    settings = resolve({}, {})
    app = create_app(settings, Services(telemetry=source, clock=lambda: 1_800_000_000.0))
    return app.server.test_client()


def test_api_graph_is_the_snapshot_document(client, source):
    response = client.get("/api/graph?at=2026-11-26T10:00:00Z&window=5m&namespace=default")
    assert response.status_code == 200
    expected = snapshot_document(build_graph(bookinfo_ejection(), resolve({}, {}), ["default"]))
    assert response.get_json() == expected
    assert source.calls[-1] == (1795687200.0, "5m", ("default",))


def test_api_graph_defaults_to_now_and_the_configured_window(client, source):
    assert client.get("/api/graph").status_code == 200
    assert source.calls[-1] == (1_800_000_000.0, "1m", ())


@pytest.mark.parametrize(
    "query, words",
    [
        ("namespace=Bad_NS", "bad namespace"),
        ("window=10parsecs", "bad duration"),
        ("at=yesterday", "bad time"),
    ],
)
def test_api_graph_rejects_bad_input_with_a_message(client, query, words):
    response = client.get(f"/api/graph?{query}")
    assert response.status_code == 400
    assert words in response.get_json()["error"]


def test_api_graph_reports_a_failing_source(client, source):
    source.failure = "cannot reach Prometheus at http://p:9090: Connection refused"
    response = client.get("/api/graph")
    assert response.status_code == 502
    assert response.get_json() == {"error": source.failure}


def test_probes(client, source):
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    source.failure = "Prometheus at http://p:9090 did not answer within 10s"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "did not answer" in response.get_json()["error"]


def test_gunicorn_can_load_the_app_factory():
    # gunicorn imports 'dashboard.app:create_app()' and needs a WSGI callable.
    code = "from dashboard.app import create_app; app = create_app(); assert callable(app.server.wsgi_app)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"MESHWATCH_PROMETHEUS": "http://127.0.0.1:9", "PATH": ""},
    )
    assert result.returncode == 0, result.stderr


def test_unknown_api_paths_answer_json_404(client):
    for path in ("/api/nope", "/api/", "/api/graph/extra"):
        response = client.get(path)
        assert response.status_code == 404 and response.is_json, path
        assert "no API at" in response.get_json()["error"]


def test_the_dashboard_serves_under_a_base_path(source):
    app = create_app(
        resolve({"base_path": "/meshwatch"}, {}), Services(telemetry=source, clock=lambda: 1.8e9)
    )
    client = app.server.test_client()
    assert client.get("/meshwatch/api/graph").get_json()["window"] == "1m"
    assert client.get("/meshwatch/healthz").status_code == 200
    page = client.get("/meshwatch/").get_data(as_text=True)
    dash_config = json.loads(
        re.search(r'id="_dash-config" type="application/json">(.*?)</script>', page, re.S)[1]
    )
    assert dash_config["requests_pathname_prefix"] == "/meshwatch/"
    assert client.get("/api/graph").status_code == 404


def test_too_many_trace_reads_at_once_is_503_busy(source):
    app = create_app(resolve({"max_trace_parses": "1"}, {}), Services(telemetry=source, traces=None))
    runtime = app.server.extensions["meshwatch"]
    with runtime.traces.parsing():
        answer = app.server.test_client().get("/api/trace/4bf92f3577b34da6a3ce929d0e0e4736")
    assert answer.status_code == 503 and "busy: 1 trace is being read" in answer.get_json()["error"]
    assert answer.headers["Retry-After"] == "5"
