"""A partial response (Thanos, Mimir: `"warnings": [...]` beside the data)
is shown, not swallowed: a top-level `warnings` in `meshwatch snapshot`,
`meshwatch canary` and `/api/*`, and an info banner on both pages. Against
a real Prometheus, through a querier that adds the warnings."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from dashboard.app import create_app
from dashboard.app.cli import main
from dashboard.app.config import resolve
from dashboard.app.pages.canary import refresh_canary
from dashboard.app.pages.topology import refresh_topology
from dashboard.app.services import Services, prometheus_source
from dashboard.app.timeline import FIXED
from tests.support.app import make_runtime
from tests.support.frames import labels
from tests.support.gates import WarningProxy
from tests.support.prometheus import END, Counter, openmetrics, start_prometheus

pytestmark = pytest.mark.prometheus

PARTIAL = "partial response: store gateway eu-1 unreachable"
# Hostile text from a backend is text, never markup.
HOSTILE = "<img src=x onerror=alert(1)> store timed out"


@pytest.fixture(scope="module")
def querier(tmp_path_factory) -> Iterator[WarningProxy]:
    series = [
        Counter("istio_requests_total", labels("productpage-v1", "reviews", "reviews-v1"), rate=2.0),
        Counter("istio_requests_total", labels("productpage-v1", "reviews", "reviews-v2"), rate=2.0),
    ]
    with start_prometheus(tmp_path_factory.mktemp("partial"), openmetrics_text=openmetrics(series)) as server:
        with WarningProxy(server.url, [PARTIAL, HOSTILE, PARTIAL]) as proxy:
            yield proxy


def settings_for(querier: WarningProxy):
    return resolve({"prometheus": querier.url, "at": f"{END:.0f}", "refresh": "1"}, {})


def test_snapshot_and_canary_documents_carry_the_warnings_once(querier, capsys):
    assert main(["snapshot", "--prometheus", querier.url, "--at", f"{END:.0f}"]) == 0
    out, err = capsys.readouterr()
    document = json.loads(out)
    assert document["warnings"] == [PARTIAL, HOSTILE] and document["nodes"]
    assert PARTIAL in err  # the CLI says it on stderr too, as it does every warning

    assert main(["canary", "--prometheus", querier.url, "--at", f"{END:.0f}"]) == 0
    out, _ = capsys.readouterr()
    assert json.loads(out)["warnings"] == [PARTIAL, HOSTILE]


def test_the_api_documents_carry_the_warnings(querier):
    settings = settings_for(querier)
    app = create_app(settings, Services(telemetry=prometheus_source(settings)))
    client = app.server.test_client()
    for route in (f"/api/graph?at={END:.0f}", f"/api/canary?at={END:.0f}"):
        answer = client.get(route)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        assert answer.get_json()["warnings"] == [PARTIAL, HOSTILE], route


def test_both_pages_show_the_warnings_in_an_info_banner(querier):
    settings = settings_for(querier)
    runtime = make_runtime(settings, Services(telemetry=prometheus_source(settings)))
    view = refresh_topology(runtime, [], "1m", False, {}, {}, None, [], moment={"mode": FIXED, "at": END})
    assert view.elements and view.banner_kind == "info"
    assert view.banner == f"{PARTIAL}; {HOSTILE}"
    cards = refresh_canary(runtime, None, None, "1m", moment=END)
    assert cards.banner_kind == "info" and PARTIAL in cards.banner and HOSTILE in cards.banner
