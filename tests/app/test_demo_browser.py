"""`meshwatch demo` in headless Chromium: during the story's ejection a person
sees the reviews-v2 -> ratings edge grey (circuit open)."""

from __future__ import annotations

import pytest

from dashboard.app import create_app
from dashboard.app.config import resolve
from dashboard.app.services import demo_services

pytestmark = pytest.mark.browser

CUT_EDGE = "workload:bookinfo:reviews-v2->service:bookinfo:ratings"


def test_the_demo_shows_the_grey_edge_while_ratings_is_ejected(serve_app, browser_page) -> None:
    settings = resolve({"phase": "ejection", "refresh": "1"}, environ={})
    services = demo_services(settings)
    assert services.mode == "demo" and services.story_phase().name == "ejection"
    browser_page.goto(serve_app(create_app(settings, services)) + "/")
    browser_page.wait_for_function(
        f"() => window.cy && window.cy.getElementById('{CUT_EDGE}').length > 0", timeout=30_000
    )
    edge = browser_page.evaluate(
        f"() => {{ const e = window.cy.getElementById('{CUT_EDGE}');"
        " return {circuit: e.data('circuit'), color: e.style('line-color'), style: e.style('line-style')}; }"
    )
    assert edge == {"circuit": "open", "color": "rgb(208,211,212)", "style": "dashed"}
    browser_page.locator("#mode-badge").get_by_text("phase ejection").wait_for()
    assert not browser_page.errors
