"""Two clusters with the same workload names, one Prometheus each, through
real Prometheus servers holding the series as each cluster's proxies emit
them (`source_cluster`/`destination_cluster` set by Istio's
`global.multiCluster.clusterName`).

east: productpage-v1 -> reviews -> reviews-v1 (east)   4/s, both reporters
      productpage-v1 -> reviews -> reviews-v2 (west)   2/s: the source report in
      east's Prometheus, the destination's in west's
west: productpage-v1 -> reviews -> reviews-v1 (west)   3/s, both reporters
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from dashboard.app.config import resolve
from dashboard.app.services import prometheus_source
from dashboard.mesh.build import build_graph
from dashboard.mesh.snapshot import snapshot_document
from queries.merged import MergedSource
from queries.prometheus import PrometheusSource
from tests.mesh.test_prometheus_graph import MESHWATCH
from tests.queries.test_prometheus_faults import free_port
from tests.support.frames import labels, telemetry
from tests.support.istio import request_labels, sidecar_scrape, workload
from tests.support.prometheus import END, Counter, CountingProxy, openmetrics, start_prometheus

pytestmark = pytest.mark.prometheus

NS = "bookinfo"
EAST, WEST = "east", "west"


def requests(source, destination, rps: float, *, reporters=("source", "destination")) -> list[Counter]:
    """The series the proxies report of one hop: the client's sidecar
    (`source`, scraped in the client's cluster), the server's
    (`destination`, scraped in the server's)."""
    series = []
    for reporter in reporters:
        scraped = source if reporter == "source" else destination
        labels = request_labels(reporter, source, "reviews", NS, destination, scrape=sidecar_scrape(scraped))
        series.append(Counter("istio_requests_total", labels, rate=rps))
    return series


def cluster_series(cluster: str) -> list[Counter]:
    """What the Prometheus of `cluster` scrapes: its own proxies' series."""
    east_page, west_page = workload("productpage-v1", NS, EAST), workload("productpage-v1", NS, WEST)
    east_v1, west_v1 = workload("reviews-v1", NS, EAST), workload("reviews-v1", NS, WEST)
    west_v2 = workload("reviews-v2", NS, WEST)
    every = [
        *requests(east_page, east_v1, 4),
        *requests(east_page, west_v2, 2),
        *requests(west_page, west_v1, 3),
    ]
    return [s for s in every if _scraped_in(s.labels) == cluster]


def _scraped_in(labels: dict[str, str]) -> str:
    side = "source" if labels["reporter"] == "source" else "destination"
    return labels[f"{side}_cluster"]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    servers = {}
    try:
        for cluster in (EAST, WEST):
            servers[cluster] = start_prometheus(
                tmp_path_factory.mktemp(f"prometheus-{cluster}"),
                openmetrics_text=openmetrics(cluster_series(cluster)),
            )
        yield servers
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture(scope="module")
def settings(prometheus):
    urls = [f"{cluster}={server.url}" for cluster, server in prometheus.items()]
    return resolve({"prometheus": urls}, environ={})


def graph_document(settings, **kwargs) -> dict[str, Any]:
    telemetry = prometheus_source(settings).mesh(END, settings.window)
    return snapshot_document(build_graph(telemetry, settings, **kwargs))


def by_id(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in items}


E, W = f"workload:{EAST}:{NS}:", f"workload:{WEST}:{NS}:"
REVIEWS = f"service:{NS}:reviews"


def test_the_same_workload_name_in_two_clusters_is_two_nodes(settings):
    document = graph_document(settings)
    nodes = by_id(document["nodes"])
    assert set(nodes) == {
        E + "productpage-v1",
        W + "productpage-v1",
        E + "reviews-v1",
        W + "reviews-v1",
        W + "reviews-v2",
        REVIEWS,
    }
    assert nodes[E + "productpage-v1"]["cluster"] == EAST and nodes[W + "productpage-v1"]["cluster"] == WEST
    assert nodes[E + "productpage-v1"]["name"] == nodes[W + "productpage-v1"]["name"] == "productpage-v1"
    # One service in every cluster (namespace sameness), served from both.
    assert nodes[REVIEWS]["cluster"] is None


def test_cross_cluster_edges_are_marked_and_counted_once(settings):
    edges = by_id(graph_document(settings)["edges"])
    east_calls = edges[f"{E}productpage-v1->{REVIEWS}"]
    assert east_calls["rps"] == pytest.approx(6) and east_calls["cross_cluster"] is True
    remote = edges[f"{REVIEWS}->{W}reviews-v2"]
    assert remote["rps"] == pytest.approx(2) and remote["cross_cluster"] is True
    assert remote["share"] == pytest.approx(2 / 9)
    local = edges[f"{REVIEWS}->{E}reviews-v1"]
    assert local["rps"] == pytest.approx(4) and local["cross_cluster"] is False
    west_calls = edges[f"{W}productpage-v1->{REVIEWS}"]
    assert west_calls["rps"] == pytest.approx(3) and west_calls["cross_cluster"] is False
    assert edges[f"{REVIEWS}->{W}reviews-v1"]["rps"] == pytest.approx(3)


def test_cluster_filter_keeps_the_clusters_nodes_and_their_neighbours(settings):
    document = graph_document(settings, clusters=[WEST])
    assert {n["id"] for n in document["nodes"]} == {
        W + "productpage-v1",
        W + "reviews-v1",
        W + "reviews-v2",
        REVIEWS,
    }
    assert all(e["source"].startswith(W) or e["target"].startswith(W) for e in document["edges"])


def test_each_prometheus_is_asked_four_queries_at_once(prometheus):
    proxies = [CountingProxy(server.url) for server in prometheus.values()]
    try:
        source = MergedSource([PrometheusSource(proxy.url) for proxy in proxies])
        assert source.queries_per_refresh == 8
        source.mesh(END, resolve({}, environ={}).window)
        assert [proxy.queries for proxy in proxies] == [4, 4]
    finally:
        for proxy in proxies:
            proxy.stop()


def test_a_series_two_sources_both_hold_is_counted_once(prometheus, settings):
    """East's Prometheus behind a second address: the same series twice."""
    with CountingProxy(prometheus[EAST].url) as twin:
        doubled = resolve(
            {"prometheus": [str(e) for e in settings.prometheus] + [f"east-replica={twin.url}"]}, environ={}
        )
        edges = by_id(graph_document(doubled)["edges"])
    assert edges[f"{E}productpage-v1->{REVIEWS}"]["rps"] == pytest.approx(6)
    assert edges[f"{REVIEWS}->{E}reviews-v1"]["rps"] == pytest.approx(4)


def test_one_cluster_keeps_the_ids_it_always_had(settings):
    """Every series says `Kubernetes` (Istio's default cluster id): ids carry no cluster."""
    one = {"source_cluster": "Kubernetes", "destination_cluster": "Kubernetes"}
    mesh = telemetry(
        requests=[
            (labels("productpage-v1", "reviews", "reviews-v1", **one), 2.0),
            (labels("reviews-v1", "ratings", "ratings-v1", **one), 1.0),
        ]
    )
    document = snapshot_document(build_graph(mesh, settings))
    nodes = by_id(document["nodes"])
    assert set(nodes) == {
        "workload:default:productpage-v1",
        "workload:default:reviews-v1",
        "workload:default:ratings-v1",
        "service:default:reviews",
        "service:default:ratings",
    }
    assert {node["cluster"] for node in nodes.values()} == {"Kubernetes"}
    assert not any(edge["cross_cluster"] for edge in document["edges"])


def snapshot(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([MESHWATCH, "snapshot", *args], capture_output=True, text=True, timeout=60)


def test_cli_snapshot_merges_named_sources_and_filters_a_cluster(prometheus):
    sources = [
        arg for cluster, server in prometheus.items() for arg in ("--prometheus", f"{cluster}={server.url}")
    ]
    done = snapshot(*sources, "--at", str(END), "--cluster", EAST)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert E + "productpage-v1" in {n["id"] for n in printed["nodes"]}
    assert W + "productpage-v1" not in {n["id"] for n in printed["nodes"]}
    assert all("cluster" in n for n in printed["nodes"])
    assert all(isinstance(e["cross_cluster"], bool) for e in printed["edges"])


def test_cli_names_the_source_that_failed(prometheus):
    unused_url = f"http://127.0.0.1:{free_port()}"
    done = snapshot(
        "--prometheus", f"east={prometheus[EAST].url}", "--prometheus", f"west={unused_url}", "--at", str(END)
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"meshwatch: cannot reach Prometheus west at {unused_url}: Connection refused"
    ]


def test_cli_unknown_cluster_says_so(prometheus):
    done = snapshot("--prometheus", prometheus[EAST].url, "--at", str(END), "--cluster", "north")
    assert done.returncode == 0
    assert json.loads(done.stdout)["nodes"] == []
    assert "cluster 'north' has no Istio telemetry" in done.stderr


def two_clusters():
    """east's productpage calls west's reviews-v2; west's calls its own reviews-v1."""
    east = {"source_cluster": EAST, "destination_cluster": WEST}
    west = {"source_cluster": WEST, "destination_cluster": WEST}
    return telemetry(
        requests=[
            (labels("productpage-v1", "reviews", "reviews-v2", **east), 2.0),
            (labels("productpage-v1", "reviews", "reviews-v1", **west), 3.0),
        ]
    )


def test_find_and_hide_by_cluster_and_crossing(settings):
    from dashboard.mesh.find import apply, parse

    document = snapshot_document(build_graph(two_clusters(), settings))
    found = apply(document, parse("cross_cluster = true"), None)["found"]
    assert found == [
        f"service:default:reviews->workload:{WEST}:default:reviews-v2",
        f"workload:{EAST}:default:productpage-v1->service:default:reviews",
    ]
    hidden = apply(document, None, parse(f"cluster = {EAST}"))
    assert all(n["cluster"] != EAST for n in hidden["nodes"])


def test_api_graph_takes_a_cluster_like_a_namespace(settings):
    from dashboard.app import create_app
    from dashboard.app.services import Services
    from tests.support.telemetry import ScriptedSource

    app = create_app(settings, Services(telemetry=ScriptedSource(two_clusters()), clock=lambda: END))
    client = app.server.test_client()
    answer = client.get(f"/api/graph?cluster={EAST}")
    assert answer.status_code == 200
    assert {n["id"] for n in answer.get_json()["nodes"]} == {
        f"workload:{EAST}:default:productpage-v1",
        "service:default:reviews",
    }
    bad = client.get("/api/graph?cluster=a:b")
    assert bad.status_code == 400 and "bad cluster" in bad.get_json()["error"]
