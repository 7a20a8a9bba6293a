"""Time travel on the topology and canary pages: `?at=`, the time bar's
steps, slider and replay, and the "as of" banner, as a person sees them in
Chromium; on the demo, ten minutes before the held ejection is the story's
first phase (reviews-v1 alone)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from dashboard.app import create_app
from dashboard.app.config import resolve
from dashboard.app.pages.canary import refresh_canary
from dashboard.app.services import Services, demo_services
from tests.app.test_canary_page import AT, rollout_source
from tests.support.app import make_runtime

REVIEWS_V2 = "workload:bookinfo:reviews-v2"
CUT_EDGE = "workload:bookinfo:reviews-v2->service:bookinfo:ratings"


@pytest.fixture
def demo(serve_app):
    settings = resolve({"phase": "ejection", "refresh": "1"}, environ={})
    services = demo_services(settings)
    return serve_app(create_app(settings, services)), services


def has(element_id: str) -> str:
    return (
        f"() => window.cy && window.cy.nodes().length > 0 && window.cy.getElementById('{element_id}').length"
    )


def lacks(element_id: str) -> str:
    return (
        f"() => window.cy && window.cy.nodes().length > 0 && !window.cy.getElementById('{element_id}').length"
    )


def address_at(page) -> float | None:
    values = parse_qs(urlparse(page.url).query).get("at")
    return float(values[-1]) if values else None


@pytest.mark.browser
def test_ten_minutes_ago_shows_the_mesh_then_under_an_as_of_banner_and_live_returns(demo, browser_page):
    base, services = demo
    page = browser_page
    then = services.clock() - 600
    page.goto(f"{base}/?at={then:.0f}")
    page.wait_for_function(lacks(REVIEWS_V2), timeout=60_000)
    asof = page.locator("#topology-asof")
    asof.get_by_text("AS OF").wait_for(timeout=20_000)
    assert "10 min ago" in asof.inner_text() and "not live" in asof.inner_text()
    assert page.locator("#topology-timebar").is_visible()  # Live is a click away
    assert page.evaluate("() => window.cy.getElementById('workload:bookinfo:reviews-v1').length") == 1
    assert address_at(page) == pytest.approx(then, abs=1)

    page.locator("#topology-live").click()
    page.wait_for_function(has(CUT_EDGE), timeout=60_000)
    asof.wait_for(state="hidden", timeout=20_000)
    page.wait_for_function("() => !new URLSearchParams(window.location.search).has('at')", timeout=10_000)
    assert page.evaluate(f"() => window.cy.getElementById('{CUT_EDGE}').data('circuit')") == "open"
    assert not page.errors


@pytest.mark.browser
def test_the_time_bar_steps_a_window_back_and_forward(demo, browser_page):
    base, services = demo
    page = browser_page
    page.goto(f"{base}/?window=1m")
    page.wait_for_function(has(CUT_EDGE), timeout=60_000)
    assert not page.locator("#topology-timebar").is_visible()  # the live graph keeps the screen
    page.locator("#topology-time-open").click()
    page.locator("#topology-step-back").click()
    page.locator("#topology-asof").get_by_text("AS OF").wait_for(timeout=20_000)
    page.wait_for_function("() => new URLSearchParams(window.location.search).has('at')", timeout=10_000)
    first = address_at(page)
    assert services.clock() - 75 < first < services.clock() - 55
    page.locator("#topology-step-back").click()
    page.wait_for_function(
        f"() => Number(new URLSearchParams(window.location.search).get('at')) <= {first - 59}", timeout=10_000
    )
    page.locator("#topology-step-forward").click()
    page.wait_for_function(
        f"() => Math.abs(Number(new URLSearchParams(window.location.search).get('at')) - {first}) <= 1",
        timeout=10_000,
    )
    # A step forward past now is live again.
    page.locator("#topology-step-forward").click()
    page.locator("#topology-asof").wait_for(state="hidden", timeout=20_000)


@pytest.mark.browser
def test_a_replay_at_60x_runs_the_story_forward_and_turns_live_when_it_catches_up(demo, browser_page):
    base, services = demo
    page = browser_page
    page.goto(f"{base}/?at={services.clock() - 600:.0f}")
    page.wait_for_function(lacks(REVIEWS_V2), timeout=60_000)
    page.get_by_role("button", name="▶ 60×").click()
    asof = page.locator("#topology-asof")
    asof.get_by_text("replay at 60×").wait_for(timeout=20_000)
    # The canary phase begins five story minutes on: five seconds at 60x.
    page.wait_for_function(has(REVIEWS_V2), timeout=60_000)
    # Ten story minutes take ten seconds; then the replay is the present.
    asof.wait_for(state="hidden", timeout=60_000)
    page.wait_for_function(has(CUT_EDGE), timeout=20_000)


@pytest.mark.browser
def test_the_slider_marks_stay_readable_at_1366(demo, chromium):
    base, _ = demo
    context = chromium.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.goto(f"{base}/?at=0")  # before the data: the earliest there is
    page.locator("#topology-timebar").wait_for(timeout=20_000)
    page.locator("#topology-asof").get_by_text("AS OF").wait_for(timeout=60_000)
    page.wait_for_function("() => document.querySelectorAll('#topology-slider .dash-slider-mark').length")
    boxes = page.evaluate(
        "() => [...document.querySelectorAll('#topology-slider .dash-slider-mark')]"
        ".map(e => e.getBoundingClientRect()).map(b => [b.left, b.right])"
    )
    assert 1 <= len(boxes) <= 6
    assert all(a[1] < b[0] for a, b in zip(sorted(boxes), sorted(boxes)[1:]))
    context.close()


@pytest.mark.browser
def test_a_bad_time_in_the_address_says_why(demo, browser_page):
    base, _ = demo
    browser_page.goto(f"{base}/?at=yesterday-ish")
    banner = browser_page.locator("#topology-banner")
    banner.get_by_text("yesterday-ish").wait_for(timeout=20_000)


@pytest.mark.browser
def test_a_time_after_now_or_before_any_data_says_so(demo, browser_page):
    base, services = demo
    browser_page.goto(f"{base}/?at={services.clock() + 86_400:.0f}")
    banner = browser_page.locator("#topology-banner")
    banner.get_by_text("is in the future: showing now instead").wait_for(timeout=20_000)
    browser_page.wait_for_function(has(REVIEWS_V2), timeout=20_000)  # the present is drawn
    browser_page.goto(f"{base}/?at=1")
    banner.get_by_text("No Istio telemetry in the 1m window ending").wait_for(timeout=20_000)


def test_the_canary_page_at_a_moment_asks_for_that_moment_and_says_so() -> None:
    source = rollout_source()
    runtime = make_runtime(resolve({}, {}), Services(telemetry=source, clock=lambda: AT))
    shown = refresh_canary(runtime, None, None, "1m", AT - 600)
    assert source.calls[-1][0] == AT - 600
    assert "AS OF" in shown.asof and "10 min ago" in shown.asof and "configured now" in shown.asof
    future = refresh_canary(runtime, None, None, "1m", AT + 3600)
    assert source.calls[-1][0] == AT and future.asof is None  # never past now
    live = refresh_canary(runtime, None, None, "1m")
    assert source.calls[-1][0] == AT and live.asof is None


@pytest.mark.browser
def test_the_canary_page_shows_its_as_of_banner_and_keeps_the_moment_in_the_address(
    serve_app, browser_page
) -> None:
    source = rollout_source()
    app = create_app(resolve({"refresh": "1"}, {}), Services(telemetry=source, clock=lambda: AT))
    page = browser_page
    page.goto(serve_app(app) + f"/canary?at={AT - 600:.0f}")
    page.locator("#canary-asof").get_by_text("AS OF").wait_for(timeout=20_000)
    page.locator(".mw-canary-card").first.wait_for(timeout=20_000)
    assert address_at(page) == AT - 600
    page.goto(serve_app(app) + "/canary?at=nonsense")
    assert "nonsense" in page.locator(".mw-page-problem").inner_text()


@pytest.mark.browser
def test_a_moment_before_the_sliders_range_stays_where_the_address_put_it(demo, browser_page):
    base, services = demo
    asked = round(services.clock() - 7200)  # before the demo's data: the slider's range starts later
    browser_page.goto(f"{base}/?at={asked}")
    banner = browser_page.locator("#topology-banner")
    banner.get_by_text("No Istio telemetry in the 1m window ending").wait_for(timeout=20_000)
    browser_page.wait_for_function(
        "() => document.querySelectorAll('#topology-slider .dash-slider-mark').length"
    )
    for _ in range(2):  # two more refreshes, each drawn: the slider's range must not have moved the view
        drawn = browser_page.locator("#topology-drawn").inner_text()
        browser_page.wait_for_function(
            "(seen) => document.getElementById('topology-drawn').innerText !== seen",
            arg=drawn,
            timeout=20_000,
        )
    assert address_at(browser_page) == asked
    assert "No Istio telemetry" in banner.inner_text()
