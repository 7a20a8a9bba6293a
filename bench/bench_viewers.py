"""Benchmark: what many viewers of one live view cost Prometheus.

Starts a real Prometheus (backfilled with a small Istio mesh, its query log
on), then lets N viewers (half topology pages, half scripts polling
/api/graph) poll one live view four times per refresh interval, and prints,
from Prometheus' own query log:

- PromQL instant queries per refresh interval (target: 4, whatever N);
- range queries (the baseline lookback, once per 10-minute step);
- polls answered, and what they would have cost at 4 queries each.

Usage: python bench/bench_viewers.py [--viewers 1,20,50] [--seconds 5] [--refresh 1]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.prometheus import start_prometheus  # noqa: E402
from tests.support.viewers import mesh_openmetrics, watch  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", default="1,20,50")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--refresh", type=float, default=1.0)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no request lines
    with tempfile.TemporaryDirectory() as root:
        with start_prometheus(root, openmetrics_text=mesh_openmetrics(), query_log=True) as prometheus:
            print(
                f"{'viewers':>8} {'intervals':>9} {'queries':>8} {'per interval':>12} "
                f"{'range':>6} {'polls':>6} {'per-poll cost':>13} {'saved':>7}"
            )
            for viewers in (int(n) for n in args.viewers.split(",")):
                cost = watch(prometheus, viewers, args.seconds, args.refresh)
                per_interval = cost.instant_queries / max(cost.intervals, 1)
                naive = 4 * cost.polls
                print(
                    f"{viewers:>8} {cost.intervals:>9} {cost.instant_queries:>8} {per_interval:>12.2f} "
                    f"{cost.range_queries:>6} {cost.polls:>6} {naive:>13} "
                    f"{naive / max(cost.instant_queries, 1):>6.0f}x"
                )


if __name__ == "__main__":
    main()
