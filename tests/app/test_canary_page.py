"""The /canary page as a person sees it on a 1920x1080 wall screen, and its refresh logic."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from dashboard.app import create_app
from dashboard.app.config import resolve
from dashboard.app.pages.canary import layout, refresh_canary
from dashboard.app.services import Services, demo_services
from queries.telemetry import VERSION_TRAFFIC_COLUMNS, MeshTelemetry
from tests.support.app import make_runtime, render
from tests.support.frames import labels, latency_rows, telemetry
from tests.support.telemetry import ScriptedSource

AT = 1_700_000_000.0


def reviews_mesh() -> MeshTelemetry:
    v1, v2 = (
        labels("productpage-v1", "reviews", "reviews-v1"),
        labels("productpage-v1", "reviews", "reviews-v2"),
    )
    return telemetry(
        requests=[(v1, 5.0), (v2, 4.5), ({**v2, "response_code": "503"}, 0.5)],
        latency=latency_rows(v1, [5, 10, 20, 40], 5.0) + latency_rows(v2, [5, 10, 20, 40], 5.0),
        at=AT,
    )


def rollout_history() -> pd.DataFrame:
    rows = []
    for step in range(121):
        t = AT - 3600 + step * 30
        v2 = 0.0 if t < AT - 1800 else 5.0
        rows += [
            [t, "reviews", "default", "reviews-v1", "v1", 10.0 - v2],
            [t, "reviews", "default", "reviews-v2", "v2", v2],
        ]
    return pd.DataFrame(rows, columns=VERSION_TRAFFIC_COLUMNS)


def rollout_source(failure: str | None = None) -> ScriptedSource:
    return ScriptedSource(reviews_mesh(), rollout_history(), failure)


MANIFESTS = [
    {
        "kind": "VirtualService",
        "metadata": {"name": "reviews", "namespace": "default"},
        "spec": {
            "hosts": ["reviews"],
            "http": [
                {
                    "route": [
                        {"destination": {"host": "reviews", "subset": "v1"}, "weight": 50},
                        {"destination": {"host": "reviews", "subset": "v2"}, "weight": 50},
                    ]
                }
            ],
        },
    },
    {
        "kind": "DestinationRule",
        "metadata": {"name": "reviews", "namespace": "default"},
        "spec": {
            "host": "reviews",
            "subsets": [
                {"name": "v1", "labels": {"version": "v1"}},
                {"name": "v2", "labels": {"version": "v2"}},
            ],
        },
    },
]


def services(source: ScriptedSource, objects: Any = MANIFESTS) -> Services:
    return Services(telemetry=source, istio_objects=lambda: (objects, "demo phase canary"), clock=lambda: AT)


@pytest.mark.browser
def test_wall_screen_shows_split_verdict_reasons_and_history(serve_app, browser_page) -> None:
    source = rollout_source()
    settings = resolve({"refresh": "1"}, environ={})
    page = browser_page
    page.goto(serve_app(create_app(settings, services(source))) + "/canary")
    card = page.locator(".mw-canary-card[data-service='reviews.default']")
    card.wait_for(timeout=20_000)
    badge = card.locator(".mw-verdict")
    assert badge.inner_text() == "ROLL BACK"
    # Looked up inside the page: the cards are redrawn every refresh, so a
    # handle taken here may be detached by the time it is measured.
    page.wait_for_function(
        """() => {
            const e = document.querySelector(".mw-canary-card[data-service='reviews.default'] .mw-verdict");
            return e !== null && parseFloat(getComputedStyle(e).fontSize) >= 30;
        }""",
        timeout=20_000,
    )
    v2 = card.locator(".mw-version[data-version='v2']")
    assert v2.locator(".mw-share").inner_text() == "50 %"
    assert "observed" in v2.inner_text() and "configured" in v2.inner_text()
    assert "success -10.0 pts" in v2.locator(".mw-deltas").inner_text()
    assert (
        "v2 success 90.0 % is below 99.0 % (baseline v1: 100.0 %)" in card.locator(".mw-reasons").inner_text()
    )
    card.locator(".mw-canary-history .js-plotly-plot").wait_for(timeout=20_000)
    assert card.locator(".mw-canary-history .scatterlayer .trace").count() == 2
    # Fits the wall screen without scrolling sideways. (evaluate waits for the
    # card; bounding_box does not, and the cards are redrawn every refresh.)
    assert card.evaluate("e => e.getBoundingClientRect().right") <= 1920

    page.locator("#canary-window").click()
    page.locator(".mw-canary .Select-option, .mw-canary [role=option]").filter(has_text="5m").first.click()
    page.locator("#canary-status").filter(has_text="window 5m").wait_for(timeout=20_000)
    assert "3000 requests in 5m" in card.inner_text()

    source.failure = "cannot reach Prometheus at http://prom:9090: Connection refused"
    banner = page.locator("#canary-banner")
    banner.filter(has_text="stale since").wait_for(timeout=20_000)
    assert "Connection refused" in banner.inner_text()
    assert card.locator(".mw-verdict").inner_text() == "ROLL BACK"  # the last good view stays
    assert page.errors == []


@pytest.mark.browser
def test_bad_address_and_a_source_down_from_the_start_never_leave_loading_on_screen(
    serve_app, browser_page
) -> None:
    settings = resolve({"refresh": "1"}, environ={})
    page = browser_page
    base = serve_app(
        create_app(settings, services(rollout_source(failure="cannot reach Prometheus at http://prom:9090")))
    )
    page.goto(base + "/canary?service=Bad!")
    problem = page.locator(".mw-canary-problem")
    problem.wait_for(timeout=20_000)
    assert problem.inner_text() == "bad service 'Bad!': expected NAME or NAME.NAMESPACE (DNS-1123 labels)"
    page.goto(base + "/canary")
    page.locator("#canary-banner").filter(has_text="no data yet — cannot reach Prometheus").wait_for(
        timeout=20_000
    )
    page.locator(".mw-canary-waiting").filter(has_text="Nothing to show yet: retrying every 1 s").wait_for(
        timeout=20_000
    )
    assert "Loading" not in page.locator("#page").inner_text()
    assert page.errors == []


@pytest.mark.browser
def test_demo_retired_phase_reads_as_a_completed_rollout(serve_app, browser_page) -> None:
    page = browser_page
    page.goto(
        serve_app(
            create_app(
                resolve({"refresh": "3600"}, environ={}),
                demo_services(resolve({"phase": "retired"}, environ={})),
            )
        )
        + "/canary"
    )
    card = page.locator(".mw-canary-card[data-service='reviews.bookinfo']")
    card.wait_for(timeout=20_000)
    assert card.locator(".mw-verdict").inner_text() == "COMPLETE"
    assert card.locator(".mw-reasons li").first.inner_text() == (
        "rollout complete: v2 serves 100 % of the requests to reviews (configured 100 %)"
    )
    v1, v2 = card.locator(".mw-version[data-version='v1']"), card.locator(".mw-version[data-version='v2']")
    share = v2.locator(".mw-share")
    assert share.inner_text() == "100 %"
    assert share.evaluate("e => e.scrollWidth <= e.clientWidth")  # not cut off either
    height, font = share.evaluate(
        "e => [e.getBoundingClientRect().height, parseFloat(getComputedStyle(e).fontSize)]"
    )
    assert height < 1.6 * font  # one line: "100" and "%" no longer wrap apart
    assert "serving · reviews-v2" in v2.inner_text() and "canary" not in v2.inner_text()
    assert "retired" in v1.inner_text() and v1.locator(".mw-bar-fill").count() == 0  # no sliver beside "—"
    assert page.errors == []


def test_addresses_the_page_cannot_serve_say_why() -> None:
    settings = resolve({}, environ={})
    app = create_app(settings, services(rollout_source()))
    assert "bad duration 'soon': use a number and a unit" in render(app, layout, window="soon")
    assert "bad service 'Bad!'" in render(app, layout, service="Bad!")
    live = render(app, layout, service="reviews", window="15m")
    assert "canary-window" in live and "'15m'" in live
    view = refresh_canary(make_runtime(settings, services(rollout_source())), "Bad!", None)
    assert "bad service 'Bad!'" in str(view.cards) and view.banner is None


def test_the_window_chosen_is_the_one_analysed() -> None:
    view = refresh_canary(
        make_runtime(resolve({}, environ={}), services(rollout_source())), None, None, "15m"
    )
    assert "window 15m" in view.status and "9000 requests in 15m" in str(view.cards)
    assert "over ≥ 50 requests to a canary" in view.status


def test_demo_ejection_card_shows_v2s_failing_calls() -> None:
    settings = resolve({"phase": "ejection"}, environ={})
    view = refresh_canary(make_runtime(settings, demo_services(settings)), "reviews", None)
    text = str(view.cards)
    assert "calls → ratings 100 % failing · circuit OPEN" in text and "'HOLD'" in text
    assert (
        "v2's calls to ratings fail 100 % (503 UH: circuit open; ratings cut off by outlier detection)"
        in text
    )


def test_unreadable_istio_config_keeps_the_observed_split() -> None:
    broken = services(rollout_source(), objects=[{"kind": "VirtualService", "metadata": {"name": "x"}}])
    view = refresh_canary(make_runtime(resolve({}, environ={}), broken), None, None)
    assert view.banner.startswith("Istio config not read — demo phase canary: spec: missing")
    assert view.cards is not None and view.banner_kind == "info"


def test_failed_refresh_keeps_cards_and_says_since_when() -> None:
    down = make_runtime(resolve({}, environ={}), services(rollout_source(failure="Prometheus down")))
    view = refresh_canary(down, None, AT)
    assert (
        view.cards is None
        and view.banner.endswith("— Prometheus down")
        and view.banner.startswith("stale since ")
    )
    first = refresh_canary(down, None, None)
    assert first.banner == "no data yet — Prometheus down" and "Nothing to show yet" in str(first.cards)


def test_api_canary_validates_its_arguments() -> None:
    client = create_app(resolve({}, environ={}), services(rollout_source())).server.test_client()
    assert (
        client.get("/api/canary?service=reviews.default").get_json()["services"][0]["verdict"] == "roll back"
    )
    bad = client.get("/api/canary?service=Bad!")
    assert bad.status_code == 400 and "bad service" in bad.get_json()["error"]
