"""Benchmark: one topology refresh against a real Prometheus, by mesh size.

Builds synthetic Istio meshes of 100, 1000 and 5000 workloads (services with
1-3 versions and a weighted split, fan-out along tiers, gRPC and TCP
services, an ingress gateway, callers without sidecar, some 5xx/4xx, UO/UH
rejections, idle edges, Envoy cluster stats, latency histograms with Istio's
default buckets; both reporters as a real mesh has them), backfills each into
its own Prometheus and prints, per size:

- PromQL queries per refresh (counted at an HTTP proxy);
- raw Prometheus time: the same queries sent with plain requests.get to
  /api/v1/query, JSON decoded;
- snapshot time: PrometheusSource.mesh + build_graph + snapshot_document
  (split into its parts), and its ratio to the raw time (target <= 1.2);
- the page's graph payload: the snapshot document JSON and, when
  layouts/topology.py is there, the Cytoscape elements JSON (target < 2 MB
  at 1000 workloads);
- build_graph per graph type (app, workload, service) against the versioned
  one on the same telemetry, and find + hide of a two-condition expression
  on the document.

Usage: python bench/bench_topology.py [--sizes 100,1000,5000] [--runs 5] [--profile 1000]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dashboard.app.config import resolve  # noqa: E402
from dashboard.mesh.build import build_graph  # noqa: E402
from dashboard.mesh.find import apply, parse  # noqa: E402
from dashboard.mesh.graph_types import GRAPH_TYPES, VERSIONED  # noqa: E402
from dashboard.mesh.snapshot import snapshot_document  # noqa: E402
from queries import promql  # noqa: E402
from queries.duration import prometheus_duration  # noqa: E402
from queries.prometheus import PrometheusSource  # noqa: E402
from tests.support.prometheus import (
    END,
    Counter,
    CountingProxy,
    Gauge,
    Histogram,
    start_prometheus,
    write_openmetrics,
)  # noqa: E402

WINDOW = prometheus_duration("1m")
# Three samples per series cover the 1m window ending at END; more only
# grows the backfill.
SPAN, STEP = 60.0, 30.0
SPLITS = {1: [1.0], 2: [0.9, 0.1], 3: [0.6, 0.3, 0.1]}
SERVICES_PER_NAMESPACE = 25
# A refresh against Prometheus' own time for the same queries (issue 11).
RATIO_TARGET = 1.2
# gRPC answers HTTP 200 and puts the outcome in grpc-status.
GRPC_STATUS = {"200": "0", "500": "14", "404": "5"}


@dataclass(frozen=True)
class Service:
    namespace: str
    name: str
    versions: tuple[str, ...]
    protocol: str  # http, grpc or tcp
    latency_ms: float


@dataclass(frozen=True)
class Caller:
    namespace: str
    workload: str
    app: str
    version: str


def services_for(workloads: int, rng: random.Random) -> list[Service]:
    services: list[Service] = []
    count = 0
    while count < workloads:
        versions = min(rng.choice([1, 1, 2, 3]), workloads - count)
        index = len(services)
        protocol = "tcp" if rng.random() < 0.05 else "grpc" if rng.random() < 0.1 else "http"
        services.append(
            Service(
                namespace=f"team-{index // SERVICES_PER_NAMESPACE:03d}",
                name=f"svc-{index:04d}",
                versions=tuple(f"v{k + 1}" for k in range(versions)),
                protocol=protocol,
                latency_ms=rng.lognormvariate(3, 1),
            )
        )
        count += versions
    return services


def request_labels(caller: Caller, service: Service, version: str | None, reporter: str) -> dict[str, str]:
    """Istio's standard labels of one caller -> service (-> version) series."""
    callee = f"{service.name}-{version}" if version else "unknown"
    return {
        "reporter": reporter,
        "source_workload": caller.workload,
        "source_workload_namespace": caller.namespace,
        "source_canonical_service": caller.app,
        "source_canonical_revision": caller.version,
        "source_app": caller.app,
        "source_version": caller.version,
        "source_cluster": "Kubernetes",
        "destination_service": f"{service.name}.{service.namespace}.svc.cluster.local",
        "destination_service_name": service.name,
        "destination_service_namespace": service.namespace,
        "destination_workload": callee,
        "destination_workload_namespace": service.namespace if version else "unknown",
        "destination_canonical_service": service.name if version else "unknown",
        "destination_canonical_revision": version or "unknown",
        "destination_app": service.name if version else "unknown",
        "destination_version": version or "unknown",
        "destination_cluster": "Kubernetes" if version else "unknown",
        # As Istio's proxies report it: only the server side knows.
        "connection_security_policy": (
            "unknown" if reporter == "source" else "none" if caller.workload == "unknown" else "mutual_tls"
        ),
        "request_protocol": service.protocol,
    }


def call_series(caller: Caller, service: Service, rps: float, rng: random.Random) -> list[Any]:
    """Every series one caller's traffic to one service leaves in Prometheus."""
    sidecar = caller.workload != "unknown"
    reporters = ("source", "destination") if sidecar else ("destination",)
    if service.protocol == "tcp":
        series = []
        for version, weight in zip(service.versions, SPLITS[len(service.versions)]):
            for reporter in reporters:
                base = request_labels(caller, service, version, reporter)
                series += [
                    Counter("istio_tcp_sent_bytes_total", base, rate=rps * weight * 800),
                    Counter("istio_tcp_received_bytes_total", base, rate=rps * weight * 4000),
                ]
        return series
    outcomes = [("200", "-", 1.0)]
    if rng.random() < 0.15:
        outcomes.append(("500", "-", 0.02))
    if rng.random() < 0.05:
        outcomes.append(("404", "-", 0.1))
    grpc = service.protocol == "grpc"
    series = []
    for version, weight in zip(service.versions, SPLITS[len(service.versions)]):
        for code, flags, share in outcomes:
            for reporter in reporters:
                labels = {
                    **request_labels(caller, service, version, reporter),
                    "response_flags": flags,
                    "response_code": "200" if grpc else code,
                    "grpc_response_status": GRPC_STATUS[code] if grpc else "",
                }
                series.append(Counter("istio_requests_total", labels, rate=rps * weight * share))
        histogram = request_labels(caller, service, version, reporters[0])
        base = service.latency_ms
        series.append(
            Histogram(
                "istio_request_duration_milliseconds",
                histogram,
                rate=rps * weight,
                observations=[base * f for f in (0.3, 0.6, 0.8, 1, 1.2, 1.5, 2.5, 6)],
            )
        )
    if sidecar and rng.random() < 0.03:
        flag = rng.choice(["UO", "UO", "UH"])
        labels = {
            **request_labels(caller, service, None, "source"),
            "response_code": "503",
            "response_flags": flag,
            "grpc_response_status": "14" if grpc else "",
        }
        series.append(Counter("istio_requests_total", labels, rate=rps * 0.2))
    return series


def envoy_series(caller: Caller, service: Service, rng: random.Random) -> list[Any]:
    pod = {
        "namespace": caller.namespace,
        "app": caller.app,
        "version": caller.version,
        "pod": f"{caller.workload}-6d9c7b5f8-{rng.randrange(16**5):05x}",
        "cluster_name": f"outbound|9080||{service.name}.{service.namespace}.svc.cluster.local",
    }
    hosts = float(len(service.versions) * 2)
    healthy = 0.0 if rng.random() < 0.1 else hosts
    return [
        Gauge("envoy_cluster_membership_total", pod, hosts),
        Gauge("envoy_cluster_membership_healthy", pod, healthy),
        Gauge("envoy_cluster_outlier_detection_ejections_active", pod, hosts - healthy),
        Counter("envoy_cluster_upstream_rq_pending_overflow", pod, rate=rng.choice([0, 0, 0, 0.5]), start=3),
    ]


@dataclass(frozen=True)
class Mesh:
    workloads: int
    services: int
    series: list[Any]


def synthetic_mesh(workloads: int, seed: int = 7) -> Mesh:
    """A tiered mesh: each workload calls 0-4 services a little further down
    the tiers, so the graph is deep and mostly acyclic, like real meshes."""
    rng = random.Random(seed)
    services = services_for(workloads, rng)
    series: list[Any] = []
    gateway = Caller("istio-system", "istio-ingressgateway", "istio-ingressgateway", "latest")
    no_sidecar = Caller("unknown", "unknown", "unknown", "unknown")
    entry = max(1, len(services) // 20)
    for service in services[:entry]:
        series += call_series(gateway, service, rng.lognormvariate(3, 0.5), rng)
    for service in rng.sample(services, max(1, len(services) // 50)):
        series += call_series(no_sidecar, service, rng.lognormvariate(1, 0.5), rng)
    for index, service in enumerate(services):
        if service.protocol == "tcp":
            continue
        later = services[index + 1 : index + 60]
        for version in service.versions:
            caller = Caller(service.namespace, f"{service.name}-{version}", service.name, version)
            for callee in rng.sample(later, min(len(later), rng.choice([0, 1, 1, 2, 2, 3, 4]))):
                rps = 0.0 if rng.random() < 0.03 else rng.lognormvariate(1, 1)
                series += call_series(caller, callee, rps, rng)
                if rng.random() < 0.05:
                    series += envoy_series(caller, callee, rng)
    return Mesh(workloads=workloads, services=len(services), series=series)


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def raw_queries(url: str, texts: list[str]) -> None:
    """The refresh's queries as plain HTTP, decoded: Prometheus' own cost."""
    with requests.Session() as session:
        for text in texts:
            response = session.get(
                f"{url}/api/v1/query", params={"query": text, "time": f"{END:.3f}"}, timeout=300
            )
            response.raise_for_status()
            response.json()


def snapshot(source: PrometheusSource, settings: Any) -> tuple[dict[str, float], dict[str, Any]]:
    parts: dict[str, float] = {}
    parts["mesh"], telemetry = timed(lambda: source.mesh(END, WINDOW))
    parts["graph"], graph = timed(lambda: build_graph(telemetry, settings))
    parts["document"], document = timed(lambda: snapshot_document(graph))
    return parts, document


def payload_sizes(document: dict[str, Any]) -> dict[str, float | None]:
    sizes: dict[str, float | None] = {
        "document_mb": len(json.dumps(document, allow_nan=False)) / 1e6,
        "elements_mb": None,
    }
    try:
        from layouts.topology.graph import elements, place
    except ImportError:
        return sizes
    positions = place(document["nodes"], document["edges"], {})
    sizes["elements_mb"] = len(json.dumps(elements(document, positions, show_idle=False))) / 1e6
    return sizes


def measure(mesh: Mesh, runs: int, workdir: Path, profile: bool) -> dict[str, Any]:
    om_file = workdir / f"mesh-{mesh.workloads}.om"
    generate_s, _ = timed(lambda: write_openmetrics(mesh.series, om_file, end=END, span=SPAN, step=STEP))
    file_mb = om_file.stat().st_size / 1e6
    backfill_s, server = timed(
        lambda: start_prometheus(workdir / f"prom-{mesh.workloads}", openmetrics_file=om_file)
    )
    om_file.unlink()
    settings = resolve({}, environ={})
    texts = list(promql.mesh_queries(WINDOW).values())
    try:
        with CountingProxy(server.url) as proxy:
            PrometheusSource(proxy.url, timeout=300).mesh(END, WINDOW)
            queries = proxy.queries
        source = PrometheusSource(server.url, timeout=300)
        raw_queries(server.url, texts)  # warm up Prometheus and the page cache
        _, document = snapshot(source, settings)
        raw_times, snapshot_times, part_times = [], [], []
        for _ in range(runs):
            raw_times.append(timed(lambda: raw_queries(server.url, texts))[0])
            parts, document = snapshot(source, settings)
            part_times.append(parts)
            snapshot_times.append(sum(parts.values()))
        telemetry = source.mesh(END, WINDOW)
        type_times = {
            graph_type: statistics.median(
                timed(lambda t=graph_type: build_graph(telemetry, settings, graph_type=t))[0]
                for _ in range(runs)
            )
            for graph_type in GRAPH_TYPES
        }
        find, hide = parse("circuit = open or error > 5%"), parse("health = idle or protocol = tcp")
        find_s = statistics.median(timed(lambda: apply(document, find, hide))[0] for _ in range(runs))
        if profile:
            profiler = cProfile.Profile()
            profiler.runcall(snapshot, source, settings)
            print(
                f"\n--- cProfile of one snapshot, {mesh.workloads} workloads (top 25 by cumulative time) ---"
            )
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    finally:
        server.stop()
    raw = statistics.median(raw_times)
    snap = statistics.median(snapshot_times)
    return {
        "workloads": mesh.workloads,
        "services": mesh.services,
        "series": len(mesh.series),
        "om_mb": file_mb,
        "setup_s": generate_s + backfill_s,
        "nodes": len(document["nodes"]),
        "edges": len(document["edges"]),
        "queries": queries,
        "raw_s": raw,
        "snapshot_s": snap,
        "ratio": snap / raw,
        **{
            f"{part}_s": statistics.median(p[part] for p in part_times)
            for part in ("mesh", "graph", "document")
        },
        **payload_sizes(document),
        **{
            f"{graph_type}_ratio": type_times[graph_type] / type_times[VERSIONED]
            for graph_type in GRAPH_TYPES
            if graph_type != VERSIONED
        },
        "find_s": find_s,
    }


COLUMNS = [
    ("workloads", "workloads", "{:d}"),
    ("services", "services", "{:d}"),
    ("series", "described series", "{:d}"),
    ("nodes", "nodes", "{:d}"),
    ("edges", "edges", "{:d}"),
    ("queries", "queries/refresh", "{:d}"),
    ("raw_s", "raw Prometheus s", "{:.3f}"),
    ("snapshot_s", "snapshot s", "{:.3f}"),
    ("mesh_s", " mesh() s", "{:.3f}"),
    ("graph_s", " build_graph s", "{:.3f}"),
    ("document_s", " document s", "{:.3f}"),
    ("ratio", "snapshot/raw", "{:.2f}"),
    ("document_mb", "document MB", "{:.2f}"),
    ("elements_mb", "elements MB", "{:.2f}"),
    *((f"{t}_ratio", f"build {t}/versioned", "{:.2f}") for t in GRAPH_TYPES if t != VERSIONED),
    ("find_s", "find+hide s", "{:.4f}"),
    ("setup_s", "setup s", "{:.1f}"),
    ("om_mb", "backfill MB", "{:.0f}"),
]


def print_table(results: list[dict[str, Any]]) -> None:
    width = max(len(title) for _, title, _ in COLUMNS)
    print()
    print(f"{'':{width}}" + "".join(f"{r['workloads']:>12d}" for r in results))
    for key, title, fmt in COLUMNS[1:]:
        cells = ["n/a" if r.get(key) is None else fmt.format(r[key]) for r in results]
        print(f"{title:{width}}" + "".join(f"{cell:>12}" for cell in cells))
    for r in results:
        verdict = "meets" if r["ratio"] <= RATIO_TARGET else "MISSES"
        print(
            f"\n{r['workloads']} workloads: snapshot/raw {r['ratio']:.2f} {verdict} the {RATIO_TARGET}",
            end="",
        )
        if r["workloads"] == 1000:
            payload = r["elements_mb"] if r["elements_mb"] is not None else r["document_mb"]
            print(
                f"; page payload {payload:.2f} MB {'meets' if payload < 2 else 'MISSES'} the 2 MB target",
                end="",
            )
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,5000", help="workload counts, comma-separated")
    parser.add_argument("--runs", type=int, default=5, help="timed refreshes per size (median reported)")
    parser.add_argument(
        "--profile",
        type=int,
        default=None,
        metavar="WORKLOADS",
        help="print a cProfile of one snapshot at this size",
    )
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="meshwatch-bench-") as workdir:
        for size in (int(s) for s in args.sizes.split(",")):
            mesh = synthetic_mesh(size)
            print(f"{size} workloads: {len(mesh.series)} series ...", file=sys.stderr, flush=True)
            results.append(measure(mesh, args.runs, Path(workdir), profile=args.profile == size))
    print_table(results)


if __name__ == "__main__":
    main()
