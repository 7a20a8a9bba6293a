"""Hostile label and span text stays text: control and bidi-override
characters are shown as escapes, markup is never markup (not in Dash, not
in Plotly's labels), and a tag value is a link only through --trace-link."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dashboard.app import create_app
from dashboard.app.config import resolve
from dashboard.app.services import Services
from layouts.text import plotly_text, visible
from layouts.traces.tag_links import tag_link
from queries.jaeger import JaegerClient
from tests.support.frames import labels, telemetry
from tests.support.jaeger import T0, TRACE_503, TRACE_OK, FakeJaeger, bookinfo_trace
from tests.support.telemetry import ScriptedSource

TIMEOUT_MS = 20_000
# A name that reverses what follows it (U+202E) and hides a NUL.
REVERSED = "reviews\u202egnp.exe\x00"
MARKUP = '<img src=x onerror="window.pwned=1"><a href="http://evil.example/">click</a>'


def test_control_and_bidi_characters_are_made_visible() -> None:
    assert visible(REVERSED) == "reviews\\u202egnp.exe\\x00"
    assert visible("a\u2066b\u2069c\u200bd\x1be\x85f") == "a\\u2066b\\u2069c\\u200bd\\x1be\\x85f"
    assert visible("ratings.bookinfo → v2 ü 日本") == "ratings.bookinfo → v2 ü 日本"
    assert plotly_text("<b>x</b> & y") == "&lt;b&gt;x&lt;/b&gt; &amp; y"


@pytest.mark.parametrize(
    ("patterns", "values", "expected"),
    [
        ((), {"http.url": "http://evil.example/"}, None),
        (
            (("http.url", "#{http.url}"),),
            {"http.url": "http://evil.example/x"},
            ("http://evil.example/x", "evil.example"),
        ),
        ((("http.url", "#{http.url}"),), {"http.url": "javascript:alert(1)"}, None),
        ((("http.url", "#{http.url}"),), {"http.url": "http://\u202eevil.example/"}, None),
        (
            (("http.url", "#{http.url}"),),
            {"http.url": "http://раураl.com/"},
            ("http://раураl.com/", "xn--l-7sba6dbr.com"),
        ),
        (
            (("user", "https://admin.example/users?id=#{user}"),),
            {"user": "a&b=c"},
            ("https://admin.example/users?id=a%26b%3Dc", "admin.example"),
        ),
        ((("user", "https://admin.example/#{missing}"),), {"user": "a"}, None),
    ],
)
def test_tags_link_only_through_a_configured_pattern(patterns, values, expected) -> None:
    key = next(iter(values))
    link = tag_link(key, values, patterns)
    assert (link and (link.url, link.host)) == expected


def hidden_characters(page: Any, selector: str) -> list[str]:
    """Texts and tooltips under `selector` that still hold a bidi override or a NUL."""
    shown = page.evaluate(
        "(selector) => Array.from(document.querySelectorAll(selector + ' *'))"
        ".flatMap(e => [e.textContent, e.title || ''])",
        selector,
    )
    return [text for text in shown if "\u202e" in text or "\x00" in text]


@pytest.fixture
def hostile_jaeger() -> Iterator[FakeJaeger]:
    fake = FakeJaeger("v1")
    trace = fake.traces[0]
    trace["spans"][0]["operationName"] = MARKUP
    trace["processes"][trace["spans"][0]["processID"]]["serviceName"] = REVERSED
    for tag in trace["spans"][0]["tags"]:
        if tag["key"] == "http.url":
            tag["value"] = "http://evil.example/login"
    fake.start()
    yield fake
    fake.stop()


@pytest.mark.browser
def test_the_topology_shows_hostile_labels_as_escaped_text(serve_app: Any, browser_page: Any) -> None:
    source = ScriptedSource(
        telemetry(
            requests=[
                (labels("productpage-v1", "details", "details-v1"), 2.0),
                (labels("productpage-v1", REVERSED, "reviews-v1"), 1.0),
                (labels("productpage-v1", MARKUP, "ratings-v1"), 1.0),
            ]
        )
    )
    page = browser_page
    page.goto(serve_app(create_app(resolve({"refresh": "1"}, {}), Services(telemetry=source))) + "/")
    page.wait_for_function("() => window.cy && window.cy.nodes().length > 0", timeout=TIMEOUT_MS)
    shown = page.evaluate("() => window.cy.nodes().map(n => n.data('label'))")
    assert visible(REVERSED) in shown and MARKUP in shown
    ids = page.evaluate("() => window.cy.elements().map(e => e.id())")
    assert not any("\u202e" in text or "\x00" in text for text in shown + ids)
    box = page.locator("#topology-graph").bounding_box()
    point = page.evaluate(
        "() => window.cy.nodes().filter(n => n.data('label').startsWith('reviews')).renderedPosition()"
    )
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
    page.locator("#topology-details").get_by_text(visible(REVERSED)).wait_for(timeout=TIMEOUT_MS)
    assert page.evaluate("() => window.pwned") is None and page.errors == []


@pytest.fixture
def hostile_traces(hostile_jaeger: FakeJaeger) -> Services:
    """The dashboard's data sources with the hostile trace behind Jaeger."""
    client = JaegerClient(f"http://127.0.0.1:{hostile_jaeger.server.server_port}", timeout=5)
    return Services(telemetry=ScriptedSource([]), traces=client, clock=lambda: T0 / 1e6 + 60)


@pytest.mark.browser
def test_span_text_is_never_markup_and_tag_values_never_links(
    serve_app: Any, browser_page: Any, hostile_traces: Services
) -> None:
    page = browser_page
    for flags, linked in (({}, False), ({"trace_link": ["http.url=#{http.url}"]}, True)):
        base = serve_app(create_app(resolve(flags, {}), hostile_traces))
        root = bookinfo_trace()["spans"][0]["spanID"]
        page.goto(f"{base}/trace/{TRACE_OK}?span={root}")
        page.wait_for_selector("#trace-waterfall .mw-wf-span", timeout=TIMEOUT_MS)
        panel = page.locator("#trace-detail")
        panel.get_by_text("http://evil.example/login").wait_for(timeout=TIMEOUT_MS)
        # The operation's markup is the row's text, not elements of the page.
        operations = page.locator("#trace-waterfall .mw-wf-operation").all_inner_texts()
        assert any("<a href=" in operation for operation in operations), operations
        assert visible(REVERSED) in page.locator("#trace-waterfall .mw-wf-service").all_inner_texts()
        assert not hidden_characters(page, "#trace-waterfall")
        assert page.locator("#trace-waterfall a, #trace-waterfall img").count() == 0
        assert visible(REVERSED) in panel.inner_text() and MARKUP in panel.inner_text()
        links = panel.locator("a.mw-tag-link")
        assert links.count() == (1 if linked else 0)
        if linked:
            assert links.first.inner_text() == "↗ evil.example"
            assert links.first.get_attribute("href") == "http://evil.example/login"
        assert page.locator("#trace-detail a[href*='evil']").count() == (1 if linked else 0)
    assert page.evaluate("() => window.pwned") is None and page.errors == []


@pytest.mark.browser
def test_the_flame_graph_statistics_and_compare_show_span_text_as_text(
    serve_app: Any, browser_page: Any, hostile_traces: Services
) -> None:
    page = browser_page
    base = serve_app(create_app(resolve({}, {}), hostile_traces))
    page.goto(f"{base}/trace/{TRACE_OK}?view=flame")
    page.wait_for_selector("#trace-flame .mw-flame-box", timeout=TIMEOUT_MS)
    boxes = page.locator("#trace-flame .mw-flame-text").all_inner_texts()
    assert any(visible(REVERSED) in box for box in boxes) and any("<a href=" in box for box in boxes)
    assert not hidden_characters(page, "#trace-flame")
    page.goto(f"{base}/trace/{TRACE_OK}?view=statistics")
    page.locator(".mw-stats-table tbody tr").first.wait_for(timeout=TIMEOUT_MS)
    assert visible(REVERSED) in page.locator(".mw-stats-table").inner_text()
    assert not hidden_characters(page, ".mw-stats-table")
    page.goto(f"{base}/compare/{TRACE_OK}/{TRACE_503}")
    page.locator(".mw-diff-table tbody tr").first.wait_for(timeout=TIMEOUT_MS)
    assert visible(REVERSED) in page.locator(".mw-compare").inner_text()
    assert not hidden_characters(page, ".mw-compare")
    assert page.locator(".mw-compare img, .mw-compare a[href*='evil']").count() == 0
    assert page.evaluate("() => window.pwned") is None and page.errors == []
