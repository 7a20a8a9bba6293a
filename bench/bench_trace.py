"""How fast meshwatch analyses and shows a huge trace.

Generates an Istio-like trace (every hop a client and a server sidecar span
with Envoy's tags) of N spans as a Jaeger "Download JSON" file, then prints:
- json.load time of the file, analysis time (records + tree + self time +
  critical path + the CLI document), and their ratio (the goal: <= 3);
- peak traced memory of the analysis;
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
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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


def main() -> None:
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
        if args.paint:
            del loaded, tree
            cold, warm = measure_paint(path, trace_id)
            print(f"first paint /trace/<id>, fetched from Jaeger: {cold:.2f} s  (goal <= 5)")
            print(f"first paint /trace/<id>, from the trace cache: {warm:.2f} s")


if __name__ == "__main__":
    main()
