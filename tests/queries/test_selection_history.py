"""The side panel's sparklines against a real Prometheus: one range query per
selection, whose last point is the graph's own figure, and label values
matched exactly whatever they contain."""

from __future__ import annotations

import pytest

from dashboard.app.config import resolve
from dashboard.app.refresh import SPARKLINE_MINUTES, SPARKLINE_STEP, selected_history
from dashboard.mesh.build import build_graph
from dashboard.mesh.history import selection_of
from dashboard.mesh.snapshot import snapshot_document
from queries.duration import prometheus_duration
from queries.prometheus import PrometheusSource
from queries.telemetry import SeriesSelection
from tests.support.frames import labels
from tests.support.prometheus import (
    END,
    SPAN,
    Counter,
    CountingProxy,
    Histogram,
    openmetrics,
    start_prometheus,
)

pytestmark = pytest.mark.prometheus

WINDOW = prometheus_duration("1m")
HOSTILE = 'rev"iews\\v3\n<b>'
OPEN_EDGE = "workload:default:reviews-v2->service:default:ratings"


def _series() -> list:
    ok = labels("reviews-v2", "ratings", "ratings-v1")
    refused = labels("reviews-v2", "ratings", response_code="503", response_flags="UH")
    hostile = labels("productpage-v1", "reviews", HOSTILE)
    return [
        Counter("istio_requests_total", ok, rate=3.0),
        Counter("istio_requests_total", refused, rate=1.0),
        Histogram("istio_request_duration_milliseconds", ok, rate=3.0, observations=[4, 8, 30]),
        Counter("istio_requests_total", hostile, rate=2.0),
        # The same callee's other caller is not the edge's.
        Counter("istio_requests_total", labels("productpage-v1", "ratings", "ratings-v1"), rate=5.0),
    ]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory):
    with start_prometheus(
        tmp_path_factory.mktemp("history"), openmetrics_text=openmetrics(_series())
    ) as server:
        yield server


def test_an_edges_last_point_is_the_graphs_figure(prometheus) -> None:
    source = PrometheusSource(prometheus.url)
    graph = snapshot_document(build_graph(source.mesh(END, WINDOW), resolve({}, environ={})))
    edge = next(edge for edge in graph["edges"] if edge["id"] == OPEN_EDGE)
    history = selected_history(source, selection_of(edge), END, WINDOW)

    assert len(history.times) == SPARKLINE_MINUTES * 60 // SPARKLINE_STEP + 1 and history.times[-1] == END
    assert history.rps[-1] == pytest.approx(edge["rps"], rel=1e-6) and history.rps[-1] == pytest.approx(4.0)
    assert history.error_ratio[-1] == pytest.approx(edge["error_ratio"], rel=1e-6)
    assert history.p99_ms[-1] == pytest.approx(edge["p99_ms"], rel=1e-6)
    assert history.flags["UH"][-1] == pytest.approx(1.0) and set(history.codes) == {"200", "503"}
    # Before the data began: no requests, so no error ratio nor latency, not zeros.
    before = history.times.index(END - SPAN - 2 * SPARKLINE_STEP)
    assert history.rps[before] == 0 and history.error_ratio[before] is None and history.p99_ms[before] is None


def test_hostile_label_values_are_matched_exactly_in_one_query(prometheus) -> None:
    with CountingProxy(prometheus.url) as proxy:
        source = PrometheusSource(proxy.url)
        node = {"id": f"workload:default:{HOSTILE}"}
        history = selected_history(source, selection_of(node), END, WINDOW)
        # Only the caller's side reported it here: nothing from the destination, and no error.
        assert history.empty
        edge = {"id": "e", "source": "workload:default:productpage-v1", "target": node["id"]}
        assert selected_history(source, selection_of(edge), END, WINDOW).rps[-1] == pytest.approx(2.0)
        wrong = SeriesSelection("source", (("destination_workload", HOSTILE[:-1]),))
        assert selected_history(source, wrong, END, WINDOW).empty
        assert proxy.queries == 3
