"""The simulated traces: Jaeger's JSON shape with Istio's proxy spans, and
Jaeger's query API v1 answered as Jaeger answers it."""

from __future__ import annotations

import json

import pytest

from queries.jaeger import JaegerClient
from queries.simulator import Simulation

START = 1_800_000_000.0
PROXY_TAG_TYPES = {
    "component": "string",
    "http.status_code": "string",
    "response_flags": "string",
    "upstream_cluster": "string",
    "node_id": "string",
    "guid:x-request-id": "string",
    "istio.canonical_service": "string",
    "istio.canonical_revision": "string",
    "istio.namespace": "string",
    "span.kind": "string",
}


@pytest.fixture(scope="module")
def simulation() -> Simulation:
    return Simulation(seed=1, start=START, wall_clock=lambda: 0.0, phase="ejection")


def get(simulation: Simulation, path: str, **params: str) -> tuple[int, str, object]:
    status, content_type, body = simulation.jaeger_transport(path, params)
    return status, content_type, json.loads(body)


def search(simulation: Simulation, **params: str) -> list[dict]:
    status, content_type, document = get(simulation, "/api/traces", **params)
    assert (status, content_type) == (200, "application/json") and document["errors"] is None
    return document["data"]


def tags(span: dict) -> dict[str, dict]:
    return {tag["key"]: tag for tag in span["tags"]}


def check_trace(trace: dict) -> None:
    """What Jaeger's UI relies on: parents exist, one root, processes exist, typed tags."""
    ids = {span["spanID"] for span in trace["spans"]}
    assert len(ids) == len(trace["spans"])
    roots = [span for span in trace["spans"] if not span["references"]]
    assert len(roots) == 1
    for span in trace["spans"]:
        assert span["traceID"] == trace["traceID"] and len(span["spanID"]) == 16
        assert span["processID"] in trace["processes"]
        assert (
            isinstance(span["startTime"], int) and isinstance(span["duration"], int) and span["duration"] > 0
        )
        for reference in span["references"]:
            assert reference["refType"] == "CHILD_OF" and reference["spanID"] in ids
        for tag in span["tags"]:
            assert {"string": str, "bool": bool, "int64": int}[tag["type"]] is type(tag["value"])
        by_key = tags(span)
        if "component" in by_key:
            assert all(by_key[key]["type"] == kind for key, kind in PROXY_TAG_TYPES.items())
            host, _, rest = span["operationName"].partition(":")
            assert host.endswith(".svc.cluster.local") and rest.startswith("9080/")
            if int(by_key["http.status_code"]["value"]) >= 500:
                assert by_key["error"] == {"key": "error", "type": "bool", "value": True}
        else:
            assert by_key["http.status_code"]["type"] == "int64"


def test_a_product_page_trace_has_client_and_server_proxy_spans_per_hop(simulation: Simulation) -> None:
    [trace] = search(simulation, service="istio-ingressgateway.istio-system", limit="1")
    check_trace(trace)
    services = {trace["processes"][span["processID"]]["serviceName"] for span in trace["spans"]}
    assert services >= {
        "istio-ingressgateway.istio-system",
        "productpage.bookinfo",
        "details.bookinfo",
        "reviews.bookinfo",
    }
    proxy = [span for span in trace["spans"] if "component" in tags(span)]
    kinds = {}
    for span in proxy:
        kinds.setdefault(span["operationName"], []).append(tags(span)["span.kind"]["value"])
    for operation, seen in kinds.items():
        assert sorted(seen) == ["client", "server"], operation
    client = next(
        s
        for s in proxy
        if s["operationName"].startswith("reviews.") and tags(s)["span.kind"]["value"] == "client"
    )
    assert tags(client)["upstream_cluster"]["value"] in (
        "outbound|9080|v1|reviews.bookinfo.svc.cluster.local",
        "outbound|9080|v2|reviews.bookinfo.svc.cluster.local",
    )
    assert tags(client)["node_id"]["value"].startswith("sidecar~10.")
    request_ids = {tags(span)["guid:x-request-id"]["value"] for span in proxy}
    assert len(request_ids) == 1


def test_requests_cut_off_by_the_ejection_trace_as_503_uh_client_spans(simulation: Simulation) -> None:
    traces = search(
        simulation, service="reviews.bookinfo", tags=json.dumps({"response_flags": "UH"}), limit="5"
    )
    assert len(traces) == 5
    for trace in traces:
        check_trace(trace)
        [cut] = [span for span in trace["spans"] if tags(span).get("response_flags", {}).get("value") == "UH"]
        assert tags(cut)["http.status_code"]["value"] == "503" and tags(cut)["error"]["value"] is True
        assert not [
            span
            for span in trace["spans"]
            if any(ref["spanID"] == cut["spanID"] for ref in span["references"])
        ], "the request never left the caller"


def test_search_filters_like_jaegers_memory_store(simulation: Simulation) -> None:
    now_us = int(simulation.now * 1e6)
    recent = search(simulation, service="details.bookinfo", start=str(now_us - 30_000_000), end=str(now_us))
    assert recent and all(min(s["startTime"] for s in t["spans"]) >= now_us - 31_000_000 for t in recent)
    slow = search(simulation, service="productpage.bookinfo", minDuration="30ms", limit="500")
    assert slow and all(any(s["duration"] >= 30_000 for s in t["spans"]) for t in slow)
    operation = "GET /productpage"
    assert search(simulation, service="productpage.bookinfo", operation=operation, limit="3")
    assert search(simulation, service="productpage.bookinfo", operation="nope") == []
    assert len(search(simulation, service="reviews.bookinfo", tag="error:true", limit="7")) == 7


def test_trace_by_id_and_the_jaeger_error_quirks(simulation: Simulation) -> None:
    [trace] = search(simulation, service="details.bookinfo", limit="1")
    status, _, document = get(simulation, f"/api/traces/{trace['traceID']}")
    assert status == 200 and document["data"][0]["traceID"] == trace["traceID"] and document["total"] == 0
    status, content_type, body = simulation.jaeger_transport(
        "/api/traces/00000000000000000000000000000bad", {}
    )
    assert (status, content_type) == (404, "text/plain; charset=utf-8") and body.endswith(b"\n")
    assert json.loads(body)["errors"] == [{"code": 404, "msg": "trace not found"}]
    for path, params, message in [
        ("/api/traces/xyz", {}, 'strconv.ParseUint: parsing "xyz": invalid syntax'),
        ("/api/traces", {}, "parameter 'service' is required"),
        (
            "/api/traces",
            {"service": "a", "start": "soon"},
            "unable to parse param 'start': strconv.ParseInt: parsing \"soon\": invalid syntax",
        ),
        (
            "/api/traces",
            {"service": "a", "minDuration": "5"},
            "unable to parse param 'minDuration': time: missing unit in duration \"5\"",
        ),
        (
            "/api/traces",
            {"service": "a", "tag": "error"},
            "malformed 'tag' parameter, expecting key:value, received: error",
        ),
        ("/api/operations", {}, "parameter 'service' is required"),
    ]:
        status, content_type, body = simulation.jaeger_transport(path, params)
        assert (status, content_type) == (400, "text/plain; charset=utf-8"), path
        assert json.loads(body)["errors"] == [{"code": 400, "msg": message}]
    assert simulation.jaeger_transport("/api/nothing", {}) == (
        404,
        "text/plain; charset=utf-8",
        b"404 page not found\n",
    )


def test_services_operations_and_dependencies(simulation: Simulation) -> None:
    _, _, services = get(simulation, "/api/services")
    assert services["data"] == sorted(services["data"]) and services["total"] == len(services["data"])
    assert "reviews.bookinfo" in services["data"]
    _, _, operations = get(simulation, "/api/services/ratings.bookinfo/operations")
    assert operations["data"] == ["GET /ratings/0", "ratings.bookinfo.svc.cluster.local:9080/ratings/0"]
    _, _, clients = get(simulation, "/api/operations", service="reviews.bookinfo", spanKind="client")
    assert clients["data"] == [
        {"name": "ratings.bookinfo.svc.cluster.local:9080/ratings/0", "spanKind": "client"}
    ]
    end_ms = int(simulation.now * 1000)
    _, _, links = get(simulation, "/api/dependencies", endTs=str(end_ms), lookback="60000")
    calls = {(link["parent"], link["child"]): link["callCount"] for link in links["data"]}
    assert calls[("productpage.bookinfo", "reviews.bookinfo")] > 0
    assert calls[("istio-ingressgateway.istio-system", "productpage.bookinfo")] > 0


def test_the_trace_store_is_a_ring_buffer() -> None:
    simulation = Simulation(seed=1, start=START, wall_clock=lambda: 0.0, trace_capacity=20)
    simulation.advance(START + 60)
    assert len(simulation.traces) == 20
    newest = max(trace.start for trace in simulation.traces)
    assert newest > START + 50


def test_the_traces_engineers_client_reads_the_simulator(simulation: Simulation) -> None:
    client = JaegerClient("http://simulated", api="v1", transport=simulation.jaeger_transport)
    assert "ratings.bookinfo" in client.services()
    [record] = client.search("productpage.bookinfo", limit=1, end=simulation.now)
    assert client.trace(record.trace_id).trace_id == record.trace_id
