"""Ambient mode, and a mesh mixing it with sidecars, through a real
Prometheus holding the series as ztunnel, waypoints and sidecars emit them.

`shop` is an ambient namespace with a namespace waypoint (Gateway
`waypoint`, class istio-waypoint); `bookinfo` runs sidecars.

shop (ambient):
  istio-ingressgateway -> frontend -> frontend-v1   5/s: the gateway's report and,
      through the waypoint (ingress-use-waypoint), the waypoint's of the same requests
  frontend-v1 -> cart -> cart-v1 3/s, cart-v2 1/s (half of them 503): the waypoint's L7
      report only (an ambient caller has no L7 proxy of its own); its duration histogram
  frontend-v1's ztunnel: frontend-v1 -> cart -> waypoint          4000 B/s sent + 1000 received
  the waypoint's own L4 report: frontend-v1 -> cart -> cart-v1    (the same bytes again)
  cart's ztunnel: waypoint -> cart -> cart-v1 3000 B/s, -> cart-v2 1000 B/s
  cart-v1 -> redis -> redis-v1: no waypoint in the way, ztunnel on both ends, 500 B/s
mixed:
  productpage-v1 (sidecar) -> cart (shop) 2/s: its sidecar's report and the waypoint's
  frontend-v1 (ambient) -> details (bookinfo) -> details-v1 1/s: only details' sidecar
      reports L7 (destination); frontend-v1's ztunnel reports the connection, 300 B/s
  productpage-v1 -> reviews -> reviews-v1 4/s, sidecars on both ends
"""

from __future__ import annotations

from typing import Any

import pytest

from dashboard.app.config import resolve
from dashboard.mesh.build import build_graph
from dashboard.mesh.snapshot import snapshot_document
from queries.prometheus import PrometheusSource
from tests.support.istio import (
    request_labels,
    sidecar_scrape,
    tcp_labels,
    waypoint_scrape,
    workload,
    ztunnel_scrape,
)
from tests.support.prometheus import (
    END,
    Counter,
    CountingProxy,
    Histogram,
    prometheus_holding,
)

pytestmark = pytest.mark.prometheus

SHOP, BOOKINFO = "shop", "bookinfo"
GATEWAY = workload("istio-ingressgateway", "istio-system")
FRONTEND, CART_V1, CART_V2 = (workload(n, SHOP) for n in ("frontend-v1", "cart-v1", "cart-v2"))
REDIS, WAYPOINT = workload("redis-v1", SHOP), workload("waypoint", SHOP)
PRODUCTPAGE, REVIEWS, DETAILS = (
    workload(n, BOOKINFO) for n in ("productpage-v1", "reviews-v1", "details-v1")
)
AT_WAYPOINT = waypoint_scrape("waypoint", SHOP)
CART_MS = [3, 8, 20, 60]


def l7(reporter, source, service, namespace, destination, rps, scrape, **extra) -> Counter:
    labels = request_labels(reporter, source, service, namespace, destination, scrape=scrape, **extra)
    return Counter("istio_requests_total", labels, rate=rps)


def l4(reporter, source, service, namespace, destination, sent, received, scrape) -> list[Counter]:
    labels = tcp_labels(reporter, source, service, namespace, destination, scrape=scrape)
    return [
        Counter("istio_tcp_sent_bytes_total", labels, rate=sent),
        Counter("istio_tcp_received_bytes_total", labels, rate=received),
    ]


def series() -> list[Any]:
    return [
        # The gateway reports as a source; the waypoint reports the same requests.
        l7("source", GATEWAY, "frontend", SHOP, FRONTEND, 5, sidecar_scrape(GATEWAY)),
        l7("waypoint", GATEWAY, "frontend", SHOP, FRONTEND, 5, AT_WAYPOINT),
        # An ambient caller: L7 only from the waypoint.
        l7("waypoint", FRONTEND, "cart", SHOP, CART_V1, 3, AT_WAYPOINT),
        l7("waypoint", FRONTEND, "cart", SHOP, CART_V2, 0.5, AT_WAYPOINT),
        l7("waypoint", FRONTEND, "cart", SHOP, CART_V2, 0.5, AT_WAYPOINT, code="503", flags="UC"),
        Histogram(
            "istio_request_duration_milliseconds",
            request_labels("waypoint", FRONTEND, "cart", SHOP, CART_V1, scrape=AT_WAYPOINT),
            rate=3,
            observations=CART_MS,
        ),
        # ztunnel L4: client -> waypoint, waypoint -> backends; the waypoint's own L4.
        *l4("source", FRONTEND, "cart", SHOP, WAYPOINT, 4000, 1000, ztunnel_scrape("worker-1")),
        *l4("waypoint", FRONTEND, "cart", SHOP, CART_V1, 4000, 1000, AT_WAYPOINT),
        *l4("destination", WAYPOINT, "cart", SHOP, CART_V1, 2500, 500, ztunnel_scrape("worker-2")),
        *l4("destination", WAYPOINT, "cart", SHOP, CART_V2, 800, 200, ztunnel_scrape("worker-2")),
        # No waypoint on the way: ztunnel on both nodes.
        *l4("source", CART_V1, "redis", SHOP, REDIS, 400, 100, ztunnel_scrape("worker-2")),
        *l4("destination", CART_V1, "redis", SHOP, REDIS, 400, 100, ztunnel_scrape("worker-3")),
        # A sidecar calling into the ambient namespace, through its waypoint.
        l7("source", PRODUCTPAGE, "cart", SHOP, CART_V1, 2, sidecar_scrape(PRODUCTPAGE)),
        l7("waypoint", PRODUCTPAGE, "cart", SHOP, CART_V1, 2, AT_WAYPOINT),
        # An ambient caller of a sidecar: L7 only from the server's sidecar.
        l7("destination", FRONTEND, "details", BOOKINFO, DETAILS, 1, sidecar_scrape(DETAILS)),
        *l4("source", FRONTEND, "details", BOOKINFO, DETAILS, 200, 100, ztunnel_scrape("worker-1")),
        # Sidecars on both ends.
        l7("source", PRODUCTPAGE, "reviews", BOOKINFO, REVIEWS, 4, sidecar_scrape(PRODUCTPAGE)),
        l7("destination", PRODUCTPAGE, "reviews", BOOKINFO, REVIEWS, 4, sidecar_scrape(REVIEWS)),
    ]


prometheus = prometheus_holding("ambient", series)


@pytest.fixture(scope="module")
def document(prometheus) -> dict[str, Any]:
    settings = resolve({}, environ={})
    telemetry = PrometheusSource(prometheus.url).mesh(END, settings.window)
    return snapshot_document(build_graph(telemetry, settings))


def ids(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in items}


def w(namespace: str, name: str) -> str:
    return f"workload:{namespace}:{name}"


def s(namespace: str, name: str) -> str:
    return f"service:{namespace}:{name}"


def edge(document, source: str, target: str) -> dict[str, Any]:
    edges = ids(document["edges"])
    assert f"{source}->{target}" in edges, sorted(edges)
    return edges[f"{source}->{target}"]


def test_the_waypoint_is_a_node_of_its_own_kind(document):
    waypoint = ids(document["nodes"])[w(SHOP, "waypoint")]
    assert waypoint["kind"] == "waypoint" and waypoint["namespace"] == SHOP
    assert all(n["kind"] != "waypoint" for n in document["nodes"] if n["id"] != w(SHOP, "waypoint"))


def test_waypoint_l7_builds_edges_like_the_source_reporter(document):
    calls = edge(document, w(SHOP, "frontend-v1"), s(SHOP, "cart"))
    assert calls["protocol"] == "http"
    assert calls["rps"] == pytest.approx(4)  # productpage-v1's 2 are another edge
    assert calls["codes"] == pytest.approx({"200": 3.5, "503": 0.5})
    assert calls["flags"] == pytest.approx({"UC": 0.5})
    assert calls["health"] == "failing"  # 12.5 % 5xx
    assert calls["mtls"] is True  # the waypoint is the server side of frontend's connection
    assert edge(document, s(SHOP, "cart"), w(SHOP, "cart-v1"))["share"] == pytest.approx(5 / 6, rel=1e-5)
    assert edge(document, s(SHOP, "cart"), w(SHOP, "cart-v2"))["share"] == pytest.approx(1 / 6, rel=1e-5)


def test_waypoint_latency_from_its_histogram(prometheus, document):
    delivered = edge(document, s(SHOP, "cart"), w(SHOP, "cart-v1"))
    expected = prometheus.query(
        "histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket"
        '{reporter="waypoint",destination_workload="cart-v1"}[1m])))'
    )
    assert delivered["p99_ms"] == pytest.approx(float(expected[0]["value"][1]))


def test_a_request_two_reporters_saw_is_counted_once(document):
    # The gateway's report and the waypoint's of the same 5 requests.
    assert edge(document, w("istio-system", "istio-ingressgateway"), s(SHOP, "frontend"))[
        "rps"
    ] == pytest.approx(5)
    assert edge(document, s(SHOP, "frontend"), w(SHOP, "frontend-v1"))["rps"] == pytest.approx(5)
    # A sidecar's report and the waypoint's of the same 2.
    assert edge(document, w(BOOKINFO, "productpage-v1"), s(SHOP, "cart"))["rps"] == pytest.approx(2)
    assert edge(document, w(BOOKINFO, "productpage-v1"), s(BOOKINFO, "reviews"))["rps"] == pytest.approx(4)


def test_ztunnel_legs_to_and_from_the_waypoint_are_tcp_edges(document):
    inbound = edge(document, w(SHOP, "frontend-v1"), w(SHOP, "waypoint"))
    assert (inbound["protocol"], inbound["bytes_per_s"], inbound["rps"]) == ("tcp", pytest.approx(5000), None)
    assert edge(document, w(SHOP, "waypoint"), w(SHOP, "cart-v1"))["bytes_per_s"] == pytest.approx(3000)
    assert edge(document, w(SHOP, "waypoint"), w(SHOP, "cart-v2"))["bytes_per_s"] == pytest.approx(1000)
    # Never through the service: the service's split is the waypoint's L7 report alone.
    assert not any(
        e["target"] == w(SHOP, "waypoint") and e["source"].startswith("service:") for e in document["edges"]
    )
    # The waypoint's own L4 report of frontend's connection is the ztunnel's again: not added.
    assert edge(document, s(SHOP, "cart"), w(SHOP, "cart-v1"))["bytes_per_s"] is None


def test_ztunnel_without_a_waypoint_is_a_tcp_edge_from_one_reporter(document):
    redis = edge(document, w(SHOP, "cart-v1"), s(SHOP, "redis"))
    assert (redis["protocol"], redis["bytes_per_s"], redis["health"]) == (
        "tcp",
        pytest.approx(500),
        "healthy",
    )
    assert edge(document, s(SHOP, "redis"), w(SHOP, "redis-v1"))["bytes_per_s"] == pytest.approx(500)


def test_an_ambient_caller_of_a_sidecar_is_counted_from_the_server_side(document):
    calls = edge(document, w(SHOP, "frontend-v1"), s(BOOKINFO, "details"))
    assert calls["protocol"] == "http"
    assert calls["rps"] == pytest.approx(1)
    assert calls["bytes_per_s"] == pytest.approx(300)  # its ztunnel's report of the connection
    assert edge(document, s(BOOKINFO, "details"), w(BOOKINFO, "details-v1"))["rps"] == pytest.approx(1)


def test_the_ambient_mesh_is_still_four_queries(prometheus):
    with CountingProxy(prometheus.url) as proxy:
        PrometheusSource(proxy.url).mesh(END, resolve({}, environ={}).window)
        assert proxy.queries == PrometheusSource.queries_per_refresh == 4


def test_every_graph_type_keeps_the_waypoint(prometheus):
    settings = resolve({}, environ={})
    telemetry = PrometheusSource(prometheus.url).mesh(END, settings.window)
    for graph_type in ("app", "workload", "service"):
        nodes = ids(snapshot_document(build_graph(telemetry, settings, graph_type=graph_type))["nodes"])
        assert nodes[w(SHOP, "waypoint")]["kind"] == "waypoint", graph_type
