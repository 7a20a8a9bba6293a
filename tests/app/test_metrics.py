"""/metrics: meshwatch's own figures, read as Prometheus would scrape them."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from dashboard.app import create_app
from dashboard.app.config import resolve
from dashboard.app.services import Services, prometheus_source
from queries import promql
from tests.support.simulator import free_port
from tests.support.telemetry import ScriptedSource, bookinfo_ejection


def scraped(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def test_views_cache_backend_and_viewers_are_counted():
    source = ScriptedSource(bookinfo_ejection())
    app = create_app(resolve({"refresh": "5"}, {}), Services(telemetry=source, clock=lambda: 1_800_000_001.0))
    client = app.server.test_client()
    before = scraped(client)
    for _ in range(3):
        assert client.get("/api/graph").status_code == 200
    after = scraped(client)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert len(source.calls) == 1
    # One evaluation: the mesh's queries and the graph of them, each missed once, then found twice.
    assert grew("meshwatch_cache_misses_total", cache="views") == 2
    assert grew("meshwatch_cache_hits_total", cache="views") == 4
    assert grew("meshwatch_refresh_duration_seconds_count", view="graph") == 1
    assert after[("meshwatch_backend_up", (("backend", "prometheus"),))] == 1
    assert after[("meshwatch_viewers_polling", ())] == 3


def test_promql_queries_are_counted_by_name_and_outcome():
    settings = resolve({"prometheus": f"http://127.0.0.1:{free_port()}", "prometheus_timeout": "2"}, {})
    app = create_app(settings, Services(telemetry=prometheus_source(settings)))
    client = app.server.test_client()
    before = scraped(client)
    assert client.get("/api/graph").status_code == 502  # nothing listens there
    after = scraped(client)
    for name in promql.MESH_QUERY_NAMES:
        key = ("meshwatch_promql_queries_total", (("name", name), ("outcome", "error")))
        assert after[key] - before.get(key, 0.0) == 1, name
    assert after[("meshwatch_backend_up", (("backend", "prometheus"),))] == 0
