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


def test_probes_stay_ready_through_a_prometheus_outage(client, source):
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    source.failure = "Prometheus at http://p:9090 did not answer within 10s"
    # A stale view is still worth serving: the replica stays in its Service.
    assert client.get("/readyz").status_code == 200
    assert client.get("/healthz").status_code == 200


def test_api_status_says_how_each_backend_last_answered(client, source):
    up = client.get("/api/status").get_json()
    assert up["prometheus"]["up"] is True and up["prometheus"]["error"] is None
    assert isinstance(up["prometheus"]["last_ok"], float)
    source.failure = "Prometheus at http://p:9090 did not answer within 10s"
    assert client.get("/api/graph").status_code == 502
    down = client.get("/api/status").get_json()["prometheus"]
    assert down == {"up": False, "last_ok": up["prometheus"]["last_ok"], "error": source.failure}
    source.failure = None
    assert client.get("/api/graph?at=1700000000").status_code == 200
    assert client.get("/api/status").get_json()["prometheus"]["up"] is True


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
    client = app.server.test_client()
    with runtime.traces.parsing():
        answers = [
            client.get("/api/trace/4bf92f3577b34da6a3ce929d0e0e4736"),
            # A compare reads its traces through the same cache and its limit.
            client.get("/api/compare/4bf92f3577b34da6a3ce929d0e0e4736/0af7651916cd43dd8448eb211c80319c"),
        ]
    for answer in answers:
        assert answer.status_code == 503 and "busy: 1 trace is being read" in answer.get_json()["error"]
        assert answer.headers["Retry-After"] == "5"


def test_api_trace_and_compare_serve_the_cli_documents():
    from dashboard.traces.compare import compare_traces, diff_document
    from dashboard.traces.tree import build_tree
    from queries.jaeger import JaegerClient
    from queries.traces.jaeger_v1 import parse_trace
    from tests.support.jaeger import TRACE_503, TRACE_OK, FakeJaeger, bookinfo_trace, circuit_open_trace

    fake = FakeJaeger("v1")
    base = fake.start()
    try:
        services = Services(telemetry=ScriptedSource([]), traces=JaegerClient(base))
        client = create_app(resolve({}, {}), services).server.test_client()
        response = client.get(f"/api/compare/{TRACE_OK}/{TRACE_503}")
        assert response.status_code == 200
        expected = compare_traces(
            build_tree(parse_trace(bookinfo_trace())), build_tree(parse_trace(circuit_open_trace()))
        )
        assert response.get_json() == diff_document(expected)
        assert client.get(f"/api/compare/{TRACE_OK}/xyz").get_json() == {
            "error": "bad trace id 'xyz': expected up to 32 hex digits"
        }
        missing = client.get(f"/api/compare/{TRACE_OK}/0bad")
        assert missing.status_code == 404 and "trace 0bad not found" in missing.get_json()["error"]
        assert (
            client.get(f"/api/trace/{TRACE_503}").get_json()["start_time_us"]
            == circuit_open_trace()["spans"][0]["startTime"]
        )
    finally:
        fake.stop()


@pytest.mark.parametrize("graph_type", ["versioned", "app", "workload", "service"])
def test_api_graph_draws_each_graph_type(client, graph_type):
    response = client.get(f"/api/graph?graph={graph_type}")
    assert response.status_code == 200
    expected = snapshot_document(build_graph(bookinfo_ejection(), resolve({}, {}), graph_type=graph_type))
    assert response.get_json() == expected


def test_api_graph_finds_and_hides(client):
    open_edge = "workload:default:reviews-v2->service:default:ratings"
    found = client.get("/api/graph", query_string={"find": "circuit = open"}).get_json()
    assert found["found"] == [open_edge]
    assert "found" not in client.get("/api/graph", query_string={"find": " "}).get_json()
    hidden = client.get("/api/graph", query_string={"hide": "name = ratings", "find": "health = failing"})
    document = hidden.get_json()
    assert "service:default:ratings" not in {n["id"] for n in document["nodes"]}
    assert all("ratings" not in e["id"] for e in document["edges"])
    assert document["found"] == []  # the failing edge went with ratings
    assert client.get("/api/graph?graph=app&find=app%20%3D%20reviews").get_json()["found"]


@pytest.mark.parametrize(
    "query, words",
    [
        (
            {"find": "rps >"},
            "find: bad expression: expected a number after 'rps >', found the end at column 6",
        ),
        ({"hide": "health = grand"}, "hide: bad expression: 'health' is one of"),
        ({"graph": "mesh"}, "graph: bad value 'mesh': choose one of versioned, app, workload, service"),
    ],
)
def test_api_graph_refuses_a_bad_expression_or_graph_type_in_one_line(client, source, query, words):
    calls = len(source.calls)
    response = client.get("/api/graph", query_string=query)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert words in error and "\n" not in error
    assert len(source.calls) == calls  # refused before asking the data source
