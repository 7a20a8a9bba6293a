"""What a poll of the topology or canary page puts in its banner when the
data is bad (info: what was left out) or Prometheus is slow (the graph and
cards kept, "refreshing — Prometheus slow (N s)")."""

from __future__ import annotations

import dataclasses
import threading

from dashboard.app.config import resolve
from dashboard.app.pages.canary import refresh_canary
from dashboard.app.pages.topology import refresh_topology
from dashboard.app.services import Services
from tests.support.app import make_runtime
from tests.support.telemetry import ScriptedSource, bookinfo_ejection


class GatedSource(ScriptedSource):
    """Answers once `opened` is set: a Prometheus as slow as the test wants."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.opened = threading.Event()

    def mesh(self, *args, **kwargs):
        assert self.opened.wait(10)
        return super().mesh(*args, **kwargs)


def runtime_of(source: ScriptedSource):
    # A clock that stands still: every poll falls in one refresh interval, so one evaluation serves them.
    return make_runtime(
        resolve({"refresh": "1"}, {}), Services(telemetry=source, clock=lambda: 1_800_000_000.5)
    )


def test_left_out_series_are_an_info_banner_on_both_pages() -> None:
    telemetry = dataclasses.replace(bookinfo_ejection(), ignored={"NaN": 12, "negative": 1})
    runtime = runtime_of(ScriptedSource(telemetry))
    view = refresh_topology(runtime, [], "1m", False, {}, {}, None, [])
    assert view.elements and view.banner_kind == "info"
    assert view.banner == "12 series with NaN values ignored; 1 series with negative values ignored"
    cards = refresh_canary(runtime, None, None, "1m")
    assert cards.banner_kind == "info" and "12 series with NaN values ignored" in cards.banner


def test_a_slow_prometheus_keeps_both_pages_and_says_so() -> None:
    source = GatedSource(bookinfo_ejection())
    runtime = runtime_of(source)
    view = refresh_topology(runtime, [], "1m", False, {"a": [0, 0]}, {}, 100.0, [], wait=0.05)
    assert view.elements is None and view.positions == {"a": [0, 0]}
    assert view.banner.startswith("refreshing — Prometheus slow (") and view.banner_kind == "stale"
    cards = refresh_canary(runtime, None, 100.0, "1m", wait=0.05)
    assert cards.cards is None and cards.banner.startswith("refreshing — Prometheus slow (")
    source.opened.set()
    assert refresh_topology(runtime, [], "1m", False, {}, {}, 100.0, [], wait=5).elements
    assert refresh_canary(runtime, None, 100.0, "1m", wait=5).banner is None
    assert len(source.calls) == 2  # each view refreshed once, however often it was polled
