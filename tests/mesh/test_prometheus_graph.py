"""The service graph through a real Prometheus holding backfilled Istio metrics.

One Prometheus serves the whole module. The mesh (rates in requests/s, every
rate exact because counters rise linearly and the 1m window holds 5 samples):

bookinfo
  istio-ingressgateway (istio-system) -> productpage -> productpage-v1   10, both reporters
  unknown (no sidecar)                -> productpage -> productpage-v1    3, destination only
  productpage-v1 -> details -> details-v1                 9.9 x 200 + 0.1 x 500, both reporters
  productpage-v1 -> reviews -> reviews-v1 6 / reviews-v2 2 (canary split), latency histograms
  reviews-v2 -> ratings -> ratings-v1     8 x 200 (both reporters) + 2 x 503 UO (source only)
  reviews-v3 -> ratings -> ratings-v1     4 x 200; Envoy pending-overflow counter rising
  ratings-v1 -> mongodb -> mongodb-v1     series present, no traffic (idle)
  ratings-v1 -> mysqldb -> mysqldb-v1     TCP 1000 B/s sent + 500 B/s received, both reporters
shop
  frontend-v1 -> payments -> payments-v1  2 x 200 + 2 x 503 UH (exactly 50 %: open)
  frontend-v1 -> inventory -> inventory-v1 3 x 200 + 2 x 503 UH (40 %: not open)
  frontend-v1 -> cart -> cart-v1          5 x 200; Envoy: both hosts ejected (open)
  frontend-v1 -> catalog -> catalog-v1    gRPC 8 x OK + 2 x UNAVAILABLE(14)
  frontend-v1 -> productpage (bookinfo) -> productpage-v1  1

As Istio's proxies do, destination series carry connection_security_policy
`mutual_tls` (`none` from the caller without a sidecar), source ones `unknown`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from dashboard.app.config import resolve
from dashboard.mesh.build import build_graph
from dashboard.mesh.snapshot import EDGE_FIELDS, NODE_FIELDS, snapshot_document
from queries.prometheus import PrometheusSource
from tests.support.frames import labels
from tests.support.prometheus import (
    END,
    Counter,
    CountingProxy,
    Gauge,
    Histogram,
    prometheus_holding,
)

pytestmark = pytest.mark.prometheus

# The installed console script, next to this interpreter (or on PATH).
MESHWATCH = (
    shutil.which("meshwatch", path=str(Path(sys.executable).parent))
    or shutil.which("meshwatch")
    or "meshwatch"
)
AT_RFC3339 = "2024-01-01T00:10:00Z"
TCP_DROPPED = ("request_protocol", "response_code", "grpc_response_status", "response_flags")


def requests_total(
    caller: str, service: str, callee: str, rps: float, *, both: bool = False, **extra: str
) -> list[Counter]:
    """istio_requests_total from the source reporter (and the destination's
    count of the very same requests when `both`)."""
    series = [Counter("istio_requests_total", labels(caller, service, callee, **extra), rate=rps)]
    if both:
        series.append(
            Counter(
                "istio_requests_total",
                labels(caller, service, callee, **{**extra, "reporter": "destination"}),
                rate=rps,
            )
        )
    return series


def duration(
    caller: str, service: str, callee: str, rps: float, observations: list[float], **extra: str
) -> Histogram:
    request = labels(caller, service, callee, **extra)
    return Histogram(
        "istio_request_duration_milliseconds",
        {k: v for k, v in request.items() if k != "response_flags"},
        rate=rps,
        observations=observations,
    )


def tcp_bytes(
    caller: str, service: str, callee: str, sent: float, received: float, **extra: str
) -> list[Counter]:
    series = []
    for reporter in ("source", "destination"):
        base = {
            k: v
            for k, v in labels(caller, service, callee, reporter=reporter, **extra).items()
            if k not in TCP_DROPPED
        }
        base["request_protocol"] = "tcp"
        series += [
            Counter("istio_tcp_sent_bytes_total", base, rate=sent),
            Counter("istio_tcp_received_bytes_total", base, rate=received),
        ]
    return series


def envoy_stats(
    caller: str,
    namespace: str,
    cluster: str,
    *,
    total: float,
    healthy: float,
    ejected: float,
    overflow_rate: float,
) -> list[Counter | Gauge]:
    app, _, version = caller.rpartition("-")
    pod = {
        "namespace": namespace,
        "app": app,
        "version": version,
        "pod": f"{caller}-5d8f7c9b4-x2x7q",
        "cluster_name": cluster,
    }
    return [
        Gauge("envoy_cluster_membership_total", pod, total),
        Gauge("envoy_cluster_membership_healthy", pod, healthy),
        Gauge("envoy_cluster_outlier_detection_ejections_active", pod, ejected),
        Counter("envoy_cluster_upstream_rq_pending_overflow", pod, rate=overflow_rate, start=10.0),
    ]


REVIEWS_V1_MS = [2, 4, 8, 12, 30, 60, 120, 400]
REVIEWS_V2_MS = [20, 40, 90, 700]


def mesh_series() -> list[Any]:
    bi = {"ns": "bookinfo"}
    shop = {"ns": "shop"}
    series: list[Any] = [
        *requests_total(
            "istio-ingressgateway",
            "productpage",
            "productpage-v1",
            10,
            both=True,
            caller_ns="istio-system",
            **bi,
        ),
        *requests_total("unknown", "productpage", "productpage-v1", 3, reporter="destination", **bi),
        *requests_total("productpage-v1", "details", "details-v1", 9.9, both=True, **bi),
        *requests_total("productpage-v1", "details", "details-v1", 0.1, both=True, response_code="500", **bi),
        *requests_total("productpage-v1", "reviews", "reviews-v1", 6, both=True, **bi),
        *requests_total("productpage-v1", "reviews", "reviews-v2", 2, both=True, **bi),
        duration("productpage-v1", "reviews", "reviews-v1", 6, REVIEWS_V1_MS, **bi),
        duration("productpage-v1", "reviews", "reviews-v2", 2, REVIEWS_V2_MS, **bi),
        # The server side measures less time; the graph must not mix it in.
        duration("productpage-v1", "reviews", "reviews-v1", 6, [0.3] * 8, reporter="destination", **bi),
        duration("productpage-v1", "reviews", "reviews-v2", 2, [0.3] * 4, reporter="destination", **bi),
        *requests_total("reviews-v2", "ratings", "ratings-v1", 8, both=True, **bi),
        *requests_total(
            "reviews-v2", "ratings", "unknown", 2, response_code="503", response_flags="UO", **bi
        ),
        *requests_total("reviews-v3", "ratings", "ratings-v1", 4, both=True, **bi),
        Counter(
            "istio_requests_total", labels("ratings-v1", "mongodb", "mongodb-v1", **bi), rate=0, start=50
        ),
        *tcp_bytes("ratings-v1", "mysqldb", "mysqldb-v1", 1000, 500, **bi),
        *requests_total("frontend-v1", "payments", "payments-v1", 2, both=True, **shop),
        *requests_total(
            "frontend-v1", "payments", "unknown", 2, response_code="503", response_flags="UH", **shop
        ),
        *requests_total("frontend-v1", "inventory", "inventory-v1", 3, both=True, **shop),
        *requests_total(
            "frontend-v1", "inventory", "unknown", 2, response_code="503", response_flags="UH", **shop
        ),
        *requests_total("frontend-v1", "cart", "cart-v1", 5, both=True, **shop),
        *requests_total(
            "frontend-v1",
            "catalog",
            "catalog-v1",
            8,
            both=True,
            request_protocol="grpc",
            grpc_response_status="0",
            **shop,
        ),
        *requests_total(
            "frontend-v1",
            "catalog",
            "catalog-v1",
            2,
            both=True,
            request_protocol="grpc",
            grpc_response_status="14",
            **shop,
        ),
        *requests_total("frontend-v1", "productpage", "productpage-v1", 1, caller_ns="shop", **bi),
        *envoy_stats(
            "reviews-v3",
            "bookinfo",
            "outbound|9080|v1|ratings.bookinfo.svc.cluster.local",
            total=1,
            healthy=1,
            ejected=0,
            overflow_rate=0.2,
        ),
        *envoy_stats(
            "frontend-v1",
            "shop",
            "outbound|80||cart.shop.svc.cluster.local",
            total=2,
            healthy=0,
            ejected=2,
            overflow_rate=0,
        ),
        *envoy_stats(
            "productpage-v1",
            "bookinfo",
            "outbound|9080||details.bookinfo.svc.cluster.local",
            total=2,
            healthy=2,
            ejected=0,
            overflow_rate=0,
        ),
    ]
    return series


prometheus = prometheus_holding("prometheus", mesh_series)


@pytest.fixture(scope="module")
def settings():
    return resolve({}, environ={})


@pytest.fixture(scope="module")
def document(prometheus, settings) -> dict[str, Any]:
    telemetry = PrometheusSource(prometheus.url, timeout=10).mesh(END, "1m")
    return snapshot_document(build_graph(telemetry, settings))


def edge(document: dict[str, Any], source: str, target: str) -> dict[str, Any]:
    wanted = f"{source}->{target}"
    found = [e for e in document["edges"] if e["id"] == wanted]
    assert found, f"no edge {wanted}; edges: {sorted(e['id'] for e in document['edges'])}"
    return found[0]


def node(document: dict[str, Any], node_id: str) -> dict[str, Any]:
    found = [n for n in document["nodes"] if n["id"] == node_id]
    assert found, f"no node {node_id}"
    return found[0]


W = "workload:bookinfo:"
S = "service:bookinfo:"
WS = "workload:shop:"
SS = "service:shop:"
GATEWAY = "workload:istio-system:istio-ingressgateway"


def test_source_reporter_edges_are_not_double_counted(document):
    gateway = edge(document, GATEWAY, S + "productpage")
    assert gateway["rps"] == pytest.approx(10)
    assert node(document, GATEWAY)["ingress"] is True
    assert edge(document, W + "productpage-v1", S + "details")["rps"] == pytest.approx(10)
    assert edge(document, S + "details", W + "details-v1")["rps"] == pytest.approx(10)
    # gateway 10 + unknown caller 3 + frontend 1; the destination's copy of the gateway's 10 is not added
    assert edge(document, S + "productpage", W + "productpage-v1")["rps"] == pytest.approx(14)


def test_caller_without_sidecar_is_seen_by_the_destination_reporter(document):
    unknown = node(document, "unknown")
    assert (unknown["kind"], unknown["name"], unknown["namespace"]) == ("unknown", "unknown", "unknown")
    assert edge(document, "unknown", S + "productpage")["rps"] == pytest.approx(3)
    assert [e["id"] for e in document["edges"] if e["source"] == "unknown"] == [
        "unknown->" + S + "productpage"
    ]


def test_any_5xx_degrades_an_edge(document):
    details = edge(document, W + "productpage-v1", S + "details")
    assert details["error_ratio"] == pytest.approx(0.01)
    assert details["codes"] == pytest.approx({"200": 9.9, "500": 0.1})
    assert details["health"] == "degraded"
    assert node(document, S + "details")["health"] == "degraded"


def test_overflow_503_uo_trips_the_callers_edge_only(document):
    caller_edge = edge(document, W + "reviews-v2", S + "ratings")
    assert caller_edge["rps"] == pytest.approx(10)
    assert caller_edge["flags"] == pytest.approx({"UO": 2})
    assert caller_edge["codes"] == pytest.approx({"200": 8, "503": 2})
    assert caller_edge["circuit"] == "tripping"
    assert caller_edge["health"] == "failing"
    delivered = edge(document, S + "ratings", W + "ratings-v1")
    assert delivered["flags"] == {}
    assert delivered["codes"] == pytest.approx({"200": 12})
    assert delivered["circuit"] == "closed"
    assert delivered["health"] == "healthy"
    assert all(not e["flags"] for e in document["edges"] if e["source"].startswith("service:"))
    assert all(e["circuit"] == "closed" for e in document["edges"] if e["source"].startswith("service:"))
    assert "workload:bookinfo:unknown" not in {n["id"] for n in document["nodes"]}


def test_no_healthy_upstream_opens_the_circuit_from_half_the_requests(document):
    payments = edge(document, WS + "frontend-v1", SS + "payments")
    assert payments["flags"] == pytest.approx({"UH": 2})
    assert payments["circuit"] == "open"
    inventory = edge(document, WS + "frontend-v1", SS + "inventory")
    assert inventory["flags"] == pytest.approx({"UH": 2})
    assert inventory["circuit"] == "closed"
    assert inventory["health"] == "failing"


def test_envoy_cluster_stats_open_and_trip_circuits(document):
    assert edge(document, WS + "frontend-v1", SS + "cart")["circuit"] == "open"
    reviews_v3 = edge(document, W + "reviews-v3", S + "ratings")
    assert reviews_v3["flags"] == {}
    assert reviews_v3["circuit"] == "tripping"
    # stats exported but all calm, and no stats at all: closed
    assert edge(document, W + "productpage-v1", S + "details")["circuit"] == "closed"
    assert edge(document, W + "productpage-v1", S + "reviews")["circuit"] == "closed"


def test_grpc_errors_fail_an_edge(document):
    catalog = edge(document, WS + "frontend-v1", SS + "catalog")
    assert catalog["protocol"] == "grpc"
    assert catalog["error_ratio"] == pytest.approx(0.2)
    assert catalog["health"] == "failing"


def test_idle_edge_is_kept(document):
    idle = edge(document, W + "ratings-v1", S + "mongodb")
    assert idle["rps"] == 0.0
    assert idle["health"] == "idle"
    assert idle["error_ratio"] is None
    assert node(document, S + "mongodb")["health"] == "idle"


def test_tcp_bytes_from_one_reporter(document):
    mysql = edge(document, W + "ratings-v1", S + "mysqldb")
    assert mysql["protocol"] == "tcp"
    assert mysql["bytes_per_s"] == pytest.approx(1500)
    assert mysql["rps"] is None
    assert mysql["health"] == "healthy"
    assert edge(document, S + "mysqldb", W + "mysqldb-v1")["bytes_per_s"] == pytest.approx(1500)


def test_canary_split_share(document):
    assert edge(document, S + "reviews", W + "reviews-v1")["share"] == pytest.approx(0.75)
    assert edge(document, S + "reviews", W + "reviews-v2")["share"] == pytest.approx(0.25)
    assert edge(document, W + "productpage-v1", S + "reviews")["share"] is None
    assert edge(document, S + "productpage", W + "productpage-v1")["share"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("source", "target", "selector"),
    [
        (
            W + "productpage-v1",
            S + "reviews",
            'source_workload="productpage-v1",destination_service_name="reviews"',
        ),
        (
            S + "reviews",
            W + "reviews-v1",
            'destination_service_name="reviews",destination_workload="reviews-v1"',
        ),
        (
            S + "reviews",
            W + "reviews-v2",
            'destination_service_name="reviews",destination_workload="reviews-v2"',
        ),
    ],
)
def test_latency_quantiles_match_prometheus(prometheus, document, source, target, selector):
    found = edge(document, source, target)
    for field, q in (("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99)):
        expected = prometheus.query(
            f"histogram_quantile({q}, sum by (le) (rate(istio_request_duration_milliseconds_bucket"
            f'{{reporter="source",{selector}}}[1m])))'
        )
        server_side = prometheus.query(
            f"histogram_quantile({q}, sum by (le) (rate(istio_request_duration_milliseconds_bucket"
            f'{{reporter="destination",{selector}}}[1m])))'
        )
        assert found[field] == pytest.approx(float(expected[0]["value"][1]))
        assert found[field] != pytest.approx(float(server_side[0]["value"][1]))
    assert found["p50_ms"] <= found["p95_ms"] <= found["p99_ms"]


def test_edges_without_histograms_have_no_quantiles(document):
    details = edge(document, W + "productpage-v1", S + "details")
    assert (details["p50_ms"], details["p95_ms"], details["p99_ms"]) == (None, None, None)


def test_namespace_filter_keeps_direct_neighbours(prometheus, settings):
    telemetry = PrometheusSource(prometheus.url).mesh(END, "1m", ["shop"])
    document = snapshot_document(build_graph(telemetry, settings, ["shop"]))
    shop = {
        f"{kind}:shop:{name}"
        for kind, names in (
            ("workload", ["frontend-v1", "payments-v1", "inventory-v1", "cart-v1", "catalog-v1"]),
            ("service", ["payments", "inventory", "cart", "catalog"]),
        )
        for name in names
    }
    assert {n["id"] for n in document["nodes"]} == shop | {S + "productpage"}
    assert all(e["source"] in shop or e["target"] in shop for e in document["edges"])
    assert edge(document, WS + "frontend-v1", S + "productpage")["rps"] == pytest.approx(1)


def test_namespace_with_a_hyphen(prometheus, settings):
    telemetry = PrometheusSource(prometheus.url).mesh(END, "1m", ["istio-system"])
    document = snapshot_document(build_graph(telemetry, settings, ["istio-system"]))
    assert {n["id"] for n in document["nodes"]} == {GATEWAY, S + "productpage"}
    assert [e["id"] for e in document["edges"]] == [f"{GATEWAY}->{S}productpage"]


@pytest.mark.parametrize("namespaces", [(), ("bookinfo", "shop", "istio-system")])
def test_one_refresh_sends_at_most_four_queries(prometheus, namespaces):
    with CountingProxy(prometheus.url) as proxy:
        telemetry = PrometheusSource(proxy.url).mesh(END, "1m", namespaces)
        assert proxy.queries == PrometheusSource.queries_per_refresh <= 4
    assert not telemetry.requests.empty


class LatencyHeldProxy(CountingProxy):
    """Prometheus behind a proxy that answers the latency buckets' query only
    once `told` is set (`told_first`: it was, within 10 s), after noting
    which queries had been answered before it was asked."""

    def __init__(self, target: str, told: threading.Event) -> None:
        super().__init__(target)
        self.told, self.told_first = told, False
        self.answered: list[str] = []
        self.answered_before_latency: list[str] | None = None

    def answer(self, handler: BaseHTTPRequestHandler, body: bytes | None) -> None:
        if body and b"duration_milliseconds_bucket" in body:
            self.answered_before_latency = list(self.answered)
            self.told_first = self.told.wait(10)
        super().answer(handler, body)
        self.answered.append(handler.path)


def test_an_early_report_is_all_but_the_latency_buckets_asked_for_after_the_rest(
    prometheus, settings, document
):
    told, reports = threading.Event(), []

    def early(part):
        reports.append(part)
        told.set()

    with LatencyHeldProxy(prometheus.url, told) as proxy:
        whole = PrometheusSource(proxy.url).mesh(END, "1m", early=early)
    # The other three were answered before the latency buckets were asked for,
    # and the early report was told while they were still held.
    assert proxy.answered_before_latency is not None and len(proxy.answered_before_latency) == 3
    assert proxy.told_first
    [part] = reports
    assert part.pending == ("latency",) and part.latency.empty
    assert not whole.pending and not whole.latency.empty
    # Its graph is the whole one's but for latency: rates, errors, health and circuits.
    latency = {"p50_ms", "p95_ms", "p99_ms"}
    drawn = snapshot_document(build_graph(part, settings))
    assert all(item[key] is None for kind in ("nodes", "edges") for item in drawn[kind] for key in latency)
    for kind in ("nodes", "edges"):
        assert [{k: v for k, v in item.items() if k not in latency} for item in drawn[kind]] == [
            {k: v for k, v in item.items() if k not in latency} for item in document[kind]
        ]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([MESHWATCH, "snapshot", *args], capture_output=True, text=True, timeout=60)


def test_cli_snapshot_prints_the_schema(prometheus, document):
    done = run_cli("--prometheus", prometheus.url, "--at", AT_RFC3339)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert set(printed) == {"at", "window", "warnings", "nodes", "edges"}
    assert printed["at"] == END and isinstance(printed["at"], float)
    assert printed["window"] == "1m"
    for one in printed["nodes"]:
        assert list(one) == list(NODE_FIELDS)
        assert one["kind"] in ("workload", "service", "unknown")
        assert isinstance(one["ingress"], bool)
        assert all(isinstance(one[k], str) for k in ("id", "namespace", "name", "health"))
    for one in printed["edges"]:
        assert list(one) == list(EDGE_FIELDS)
        assert one["protocol"] in ("http", "grpc", "tcp")
        for key in ("rps", "error_ratio", "p50_ms", "p95_ms", "p99_ms", "share", "bytes_per_s"):
            assert one[key] is None or isinstance(one[key], float), (one["id"], key, one[key])
        for key in ("codes", "flags"):
            assert all(isinstance(k, str) and isinstance(v, float) for k, v in one[key].items())
        assert one["circuit"] in ("closed", "tripping", "open")
        assert one["health"] in ("idle", "healthy", "degraded", "failing")
    assert printed == json.loads(json.dumps(document))


def test_cli_unknown_namespace_gives_an_empty_graph(prometheus):
    done = run_cli("--prometheus", prometheus.url, "--at", str(int(END)), "--namespace", "nowhere")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"at": END, "window": "1m", "warnings": [], "nodes": [], "edges": []}
    assert "nowhere" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def telemetry_at_end(prometheus):
    return PrometheusSource(prometheus.url, timeout=10).mesh(END, "1m")


def typed(telemetry, settings, graph_type: str) -> dict[str, Any]:
    return snapshot_document(build_graph(telemetry, settings, graph_type=graph_type))


def test_mtls_from_the_destinations_view_of_real_series(document):
    for source, target in [
        (GATEWAY, S + "productpage"),
        (W + "productpage-v1", S + "reviews"),
        (S + "reviews", W + "reviews-v2"),
        (W + "reviews-v2", S + "ratings"),  # 8 delivered in mTLS, 2 shed UO say nothing
        (WS + "frontend-v1", SS + "catalog"),
    ]:
        assert edge(document, source, target)["mtls"] is True, (source, target)
    assert edge(document, "unknown", S + "productpage")["mtls"] is False  # no sidecar: plain text
    assert edge(document, S + "productpage", W + "productpage-v1")["mtls"] is False
    assert edge(document, W + "ratings-v1", S + "mysqldb")["mtls"] is None  # TCP
    assert edge(document, W + "ratings-v1", S + "mongodb")["mtls"] is None  # idle


def test_app_graph_quantiles_match_prometheus_over_both_versions(prometheus, telemetry_at_end, settings):
    drawn = typed(telemetry_at_end, settings, "app")
    delivered = edge(drawn, S + "reviews", "app:bookinfo:reviews")
    assert delivered["rps"] == pytest.approx(8) and delivered["share"] == pytest.approx(1.0)
    for field, q in (("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99)):
        expected = prometheus.query(
            f"histogram_quantile({q}, sum by (le) (rate(istio_request_duration_milliseconds_bucket"
            '{reporter="source",destination_service_name="reviews"}[1m])))'
        )
        assert delivered[field] == pytest.approx(float(expected[0]["value"][1]), rel=1e-5)
    calls = edge(drawn, "app:bookinfo:reviews", S + "ratings")
    assert calls["rps"] == pytest.approx(14) and calls["circuit"] == "tripping"
    assert node(drawn, "app:bookinfo:reviews")["version"] is None


def test_workload_graph_keeps_a_service_only_for_requests_that_reached_no_workload(
    telemetry_at_end, settings
):
    drawn = typed(telemetry_at_end, settings, "workload")
    services = sorted(n["id"] for n in drawn["nodes"] if n["kind"] == "service")
    assert services == [S + "ratings", SS + "inventory", SS + "payments"]
    shed = edge(drawn, W + "reviews-v2", S + "ratings")
    assert (shed["rps"], shed["flags"], shed["circuit"]) == (
        pytest.approx(2),
        pytest.approx({"UO": 2}),
        "tripping",
    )
    assert edge(drawn, W + "reviews-v2", W + "ratings-v1")["rps"] == pytest.approx(8)
    assert edge(drawn, WS + "frontend-v1", SS + "payments")["circuit"] == "open"
    assert edge(drawn, GATEWAY, W + "productpage-v1")["rps"] == pytest.approx(10)


def test_service_graph_on_real_data(telemetry_at_end, settings):
    drawn = typed(telemetry_at_end, settings, "service")
    assert edge(drawn, S + "productpage", S + "reviews")["rps"] == pytest.approx(8)
    assert edge(drawn, S + "reviews", S + "ratings")["rps"] == pytest.approx(10)
    assert edge(drawn, S + "reviews", S + "ratings")["circuit"] == "tripping"
    assert edge(drawn, S + "ratings", S + "mysqldb")["bytes_per_s"] == pytest.approx(1500)
    assert edge(drawn, W + "reviews-v3", S + "ratings")["rps"] == pytest.approx(4)  # behind no service
    # Callers behind no service stay themselves; every other node is a service.
    callers = {n["id"] for n in drawn["nodes"] if n["kind"] != "service"}
    assert callers == {GATEWAY, W + "reviews-v3", WS + "frontend-v1", "unknown"}


@pytest.mark.parametrize("graph_type", ["app", "workload", "service"])
def test_cli_snapshot_graph_types_print_the_same_schema(prometheus, telemetry_at_end, settings, graph_type):
    done = run_cli("--prometheus", prometheus.url, "--at", AT_RFC3339, "--graph", graph_type)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert set(printed) == {"at", "window", "warnings", "nodes", "edges"}
    assert all(list(one) == list(NODE_FIELDS) for one in printed["nodes"])
    assert all(list(one) == list(EDGE_FIELDS) for one in printed["edges"])
    assert printed == json.loads(json.dumps(typed(telemetry_at_end, settings, graph_type)))


def test_cli_snapshot_finds_and_hides(prometheus):
    done = run_cli(
        "--prometheus",
        prometheus.url,
        "--at",
        AT_RFC3339,
        "--find",
        "circuit = open",
        "--hide",
        "ns = bookinfo",
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed["found"] == [WS + "frontend-v1->" + SS + "cart", WS + "frontend-v1->" + SS + "payments"]
    assert all(n["namespace"] != "bookinfo" for n in printed["nodes"])
    assert printed["nodes"] and GATEWAY not in {n["id"] for n in printed["nodes"]}  # left without an edge


def test_cli_snapshot_as_dot_is_read_by_graphviz(prometheus):
    done = run_cli(
        "--prometheus", prometheus.url, "--at", AT_RFC3339, "--format", "dot", "--graph", "service"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("digraph meshwatch {")
    read = subprocess.run(["dot", "-Tjson"], input=done.stdout, capture_output=True, text=True, timeout=60)
    assert read.returncode == 0 and read.stderr == "", read.stderr
    graph = json.loads(read.stdout)
    names = {o["_gvid"]: o["name"] for o in graph["objects"]}
    edges = {f"{names[e['tail']]}->{names[e['head']]}": e for e in graph["edges"]}
    cart = edges[f"{WS}frontend-v1->{SS}cart"]
    assert (cart["style"], cart["arrowhead"]) == ("dashed", "teenormal")
