"""Benchmark: what a topology poll sends the browser, first paint against
steady state (issue 11 item 3: after the first paint a poll sends only what
changed; target <= 10 % of a full graph at 1,000 workloads).

A synthetic mesh of N workloads (services of 1-3 versions called along
tiers) is drawn once, then again with every rate moved by up to ±5 % (a live
mesh's sampling noise: every edge's figures change each poll), and a third
time with a few edges gone and one new caller. Printed per size: the full
elements' JSON, the steady poll's patch, the poll with changes, and their
ratios to the full graph.

Usage: python bench/bench_payload.py [--sizes 100,1000,5000]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dashboard.app.config import resolve  # noqa: E402
from dashboard.mesh.build import build_graph  # noqa: E402
from dashboard.mesh.snapshot import snapshot_document  # noqa: E402
from layouts.topology import graph as view  # noqa: E402
from layouts.topology.patch import graph_patch  # noqa: E402
from tests.support.frames import labels, latency_rows, telemetry  # noqa: E402

SETTINGS = resolve({}, environ={})
TARGET = 0.10


def calls(workloads: int, seed: int) -> list[tuple[dict[str, str], float]]:
    """(labels, rps) of each caller -> service -> version call."""
    rng = random.Random(seed)
    services = []
    while sum(len(v) for _, v in services) < workloads:
        index = len(services)
        services.append((f"svc-{index}", [f"svc-{index}-v{k + 1}" for k in range(rng.choice((1, 1, 2, 3)))]))
    result = []
    for index, (service, versions) in enumerate(services[1:], start=1):
        caller_service, caller_versions = services[rng.randrange(index // 2, index)]
        namespace = f"ns-{index % 20}"
        for version in versions:
            caller = rng.choice(caller_versions)
            result.append(
                (labels(caller, service, version, ns=namespace, caller_ns=namespace), 1 + rng.random() * 20)
            )
    return result


def elements(mesh_calls: list, jitter: float, seed: int) -> list[dict]:
    rng = random.Random(seed)
    requests, latency = [], []
    for series, rps in mesh_calls:
        moved = rps * (1 + rng.uniform(-jitter, jitter))
        requests.append((series, moved))
        latency += latency_rows(series, [5, 10, 20, 40 * (1 + rng.uniform(-jitter, jitter))], moved)
    document = snapshot_document(build_graph(telemetry(requests=requests, latency=latency), SETTINGS))
    positions = view.place(document["nodes"], document["edges"], {})
    return view.elements(document, positions, False, boxed=True)


def size(value: object) -> int:
    return len(json.dumps(value, separators=(",", ":")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,5000")
    sizes = [int(n) for n in parser.parse_args().sizes.split(",")]
    heads = ("workloads", "elements", "full", "steady poll", "ratio", "changed poll", "ratio")
    print("{:>9} {:>8} {:>10} {:>12} {:>6} {:>13} {:>6}".format(*heads))
    for workloads in sizes:
        mesh = calls(workloads, seed=workloads)
        first = elements(mesh, 0.0, 1)
        steady = elements(mesh, 0.05, 2)
        changed_mesh = mesh[: len(mesh) - 5] + [
            (
                labels(
                    "newcomer-v1", mesh[0][0]["destination_service_name"], mesh[0][0]["destination_workload"]
                ),
                2.0,
            )
        ]
        changed = elements(changed_mesh, 0.05, 3)
        full_patch, drawn = graph_patch(None, first)
        steady_patch, drawn = graph_patch(drawn, steady)
        full, poll, moved = size(full_patch), size(steady_patch), size(graph_patch(drawn, changed)[0])
        print(
            f"{workloads:>9} {len(first):>8} {full / 1e6:>8.2f} MB {poll / 1e3:>9.1f} KB {poll / full:>6.2f}"
            f" {moved / 1e3:>10.1f} KB {moved / full:>6.2f}"
        )
    print(f"target: a steady poll <= {TARGET:.0%} of the full graph at 1,000 workloads")


if __name__ == "__main__":
    main()
