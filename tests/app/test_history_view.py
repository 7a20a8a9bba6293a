"""The side panel's half hour is one range query per selection and step,
however many viewers ask within that step."""

from __future__ import annotations

from dashboard.app.config import resolve
from dashboard.app.refresh import SPARKLINE_STEP
from dashboard.app.services import Services
from dashboard.app.views import history_view
from queries.duration import prometheus_duration
from queries.telemetry import SeriesSelection
from tests.support.app import make_runtime
from tests.support.telemetry import ScriptedSource, bookinfo_ejection

EDGE = SeriesSelection("source", (("source_workload", "reviews-v2"), ("destination_service_name", "ratings")))


def test_viewers_within_one_step_share_one_query_and_the_next_step_asks_again() -> None:
    source = ScriptedSource(bookinfo_ejection())
    runtime = make_runtime(resolve({}, {}), Services(telemetry=source))
    step_start = 1_800_000_000.0 - 1_800_000_000.0 % SPARKLINE_STEP
    for offset in (0.0, 3.0, 11.0, SPARKLINE_STEP - 1):
        history_view(runtime, EDGE, step_start + offset, prometheus_duration("1m"), 5.0)
    assert source.selections == [EDGE]
    history_view(runtime, EDGE, step_start + SPARKLINE_STEP, prometheus_duration("1m"), 5.0)
    assert source.selections == [EDGE, EDGE]
