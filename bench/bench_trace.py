"""How fast meshwatch analyses and shows a huge trace.

Generates an Istio-like trace (every hop a client and a server sidecar span
with Envoy's tags) of N spans as a Jaeger "Download JSON" file, then prints:
- json.load time of the file, analysis time (records + tree + self time +
  critical path + the CLI document), and their ratio (the goal: <= 3);
- peak traced memory of the analysis, and the peak RSS of a fresh process
  that opens the file as `meshwatch trace --file` and the trace cache do
  (read, parse, analyse, keep), with the cache's reckoning of what it holds;
- with --paint (needs /usr/bin/chromium): first paint of /trace/<id> in
  headless Chromium, from navigation to waterfall bars on screen, the trace
  coming from a Jaeger transport serving the file (fetch + parse + analysis +
  render), then again from the dashboard's trace cache.

Usage: python bench/bench_trace.py [--spans 100000] [--paint]
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SERVICES = [
    "productpage",
    "reviews",
    "ratings",
    "details",
    "cart",
    "checkout",
    "payment",
    "shipping",
    "inventory",
    "search",
    "users",
    "auth",
    "catalog",
    "pricing",
    "mail",
    "ads",
]


def envoy_tags(kind: str, service: str, callee: str, status: str, rng: random.Random) -> list[dict[str, Any]]:
    cluster = f"outbound|9080||{callee}.default.svc.cluster.local" if kind == "client" else "inbound|9080||"
    return [
        {
            "key": "node_id",
            "type": "string",
            "value": f"sidecar~10.244.{rng.randrange(256)}.{rng.randrange(256)}~{service}-v1-5b4c8d9f7-x2x9z"
            ".default~default.svc.cluster.local",
        },
        {"key": "zone", "type": "string", "value": ""},
        {"key": "guid:x-request-id", "type": "string", "value": "3c6a1f0e-8f6b-9a4e-b8c2-5d8e0f6a7b21"},
        {
            "key": "http.url",
            "type": "string",
            "value": f"http://{callee}:9080/api/v1/items/{rng.randrange(10000)}",
        },
        {"key": "http.method", "type": "string", "value": "GET"},
        {"key": "downstream_cluster", "type": "string", "value": "-"},
        {"key": "user_agent", "type": "string", "value": "python-requests/2.32.3"},
        {"key": "http.protocol", "type": "string", "value": "HTTP/1.1"},
        {
            "key": "peer.address",
            "type": "string",
            "value": f"10.244.{rng.randrange(256)}.{rng.randrange(256)}",
        },
        {"key": "request_size", "type": "string", "value": "0"},
        {"key": "response_size", "type": "string", "value": str(rng.randrange(50, 9000))},
        {"key": "component", "type": "string", "value": "proxy"},
        {"key": "upstream_cluster", "type": "string", "value": cluster},
        {"key": "upstream_cluster.name", "type": "string", "value": cluster},
        {"key": "http.status_code", "type": "string", "value": status},
        {"key": "response_flags", "type": "string", "value": "-" if status == "200" else "UO"},
        {"key": "istio.canonical_revision", "type": "string", "value": "v1"},
        {"key": "istio.canonical_service", "type": "string", "value": service},
        {"key": "istio.mesh_id", "type": "string", "value": "cluster.local"},
        {"key": "istio.namespace", "type": "string", "value": "default"},
        {"key": "span.kind", "type": "string", "value": kind},
        {"key": "internal.span.format", "type": "string", "value": "zipkin"},
    ]


def generate(spans: int, seed: int = 1) -> dict[str, Any]:
    """A batch-job-like trace: a root fanning out into hops, each hop a client
    span (caller's sidecar) and a server span (callee's sidecar)."""
    rng = random.Random(seed)
    trace_id = f"{rng.getrandbits(128):032x}"
    t0 = 1_764_151_200_000_000
    processes = {
        f"p{i}": {
            "serviceName": f"{name}.default",
            "tags": [{"key": "ip", "type": "string", "value": f"10.244.0.{i}"}],
        }
        for i, name in enumerate(SERVICES)
    }
    out: list[dict[str, Any]] = []

    def span(parent: str | None, op: str, start: int, duration: int, pid: str, tags: list) -> str:
        span_id = f"{rng.getrandbits(64):016x}"
        out.append(
            {
                "traceID": trace_id,
                "spanID": span_id,
                "operationName": op,
                "references": [{"refType": "CHILD_OF", "traceID": trace_id, "spanID": parent}]
                if parent
                else [],
                "startTime": t0 + start,
                "duration": duration,
                "tags": tags,
                "logs": [],
                "processID": pid,
                "warnings": None,
            }
        )
        return span_id

    root = span(
        None,
        "productpage.default.svc.cluster.local:9080/batch",
        0,
        600_000_000,
        "p0",
        envoy_tags("server", "productpage", "productpage", "200", rng),
    )
    frontier = [(root, 0, 0, 600_000_000)]  # (server span id, service index, start, duration)
    while len(out) < spans and frontier:
        parent, service, start, duration = frontier.pop(0)
        for _ in range(rng.randint(2, 6)):
            if len(out) + 2 > spans:
                break
            callee = rng.randrange(len(SERVICES))
            offset = rng.randrange(max(1, duration // 2))
            length = max(2, rng.randrange(max(2, duration - offset)))
            status = "503" if rng.random() < 0.01 else "200"
            op = f"{SERVICES[callee]}.default.svc.cluster.local:9080/*"
            client = span(
                parent,
                op,
                start + offset,
                length,
                f"p{service}",
                envoy_tags("client", SERVICES[service], SERVICES[callee], status, rng),
            )
            server = span(
                client,
                op,
                start + offset + 1,
                length - 2,
                f"p{callee}",
                envoy_tags("server", SERVICES[callee], SERVICES[callee], status, rng),
            )
            frontier.append((server, callee, start + offset + 1, length - 2))
    return {"data": [{"traceID": trace_id, "spans": out, "processes": processes, "warnings": None}]}


def analyse(document: Any) -> Any:
    from dashboard.traces.document import trace_document
    from dashboard.traces.tree import build_tree
    from queries.traces.export import read_export

    tree = build_tree(read_export(document)[0])
    trace_document(tree)
    return tree


def best_of(runs: int, action: Any) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(runs):
        gc.collect()
        began = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - began)
    return best, result


def measure_paint(path: Path, trace_id: str) -> tuple[float, float]:
    import threading

    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from dashboard.app import create_app
    from dashboard.app.config import resolve
    from dashboard.app.services import Services
    from queries.jaeger import JaegerClient

    body = path.read_bytes()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request would drown the figures

    def transport(route: str, params: dict[str, str]) -> tuple[int, str, bytes]:
        if route == f"/api/traces/{trace_id}":
            return 200, "application/json", body
        return 404, "text/plain", b"404 page not found\n"

    settings = resolve({}, environ={})
    services = Services(telemetry=None, traces=JaegerClient("http://bench", "v1", transport=transport))
    app = create_app(settings, services)
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/trace/{trace_id}"
    figures = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        )
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        for _ in range(2):  # cold (through Jaeger), then from the trace cache
            began = time.perf_counter()
            page.goto(url)
            page.wait_for_selector("#trace-waterfall .mw-wf-span", timeout=120_000)
            figures.append(time.perf_counter() - began)
        browser.close()
    server.shutdown()
    return figures[0], figures[1]


def _status_mb(field: str) -> float:
    """VmHWM (peak RSS) or VmRSS of this process from /proc, in MB (ru_maxrss
    would carry the parent's peak across fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def open_as_the_dashboard(path: str) -> None:
    """In a fresh process: read the file within the upload cap, analyse it into a
    trace cache, and print peak RSS and what the cache reckons it holds."""
    from dashboard.app.trace_cache import TraceCache
    from queries.traces.export import load_export

    before = _status_mb("VmRSS")
    cache = TraceCache(lambda trace_id: None)
    with cache.parsing():
        for trace in load_export(path, 1 << 40):
            cache.put(trace)
    gc.collect()
    figures = {
        "rss_before_mb": before,
        "peak_rss_mb": _status_mb("VmHWM"),
        "rss_after_mb": _status_mb("VmRSS"),
        "held_mb": cache.held_bytes / 2**20,
    }
    print(json.dumps(figures))


def peak_rss(path: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--open-as-dashboard", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def main() -> None:
    if sys.argv[1:2] == ["--open-as-dashboard"]:
        open_as_the_dashboard(sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--paint", action="store_true", help="also measure first paint in headless Chromium")
    args = parser.parse_args()

    document = generate(args.spans)
    trace_id = document["data"][0]["traceID"]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "trace.json"
        path.write_text(json.dumps(document))
        del document
        size_mb = os.path.getsize(path) / 1e6

        def load() -> Any:
            with path.open("rb") as handle:
                return json.load(handle)

        load_s, loaded = best_of(args.runs, load)
        analyse_s, tree = best_of(args.runs, lambda: analyse(loaded))
        tracemalloc.start()
        analyse(loaded)
        peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        print(f"trace: {len(tree.order)} spans, depth {max(tree.depth)}, {size_mb:.0f} MB of JSON")
        print(f"json.load:           {load_s:.2f} s")
        print(
            f"analysis:            {analyse_s:.2f} s  (records + tree + self time + critical path + document)"
        )
        print(f"ratio analysis/load: {analyse_s / load_s:.2f}  (goal <= 3)")
        print(f"load + analysis:     {load_s + analyse_s:.2f} s")
        print(f"analysis peak memory (tracemalloc, beyond the loaded JSON): {peak_mb:.0f} MB")
        rss = peak_rss(path)
        print(
            f"peak RSS opening it as the dashboard does (read + parse + analyse + keep): "
            f"{rss['peak_rss_mb']:.0f} MB  (process at start {rss['rss_before_mb']:.0f} MB, "
            f"{rss['rss_after_mb']:.0f} MB once the trace is kept; "
            f"peak {rss['peak_rss_mb'] / size_mb:.1f} x the file)"
        )
        print(
            f"trace cache's reckoning of the kept trace: {rss['held_mb']:.0f} MB "
            f"(--trace-cache-mb bounds the sum; the newest trace always stays)"
        )
        if args.paint:
            del loaded, tree
            cold, warm = measure_paint(path, trace_id)
            print(f"first paint /trace/<id>, fetched from Jaeger: {cold:.2f} s  (goal <= 5)")
            print(f"first paint /trace/<id>, from the trace cache: {warm:.2f} s")


if __name__ == "__main__":
    main()
