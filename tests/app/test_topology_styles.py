"""The stylesheet's health colours and security marks as Chromium's
Cytoscape applies them to the elements of a real page."""

from __future__ import annotations

import dataclasses

import pytest

from dashboard.app import create_app
from dashboard.app.config import resolve
from dashboard.app.services import Services
from queries.telemetry import SECURITY_LABELS
from tests.support.frames import frame, labels
from tests.support.telemetry import ScriptedSource, bookinfo_ejection, with_calls

pytestmark = pytest.mark.browser

TO_DETAILS = "workload:default:productpage-v1->service:default:details"
TO_REVIEWS = "workload:default:productpage-v1->service:default:reviews"
FROM_GATEWAY = "workload:istio-system:istio-ingressgateway->service:default:productpage"


def secured(caller: str, service: str, callee: str, policy: str, rps: float, **extra):
    series = labels(
        caller, service, callee, reporter="destination", connection_security_policy=policy, **extra
    )
    return series, rps


@pytest.fixture
def page(serve_app, browser_page):
    mesh = with_calls(
        bookinfo_ejection(), (labels("productpage-v1", "details", "details-v1", response_code="500"), 1.0)
    )
    security = frame(
        [
            secured("productpage-v1", "details", "details-v1", "mutual_tls", 3.0),
            secured("productpage-v1", "reviews", "reviews-v1", "mutual_tls", 1.0),
            secured("productpage-v1", "reviews", "reviews-v2", "none", 1.0),
        ],
        SECURITY_LABELS,
        "rps",
    )
    source = ScriptedSource(dataclasses.replace(mesh, security=security))
    app = create_app(resolve({"refresh": "60"}, {}), Services(telemetry=source))
    browser_page.goto(serve_app(app) + "/")
    browser_page.wait_for_function("() => window.cy && window.cy.nodes().length > 0", timeout=20_000)
    return browser_page


def style(page, edge_id: str, prop: str) -> str:
    return page.evaluate(f"() => window.cy.getElementById({edge_id!r}).style({prop!r})")


def test_failing_edges_are_red_not_grey(page):
    assert style(page, TO_DETAILS, "line-color") == "rgb(231,76,60)"
    assert style(page, TO_DETAILS, "target-arrow-color") == "rgb(231,76,60)"


def test_mtls_is_a_square_and_plain_text_an_amber_diamond_at_the_callers_end(page):
    assert style(page, TO_DETAILS, "source-arrow-shape") == "square"
    assert style(page, TO_REVIEWS, "source-arrow-shape") == "diamond"
    assert style(page, TO_REVIEWS, "source-arrow-fill") == "hollow"
    assert style(page, TO_REVIEWS, "source-arrow-color") == "rgb(241,196,15)"
    # Unknown (nothing in the destination's view): no mark.
    assert style(page, FROM_GATEWAY, "source-arrow-shape") == "none"
