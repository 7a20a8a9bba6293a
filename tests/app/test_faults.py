"""The fault suite: the real `meshwatch serve` process, a real Prometheus
scraping `meshwatch simulate` behind a proxy that goes wrong on demand
(dead, slow, 5xx, HTML, truncated, huge, NaN), and Chromium watching the
topology. Each fault ends in a named banner over the last good graph, the
view recovers by itself once Prometheus is back, and the process stays up
with its threads and memory bounded."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.prometheus import FaultyProxy, start_prometheus
from tests.support.simulator import free_port, start_simulator, wait_healthy

pytestmark = [pytest.mark.browser, pytest.mark.prometheus]

TIMEOUT_MS = 30_000
PROMETHEUS_TIMEOUT_S = 3
MAX_RESPONSE_MB = 8
# What a fault may add to the server: a refresh's worker and query threads,
# the deadline watchdogs and a few waiting polls; and memory: one refresh's
# budget of answers, with the parsing around it.
EXTRA_THREADS, EXTRA_RSS_MB = 16, 150


@dataclass
class Dashboard:
    process: subprocess.Popen
    url: str
    proxy: FaultyProxy

    @property
    def worker(self) -> int:
        """The gunicorn worker serving the pages (one: the master only forks it)."""
        pid = self.process.pid
        (child,) = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return int(child)

    def status(self, field: str) -> int:
        for line in Path(f"/proc/{self.worker}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise AssertionError(f"no {field} for the dashboard process")

    @property
    def threads(self) -> int:
        return self.status("Threads")

    @property
    def rss_mb(self) -> float:
        return self.status("VmRSS") / 1024


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    root = tmp_path_factory.mktemp("faults")
    simulator, address, _ = start_simulator(root / "simulate.log")
    prometheus = start_prometheus(root, scrape_targets=[address], scrape_interval="1s")
    proxy = FaultyProxy(prometheus.url)
    listen = f"127.0.0.1:{free_port()}"
    log = (root / "serve.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dashboard.app.cli",
            "serve",
            "--prometheus",
            proxy.url,
            "--jaeger",
            f"http://127.0.0.1:{free_port()}",
            "--window",
            "30s",
            "--refresh",
            "1",
            "--prometheus-timeout",
            str(PROMETHEUS_TIMEOUT_S),
            "--max-response-mb",
            str(MAX_RESPONSE_MB),
            "--listen",
            listen,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={"PATH": "/usr/bin:/bin"},
    )
    try:
        # A loaded machine can take longer to start the dashboard than Prometheus to scrape.
        wait_healthy(process, listen, root / "serve.log", "meshwatch serve")
        prometheus.wait_for("rate(istio_requests_total[30s]) > 0", timeout=60)
        yield Dashboard(process, f"http://{listen}", proxy)
    finally:
        process.terminate()
        process.wait(timeout=10)
        proxy.set_fault(None)
        proxy.stop()
        prometheus.stop()
        simulator.terminate()
        simulator.wait(timeout=10)
    assert "Traceback" not in (root / "serve.log").read_text()


@pytest.fixture
def topology(dashboard: Dashboard, browser_page: Any) -> Iterator[tuple[Any, int]]:
    """The page with a good graph drawn; the fault the test sets is cleared after."""
    dashboard.proxy.set_fault(None)
    page = browser_page
    page.goto(dashboard.url + "/?namespace=bookinfo")
    page.wait_for_function(
        "() => window.cy && window.cy.edges().filter(e => e.data('health') !== 'idle').length > 3",
        timeout=TIMEOUT_MS,
    )
    yield page, page.evaluate("() => window.cy.nodes().length")
    dashboard.proxy.set_fault(None)


def wait_for_banner(page: Any, words: str) -> str:
    banner = page.locator("#topology-banner")
    banner.get_by_text(words).wait_for(timeout=TIMEOUT_MS)
    return banner.inner_text()


def assert_kept_and_recovers(
    page: Any, dashboard: Dashboard, drawn: int, baseline: tuple[int, float]
) -> None:
    """The last good graph stayed, marked stale; the process is up and within
    bounds; with Prometheus back the banner goes by itself."""
    assert page.evaluate("() => window.cy.nodes().length") == drawn
    assert "mw-graph-stale" in page.locator("#topology-body").get_attribute("class")
    assert dashboard.process.poll() is None
    threads, rss = baseline
    assert dashboard.threads <= threads + EXTRA_THREADS
    assert dashboard.rss_mb <= rss + EXTRA_RSS_MB
    dashboard.proxy.set_fault(None)
    page.locator("#topology-banner").wait_for(state="hidden", timeout=TIMEOUT_MS)
    assert requests.get(dashboard.url + "/healthz", timeout=5).ok
    assert page.errors == []


@pytest.fixture
def baseline(dashboard: Dashboard, topology: Any) -> tuple[int, float]:
    return dashboard.threads, dashboard.rss_mb


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ("dead", "cannot reach Prometheus at http://127.0.0.1"),
        ("5xx", "refused the query: HTTP 503: unavailable: TSDB not ready"),
        ("html", "sent a response that is not Prometheus API JSON"),
        ("truncated", "the response ended early"),
        ("huge", f"response over {MAX_RESPONSE_MB} MB: narrow the namespaces or the window"),
    ],
)
def test_a_failing_prometheus_gives_a_named_banner_over_the_last_graph(
    dashboard: Dashboard, topology: Any, baseline: tuple[int, float], fault: str, words: str
) -> None:
    page, drawn = topology
    dashboard.proxy.set_fault(fault)
    text = wait_for_banner(page, words)
    assert text.startswith("stale since"), text
    assert_kept_and_recovers(page, dashboard, drawn, baseline)


def test_a_slow_prometheus_says_so_at_once_and_polls_do_not_pile_up(
    dashboard: Dashboard, topology: Any, baseline: tuple[int, float]
) -> None:
    page, drawn = topology
    # Slower than the refresh interval (1 s), within the deadline: "refreshing" at once.
    dashboard.proxy.set_fault("slow", delay=2.0)
    wait_for_banner(page, "refreshing — Prometheus slow (1 s)")
    # Slower than the deadline: each refresh gives up at PROMETHEUS_TIMEOUT_S, polls meanwhile wait.
    dashboard.proxy.set_fault("slow", delay=60.0)
    wait_for_banner(page, "refreshing — Prometheus slow (2 s)")
    wait_for_banner(page, f"did not answer within {PROMETHEUS_TIMEOUT_S}s")
    wait_for_banner(page, "refreshing — Prometheus slow (2 s)")  # the next refresh, one at a time
    wait_for_banner(page, f"did not answer within {PROMETHEUS_TIMEOUT_S}s")
    assert_kept_and_recovers(page, dashboard, drawn, baseline)


def test_nan_samples_are_named_and_never_drawn_idle(
    dashboard: Dashboard, topology: Any, baseline: tuple[int, float]
) -> None:
    page, _ = topology
    dashboard.proxy.set_fault("nan")
    text = wait_for_banner(page, "series with NaN values ignored")
    assert "stale" not in text
    page.wait_for_function(
        "() => window.cy.edges().filter(e => e.data('target').includes('details')).length === 0",
        timeout=TIMEOUT_MS,
    )
    assert dashboard.process.poll() is None and dashboard.threads <= baseline[0] + EXTRA_THREADS
    dashboard.proxy.set_fault(None)
    page.locator("#topology-banner").wait_for(state="hidden", timeout=TIMEOUT_MS)
    page.wait_for_function(
        "() => window.cy.edges().filter(e => e.data('target').includes('details')"
        " && e.data('health') !== 'idle').length > 0",
        timeout=TIMEOUT_MS,
    )
    assert page.errors == []
