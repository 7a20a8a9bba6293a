"""Backend state: one log line when a backend goes down and one when it comes back, not one per poll."""

from __future__ import annotations

import json
import logging

from dashboard.app import create_app
from dashboard.app.config import resolve
from dashboard.app.logs import JsonFormatter
from dashboard.app.services import Services
from tests.support.telemetry import ScriptedSource, bookinfo_ejection


def test_an_outage_is_two_lines_however_many_polls_meet_it(caplog):
    source = ScriptedSource(bookinfo_ejection())
    app = create_app(resolve({}, {}), Services(telemetry=source))
    client = app.server.test_client()
    caplog.set_level(logging.INFO, logger="meshwatch.backends")
    for at in range(1_700_000_000, 1_700_000_003):
        assert client.get(f"/api/graph?at={at}").status_code == 200
    source.failure = "cannot reach Prometheus at http://p:9090: Connection refused"
    for at in range(1_700_000_010, 1_700_000_015):
        assert client.get(f"/api/graph?at={at}").status_code == 502
    source.failure = None
    for at in range(1_700_000_020, 1_700_000_023):
        assert client.get(f"/api/graph?at={at}").status_code == 200
    lines = [(record.levelname, record.getMessage()) for record in caplog.records]
    assert lines == [
        ("WARNING", "Prometheus is down: cannot reach Prometheus at http://p:9090: Connection refused"),
        ("INFO", "Prometheus is back up"),
    ]
    assert [record.backend for record in caplog.records] == ["prometheus", "prometheus"]


def test_a_json_line_is_one_object_with_the_lines_own_fields():
    record = logging.LogRecord("meshwatch.backends", logging.WARNING, "", 0, "%s is down", ("Jaeger",), None)
    record.backend, record.up = "jaeger", False
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "warning" and line["message"] == "Jaeger is down"
    assert line["backend"] == "jaeger" and line["up"] is False and line["logger"] == "meshwatch.backends"
