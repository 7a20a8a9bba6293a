"""Benchmark: a big mesh's namespace overview in headless Chromium, by mesh size.

For 1,000 and 5,000 workloads spread over about `--namespaces` namespaces
(bench_topology's synthetic Istio mesh, backfilled into a real Prometheus),
serves the dashboard on that Prometheus with its clock at the backfill's
end, opens the topology page in Debian's Chromium at 1920x1080 and
measures, over `--runs` fresh servers (median reported), each opened by
two page loads in turn: the first on a cold server (its queries, graphs
and the clicked namespace not yet cached), the second as a next viewer
finds it (everything cached by the first):

- first paint: navigation start to the first graph drawn (Cytoscape has
  nodes and #topology-status shows its line); target <= 3 s at 1,000. A
  cold one is the refresh's early report, without latency;
- latency in: navigation start until the status line no longer says the
  latency is loading (the whole graph drawn);
- click to expand: a click on the biggest namespace's node, once the
  latency is in (Prometheus, on the same two cores, is no longer busy with
  it), until that namespace's workloads are in Cytoscape; target <= 0.5 s
  at 5,000 (the cold one is the first viewer to open that namespace this
  refresh);
- click after the pointer rested: once Fold has folded the first again,
  the same on the second biggest namespace, the pointer resting on it
  POINTER_REST_S first, as a person's does (the page builds the opening
  meanwhile);
- where the click's time goes: the click's refresh request (Prometheus,
  graph, elements: the request answering the graph's patch) and its
  response size.

Usage: python bench/bench_overview.py [--sizes 1000,5000] [--namespaces 40] [--runs 3]
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import sys
import tempfile
import threading
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import bench_topology as topology  # its path setup makes the project importable
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from dashboard.app import create_app
from dashboard.app.config import resolve
from dashboard.app.services import live_services
from dashboard.mesh.graph_types import namespace_node_id
from queries import promql
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, WALL_SCREEN
from tests.support.prometheus import END, start_prometheus, write_openmetrics

# Each service has 1-3 versions (1.75 workloads on average, bench_topology.services_for).
WORKLOADS_PER_SERVICE = 1.75
PAINT_TARGET_S, CLICK_TARGET_S = 3.0, 0.5
FIGURES = (
    "paint_s",
    "whole_s",
    "settled_s",
    "in_view",
    "click_s",
    "rested_click_s",
    "nodes",
    "opened_nodes",
    "callback_s",
    "callback_mb",
)
COLD = ("paint_s", "whole_s", "click_s", "rested_click_s", "callback_s")
# How long the pointer rests on the second namespace before its click, as a person's does.
POINTER_REST_S = 0.3
FIRST_GRAPH = """() => {
    const status = document.getElementById('topology-status');
    return window.cy && window.cy.nodes().length > 0 && status && status.innerText.trim()
        ? performance.now() : false;
}"""
# The status line of a graph drawn before its latency says so (pages/topology.status_line).
WHOLE_GRAPH = """() => {
    const status = document.getElementById('topology-status');
    return status && status.innerText.trim() && !status.innerText.includes('latency loading')
        ? performance.now() : false;
}"""
EXPANDED = """(ns) => {
    const cy = window.cy;
    return cy.getElementById('namespace:' + ns).length === 0
        && cy.nodes().some(n => n.id().startsWith('workload:' + ns + ':'))
        ? performance.now() : false;
}"""
SETTLED = """(id) => {
    const cy = window.cy, node = cy.getElementById(id);
    if (node.length !== 1 || cy.animated()) return false;
    const point = node.renderedPosition();
    const inView = point.x > 0 && point.y > 0 && point.x < cy.width() && point.y < cy.height();
    return {in_view: inView, at: performance.now()};
}"""
SHOWN = """() => ({banner: (document.getElementById('topology-banner') || {}).innerText,
    status: (document.getElementById('topology-status') || {}).innerText})"""
DIAGNOSE = """(ns) => ({clickedAt: window.clickedAt,
    banner: document.getElementById('topology-banner').innerText,
    status: document.getElementById('topology-status').innerText,
    nodes: window.cy.nodes().length,
    inside: window.cy.nodes().filter(n => n.id().includes(ns)).map(n => n.id()).slice(0, 5)})"""
ON_CLICK = """() => document.addEventListener(
    'mousedown', () => { window.clickedAt = performance.now(); }, {capture: true, once: true})"""


def spread(workloads: int, namespaces: int) -> int:
    """Services per namespace so that `workloads` land in about `namespaces` namespaces."""
    return max(1, round(workloads / WORKLOADS_PER_SERVICE / namespaces))


def biggest_namespaces(workloads: int) -> tuple[list[tuple[str, int]], int]:
    """The two namespaces with the most workloads (name and count, biggest
    first), and how many namespaces: synthetic_mesh draws its services first
    from the same seed."""
    services = topology.services_for(workloads, random.Random(7))
    counts: Counter[str] = Counter()
    for service in services:
        counts[service.namespace] += len(service.versions)
    return counts.most_common(2), len(counts)


def serve(app: Any) -> tuple[Any, str]:
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def settled_point(page: Any, node_id: str, timeout_s: float) -> tuple[dict[str, float], dict[str, Any]]:
    """Where the node is drawn once the view is still (panned to, as a user
    would, when the fit left it out of view), and when it was still."""
    settled = page.wait_for_function(
        SETTLED, arg=node_id, polling="raf", timeout=timeout_s * 1000
    ).json_value()
    if not settled["in_view"]:
        page.evaluate("(id) => window.cy.center(window.cy.getElementById(id))", node_id)
    point = page.evaluate("(id) => window.cy.getElementById(id).renderedPosition()", node_id)
    return point, settled


def click_open(
    page: Any, box: dict[str, float], point: dict[str, float], namespace: str, timeout_s: float
) -> float:
    """Seconds from the click's mousedown until the namespace's workloads are drawn."""
    page.evaluate(ON_CLICK)
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
    try:
        opened_ms = page.wait_for_function(
            EXPANDED, arg=namespace, polling="raf", timeout=timeout_s * 1000
        ).json_value()
    except PlaywrightTimeout:
        print(page.evaluate(DIAGNOSE, namespace), box, point, file=sys.stderr)
        raise
    return (opened_ms - page.evaluate("() => window.clickedAt")) / 1000


def one_run(browser: Any, url: str, namespaces: list[str], timeout_s: float) -> dict[str, float]:
    """One fresh page: its first paint, then a click on the first namespace
    until it is open, then one on the second after the pointer rested on it."""
    context = browser.new_context(viewport=WALL_SCREEN)
    page = context.new_page()
    updates: list[Any] = []
    try:
        page.goto(url + "/")
        try:
            paint_ms = page.wait_for_function(
                FIRST_GRAPH, polling="raf", timeout=timeout_s * 1000
            ).json_value()
        except PlaywrightTimeout:
            # Said as a figure (longer than the wait), with what the page showed instead.
            print(page.evaluate(SHOWN), file=sys.stderr)
            return {key: float("inf") if key.endswith("_s") else float("nan") for key in FIGURES}
        whole_ms = page.wait_for_function(WHOLE_GRAPH, polling="raf", timeout=timeout_s * 1000).json_value()
        first, second = namespaces
        point, settled = settled_point(page, namespace_node_id(first), timeout_s)
        nodes = page.evaluate("() => window.cy.nodes().length")
        box = page.locator("#topology-graph").bounding_box()
        page.on(
            "requestfinished",
            # The refresh's request: the one that answers the graph's patch.
            lambda request: (
                updates.append(request)
                if "_dash-update-component" in request.url and "topology-patch" in (request.post_data or "")
                else None
            ),
        )
        click_s = click_open(page, box, point, first, timeout_s)
        opened = page.evaluate("() => window.cy.nodes().length")
        slowest = max(updates, key=lambda r: r.timing["responseEnd"], default=None)
        # Folded again, the second namespace is opened as the first was, by a
        # first opener, but with the pointer resting on it first, as a person's does.
        page.locator("#topology-fold").click()
        page.wait_for_function(
            "(id) => window.cy.getElementById(id).length === 1",
            arg=namespace_node_id(first),
            timeout=timeout_s * 1000,
        )
        point, _ = settled_point(page, namespace_node_id(second), timeout_s)
        page.mouse.move(box["x"] + point["x"], box["y"] + point["y"])
        page.wait_for_timeout(POINTER_REST_S * 1000)
        rested_s = click_open(page, box, point, second, timeout_s)
        return {
            "paint_s": paint_ms / 1000,
            "whole_s": whole_ms / 1000,
            "settled_s": settled["at"] / 1000,
            "in_view": float(settled["in_view"]),
            "click_s": click_s,
            "rested_click_s": rested_s,
            "nodes": nodes,
            "opened_nodes": opened,
            "callback_s": slowest.timing["responseEnd"] / 1000 if slowest else float("nan"),
            "callback_mb": (slowest.sizes()["responseBodySize"] / 1e6) if slowest else float("nan"),
        }
    finally:
        context.close()


def measure(
    browser: Any, workloads: int, namespaces: int, runs: int, workdir: Path, timeout_s: float
) -> dict[str, Any]:
    topology.SERVICES_PER_NAMESPACE = spread(workloads, namespaces)
    biggest, count = biggest_namespaces(workloads)
    namespaces = [name for name, _ in biggest]
    mesh = topology.synthetic_mesh(workloads)
    print(
        f"{workloads} workloads in {count} namespaces: {len(mesh.series)} series ...",
        file=sys.stderr,
        flush=True,
    )
    om_file = workdir / f"mesh-{workloads}.om"
    write_openmetrics(mesh.series, om_file, end=END, span=topology.SPAN, step=topology.STEP)
    prometheus = start_prometheus(workdir / f"prom-{workloads}", openmetrics_file=om_file)
    om_file.unlink()
    try:
        # Warm Prometheus and the page cache, as bench_topology does.
        topology.raw_queries(prometheus.url, list(promql.mesh_queries(topology.WINDOW).values()))
        settings = resolve(
            {"prometheus": prometheus.url, "prometheus_timeout": "300", "refresh": "3600"}, environ={}
        )
        # The page's clock stands at the backfill's end, so it opens live there: an
        # `?at=` that far back is pulled into the time slider's range (now - 1 day).
        services = replace(live_services(settings), clock=lambda: END)
        colds, results = [], []
        for _ in range(runs):
            server, url = serve(create_app(settings, services))
            try:
                colds.append(one_run(browser, url, namespaces, timeout_s))
                results.append(one_run(browser, url, namespaces, timeout_s))
            finally:
                server.shutdown()
    finally:
        prometheus.stop()
    return {
        "workloads": workloads,
        "namespaces": count,
        "biggest": ", ".join(f"{name} ({inside})" for name, inside in biggest),
        **{key: statistics.median(r[key] for r in results) for key in results[0]},
        **{f"cold_{key}": statistics.median(r[key] for r in colds) for key in COLD},
        "paint_runs": [r["paint_s"] for r in results],
        "click_runs": [r["click_s"] for r in results],
        "cold_paint_runs": [r["paint_s"] for r in colds],
        "cold_click_runs": [r["click_s"] for r in colds],
        "rested_click_runs": [r["rested_click_s"] for r in results],
        "cold_rested_click_runs": [r["rested_click_s"] for r in colds],
    }


def verdict(value: float, target: float) -> str:
    return f"{value:.2f} s  target <= {target:g} s  ratio {value / target:.2f}  " + (
        "met" if value <= target else "MISSED"
    )


def print_table(results: list[dict[str, Any]]) -> None:
    rows = [
        ("namespaces", "{:d}"),
        ("biggest", "{}"),
        ("nodes", "{:.0f}"),
        ("opened_nodes", "{:.0f}"),
        ("cold_paint_s", "{:.2f}"),
        ("cold_whole_s", "{:.2f}"),
        ("cold_click_s", "{:.2f}"),
        ("cold_rested_click_s", "{:.2f}"),
        ("cold_callback_s", "{:.2f}"),
        ("paint_s", "{:.2f}"),
        ("whole_s", "{:.2f}"),
        ("settled_s", "{:.2f}"),
        ("in_view", "{:.0f}"),
        ("click_s", "{:.2f}"),
        ("rested_click_s", "{:.2f}"),
        ("callback_s", "{:.2f}"),
        ("callback_mb", "{:.2f}"),
    ]
    titles = {
        "nodes": "overview nodes",
        "opened_nodes": "nodes after click",
        "cold_paint_s": "cold: first paint s",
        "cold_whole_s": "cold:  latency in s",
        "cold_click_s": "cold: click to expand s",
        "cold_rested_click_s": "cold: 2nd, pointer rested s",
        "cold_callback_s": "cold:  its refresh request s",
        "paint_s": "first paint s",
        "whole_s": " latency in s",
        "settled_s": " fitted s",
        "in_view": "clicked node in view",
        "click_s": "click to expand s",
        "rested_click_s": "2nd, pointer rested s",
        "callback_s": " its refresh request s",
        "callback_mb": " its response MB",
        "biggest": "clicked, then 2nd (workloads)",
    }
    width = 30
    print()
    print(f"{'workloads':{width}}" + "".join(f"{r['workloads']:>20d}" for r in results))
    for key, fmt in rows:
        print(f"{titles.get(key, key):{width}}" + "".join(f"{fmt.format(r[key]):>20}" for r in results))
    print()
    for r in results:
        for prefix, server in (("cold_", "cold server"), ("", "next viewer")):
            runs = ", ".join(f"{p:.2f}" for p in r[f"{prefix}paint_runs"])
            clicks = ", ".join(f"{c:.2f}" for c in r[f"{prefix}click_runs"])
            paint = verdict(r[f"{prefix}paint_s"], PAINT_TARGET_S)
            click = verdict(r[f"{prefix}click_s"], CLICK_TARGET_S)
            print(f"{r['workloads']} workloads, {server}: first paint {paint}  (runs {runs})")
            print(f"{r['workloads']} workloads, {server}: click       {click}  (runs {clicks})")
            rested = ", ".join(f"{c:.2f}" for c in r[f"{prefix}rested_click_runs"])
            rested_click = verdict(r[f"{prefix}rested_click_s"], CLICK_TARGET_S)
            print(
                f"{r['workloads']} workloads, {server}: click, pointer rested {rested_click}  (runs {rested})"
            )
    print("targets: first paint at 1,000 workloads, click at 5,000")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,5000", help="workload counts, comma-separated")
    parser.add_argument("--namespaces", type=int, default=40, help="about how many namespaces")
    parser.add_argument("--timeout", type=float, default=300, help="longest wait for a paint or a click, s")
    parser.add_argument("--runs", type=int, default=3, help="page loads per size (median reported)")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    results = []
    with tempfile.TemporaryDirectory(prefix="meshwatch-bench-") as workdir, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for size in (int(s) for s in args.sizes.split(",")):
                results.append(
                    measure(browser, size, args.namespaces, args.runs, Path(workdir), args.timeout)
                )
                print_table(results[-1:])  # each size as it lands: a big one may take long
        finally:
            browser.close()
    if len(results) > 1:
        print_table(results)


if __name__ == "__main__":
    main()
