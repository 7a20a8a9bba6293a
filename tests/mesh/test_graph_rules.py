"""The graph rules on hand-made telemetry: health thresholds at each boundary
(and their config-file overrides), node health, circuit states, quantiles,
the canary share and the namespace filter."""

from __future__ import annotations

import math

import networkx as nx
import pytest

from dashboard.app.config import resolve
from dashboard.mesh.build import build_graph
from dashboard.mesh.circuit import (
    CLOSED,
    OPEN,
    TRIPPING,
    CircuitThresholds,
    ClusterState,
    EdgeRejections,
    circuit_state,
)
from dashboard.mesh.graph import Node, add_edge, add_node, filter_namespaces
from dashboard.mesh.histogram import histogram_quantile
from queries.errors import ConfigError
from tests.support.frames import labels, latency_rows, telemetry

DEFAULTS = resolve({}, environ={})
CALLER, SERVICE, CALLEE = (
    "workload:default:productpage-v1",
    "service:default:reviews",
    "workload:default:reviews-v1",
)


def graph_of(requests=(), latency=(), tcp=(), stats=(), settings=DEFAULTS) -> nx.DiGraph:
    return build_graph(telemetry(requests, latency, tcp, stats), settings)


def edge(graph: nx.DiGraph, source: str, target: str):
    return graph.edges[source, target]["edge"]


def outcomes(ok: float, **bad: tuple[dict[str, str], float]) -> list:
    """productpage-v1 -> reviews -> reviews-v1: `ok` good requests/s plus the
    named bad ones, each given as (label overrides, rps)."""
    rows = [(labels("productpage-v1", "reviews", "reviews-v1"), ok)]
    rows += [(labels("productpage-v1", "reviews", "reviews-v1", **extra), rps) for extra, rps in bad.values()]
    return rows


def health_of(rows, settings=DEFAULTS) -> str:
    return edge(graph_of(rows, settings=settings), CALLER, SERVICE).health


E500, E404, NO_RESPONSE = {"response_code": "500"}, {"response_code": "404"}, {"response_code": "0"}
GRPC_OK = {"request_protocol": "grpc", "grpc_response_status": "0"}
GRPC_UNAVAILABLE = {"request_protocol": "grpc", "grpc_response_status": "14"}


def grpc_outcomes(ok: float, **bad: tuple[dict[str, str], float]) -> list:
    """`outcomes` of a gRPC service: the good requests are gRPC too."""
    rows = outcomes(0, **bad)
    return [*rows[1:], (labels("productpage-v1", "reviews", "reviews-v1", **GRPC_OK), ok)]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (outcomes(10), "healthy"),
        (outcomes(999, e=(E500, 1)), "degraded"),  # any 5xx
        (outcomes(91, e=(E500, 9)), "degraded"),
        (outcomes(9, e=(E500, 1)), "failing"),  # 10 % exactly
        (outcomes(91, e=(E404, 9)), "healthy"),
        (outcomes(9, e=(E404, 1)), "degraded"),  # 10 % 4xx
        (outcomes(801, e=(E404, 199)), "degraded"),
        (outcomes(4, e=(E404, 1)), "failing"),  # 20 % 4xx
        (grpc_outcomes(999, e=(GRPC_UNAVAILABLE, 1)), "degraded"),  # any gRPC status 1-16
        (grpc_outcomes(91, e=(GRPC_UNAVAILABLE, 9)), "degraded"),
        (grpc_outcomes(9, e=(GRPC_UNAVAILABLE, 1)), "failing"),  # 10 % gRPC 1-16
        (grpc_outcomes(9, e=({"request_protocol": "grpc", "grpc_response_status": "16"}, 1)), "failing"),
        (grpc_outcomes(9, e=(GRPC_OK, 1)), "healthy"),
        # A gRPC request is judged by its status, not its HTTP code, and counted once.
        (grpc_outcomes(9, e=({**GRPC_UNAVAILABLE, "response_code": "503"}, 1)), "failing"),
        (grpc_outcomes(9, e=({**GRPC_OK, "response_code": "404"}, 1)), "healthy"),
        # Ratios are of the requests of the same protocol (9 of 9 gRPC requests fail).
        (outcomes(91, e=(GRPC_UNAVAILABLE, 9)), "failing"),
        (outcomes(999, e=(NO_RESPONSE, 1)), "degraded"),  # any request without a response
        (outcomes(91, e=(NO_RESPONSE, 9)), "degraded"),
        (outcomes(9, e=(NO_RESPONSE, 1)), "failing"),  # 10 % without a response
        (grpc_outcomes(99, e=({**GRPC_OK, "response_code": "0"}, 1)), "degraded"),
        (outcomes(0), "idle"),
    ],
)
def test_health_thresholds_at_each_boundary(rows, expected):
    assert health_of(rows) == expected


def test_node_health_comes_from_all_its_inbound_requests_not_its_worst_edge():
    rows = [
        (labels("productpage-v1", "reviews", "reviews-v1"), 95.0),
        (labels("productpage-v1", "reviews", "reviews-v1", response_code="500"), 0.5),
        (labels("loadgen-v1", "reviews", "reviews-v1"), 4.0),
        (labels("loadgen-v1", "reviews", "reviews-v1", response_code="500"), 0.5),
    ]
    graph = graph_of(rows)
    assert edge(graph, "workload:default:loadgen-v1", SERVICE).health == "failing"  # 11 % of its own calls
    node = graph.nodes[SERVICE]["node"]
    assert node.health == "degraded"  # 1 % of every request into reviews
    assert node.rps_in == pytest.approx(100) and node.error_ratio == pytest.approx(0.01)


def test_a_caller_of_something_broken_shows_it_in_its_outbound_health():
    rows = [
        (labels("productpage-v1", "reviews", "reviews-v2"), 1.0),
        (labels("reviews-v2", "ratings", response_code="503", response_flags="UH"), 4.0),
    ]
    graph = graph_of(rows)
    caller = graph.nodes["workload:default:reviews-v2"]["node"]
    assert (caller.health, caller.outbound_health) == ("healthy", "failing")
    assert graph.nodes["workload:default:productpage-v1"]["node"].health == "none"
    assert graph.nodes["service:default:ratings"]["node"].outbound_health == "none"


def test_a_series_without_a_destination_service_makes_no_nameless_node():
    rows = [
        (labels("productpage-v1", "reviews", "reviews-v1"), 1.0),
        (labels("productpage-v1", "", "unknown"), 3.0),
    ]
    graph = graph_of(rows)
    assert all(data["node"].name for _, data in graph.nodes(data=True))
    assert "service:default:" not in graph


def test_node_latency_is_of_every_request_into_it():
    slow, fast = (
        labels("loadgen-v1", "reviews", "reviews-v1"),
        labels("productpage-v1", "reviews", "reviews-v1"),
    )
    graph = build_graph(
        telemetry(
            requests=[(slow, 1.0), (fast, 1.0)],
            latency=latency_rows(slow, [900, 900, 900, 900]) + latency_rows(fast, [4, 4, 4, 4]),
        ),
        DEFAULTS,
    )
    node = graph.nodes[SERVICE]["node"]
    assert node.p50_ms is not None and node.p50_ms <= 5 and node.p99_ms > 500


def test_error_ratio_codes_and_protocol():
    found = edge(graph_of(outcomes(8, a=(E500, 1), b=(E404, 1))), CALLER, SERVICE)
    assert found.rps == pytest.approx(10)
    assert found.error_ratio == pytest.approx(0.1)  # 4xx are the client's errors, not the edge's
    assert found.codes == pytest.approx({"200": 8, "500": 1, "404": 1})
    assert found.protocol == "http"
    grpc = edge(
        graph_of(outcomes(1, g=({"request_protocol": "grpc", "grpc_response_status": "0"}, 5))),
        CALLER,
        SERVICE,
    )
    assert grpc.protocol == "grpc"


def test_idle_edge_is_kept_with_no_error_ratio():
    graph = graph_of(outcomes(0))
    assert graph.has_edge(CALLER, SERVICE) and graph.has_edge(SERVICE, CALLEE)
    idle = edge(graph, CALLER, SERVICE)
    assert (idle.rps, idle.error_ratio, idle.health, idle.circuit) == (0.0, None, "idle", "closed")


def write_config(tmp_path, text: str) -> str:
    path = tmp_path / "meshwatch.toml"
    path.write_text(text)
    return str(path)


def test_config_file_overrides_health_thresholds(tmp_path):
    config = write_config(tmp_path, "[health]\nhttp_5xx_failing = 0.5\nhttp_4xx_degraded = 0.3\n")
    settings = resolve({"config": config}, environ={})
    assert settings.health.http_5xx_failing == 0.5
    assert health_of(outcomes(8, e=(E500, 2)), settings) == "degraded"
    assert health_of(outcomes(8, e=(E500, 2))) == "failing"
    assert health_of(outcomes(10, e=(E404, 2)), settings) == "healthy"
    assert health_of(outcomes(10, e=(E404, 2))) == "degraded"
    assert health_of(outcomes(1, e=(E500, 1)), settings) == "failing"


def test_config_file_from_the_environment_overrides_circuit(tmp_path):
    config = write_config(tmp_path, "[circuit]\nopen_uh_ratio = 0.9\n")
    settings = resolve({}, environ={"MESHWATCH_CONFIG": config})
    rows = [
        (labels("productpage-v1", "reviews", response_code="503", response_flags="UH"), 8),
        (labels("productpage-v1", "reviews", "reviews-v1"), 2),
    ]
    assert edge(graph_of(rows), CALLER, SERVICE).circuit == OPEN
    assert edge(graph_of(rows, settings=settings), CALLER, SERVICE).circuit == CLOSED


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[health]\nhttp_5xx_failng = 0.5\n", "unknown key [health] http_5xx_failng"),
        ("[health]\nhttp_5xx_failing = 'lots'\n", "must be numbers"),
        ("[health\n", "not valid TOML"),
    ],
)
def test_bad_threshold_config_is_refused(tmp_path, text, fragment):
    with pytest.raises(ConfigError, match=fragment.replace("[", r"\[")):
        resolve({"config": write_config(tmp_path, text)}, environ={})


def test_node_health_sums_the_inbound_edges():
    graph = graph_of(
        [
            (labels("productpage-v1", "reviews", "reviews-v1"), 10),
            (labels("reviews-v2", "reviews", "reviews-v1", response_code="500"), 1),
            (labels("reviews-v2", "reviews", "reviews-v1"), 1),
            (labels("ratings-v1", "mongodb", "mongodb-v1"), 0),
        ]
    )
    node = lambda node_id: graph.nodes[node_id]["node"]  # noqa: E731
    assert edge(graph, "workload:default:reviews-v2", SERVICE).health == "failing"
    assert node(SERVICE).health == "degraded"  # 1 of the 12 requests into reviews failed
    assert node(CALLEE).health == "degraded"  # 1 of 12 delivered requests failed
    assert node(CALLER).health == "none"  # nobody calls it
    assert node("service:default:mongodb").health == "idle"


def test_local_rejections_stay_on_the_callers_edge():
    graph = graph_of(
        [
            (labels("reviews-v2", "ratings", "ratings-v1"), 8),
            (labels("reviews-v2", "ratings", response_code="503", response_flags="UO,URX"), 2),
        ]
    )
    caller = edge(graph, "workload:default:reviews-v2", "service:default:ratings")
    delivered = edge(graph, "service:default:ratings", "workload:default:ratings-v1")
    assert caller.flags == pytest.approx({"UO": 2, "URX": 2})
    assert caller.circuit == TRIPPING
    assert (delivered.rps, delivered.flags, delivered.circuit, delivered.health) == (8, {}, CLOSED, "healthy")
    assert "workload:default:unknown" not in graph and "unknown" not in graph


@pytest.mark.parametrize(
    ("rps", "flags", "thresholds", "expected"),
    [
        (10, {"UH": 5}, CircuitThresholds(), OPEN),  # 50 % exactly
        (10, {"UH": 4.9}, CircuitThresholds(), CLOSED),
        (10, {"UH": 5}, CircuitThresholds(open_uh_ratio=0.6), CLOSED),
        (10, {"UO": 0.01}, CircuitThresholds(), TRIPPING),
        (10, {"URX": 1}, CircuitThresholds(), TRIPPING),
        (10, {"UH": 6, "UO": 1}, CircuitThresholds(), OPEN),
        (10, {"UF": 5, "UT": 5}, CircuitThresholds(), CLOSED),
        (0, {"UH": 0}, CircuitThresholds(), CLOSED),
        (0, {}, CircuitThresholds(), CLOSED),
    ],
)
def test_circuit_from_response_flags(rps, flags, thresholds, expected):
    assert circuit_state(EdgeRejections(rps=rps, flags=flags), thresholds) == expected


@pytest.mark.parametrize(
    ("clusters", "expected"),
    [
        ((ClusterState(membership_total=2, membership_healthy=0),), OPEN),
        ((ClusterState(membership_total=3, ejections_active=3),), OPEN),
        ((ClusterState(membership_total=3, membership_healthy=1, ejections_active=2),), CLOSED),
        # one subset cut off, another still serving: not open
        (
            (
                ClusterState(membership_total=1, membership_healthy=0),
                ClusterState(membership_total=1, membership_healthy=1),
            ),
            CLOSED,
        ),
        # a subset without members says nothing about the others
        (
            (
                ClusterState(membership_total=0, membership_healthy=0),
                ClusterState(membership_total=2, ejections_active=2),
            ),
            OPEN,
        ),
        ((ClusterState(membership_total=0, membership_healthy=0),), CLOSED),
        ((ClusterState(membership_total=2, membership_healthy=2, overflow_increase=3),), TRIPPING),
        ((ClusterState(overflow_increase=1),), TRIPPING),
        ((ClusterState(membership_total=2, membership_healthy=2),), CLOSED),
        # Istio's plain cluster stays healthy and unused once subsets carry the traffic.
        (
            (
                ClusterState(subset="", membership_total=1, membership_healthy=1),
                ClusterState(subset="v1", membership_total=1, membership_healthy=0),
            ),
            OPEN,
        ),
        (
            (
                ClusterState(subset="", membership_total=3, membership_healthy=3),
                ClusterState(subset="v1", membership_total=1, membership_healthy=0),
                ClusterState(subset="v2", membership_total=2, membership_healthy=2),
            ),
            CLOSED,
        ),
    ],
)
def test_circuit_from_envoy_cluster_stats(clusters, expected):
    assert circuit_state(EdgeRejections(rps=5, clusters=clusters), CircuitThresholds()) == expected


def stat_rows(caller_app: str, caller_version: str, service: str, subset: str, **values: float) -> list:
    key = {
        "source_workload_namespace": "default",
        "source_canonical_service": caller_app,
        "source_canonical_revision": caller_version,
        "destination_service_name": service,
        "destination_service_namespace": "default",
        "subset": subset,
    }
    return [({**key, "stat": stat}, value) for stat, value in values.items()]


def test_envoy_stats_reach_the_callers_edge_only():
    graph = graph_of(
        requests=[
            (labels("reviews-v2", "ratings", "ratings-v1"), 3),
            (labels("reviews-v3", "ratings", "ratings-v1"), 3),
            (labels("reviews-v2", "details", "details-v1"), 3),
        ],
        stats=[
            *stat_rows("reviews", "v2", "ratings", "v1", membership_total=1, membership_healthy=0),
            *stat_rows(
                "reviews", "v3", "ratings", "v1", membership_total=1, membership_healthy=1, pending_overflow=4
            ),
        ],
    )
    assert edge(graph, "workload:default:reviews-v2", "service:default:ratings").circuit == OPEN
    assert edge(graph, "workload:default:reviews-v3", "service:default:ratings").circuit == TRIPPING
    assert edge(graph, "workload:default:reviews-v2", "service:default:details").circuit == CLOSED
    assert edge(graph, "service:default:ratings", "workload:default:ratings-v1").circuit == CLOSED


@pytest.mark.parametrize(
    ("q", "buckets", "expected"),
    [
        (0.5, [(1, 0), (2, 10), (math.inf, 10)], 1.5),
        (0.25, [(1, 0), (2, 10), (math.inf, 10)], 1.25),
        (0.5, [(10, 10), (math.inf, 10)], 5.0),  # the first bucket starts at 0
        (0.9, [(1, 5), (math.inf, 10)], 1.0),  # rank in +Inf: the highest finite bound
        (0.5, [(1, 5), (2, 3), (math.inf, 10)], 1.0),  # counts made monotonic
        (0.5, [(2, 10), (1, 0), (math.inf, 10)], 1.5),  # any order
        (0.5, [(-1, 2), (math.inf, 4)], -1.0),
        (0.5, [(1, 0), (math.inf, 0)], None),  # nothing observed
        (0.5, [(1, 3), (2, 4)], None),  # no +Inf bucket
        (0.5, [(math.inf, 4)], None),
    ],
)
def test_histogram_quantile_like_prometheus(q, buckets, expected):
    found = histogram_quantile(q, buckets)
    assert found == (pytest.approx(expected) if expected is not None else None)


def test_histogram_quantile_refuses_a_quantile_outside_0_1():
    with pytest.raises(ValueError):
        histogram_quantile(1.5, [(1, 1), (math.inf, 1)])


def test_edge_quantiles_from_istio_buckets():
    series = labels("productpage-v1", "reviews", "reviews-v1")
    graph = graph_of(requests=[(series, 8)], latency=latency_rows(series, [2, 4, 8, 12, 30, 60, 120, 400], 8))
    found = edge(graph, CALLER, SERVICE)
    # p50: rank 4 of 8 is the only observation in (10, 25] -> its upper bound
    assert found.p50_ms == pytest.approx(25)
    # p95: rank 7.6, the 8th observation in (250, 500] -> 250 + 250 * 0.6
    assert found.p95_ms == pytest.approx(400)
    assert found.p99_ms == pytest.approx(250 + 250 * 0.92)
    assert edge(graph, SERVICE, CALLEE).p50_ms == pytest.approx(25)


def test_edges_without_histograms_have_no_quantiles():
    found = edge(graph_of(outcomes(5)), CALLER, SERVICE)
    assert (found.p50_ms, found.p95_ms, found.p99_ms) == (None, None, None)


def test_share_is_the_canary_split_of_delivered_traffic():
    graph = graph_of(
        requests=[
            (labels("productpage-v1", "reviews", "reviews-v1"), 3),
            (labels("productpage-v1", "reviews", "reviews-v2"), 1),
            (labels("productpage-v1", "reviews", response_code="503", response_flags="UO"), 6),
            (labels("productpage-v1", "ratings", "ratings-v1"), 0),
        ],
        tcp=[
            (labels("ratings-v1", "mysqldb", "mysqldb-v1"), 100),
            (labels("ratings-v1", "mysqldb", "mysqldb-v2"), 300),
        ],
    )
    assert edge(graph, SERVICE, CALLEE).share == pytest.approx(0.75)
    assert edge(graph, SERVICE, "workload:default:reviews-v2").share == pytest.approx(0.25)
    assert edge(graph, CALLER, SERVICE).share is None
    assert edge(graph, "service:default:ratings", "workload:default:ratings-v1").share is None  # idle service
    assert edge(graph, "service:default:mysqldb", "workload:default:mysqldb-v2").share == pytest.approx(0.75)
    tcp_edge = edge(graph, "workload:default:ratings-v1", "service:default:mysqldb")
    assert (tcp_edge.protocol, tcp_edge.bytes_per_s, tcp_edge.health) == ("tcp", 400, "healthy")


def mesh_for_filter() -> nx.DiGraph:
    graph = nx.DiGraph(at=1.0, window="5m")
    for node_id, namespace in [("a", "front"), ("b", "front"), ("c", "back"), ("d", "back"), ("e", "other")]:
        add_node(graph, Node(id=node_id, kind="workload", namespace=namespace, name=node_id))
    for source, target in [("a", "b"), ("b", "c"), ("c", "d"), ("e", "a"), ("d", "e")]:
        add_edge(graph, source, target)
    return graph


@pytest.mark.parametrize(
    ("namespaces", "nodes", "edges"),
    [
        (["front"], {"a", "b", "c", "e"}, {("a", "b"), ("b", "c"), ("e", "a")}),
        (["back"], {"b", "c", "d", "e"}, {("b", "c"), ("c", "d"), ("d", "e")}),
        (
            ["front", "back"],
            {"a", "b", "c", "d", "e"},
            {("a", "b"), ("b", "c"), ("c", "d"), ("e", "a"), ("d", "e")},
        ),
        (["nowhere"], set(), set()),
    ],
)
def test_filter_namespaces_keeps_direct_neighbours(namespaces, nodes, edges):
    kept = filter_namespaces(mesh_for_filter(), namespaces)
    assert set(kept.nodes) == nodes
    assert set(kept.edges) == edges
    assert kept.graph == {"at": 1.0, "window": "5m"}


def test_filter_without_namespaces_keeps_everything():
    graph = mesh_for_filter()
    assert filter_namespaces(graph, []) is graph
