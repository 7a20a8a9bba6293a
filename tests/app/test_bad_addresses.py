"""A bad parameter in any page's address shows a message saying why, never
a blank page; the API answers 400 with the same reason."""

from __future__ import annotations

from typing import Any

import pytest

from dashboard.app import create_app
from dashboard.app.config import resolve
from dashboard.app.services import Services
from tests.support.telemetry import ScriptedSource, bookinfo_ejection

ADDRESSES = [
    ("/?window=abc", "bad duration 'abc'"),
    ("/?window=10000d", "bad window '10000d': at most 1d (--max-window)"),
    ("/?window=%D9%A1m", "bad duration"),
    ("/?namespace=Bad_NS", "bad namespace 'Bad_NS'"),
    ("/canary?window=10000d", "bad window '10000d': at most 1d"),
    ("/canary?service=x%20y", "bad service 'x y'"),
    ("/traces?limit=abc", "bad limit 'abc'"),
    ("/traces?lookback=1y", "bad lookback '1y'"),
    ("/trace/not-hex", "bad trace id 'not-hex'"),
]


@pytest.fixture
def app() -> Any:
    return create_app(resolve({"refresh": "1"}, {}), Services(telemetry=ScriptedSource(bookinfo_ejection())))


@pytest.mark.browser
def test_every_page_says_what_is_wrong_with_its_address(serve_app: Any, browser_page: Any, app: Any) -> None:
    base = serve_app(app)
    for address, words in ADDRESSES:
        browser_page.goto(base + address)
        browser_page.get_by_text(words).first.wait_for(timeout=20_000)
    assert browser_page.errors == []


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("window=10000d", "at most 1d"),
        ("at=1e300", "between 1970 and the end of year 9999"),
        ("at=nan", "bad time"),
        ("window=%D9%A1m", "bad duration"),
        ("namespace=a%22%7D", "bad namespace"),
    ],
)
def test_api_arguments_out_of_range_are_400(app: Any, query: str, words: str) -> None:
    for route in ("/api/graph", "/api/canary"):
        answer = app.server.test_client().get(f"{route}?{query}")
        assert answer.status_code == 400 and words in answer.get_json()["error"]
