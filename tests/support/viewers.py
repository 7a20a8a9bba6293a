"""Many viewers of one live view against a real Prometheus, and what they
cost, read from Prometheus' own query log (tests and bench/ alike).

Half the viewers are topology pages (the page's refresh callback, as a
browser's poll runs it), half are scripts polling `/api/graph` over HTTP;
each polls several times per refresh interval. The dashboard's clock runs
from inside the backfilled data, at the wall clock's pace.
"""

from __future__ import annotations

import threading
import time
from collections import Counter as Tally
from dataclasses import dataclass, field
from typing import Any

import requests
from werkzeug.serving import make_server

from dashboard.app import create_app
from dashboard.app.config import resolve
from dashboard.app.pages.topology import refresh_topology
from dashboard.app.refresh import poll_wait
from dashboard.app.runtime import EXTENSION
from dashboard.app.services import Services, prometheus_source
from tests.support.prometheus import END, Counter, PrometheusServer, openmetrics

# Istio's request counters of a small mesh: enough for a graph to draw.
MESH = [
    Counter(
        "istio_requests_total",
        {
            "reporter": reporter,
            "source_workload": source,
            "source_workload_namespace": "bookinfo",
            "source_canonical_service": source.rsplit("-", 1)[0],
            "source_canonical_revision": "v1",
            "destination_service_name": target,
            "destination_service_namespace": "bookinfo",
            "destination_workload": f"{target}-v1",
            "destination_workload_namespace": "bookinfo",
            "destination_canonical_service": target,
            "destination_canonical_revision": "v1",
            "request_protocol": "http",
            "response_code": "200",
            "response_flags": "-",
        },
        rate=rate,
    )
    for source, target, rate in (("productpage-v1", "details", 5.0), ("productpage-v1", "reviews", 4.0))
    for reporter in ("source", "destination")
]


def mesh_openmetrics() -> str:
    return openmetrics(MESH)


@dataclass
class Cost:
    """What the viewers cost: instant queries per evaluation time, range queries, answers."""

    by_time: Tally = field(default_factory=Tally)
    range_queries: int = 0
    polls: int = 0
    graphs: int = 0
    seconds: float = 0.0

    @property
    def intervals(self) -> int:
        return len(self.by_time)

    @property
    def instant_queries(self) -> int:
        return sum(self.by_time.values())


def watch(
    prometheus: PrometheusServer, viewers: int = 20, seconds: float = 4.0, refresh: float = 1.0
) -> Cost:
    """`viewers` polling one live view for `seconds`, each about four times a refresh interval."""
    start_at, started = END - 120.0, time.monotonic()
    settings = resolve({"prometheus": prometheus.url, "refresh": str(refresh), "window": "1m"}, {})
    services = Services(
        telemetry=prometheus_source(settings), clock=lambda: start_at + (time.monotonic() - started)
    )
    app = create_app(settings, services)
    runtime = app.server.extensions[EXTENSION]
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/api/graph"
    before = len(prometheus.logged_queries())
    cost, lock = Cost(), threading.Lock()
    deadline = time.monotonic() + seconds

    def page() -> bool:
        wait = poll_wait(settings, refresh * 1000, True)
        return refresh_topology(runtime, [], "1m", False, {}, {}, None, [], wait=wait).elements is not None

    def script() -> bool:
        return requests.get(url, timeout=30).status_code == 200

    def viewer(poll: Any) -> None:
        while time.monotonic() < deadline:
            drawn = poll()
            with lock:
                cost.polls += 1
                cost.graphs += drawn
            time.sleep(refresh / 4)  # a viewer's pace: four polls an interval

    threads = [threading.Thread(target=viewer, args=(page if i % 2 else script,)) for i in range(viewers)]
    begun = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cost.seconds = time.monotonic() - begun
    server.shutdown()
    for entry in prometheus.logged_queries()[before:]:
        params = entry["params"]
        if params.get("step"):
            cost.range_queries += 1
        else:
            cost.by_time[params["end"]] += 1
    return cost
