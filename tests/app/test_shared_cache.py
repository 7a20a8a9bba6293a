"""--cache-url redis://: the views and uploaded traces shared by replicas,
against a real redis-server."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from dashboard.app import create_app
from dashboard.app.config import resolve
from dashboard.app.runtime import current
from dashboard.app.services import Services
from dashboard.app.trace_upload import open_file
from tests.support.jaeger import bookinfo_trace, v1_envelope
from tests.support.redis import start_redis
from tests.support.telemetry import ScriptedSource, bookinfo_ejection

NOW = 1_800_000_002.5
PASSWORD = "redis-hunter2"


class GatedSource(ScriptedSource):
    """Answers once `opened` is set, so every replica's viewers ask while the first evaluation runs."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.opened = threading.Event()

    def mesh(self, *args, **kwargs):
        assert self.opened.wait(20)
        return super().mesh(*args, **kwargs)


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = start_redis(tmp_path_factory.mktemp("redis"), password=PASSWORD)
    yield server
    server.stop()


def cache_url(server) -> str:
    return f"redis://:{PASSWORD}@127.0.0.1:{server.port}/0"


def replica(url: str, source: ScriptedSource, refresh: str = "5"):
    settings = resolve({"cache_url": url, "refresh": refresh}, {})
    return create_app(settings, Services(telemetry=source, clock=lambda: NOW))


def test_replicas_share_one_evaluation_of_a_view(redis_server):
    sources = [GatedSource(bookinfo_ejection()) for _ in range(2)]
    apps = [replica(cache_url(redis_server), source) for source in sources]
    clients = [app.server.test_client() for app in apps]
    with ThreadPoolExecutor(max_workers=20) as pool:
        pending = [pool.submit(clients[i % 2].get, "/api/graph?namespace=default") for i in range(20)]
        for source in sources:
            source.opened.set()
        answers = [future.result() for future in pending]
    assert {answer.status_code for answer in answers} == {200}
    assert len({answer.data for answer in answers}) == 1
    # Twenty viewers on two replicas: one evaluation (4 PromQL queries) between them.
    assert sum(len(source.calls) for source in sources) == 1
    # Evaluated at the present aligned down to the refresh interval.
    assert [call[0] for source in sources for call in source.calls] == [1_800_000_000.0]


def test_an_upload_to_one_replica_opens_on_another(redis_server):
    first, second = (replica(cache_url(redis_server), ScriptedSource(bookinfo_ejection())) for _ in range(2))
    data = json.dumps(v1_envelope([bookinfo_trace()])).encode()  # a Jaeger UI export
    with first.server.test_request_context():
        runtime = current()
        with runtime.traces.parsing():
            [trace] = open_file(runtime, data)
    response = second.server.test_client().get(f"/api/trace/{trace.trace_id}")
    assert response.status_code == 200
    assert response.get_json()["trace_id"] == trace.trace_id


def test_a_redis_outage_costs_queries_not_pages_and_never_shows_its_password(redis_server):
    dead = f"redis://:{PASSWORD}@127.0.0.1:1/0"
    source = ScriptedSource(bookinfo_ejection())
    client = replica(dead, source).server.test_client()
    graph = client.get("/api/graph")
    assert graph.status_code == 200 and len(source.calls) == 1
    assert client.get("/readyz").status_code == 200
    status = client.get("/api/status")
    cache = status.get_json()["cache"]
    assert cache["up"] is False and "redis://127.0.0.1:1/0" in cache["error"]
    assert PASSWORD not in status.get_data(as_text=True)


def test_a_bad_cache_url_is_one_line(capsys):
    from dashboard.app.cli import main

    assert main(["serve", "--cache-url", "memcached://x", "--listen", "127.0.0.1:1"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
