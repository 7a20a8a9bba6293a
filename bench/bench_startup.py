"""Benchmark: how long meshwatch's commands take to start, against a bare interpreter.

Runs each command in a fresh process (the best of --runs), minus a bare
`python -c pass` of the same interpreter, and names the heavy libraries each
one loaded (pandas, dash, plotly, requests, networkx: none of them belong in
these commands' start). Target: under 0.3 s more than the bare interpreter.

- `meshwatch --version`;
- `meshwatch trace` without arguments (parses its options, says what is missing);
- `meshwatch trace --file` on a small export (the fake Jaeger's Bookinfo trace).

Usage: python bench/bench_startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.jaeger import bookinfo_trace, v1_envelope  # noqa: E402

HEAVY = ("pandas", "dash", "plotly", "requests", "networkx")
TARGET_S = 0.3
# Runs the command as the `meshwatch` script does, then names the heavy modules it loaded.
RUNNER = (
    "import sys\n"
    "from dashboard.app.cli import main\n"
    "try:\n    code = main(sys.argv[1:])\nexcept SystemExit as done:\n    code = done.code\n"
    f"print('loaded:', *(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n"
)


def best_time(argv: list[str], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - began)
    return best


def heavy_modules(args: list[str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    return done.stderr.strip().splitlines()[-1].removeprefix("loaded:").strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="meshwatch-bench-") as folder:
        export = Path(folder) / "bookinfo.json"
        export.write_text(json.dumps(v1_envelope([bookinfo_trace()])))
        commands = {
            "meshwatch --version": ["--version"],
            "meshwatch trace": ["trace"],
            "meshwatch trace --file (7 spans)": ["trace", "--file", str(export)],
        }
        bare = best_time([sys.executable, "-c", "pass"], args.runs)
        print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; best of {args.runs} runs")
        print(f"bare interpreter (python -c pass): {bare:.3f} s")
        head = ("command", "start", "over bare", "target", "", "heavy modules loaded")
        rows = [head]
        for name, argv in commands.items():
            took = best_time([sys.executable, "-m", "dashboard.app.cli", *argv], args.runs)
            over = took - bare
            rows.append(
                (
                    name,
                    f"{took:.3f} s",
                    f"{over:+.3f} s",
                    f"< {TARGET_S} s",
                    "met" if over < TARGET_S else "MISSED",
                    heavy_modules(argv) or "none",
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
        for n, row in enumerate(rows):
            print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
            if n == 0:
                print("  ".join("-" * width for width in widths))


if __name__ == "__main__":
    main()
