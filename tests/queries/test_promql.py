"""The named PromQL of queries/promql.py, run by a real Prometheus: every
text parses, and each selects the right reporter and namespaces.

Data (1m window at END): two sidecar callers counted by both reporters, a
caller without sidecar counted by the destination only, TCP with and
without a received-bytes counter, and Envoy cluster stats."""

from __future__ import annotations

from collections import Counter as Tally

import pytest

from queries import promql
from queries.prometheus import InstantVector, instant_vector_frame
from queries.telemetry import HOP_LABELS, LATENCY_LABELS, VIEW_LABEL, full_buckets
from tests.support.frames import labels
from tests.support.prometheus import (
    END,
    Counter,
    Gauge,
    Histogram,
    prometheus_holding,
)

pytestmark = pytest.mark.prometheus

TCP_DROPPED = ("request_protocol", "response_code", "grpc_response_status", "response_flags")


def both_reporters(caller: str, service: str, callee: str, rps: float, **extra: str) -> list:
    return [
        Counter("istio_requests_total", labels(caller, service, callee, reporter=reporter, **extra), rate=rps)
        for reporter in ("source", "destination")
    ]


def tcp(caller: str, service: str, callee: str, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in labels(caller, service, callee, **extra).items() if k not in TCP_DROPPED}
    return {**base, "request_protocol": "tcp"}


def series() -> list:
    return [
        *both_reporters("productpage-v1", "reviews", "reviews-v1", 4, ns="bookinfo"),
        *both_reporters("frontend-v1", "cart", "cart-v1", 2, ns="shop"),
        *both_reporters(
            "istio-ingressgateway", "frontend", "frontend-v1", 5, ns="shop", caller_ns="istio-system"
        ),
        Counter(
            "istio_requests_total",
            labels("unknown", "reviews", "reviews-v1", ns="bookinfo", reporter="destination"),
            rate=1,
        ),
        Counter(
            "istio_requests_total", labels("batch-v1", "reports", "reports-v1", ns="istioxsystem"), rate=7
        ),
        *(
            Histogram(
                "istio_request_duration_milliseconds",
                {**labels("productpage-v1", "reviews", "reviews-v1", ns="bookinfo", reporter=reporter)},
                rate=4,
                observations=[3, 30, 300],
            )
            for reporter in ("source", "destination")
        ),
        Histogram(
            "istio_request_duration_milliseconds",
            labels("unknown", "reviews", "reviews-v1", ns="bookinfo", reporter="destination"),
            rate=1,
            observations=[3],
        ),
        Counter(
            "istio_tcp_sent_bytes_total", tcp("ratings-v1", "mysqldb", "mysqldb-v1", ns="bookinfo"), rate=100
        ),
        Counter(
            "istio_tcp_received_bytes_total",
            tcp("ratings-v1", "mysqldb", "mysqldb-v1", ns="bookinfo"),
            rate=50,
        ),
        Counter(
            "istio_tcp_sent_bytes_total",
            tcp("ratings-v1", "mysqldb", "mysqldb-v1", ns="bookinfo", reporter="destination"),
            rate=100,
        ),
        Counter("istio_tcp_sent_bytes_total", tcp("cart-v1", "redis", "redis-v1", ns="shop"), rate=30),
        *(
            Gauge(
                name,
                {"namespace": "bookinfo", "app": "reviews", "version": "v2", "cluster_name": cluster},
                value,
            )
            for cluster in ("outbound|9080|v1|ratings.bookinfo.svc.cluster.local", "inbound|9080||")
            for name, value in (
                ("envoy_cluster_membership_total", 3),
                ("envoy_cluster_membership_healthy", 1),
                ("envoy_cluster_outlier_detection_ejections_active", 2),
            )
        ),
        Counter(
            "envoy_cluster_upstream_rq_pending_overflow",
            {
                "namespace": "bookinfo",
                "app": "reviews",
                "version": "v2",
                "cluster_name": "outbound|9080|v1|ratings.bookinfo.svc.cluster.local",
            },
            rate=0.5,
        ),
    ]


prometheus = prometheus_holding("promql", series)


NAMESPACE_SETS = [(), ("bookinfo",), ("istio-system", "bookinfo", "shop")]


@pytest.mark.parametrize("window", ["1m", "90s", "5m", "1h"])
@pytest.mark.parametrize("namespaces", NAMESPACE_SETS)
def test_every_mesh_query_parses_and_finds_its_series(prometheus, window, namespaces):
    # query() raises unless Prometheus answers "success"; every metric the
    # queries name is in the data, in every namespace set, so a misspelt
    # metric or label comes back empty.
    for name, text in promql.mesh_queries(window, namespaces).items():
        assert prometheus.query(text, at=END), name


@pytest.mark.parametrize("namespaces", NAMESPACE_SETS)
def test_mesh_refresh_is_four_queries_whatever_the_namespaces(namespaces):
    assert set(promql.mesh_queries("1m", namespaces)) == {"requests", "latency", "tcp", "cluster_stats"}


COUNTED = {
    "requests": promql.request_rates("1m"),
    "latency": promql.bucket_rates("1m"),
    "tcp": promql.mesh_queries("1m")["tcp"],
}


@pytest.mark.parametrize("name", ["requests", "latency", "tcp"])
def test_each_reporter_gives_way_to_the_ones_before_it_on_a_hop(name):
    text = COUNTED[name]
    for reporter in ("source", "waypoint", "destination"):
        assert f'reporter="{reporter}"' in text
    hop = ", ".join(HOP_LABELS)
    assert f"unless on ({hop})" in text and '{reporter=~"source"}' in text
    assert '{reporter=~"source|waypoint"}' in text


@pytest.mark.parametrize("name", ["requests", "latency", "tcp"])
def test_destination_reporter_only_for_callers_without_sidecar(prometheus, name):
    result = prometheus.query(COUNTED[name])
    reporters = Tally((s["metric"]["reporter"], s["metric"]["source_workload"] == "unknown") for s in result)
    assert reporters[("destination", False)] == 0
    assert reporters[("source", False)] > 0
    if name != "tcp":
        assert reporters[("destination", True)] > 0


def test_the_request_query_adds_the_destinations_security_view_of_sidecar_callers(prometheus):
    """Only the server side knows whether a connection was mutual TLS: its
    series of sidecar callers come by `connection_security_policy` alone
    (no codes, flags or protocol to count), and split off from the counted ones."""
    text = promql.mesh_queries("1m")["requests"]
    assert text == f"({promql.request_rates('1m')}) or ({promql.request_security('1m')})"
    result = prometheus.query(text)
    viewed = [s["metric"] for s in result if s["metric"]["reporter"] == "destination"]
    assert {(m["source_workload"], m["connection_security_policy"]) for m in viewed} == {
        ("productpage-v1", "mutual_tls"),
        ("frontend-v1", "mutual_tls"),
        ("istio-ingressgateway", "mutual_tls"),
        ("unknown", "none"),
    }
    assert all("response_code" not in m for m in viewed if m["source_workload"] != "unknown")
    sources = [s["metric"] for s in result if s["metric"]["reporter"] == "source"]
    assert {m["connection_security_policy"] for m in sources} == {"unknown"}


def test_request_rates_per_series(prometheus):
    result = prometheus.query(promql.request_rates("1m"))
    rates = {(s["metric"]["reporter"], s["metric"]["source_workload"]): float(s["value"][1]) for s in result}
    assert rates == pytest.approx(
        {
            ("source", "productpage-v1"): 4,
            ("source", "frontend-v1"): 2,
            ("source", "istio-ingressgateway"): 5,
            ("destination", "unknown"): 1,
            ("source", "batch-v1"): 7,
        }
    )


@pytest.mark.parametrize(
    ("namespaces", "callers"),
    [
        (("bookinfo",), {"productpage-v1", "unknown"}),
        (("shop",), {"frontend-v1", "istio-ingressgateway"}),
        (("istio-system",), {"istio-ingressgateway"}),
        (("istioxsystem",), {"batch-v1"}),
        (("bookinfo", "istio-system"), {"productpage-v1", "unknown", "istio-ingressgateway"}),
        (("nowhere",), set()),
    ],
)
def test_namespace_filter_matches_either_side_exactly(prometheus, namespaces, callers):
    result = prometheus.query(promql.request_rates("1m", namespaces))
    found = [s["metric"]["source_workload"] for s in result]
    assert len(found) == len(set(found)), "a series counted twice through the namespace `or`"
    assert set(found) == callers


def test_latency_buckets_of_both_selectors(prometheus):
    result = prometheus.query(promql.bucket_rates("1m"))
    per_caller = Tally((s["metric"]["reporter"], s["metric"]["source_workload"]) for s in result)
    assert per_caller == {("source", "productpage-v1"): 20, ("destination", "unknown"): 20}
    infinite = [
        s
        for s in result
        if s["metric"]["le"] == "+Inf" and s["metric"]["source_workload"] == "productpage-v1"
    ]
    assert float(infinite[0]["value"][1]) == pytest.approx(4)


def _bucket_values(result: list) -> dict[tuple, float]:
    return {tuple(sorted(s["metric"].items())): float(s["value"][1]) for s in result}


def test_latency_buckets_leave_out_only_the_buckets_holding_every_request(prometheus):
    every = _bucket_values(prometheus.query(promql.bucket_rates("1m")))
    answer = prometheus.query(promql.latency_buckets("1m"))
    bounds = {s["metric"]["le"] for s in answer if s["metric"].get(VIEW_LABEL) == "bounds"}
    assert bounds == {key_le for key in every for name, key_le in key if name == "le"} - {"+Inf"}
    sent = _bucket_values([s for s in answer if VIEW_LABEL not in s["metric"]])
    assert len(sent) < len(every), "no full bucket was left out"
    totals = {
        tuple(item for item in key if item[0] != "le"): value
        for key, value in every.items()
        if ("le", "+Inf") in key
    }
    for key, value in every.items():
        if key in sent:
            assert sent[key] == value
        else:
            assert value == totals[tuple(item for item in key if item[0] != "le")]
    # The frame the graph reads is the whole histogram again.
    frame = full_buckets(
        instant_vector_frame(
            InstantVector.of(prometheus.query(promql.latency_buckets("1m"))),
            [*LATENCY_LABELS, VIEW_LABEL],
            "rate",
        )
    )
    rebuilt = {
        tuple(sorted((label, text) for label, text in row.items() if label != "rate" and text != "")): row[
            "rate"
        ]
        for row in frame.to_dict("records")
    }
    assert rebuilt == pytest.approx(every)


def test_tcp_bytes_add_sent_and_received_and_keep_one_sided_series(prometheus):
    result = prometheus.query(promql.tcp_bytes("1m"))
    rates = {(s["metric"]["reporter"], s["metric"]["source_workload"]): float(s["value"][1]) for s in result}
    assert rates == pytest.approx({("source", "ratings-v1"): 150, ("source", "cart-v1"): 30})


def test_cluster_stats_of_outbound_clusters(prometheus):
    result = prometheus.query(promql.cluster_stats("1m"))
    stats = {s["metric"]["stat"]: float(s["value"][1]) for s in result}
    assert all(s["metric"]["cluster_name"].startswith("outbound|") for s in result)
    assert stats == pytest.approx(
        {"membership_total": 3, "membership_healthy": 1, "ejections_active": 2, "pending_overflow": 30}
    )


def test_the_bucket_bounds_are_those_of_the_window() -> None:
    # Within Prometheus' lookback an instant selector sees the window's series; a longer window reads them over it.
    assert "last_over_time" not in promql.latency_buckets("5m")
    assert "last_over_time(istio_request_duration_milliseconds_bucket" in promql.latency_buckets("1h")
