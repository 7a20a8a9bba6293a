"""Benchmark: which latency query, measured (issue 11, item 1).

The latency query is the costliest of a refresh: a duration histogram has
twenty buckets per series. On the synthetic meshes of bench_topology.py,
backfilled into a real Prometheus, this sends each formulation as the
dashboard does (a POST form, with `stats=all`) and prints, per size:

- Prometheus' own evaluation time (`data.stats.timings.evalTotalTime`) and
  the wall time of the answer;
- the answer's bytes, against `--max-response-mb`'s 64 MB default;
- the time to decode it into the frame the graph reads, and the sum: end to
  end to the frame.

Formulations:
- `buckets`: every bucket rate (`promql.bucket_rates`), quantiles made in
  the graph builder;
- `sparse buckets` (`promql.latency_buckets`, what meshwatch sends): less
  the finite buckets equal to their `+Inf`, with the mesh's bounds, put
  back by `queries.telemetry.full_buckets`;
- `server p50/p95/p99`: `histogram_quantile` of the three quantiles,
  labelled, one series each per caller -> destination workload;
- `server, graph`: the same for each grouping a versioned graph draws
  (caller -> service, service -> workload, workload and service nodes):
  what server-side quantiles would take to fill one graph type. Other graph
  types and the namespace overview merge series, so their quantiles need
  summed buckets again.

It also checks that the graph made from the sparse answer carries the same
quantiles as the one made from every bucket.

Usage: python bench/bench_queries.py [--sizes 1000,5000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_topology import SPAN, STEP, WINDOW, synthetic_mesh  # noqa: E402

from dashboard.app.config import resolve  # noqa: E402
from dashboard.mesh.build import build_graph  # noqa: E402
from dashboard.mesh.snapshot import snapshot_document  # noqa: E402
from queries import promql  # noqa: E402
from queries.http import Reply  # noqa: E402
from queries.prometheus import PrometheusSource, instant_answer, instant_vector_frame  # noqa: E402
from queries.telemetry import LATENCY_LABELS, VIEW_LABEL, full_buckets  # noqa: E402
from tests.support.prometheus import END, start_prometheus, write_openmetrics  # noqa: E402

QUANTILES = ("0.5", "0.95", "0.99")
EDGE = [label for label in LATENCY_LABELS if label != "le"]
# The groupings of a versioned graph's quantiles, server side.
GRAPH_GROUPINGS = {
    "caller -> service": [
        "source_workload",
        "source_workload_namespace",
        "source_cluster",
        "destination_service_name",
        "destination_service_namespace",
    ],
    "service -> workload": [
        "destination_service_name",
        "destination_service_namespace",
        "destination_workload",
        "destination_workload_namespace",
        "destination_cluster",
    ],
    "workload node": ["destination_workload", "destination_workload_namespace", "destination_cluster"],
    "service node": ["destination_service_name", "destination_service_namespace"],
}
LIMIT_MB = 64


def server_quantiles(buckets: str, by: list[str], mark: str = "") -> str:
    labelled = []
    for q in QUANTILES:
        summed = f"sum by ({', '.join([*by, 'le'])}) ({buckets})"
        text = f'label_replace(histogram_quantile({q}, {summed}), "quantile", "{q}", "", "")'
        if mark:
            text = f'label_replace({text}, "grouping", "{mark}", "", "")'
        labelled.append(text)
    return " or ".join(labelled)


def formulations() -> dict[str, str]:
    buckets = promql.bucket_rates(WINDOW)
    return {
        "buckets": buckets,
        "sparse buckets": promql.latency_buckets(WINDOW),
        "server p50/p95/p99": server_quantiles(buckets, EDGE),
        "server, graph": " or ".join(
            server_quantiles(buckets, by, mark) for mark, by in GRAPH_GROUPINGS.items()
        ),
    }


def decode(name: str, body: bytes) -> Any:
    series, _ = instant_answer(Reply(200, "application/json", body), "Prometheus")
    if name == "buckets":
        return instant_vector_frame(series, LATENCY_LABELS, "rate")
    if name == "sparse buckets":
        return full_buckets(instant_vector_frame(series, [*LATENCY_LABELS, VIEW_LABEL], "rate"))
    return instant_vector_frame(series, [*EDGE, "quantile", "grouping"], "ms")


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def ask(session: requests.Session, url: str, text: str) -> tuple[float, bytes, float]:
    """Wall seconds, body, and Prometheus' own evaluation seconds."""
    form = {"query": text, "time": f"{END:.3f}", "stats": "all"}
    wall, response = timed(lambda: session.post(f"{url}/api/v1/query", data=form, timeout=600))
    response.raise_for_status()
    stats = json.loads(response.content)["data"].get("stats", {}).get("timings", {})
    return wall, response.content, float(stats.get("evalTotalTime", "nan"))


def quantiles_of(document: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    figures = ("p50_ms", "p95_ms", "p99_ms")
    return {
        item["id"]: tuple(item.get(figure) for figure in figures)
        for item in [*document["nodes"], *document["edges"]]
    }


def same_quantiles(url: str) -> tuple[bool, int]:
    """Whether the sparse answer's graph has every quantile of the whole
    buckets' graph; and how many elements have quantiles."""
    settings = resolve({}, environ={})
    source = PrometheusSource(url, timeout=600, max_response_bytes=1 << 34)
    sparse = source.mesh(END, WINDOW)
    every = instant_vector_frame(source.query(promql.bucket_rates(WINDOW), END), LATENCY_LABELS, "rate")
    whole = replace(sparse, latency=every)
    left = quantiles_of(snapshot_document(build_graph(sparse, settings)))
    right = quantiles_of(snapshot_document(build_graph(whole, settings)))
    measured = sum(1 for figures in right.values() if figures[0] is not None)
    return left == right, measured


def measure(workloads: int, runs: int, workdir: Path) -> dict[str, Any]:
    mesh = synthetic_mesh(workloads)
    om_file = workdir / f"mesh-{workloads}.om"
    write_openmetrics(mesh.series, om_file, end=END, span=SPAN, step=STEP)
    server = start_prometheus(workdir / f"prom-{workloads}", openmetrics_file=om_file, ready_timeout=600)
    om_file.unlink()
    rows: dict[str, dict[str, float]] = {}
    try:
        with requests.Session() as session:
            for name, text in formulations().items():
                ask(session, server.url, text)  # warm the page cache
                walls, evals, decodes, size = [], [], [], 0
                for _ in range(runs):
                    wall, body, evaluated = ask(session, server.url, text)
                    walls.append(wall)
                    evals.append(evaluated)
                    decodes.append(timed(lambda b=body, n=name: decode(n, b))[0])
                    size = len(body)
                rows[name] = {
                    "eval_s": statistics.median(evals),
                    "wall_s": statistics.median(walls),
                    "mb": size / 1e6,
                    "decode_s": statistics.median(decodes),
                    "end_s": statistics.median(w + d for w, d in zip(walls, decodes)),
                }
                print(f"  {workloads}: {name} done", file=sys.stderr, flush=True)
        same, measured = same_quantiles(server.url)
    finally:
        server.stop()
    return {"workloads": workloads, "rows": rows, "same": same, "measured": measured}


def print_table(results: list[dict[str, Any]]) -> None:
    header = f"{'workloads':>9}  {'formulation':<20}{'eval s':>9}{'wall s':>9}{'MB':>9}"
    header += f"{'decode s':>10}{'end to end s':>14}"
    print()
    print(header)
    for result in results:
        for name, row in result["rows"].items():
            over = " (over 64 MB)" if row["mb"] > LIMIT_MB else ""
            print(
                f"{result['workloads']:>9}  {name:<20}{row['eval_s']:>9.3f}{row['wall_s']:>9.3f}"
                f"{row['mb']:>9.1f}{row['decode_s']:>10.3f}{row['end_s']:>14.3f}{over}"
            )
        rows = result["rows"]
        sparse, every = rows["sparse buckets"], rows["buckets"]
        print(
            f"{result['workloads']:>9}  sparse/every bucket: {sparse['mb'] / every['mb']:.2f}× the bytes, "
            f"{sparse['end_s'] / every['end_s']:.2f}× end to end; the same quantiles on all "
            f"{result['measured']} measured elements: {'yes' if result['same'] else 'NO'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,5000", help="workload counts, comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="timed queries per formulation (median)")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="meshwatch-bench-queries-") as workdir:
        for size in (int(s) for s in args.sizes.split(",")):
            print(f"{size} workloads ...", file=sys.stderr, flush=True)
            results.append(measure(size, args.runs, Path(workdir)))
    print_table(results)


if __name__ == "__main__":
    main()
