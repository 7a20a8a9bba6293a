"""Graph types (dashboard.mesh.graph_types) and the mTLS mark on hand-made
telemetry: merged figures recomputed from the series (never averaged), ids,
the nodes each type keeps, and the security policy of delivered requests."""

from __future__ import annotations

import pytest

from dashboard.app.config import resolve
from dashboard.mesh.build import build_graph
from dashboard.mesh.graph_types import GRAPH_TYPES, projection, services_behind
from dashboard.mesh.histogram import histogram_quantiles
from dashboard.mesh.security import mtls_state
from dashboard.mesh.snapshot import EDGE_FIELDS, NODE_FIELDS, snapshot_document
from queries.telemetry import split_requests
from tests.support.frames import frame, labels, latency_rows, telemetry

RULES = resolve({}, {})
W, S, A = "workload:default:", "service:default:", "app:default:"
V1_MS, V2_MS = [2, 4, 8, 12, 30, 60], [40, 90, 700, 900]


# productpage-v1 -> reviews -> v1 (99 rps OK) and v2 (0.5 OK, 0.5 500);
# reviews-v2 -> ratings cut off (4 rps 503 UH: open); reviews-v3 -> ratings
# 10 rps OK (closed); a caller without a sidecar -> productpage.
REQUESTS = [
    (labels("productpage-v1", "reviews", "reviews-v1"), 99.0),
    (labels("productpage-v1", "reviews", "reviews-v2"), 0.5),
    (labels("productpage-v1", "reviews", "reviews-v2", response_code="500"), 0.5),
    (labels("reviews-v2", "ratings", response_code="503", response_flags="UH"), 4.0),
    (labels("reviews-v3", "ratings", "ratings-v1"), 10.0),
    (labels("unknown", "productpage", "productpage-v1", reporter="destination"), 2.0),
]


def mesh(requests=(), **extra):
    return telemetry(
        requests=[*REQUESTS, *requests],
        latency=[
            *latency_rows(labels("productpage-v1", "reviews", "reviews-v1"), V1_MS, per_second=99.0),
            *latency_rows(labels("productpage-v1", "reviews", "reviews-v2"), V2_MS, per_second=1.0),
        ],
        **extra,
    )


def document(graph_type: str, telemetry_=None, namespaces=()) -> dict:
    return snapshot_document(build_graph(telemetry_ or mesh(), RULES, namespaces, graph_type))


def by_id(items: list[dict]) -> dict[str, dict]:
    return {item["id"]: item for item in items}


@pytest.mark.parametrize("graph_type", GRAPH_TYPES)
def test_every_type_keeps_the_schema(graph_type):
    drawn = document(graph_type)
    assert set(drawn) == {"at", "window", "warnings", "nodes", "edges"}
    assert all(list(node) == list(NODE_FIELDS) for node in drawn["nodes"])
    assert all(list(edge) == list(EDGE_FIELDS) for edge in drawn["edges"])
    ids = {node["id"] for node in drawn["nodes"]}
    assert all(edge["source"] in ids and edge["target"] in ids for edge in drawn["edges"])
    assert all(edge["id"] == f"{edge['source']}->{edge['target']}" for edge in drawn["edges"])


def test_versioned_is_the_default():
    assert document("versioned") == snapshot_document(build_graph(mesh(), RULES))


def test_app_merges_the_versions_of_an_app_into_one_workload_node():
    drawn = document("app")
    nodes, edges = by_id(drawn["nodes"]), by_id(drawn["edges"])
    reviews = nodes[A + "reviews"]
    assert (reviews["kind"], reviews["name"], reviews["app"], reviews["version"]) == (
        "workload",
        "reviews",
        "reviews",
        None,
    )
    assert not any(node_id.startswith("workload:") for node_id in nodes)
    assert "unknown" in nodes  # a caller without a sidecar stays itself
    delivered = edges[f"{S}reviews->{A}reviews"]
    assert delivered["rps"] == pytest.approx(100)
    assert delivered["codes"] == pytest.approx({"200": 99.5, "500": 0.5})
    assert delivered["error_ratio"] == pytest.approx(0.005)  # summed errors over summed requests
    assert delivered["health"] == "degraded"  # any 5xx, of all the app's requests
    assert delivered["share"] == pytest.approx(1.0)


def test_app_quantiles_come_from_the_merged_buckets():
    edges = by_id(document("app")["edges"])
    buckets = {}
    for row, rate in [
        *latency_rows(labels("p", "r"), V1_MS, per_second=99.0),
        *latency_rows(labels("p", "r"), V2_MS, per_second=1.0),
    ]:
        bound = float(row["le"])
        buckets[bound] = buckets.get(bound, 0.0) + rate
    expected = histogram_quantiles((0.5, 0.95, 0.99), list(buckets.items()))
    delivered = edges[f"{S}reviews->{A}reviews"]
    assert [delivered["p50_ms"], delivered["p95_ms"], delivered["p99_ms"]] == pytest.approx(
        expected, rel=1e-5
    )
    versioned = by_id(document("versioned")["edges"])
    # Not an average of the versions' p99s: v2's slow 1 % sits in the tail.
    averaged = (
        versioned[f"{S}reviews->{W}reviews-v1"]["p99_ms"] + versioned[f"{S}reviews->{W}reviews-v2"]["p99_ms"]
    ) / 2
    assert delivered["p99_ms"] != pytest.approx(averaged)


def test_an_apps_circuit_is_the_worst_of_its_versions():
    edges = by_id(document("app")["edges"])
    calls = edges[f"{A}reviews->{S}ratings"]
    assert calls["rps"] == pytest.approx(14)
    assert calls["flags"] == pytest.approx({"UH": 4})
    # 4 of 14 requests UH would not open a circuit by itself; v2's breaker is open.
    assert calls["circuit"] == "open"
    assert edges[f"{S}ratings->{A}ratings"]["circuit"] == "closed"


def test_workload_graph_has_no_service_nodes_but_for_requests_that_reached_no_workload():
    drawn = document("workload")
    nodes, edges = by_id(drawn["nodes"]), by_id(drawn["edges"])
    assert [node_id for node_id in nodes if node_id.startswith("service:")] == [S + "ratings"]
    assert edges[f"{W}productpage-v1->{W}reviews-v1"]["rps"] == pytest.approx(99)
    to_v2 = edges[f"{W}productpage-v1->{W}reviews-v2"]
    assert (to_v2["rps"], to_v2["error_ratio"], to_v2["health"]) == (1.0, 0.5, "failing")
    rejected = edges[f"{W}reviews-v2->{S}ratings"]
    assert (rejected["rps"], rejected["flags"], rejected["circuit"]) == (4.0, {"UH": 4.0}, "open")
    assert nodes[S + "ratings"]["health"] == "failing"
    assert edges[f"{W}reviews-v3->{W}ratings-v1"]["circuit"] == "closed"
    assert edges[f"unknown->{W}productpage-v1"]["rps"] == pytest.approx(2)
    v2 = edges[f"{W}productpage-v1->{W}reviews-v2"]
    assert v2["p99_ms"] == pytest.approx(histogram_quantiles((0.99,), latency_buckets(V2_MS))[0], rel=1e-5)


def latency_buckets(observations):
    return [(float(row["le"]), rate) for row, rate in latency_rows(labels("p", "r"), observations)]


def test_service_graph_draws_the_calls_of_the_workloads_behind_each_service():
    drawn = document("service")
    nodes, edges = by_id(drawn["nodes"]), by_id(drawn["edges"])
    # reviews-v3 is behind no service here (nobody calls it), so it stays a caller of its own.
    assert set(nodes) == {S + "reviews", S + "ratings", S + "productpage", W + "reviews-v3", "unknown"}
    calls = edges[f"{S}reviews->{S}ratings"]
    assert (calls["rps"], calls["circuit"], calls["share"]) == (4.0, "open", None)
    assert edges[f"{W}reviews-v3->{S}ratings"]["rps"] == pytest.approx(10)
    assert nodes[S + "ratings"]["rps_in"] == pytest.approx(14)
    assert nodes[S + "reviews"]["rps_out"] == pytest.approx(4)


def test_a_workload_behind_two_services_calls_for_both():
    telemetry_ = mesh([(labels("productpage-v1", "reviews-canary", "reviews-v2"), 1.0)])
    versioned = build_graph(telemetry_, RULES)
    assert services_behind(versioned)[W + "reviews-v2"] == [S + "reviews", S + "reviews-canary"]
    edges = by_id(document("service", telemetry_)["edges"])
    assert edges[f"{S}reviews->{S}ratings"]["rps"] == edges[f"{S}reviews-canary->{S}ratings"]["rps"] == 4.0


@pytest.mark.parametrize("graph_type", GRAPH_TYPES)
def test_types_filter_by_namespace_like_the_versioned_graph(graph_type):
    telemetry_ = mesh(
        [(labels("reviews-v3", "ledger", "ledger-v1", ns="payments", caller_ns="default"), 1.0)]
    )
    drawn = document(graph_type, telemetry_, ["payments"])
    namespaces = {node["id"]: node["namespace"] for node in drawn["nodes"]}
    assert "payments" in namespaces.values() and "default" in namespaces.values()
    assert all(
        "payments" in (namespaces[edge["source"]], namespaces[edge["target"]]) for edge in drawn["edges"]
    )


def test_an_unknown_graph_type_is_refused():
    with pytest.raises(ValueError, match="unknown graph type 'mesh'"):
        projection("mesh", build_graph(mesh(), RULES))


# ---- mTLS ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "policies, expected",
    [
        ({"mutual_tls": 3.0}, True),
        ({"mutual_tls": 3.0, "none": 0.1}, False),
        ({"none": 1.0}, False),
        ({"mutual_tls": 0.0, "none": 0.0}, None),
        ({"unknown": 2.0}, None),
        ({}, None),
    ],
)
def test_mtls_state(policies, expected):
    assert mtls_state(policies) is expected


def secured(caller: str, service: str, callee: str, policy: str, rps: float, **extra):
    return (
        labels(caller, service, callee, reporter="destination", connection_security_policy=policy, **extra),
        rps,
    )


def test_mtls_comes_from_the_destinations_view_of_delivered_requests():
    telemetry_ = mesh(
        security=[
            secured("productpage-v1", "reviews", "reviews-v1", "mutual_tls", 99.0),
            secured("productpage-v1", "reviews", "reviews-v2", "mutual_tls", 0.9),
            secured("productpage-v1", "reviews", "reviews-v2", "none", 0.1),
            secured("reviews-v3", "ratings", "ratings-v1", "mutual_tls", 10.0),
            secured("unknown", "productpage", "productpage-v1", "none", 2.0),
        ]
    )
    versioned = by_id(document("versioned", telemetry_)["edges"])
    assert versioned[f"{S}reviews->{W}reviews-v1"]["mtls"] is True
    assert versioned[f"{S}reviews->{W}reviews-v2"]["mtls"] is False
    assert versioned[f"{W}productpage-v1->{S}reviews"]["mtls"] is False  # some of its requests in plain text
    assert versioned[f"unknown->{S}productpage"]["mtls"] is False
    # Refused by the caller's sidecar: no server ever saw a connection.
    assert versioned[f"{W}reviews-v2->{S}ratings"]["mtls"] is None
    assert by_id(document("app", telemetry_)["edges"])[f"{S}reviews->{A}reviews"]["mtls"] is False
    service = by_id(document("service", telemetry_)["edges"])
    assert service[f"{W}reviews-v3->{S}ratings"]["mtls"] is True
    assert service[f"{S}reviews->{S}ratings"]["mtls"] is None


def test_the_request_query_result_splits_into_counted_requests_and_the_security_view():
    from queries.telemetry import REQUEST_LABELS

    result = frame(
        [
            (labels("productpage-v1", "reviews", "reviews-v1"), 5.0),
            (labels("productpage-v1", "reviews", "reviews-v1", reporter="destination"), 5.0),
            (labels("unknown", "reviews", "reviews-v1", reporter="destination"), 1.0),
        ],
        REQUEST_LABELS,
        "rps",
    )
    counted, security = split_requests(result)
    assert counted["reporter"].tolist() == ["source", "destination"]
    assert counted["source_workload"].tolist() == ["productpage-v1", "unknown"]
    assert security["connection_security_policy"].tolist() == ["mutual_tls", "none"]
    assert security["rps"].tolist() == [5.0, 1.0]
