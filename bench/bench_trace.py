"""Benchmark: how fast meshwatch reads, analyses and shows huge traces.

For each size (10k, 100k and 1M spans by default) it writes an Istio-like
trace (tests.support.jaeger.batch_spans: every hop a client and a server
sidecar span with Envoy's tags) as Jaeger's v1 JSON, compact as Jaeger's Go
encoder writes it, then measures, each figure from one run:

- `json.load` of the file (skipped at 1M spans unless --json-load-all: it
  takes ~10 GB), the reference the CLI is held to;
- `meshwatch trace --file` end to end in a subprocess (start-up, read, parse,
  analysis, compact JSON to a pipe) and its peak RSS (getrusage of the child),
  target <= 2x json.load;
- in process: parse, tree structure, analysis (self time + critical path),
  document and writing it (10k and 100k only);
- with Chromium (skipped with --no-paint): `meshwatch serve` in a subprocess
  against a fake Jaeger in another one that sends the file as
  `/api/traces/<id>` over HTTP; the cold first paint of /trace/<id> (navigation
  to the first waterfall row on screen, target <= 5 s at 100k), the critical
  path's arrival, the warm paint from the trace cache, and the dashboard's
  peak RSS (VmHWM from /proc); at 1M the target is opening at all within
  60 s and 4 GB.

Usage: python bench/bench_trace.py [--spans 10000,100000,1000000] [--no-paint] [--json-load-all]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboard.app.trace_cache import MEMORY_PER_WIRE_BYTE  # noqa: E402
from tests.support.jaeger import batch_processes, batch_spans  # noqa: E402

PYTHON = sys.executable
MESHWATCH = [PYTHON, "-m", "dashboard.app.cli"]
# --max-upload-mb, --max-response-mb and --trace-cache-mb for the bench: a 1M-span trace is ~2 GB of JSON.
LIMIT_MB = "8192"


@dataclass
class Figures:
    spans: int
    size_mb: float
    json_load_s: float | None = None
    cli_s: float | None = None
    cli_rss_mb: float | None = None
    stages: dict[str, float] = field(default_factory=dict)
    cold_paint_s: float | None = None
    critical_path_s: float | None = None
    warm_paint_s: float | None = None
    serve_rss_mb: float | None = None


def write_export(path: Path, spans: int, seed: int = 1) -> str:
    """The trace as Jaeger's `/api/traces/<id>` answers, one span at a time; its trace id."""
    trace_id = f"{random.Random(seed).getrandbits(128):032x}"
    compact = json.JSONEncoder(separators=(",", ":")).encode
    with path.open("w") as out:
        out.write('{"data":[{"traceID":' + compact(trace_id) + ',"spans":[')
        for n, span in enumerate(batch_spans(trace_id, spans, seed)):
            out.write(("," if n else "") + compact(span))
        out.write('],"processes":' + compact(batch_processes()) + ',"warnings":null}],')
        out.write('"total":0,"limit":0,"offset":0,"errors":null}')
    return trace_id


def time_json_load(path: Path) -> float:
    gc.collect()
    began = time.perf_counter()
    with path.open("rb") as handle:
        loaded = json.load(handle)
    elapsed = time.perf_counter() - began
    del loaded
    return elapsed


# `meshwatch trace` as its script runs it, saying its own VmHWM on the way out
# (a child's getrusage would count the pages it shared with this process before exec).
CLI_WITH_PEAK = (
    "import re, sys\n"
    "from dashboard.app.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "status = open('/proc/self/status').read()\n"
    "print(re.search(r'VmHWM:\\s+(\\d+) kB', status).group(1), file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def time_cli(path: Path) -> tuple[float, float]:
    """`meshwatch trace --file` to a pipe that is read and dropped: (seconds, peak RSS MB)."""
    began = time.perf_counter()
    child = subprocess.Popen(
        [PYTHON, "-c", CLI_WITH_PEAK, "trace", "--file", str(path), "--max-upload-mb", LIMIT_MB],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert child.stdout is not None and child.stderr is not None
    while child.stdout.read(1 << 20):
        pass
    peak_kb = child.stderr.read().split()[-1]
    elapsed = time.perf_counter() - began
    if child.wait() != 0:
        raise SystemExit(f"meshwatch trace --file {path} failed with exit {child.returncode}")
    return elapsed, int(peak_kb) / 1024


def time_stages(path: Path) -> dict[str, float]:
    """Each stage of the CLI in this process."""
    from dashboard.app.cli import compact_json
    from dashboard.traces.document import trace_document
    from dashboard.traces.tree import analyse, tree_structure
    from queries.traces.export import read_text

    body = path.read_bytes()
    stages: dict[str, float] = {}

    def stage(name: str, action: Any) -> Any:
        gc.collect()
        began = time.perf_counter()
        result = action()
        stages[name] = time.perf_counter() - began
        return result

    trace = stage("parse", lambda: read_text(body)[0])
    tree = stage("tree", lambda: tree_structure(trace))
    stage("analysis", lambda: analyse(tree))
    document = stage("document", lambda: trace_document(tree))
    stage("write", lambda: compact_json(document))
    return stages


# --- first paint: meshwatch serve against a fake Jaeger sending the file ---

JAEGER_SERVER = r"""
import os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

path, trace_id = sys.argv[1], sys.argv[2]

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.split("?")[0] != "/api/traces/" + trace_id:
            body = b"404 page not found\n"
            self.send_response(404)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(os.path.getsize(path)))
        self.end_headers()
        with open(path, "rb") as handle:
            os.sendfile(self.wfile.fileno(), handle.fileno(), 0, os.path.getsize(path))

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_port, flush=True)
server.serve_forever()
"""


def vm_hwm_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


def measure_paint(path: Path, trace_id: str) -> tuple[float, float, float, float]:
    """(cold first paint, critical path on screen, warm first paint, serve's peak RSS MB)."""
    from playwright.sync_api import sync_playwright

    jaeger = subprocess.Popen(
        [PYTHON, "-c", JAEGER_SERVER, str(path), trace_id], stdout=subprocess.PIPE, text=True
    )
    assert jaeger.stdout is not None
    jaeger_url = f"http://127.0.0.1:{jaeger.stdout.readline().strip()}"
    serve = subprocess.Popen(
        [*MESHWATCH, "serve", "--jaeger", jaeger_url, "--jaeger-api", "v1", "--jaeger-timeout", "120"]
        + ["--max-response-mb", LIMIT_MB, "--trace-cache-mb", LIMIT_MB]
        + ["--listen", "127.0.0.1:0", "--prometheus", "http://127.0.0.1:9"],
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert serve.stderr is not None
        line = serve.stderr.readline()
        match = re.search(r"(http://\S+)/", line)
        if not match:
            raise SystemExit(f"meshwatch serve did not start: {line}")
        url = f"{match.group(1)}/trace/{trace_id}"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium",
                headless=True,
                args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
            )
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            began = time.perf_counter()
            page.goto(url)
            page.wait_for_selector("#trace-waterfall .mw-wf-span", timeout=300_000)
            cold = time.perf_counter() - began
            page.wait_for_selector("#trace-waterfall .mw-wf-critical", state="attached", timeout=300_000)
            critical = time.perf_counter() - began
            began = time.perf_counter()
            page.goto(url)
            page.wait_for_selector("#trace-waterfall .mw-wf-critical", state="attached", timeout=300_000)
            warm = time.perf_counter() - began
            browser.close()
        return cold, critical, warm, vm_hwm_mb(serve.pid)
    finally:
        for child in (serve, jaeger):
            child.terminate()
            child.wait(10)


# --- the table ---


def seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f} s"


def megabytes(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f} MB"


def verdict(*checks: tuple[float | None, float]) -> str:
    """`met` when every (figure, limit) measured is within its limit; nothing when none was measured."""
    measured = [value <= limit for value, limit in checks if value is not None]
    return "" if not measured else ("met" if all(measured) else "MISSED")


def rows(results: list[Figures]) -> list[tuple[str, list[str], str, str]]:
    """(figure, value per size, target, verdict) for every figure."""
    by_size = {f.spans: f for f in results}

    def each(text: Any) -> list[str]:
        return [text(f) for f in results]

    def ratio(f: Figures | None) -> float | None:
        return f.cli_s / f.json_load_s if f and f.cli_s and f.json_load_s else None

    def at(spans: int, name: str) -> float | None:
        return getattr(by_size[spans], name) if spans in by_size else None

    table = [
        ("JSON file", each(lambda f: megabytes(f.size_mb)), "", ""),
        ("json.load of the file", each(lambda f: seconds(f.json_load_s)), "reference", ""),
        ("meshwatch trace --file, end to end", each(lambda f: seconds(f.cli_s)), "", ""),
        (
            "  ratio to json.load",
            each(lambda f: "–" if ratio(f) is None else f"{ratio(f):.2f}"),
            "<= 2 at 100k",
            verdict((ratio(by_size.get(100_000)), 2)),
        ),
        ("  peak RSS", each(lambda f: megabytes(f.cli_rss_mb)), "", ""),
    ]
    for stage in ("parse", "tree", "analysis", "document", "write"):
        table.append((f"  in process: {stage}", each(lambda f, s=stage: seconds(f.stages.get(s))), "", ""))
    table += [
        (
            "cold first paint /trace/<id> (Jaeger)",
            each(lambda f: seconds(f.cold_paint_s)),
            "<= 5 s at 100k; <= 60 s at 1M",
            verdict((at(100_000, "cold_paint_s"), 5), (at(1_000_000, "cold_paint_s"), 60)),
        ),
        ("  critical path on screen", each(lambda f: seconds(f.critical_path_s)), "", ""),
        ("warm paint (trace cache)", each(lambda f: seconds(f.warm_paint_s)), "", ""),
        (
            "  cold beyond warm (fetch, parse, tree)",
            each(
                lambda f: seconds(
                    f.cold_paint_s - f.warm_paint_s if f.cold_paint_s and f.warm_paint_s else None
                )
            ),
            "",
            "",
        ),
        (
            "dashboard peak RSS (VmHWM)",
            each(lambda f: megabytes(f.serve_rss_mb)),
            "<= 4 GB at 1M",
            verdict((at(1_000_000, "serve_rss_mb"), 4 * 1024)),
        ),
        (
            "  trace cache's reckoning of it",
            each(lambda f: megabytes(f.size_mb * 1e6 * MEMORY_PER_WIRE_BYTE / 2**20)),
            "--trace-cache-mb bounds the sum",
            "",
        ),
    ]
    return table


def print_table(results: list[Figures]) -> None:
    head = ["figure", *(f"{f.spans:,} spans" for f in results), "target", ""]
    body = [[name, *values, target, met] for name, values, target, met in rows(results)]
    widths = [max(len(str(row[i])) for row in [head, *body]) for i in range(len(head))]
    for row in [head, ["-" * w for w in widths], *body]:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", default="10000,100000,1000000", help="trace sizes, comma-separated")
    parser.add_argument("--no-paint", action="store_true", help="skip the headless Chromium figures")
    parser.add_argument("--json-load-all", action="store_true", help="time json.load at 1M spans too")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="meshwatch-bench-") as folder:
        for spans in (int(s) for s in args.spans.split(",")):
            path = Path(folder) / f"trace-{spans}.json"
            print(f"{spans:,} spans: writing {path.name} ...", file=sys.stderr, flush=True)
            trace_id = write_export(path, spans)
            figures = Figures(spans, path.stat().st_size / 1e6)
            if spans < 1_000_000 or args.json_load_all:
                figures.json_load_s = time_json_load(path)
            print(f"{spans:,} spans: meshwatch trace --file ...", file=sys.stderr, flush=True)
            figures.cli_s, figures.cli_rss_mb = time_cli(path)
            if spans < 1_000_000:
                figures.stages = time_stages(path)
            if not args.no_paint:
                print(f"{spans:,} spans: first paint ...", file=sys.stderr, flush=True)
                (
                    figures.cold_paint_s,
                    figures.critical_path_s,
                    figures.warm_paint_s,
                    figures.serve_rss_mb,
                ) = measure_paint(path, trace_id)
            path.unlink()
            results.append(figures)
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print_table(results)


if __name__ == "__main__":
    main()
