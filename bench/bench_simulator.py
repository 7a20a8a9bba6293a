"""How fast the simulated Bookinfo mesh runs and how much memory it keeps.

Prints: story seconds simulated per CPU second (what `--speed` can afford),
one mesh refresh and one canary history (version_traffic over an hour) on a
full hour of history, the series and scrape rows kept, and the traced heap
after several story hours (it must stop growing once the retention is full).

    python bench/bench_simulator.py [--hours 2]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

from dashboard.canary.observation import HISTORY_SECONDS, HISTORY_STEP_SECONDS
from queries.duration import prometheus_duration
from queries.simulator import Simulation

MINUTE = prometheus_duration("1m")

START = 1_800_000_000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=2.0, help="story hours for the memory run")
    hours = parser.parse_args().hours

    simulation = Simulation(seed=1, start=START, wall_clock=lambda: 0.0)
    cpu = time.process_time()
    simulation.advance(START + 3600)
    cpu = time.process_time() - cpu
    at = simulation.now
    started = time.perf_counter()
    simulation.telemetry.mesh(at, MINUTE)
    refresh = time.perf_counter() - started
    started = time.perf_counter()
    simulation.telemetry.version_traffic(at - HISTORY_SECONDS, at, HISTORY_STEP_SECONDS, MINUTE)
    history = time.perf_counter() - started
    print(f"story simulated:         1 h in {cpu:.1f} s CPU = {3600 / cpu:.0f} story s per CPU s")
    print(f"mesh refresh (1m):       {refresh * 1000:.1f} ms")
    print(f"version_traffic (1h/{HISTORY_STEP_SECONDS:g}s): {history * 1000:.0f} ms")
    print(
        f"series: {len(simulation.registry.keys)}, scrape rows kept: {len(simulation.history.rows)}, "
        f"traces kept: {len(simulation.traces)}"
    )

    tracemalloc.start()
    simulation = Simulation(seed=1, start=START, wall_clock=lambda: 0.0)
    simulation.advance(START + 3600)
    after_hour = tracemalloc.get_traced_memory()[0]
    simulation.advance(START + hours * 3600)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    print(f"traced heap after 1 h:   {after_hour / 1e6:.1f} MB")
    print(
        f"traced heap after {hours:g} h:   {after / 1e6:.1f} MB "
        f"(ratio {after / after_hour:.2f}; ~1 = bounded)"
    )


if __name__ == "__main__":
    main()
