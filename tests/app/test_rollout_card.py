"""A canary an Argo Rollout drives, on the /canary page in Chromium: its
Services are the release's versions in the controller's roles, at the
weights it set, and the card shows its phase beside meshwatch's verdict."""

from __future__ import annotations

import pytest
import yaml

from dashboard.app import create_app
from dashboard.app.config import resolve
from dashboard.app.services import Services
from tests.queries.test_rollout_config import ROLLOUT
from tests.support.frames import labels, telemetry
from tests.support.telemetry import ScriptedSource

pytestmark = pytest.mark.browser

AT = 1_700_000_000.0
NS = "bookinfo"


def rollout_mesh() -> ScriptedSource:
    return ScriptedSource(
        telemetry(
            requests=[
                (labels("productpage-v1", "reviews-stable", "reviews-v1", ns=NS), 7.0),
                (labels("productpage-v1", "reviews-canary", "reviews-v2", ns=NS), 3.0),
            ],
            at=AT,
        )
    )


def test_a_rollout_driven_canary_shows_its_roles_weights_and_phase(serve_app, browser_page):
    services = Services(
        telemetry=rollout_mesh(),
        istio_objects=lambda: ([yaml.safe_load(ROLLOUT)], "rollouts"),
        clock=lambda: AT,
    )
    page = browser_page
    page.goto(serve_app(create_app(resolve({"refresh": "1"}, environ={}), services)) + "/canary")
    card = page.locator(f".mw-canary-card[data-service='reviews.{NS}']")
    card.wait_for(timeout=30_000)
    controller = card.locator(".mw-controller")
    assert controller.inner_text() == "Argo Rollouts: PAUSED"
    assert controller.get_attribute("data-state") == "paused"
    stable = card.locator(".mw-version[data-version='reviews-stable']")
    canary = card.locator(".mw-version[data-version='reviews-canary']")
    assert "70 %" in stable.inner_text() and "30 %" in canary.inner_text()
    assert "baseline" in stable.inner_text().lower() and "canary" in canary.inner_text().lower()
    assert "paused (Paused) at step 3 of 6" in card.locator(".mw-reasons").inner_text()
    assert page.errors == []
