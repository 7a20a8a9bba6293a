"""`meshwatch simulate` under a real Prometheus: its /metrics parse, and the
graph Prometheus gives back is the graph of the in-process demo source."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from dashboard.app.config import resolve
from dashboard.mesh.build import build_graph
from dashboard.mesh.snapshot import snapshot_document
from queries.duration import prometheus_duration
from queries.prometheus import PrometheusSource
from queries.simulator import Simulation
from tests.support.prometheus import PROMTOOL, start_prometheus
from tests.support.simulator import start_simulator

pytestmark = pytest.mark.prometheus

SETTINGS = resolve({}, environ={})
WINDOW = prometheus_duration("30s")
# Scraped seconds needed so that a sample precedes the window: Prometheus
# does not extrapolate a rate far back past a series' first sample.
SPAN = 32.0
# promtool's lint findings on names Istio and Envoy chose (no HELP, Envoy
# counters without `_total`, milliseconds): exit code 3, not a parse error.
LINT = re.compile(
    r" (no help text|counter metrics should have \"_total\" suffix|"
    r"non-counter metrics should not have \"_total\" suffix|use base unit \"seconds\" instead of \"milliseconds\")$"
)


def test_metrics_exposition_parses_with_promtool() -> None:
    simulation = Simulation(seed=1, start=1_800_000_000.0, wall_clock=lambda: 0.0, phase="ejection")
    text = simulation.metrics_text()
    checked = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    findings = [line for line in (checked.stdout + checked.stderr).splitlines() if line.strip()]
    assert checked.returncode in (0, 3) and findings, checked.stderr
    assert all(LINT.search(line) for line in findings), [line for line in findings if not LINT.search(line)]
    assert "# TYPE istio_request_duration_milliseconds histogram" in text
    assert re.search(r'^istio_request_duration_milliseconds_bucket\{.*le="\+Inf".*\} \d+$', text, re.M)
    assert re.search(
        r'^envoy_cluster_upstream_rq_pending_overflow\{cluster_name="outbound\|9080\|v1\|ratings'
        r'\.bookinfo\.svc\.cluster\.local",namespace="bookinfo",pod="reviews-v2-[^"]+",app="reviews",.*\} [1-9]',
        text,
        re.M,
    )


def test_prometheus_scraping_the_simulator_gives_the_demo_sources_graph(tmp_path: Path) -> None:
    simulator, address, started = start_simulator(tmp_path / "simulate.log")
    try:
        with start_prometheus(tmp_path, scrape_targets=[address], scrape_interval="1s") as prometheus:
            deadline = time.monotonic() + 75
            while True:  # until every series has 1 s scrapes from before the window on
                now = time.time()
                covered = prometheus.query(f"min(count_over_time(istio_requests_total[{SPAN:g}s]))", at=now)
                if covered and float(covered[0]["value"][1]) >= SPAN:
                    break
                assert time.monotonic() < deadline, (
                    f"Prometheus did not fill a {WINDOW} window in time: {covered}"
                )
                time.sleep(0.5)  # poll interval
            at = now - 0.5
            scraped = PrometheusSource(prometheus.url).mesh(at, WINDOW)
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)
    demo = Simulation(phase="ejection", start=started).telemetry.mesh(at, WINDOW)
    live, local = (snapshot_document(build_graph(t, SETTINGS)) for t in (scraped, demo))
    live_edges = {edge["id"]: edge for edge in live["edges"]}
    local_edges = {edge["id"]: edge for edge in local["edges"]}
    assert set(live_edges) == set(local_edges)
    assert {n["id"] for n in live["nodes"]} == {n["id"] for n in local["nodes"]}
    for edge_id, edge in local_edges.items():
        other = live_edges[edge_id]
        assert (other["circuit"], other["health"]) == (edge["circuit"], edge["health"]), edge_id
        if edge["rps"] > 0:
            assert other["rps"] == pytest.approx(edge["rps"], rel=0.05), edge_id
    cut = local_edges["workload:bookinfo:reviews-v2->service:bookinfo:ratings"]
    assert cut["circuit"] == "open" and set(cut["flags"]) == {"UH"}

    def stats(telemetry) -> dict:
        gauges = telemetry.cluster_stats[
            telemetry.cluster_stats["stat"].str.startswith(("membership", "ejections"))
        ]
        return {tuple(row[:-1]): row[-1] for row in gauges.itertuples(index=False)}

    assert stats(scraped) == stats(demo) and stats(demo)
