"""The trace pages in headless Chromium: what an SRE sees."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dashboard.app import create_app
from dashboard.app.config import resolve
from dashboard.app.services import Services
from queries.jaeger import JaegerClient
from tests.support.jaeger import T0, TRACE_503, TRACE_OK, FakeJaeger, bookinfo_trace, circuit_open_trace
from tests.support.telemetry import ScriptedSource

pytestmark = pytest.mark.browser
TIMEOUT_MS = 20_000


@pytest.fixture
def jaeger() -> Iterator[FakeJaeger]:
    fake = FakeJaeger("v1")
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def app_url(serve_app: Any, jaeger: FakeJaeger) -> str:
    # A total deadline, which the slow-trace test's 1.5 s delay must fit in under load.
    client = JaegerClient(f"http://127.0.0.1:{jaeger.server.server_port}", timeout=5)
    services = Services(telemetry=ScriptedSource([]), traces=client, clock=lambda: T0 / 1e6 + 60)
    return serve_app(create_app(resolve({}, {}), services))


def figure_data(page: Any) -> list[dict[str, Any]]:
    return page.evaluate(
        "() => document.querySelector('#trace-waterfall .js-plotly-plot').data"
        ".map(t => ({name: t.name, y: Array.from(t.y), x: Array.from(t.x), customdata: Array.from(t.customdata)}))"
    )


def test_trace_page_shows_waterfall_critical_path_and_span_detail(browser_page: Any, app_url: str) -> None:
    page = browser_page
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{app_url}/trace/{TRACE_OK}")
    page.wait_for_selector("#trace-waterfall .bars path", timeout=TIMEOUT_MS)
    ticks = page.locator("#trace-waterfall .ytick text").all_text_contents()
    assert len(ticks) == 8
    assert "istio-ingressgateway.istio-system" in ticks[0] and "ratings.default" in ticks[-1]
    # Istio's FQDN suffix and the usual port are dropped on screen, kept in the data.
    assert "reviews.default/*" in ticks[5] and not any(
        ".svc.cluster.local" in t or ":9080" in t for t in ticks
    )
    assert (
        page.request.get(f"{app_url}/api/trace/{TRACE_OK}").json()["spans"][5]["operation"]
        == "reviews.default.svc.cluster.local:9080/*"
    )
    # A wall screen: the waterfall takes the page's height, in type readable from across the room.
    waterfall = page.locator("#trace-waterfall").bounding_box()
    assert waterfall["y"] + waterfall["height"] >= 1080 - 40 and waterfall["height"] >= 8 * 40
    assert (
        min(
            page.evaluate(
                "() => Array.from(document.querySelectorAll('#trace-waterfall text'))"
                ".map(t => parseFloat(getComputedStyle(t).fontSize))"
            )
        )
        >= 14
    )
    data = figure_data(page)
    critical = next(t for t in data if t["name"] == "critical path")
    assert sum(critical["x"]) == pytest.approx(48.0)  # ms: the whole root duration, tiled
    assert page.get_by_text("Where the time went (per service)").is_visible()

    # Click the ratings server span's bar: its detail panel opens, and the URL deep-links it.
    ratings = next(t for t in data if t["name"] == "ratings.default")
    row = ratings["y"][0]
    bar = page.locator("#trace-waterfall .bars path").nth(_bar_index(data, "ratings.default", 0))
    box = bar.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    panel = page.locator("#trace-detail")
    panel.get_by_text("inbound|9080||").first.wait_for(timeout=TIMEOUT_MS)
    assert "ratings.default" in panel.inner_text() and "e2f30415263748a9" in panel.inner_text()
    assert page.url.endswith(f"/trace/{TRACE_OK}?span=e2f30415263748a9")
    assert row == 7

    # Clicking a row's label selects its span too.
    label = page.locator("#trace-waterfall .ytick text").nth(4).bounding_box()  # productpage -> reviews
    page.mouse.click(label["x"] + label["width"] / 2, label["y"] + label["height"] / 2)
    panel.get_by_text("outbound|9080||reviews.default.svc.cluster.local").first.wait_for(timeout=TIMEOUT_MS)
    assert page.url.endswith(f"/trace/{TRACE_OK}?span=9a1b2c3d4e5f6071")

    # What is typed into Find is readable: dark on white.
    page.fill("#trace-find", "ratings")
    colours = page.evaluate(
        "() => { const s = getComputedStyle(document.querySelector('#trace-find'));"
        " return [s.color, s.backgroundColor]; }"
    )
    assert colours == ["rgb(17, 17, 17)", "rgb(255, 255, 255)"]
    assert page.errors == []


def _bar_index(data: list[dict[str, Any]], name: str, point: int) -> int:
    """Index of a bar among every `.bars path` (Plotly draws traces in order)."""
    before = 0
    for trace in data:
        if trace["name"] == name:
            return before + point
        before += len(trace["x"])
    raise AssertionError(name)


def test_deep_link_find_filter_and_hide_proxy_spans(browser_page: Any, app_url: str) -> None:
    page = browser_page
    page.goto(f"{app_url}/trace/{TRACE_503}?span=3b4c5d6e7f809102")
    panel = page.locator("#trace-detail")
    panel.get_by_text("response_flags").wait_for(timeout=TIMEOUT_MS)
    assert "UO" in panel.inner_text() and "clock skew adjustment disabled" in panel.inner_text()
    assert "ERROR" in panel.inner_text()

    page.fill("#trace-find", "response_flags=UO")
    page.press("#trace-find", "Enter")
    page.get_by_text("1 span matches").wait_for(timeout=TIMEOUT_MS)
    page.get_by_text("only matches").click()
    page.get_by_text("rows 1–4 of 4").wait_for(timeout=TIMEOUT_MS)
    page.fill("#trace-find", "")
    page.press("#trace-find", "Enter")
    # The refused call's client span is a proxy span, but an error: it and its way to the root stay.
    page.get_by_text("hide proxy spans").click()
    page.get_by_text("4 rows shown").wait_for(timeout=TIMEOUT_MS)
    assert "hidden" not in page.locator("#trace-header").inner_text()
    assert page.locator("#trace-waterfall .ytick text").last.text_content().endswith("⚠")


def test_search_page_from_a_topology_link_opens_a_trace(browser_page: Any, app_url: str) -> None:
    page = browser_page
    page.goto(f"{app_url}/traces?service=reviews.default&lookback=1h")
    page.locator("#traces-results a").first.wait_for(timeout=TIMEOUT_MS)
    results = page.locator("#traces-results a").all_inner_texts()
    assert len(results) == 2 and any("1 error\n" in text for text in results)
    assert not any("errors" in text for text in results)
    assert page.locator("#traces-results").inner_text().startswith("2 traces")
    page.wait_for_selector("#traces-scatter .scatterlayer .point", timeout=TIMEOUT_MS)
    colours = page.evaluate(
        "() => document.querySelector('#traces-scatter .js-plotly-plot').data[0].marker.color"
    )
    assert sorted(colours) == ["#4e9cff", "#ff4d4f"]  # the circuit-open trace is red
    page.locator("#traces-results a", has_text="productpage.default").first.click()
    page.wait_for_selector("#trace-waterfall .bars path", timeout=TIMEOUT_MS)
    assert "/trace/" in page.url


def test_an_unknown_service_or_trace_says_so_once(browser_page: Any, app_url: str) -> None:
    page = browser_page
    page.goto(f"{app_url}/traces?service=nope")
    banner = page.locator("#traces-banner")
    banner.get_by_text("service 'nope' is not known to Jaeger").wait_for(timeout=TIMEOUT_MS)
    assert (
        "(known: details.default, istio-ingressgateway.istio-system, productpage.default, "
        in banner.inner_text()
    )
    assert not page.locator("#traces-scatter").is_visible()  # no empty axes

    page.goto(f"{app_url}/trace/0123456789abcdef")
    page.locator("#trace-banner").get_by_text("trace 0123456789abcdef not found").wait_for(timeout=TIMEOUT_MS)
    assert page.get_by_text("not found", exact=False).count() == 1
    page.locator("#trace-loading").wait_for(state="hidden", timeout=TIMEOUT_MS)
    for hidden in ("#trace-waterfall", "#trace-topology-link", "#trace-find"):
        assert not page.locator(hidden).is_visible()
    assert page.locator("#trace-upload").is_visible()  # a file can still be opened
    assert page.errors == []


def test_jaeger_down_shows_a_banner_and_keeps_the_results(
    browser_page: Any, app_url: str, jaeger: FakeJaeger
) -> None:
    page = browser_page
    page.goto(f"{app_url}/traces?service=ratings.default")
    page.locator("#traces-results a").first.wait_for(timeout=TIMEOUT_MS)
    jaeger.stop()
    page.click("#traces-search")
    page.get_by_text("cannot reach Jaeger").wait_for(timeout=TIMEOUT_MS)
    assert "stale" in page.locator("#traces-banner").inner_text()
    assert page.locator("#traces-results a").count() == 1


def test_upload_a_jaeger_export_without_jaeger(browser_page: Any, serve_app: Any, tmp_path: Path) -> None:
    app = create_app(resolve({}, {}), Services(telemetry=ScriptedSource([]), traces=None))
    base = serve_app(app)
    export = tmp_path / "trace.json"
    export.write_text(json.dumps({"data": [circuit_open_trace()]}))
    page = browser_page
    page.goto(f"{base}/traces")
    page.get_by_text("No Jaeger configured").first.wait_for(timeout=TIMEOUT_MS)
    page.set_input_files("#traces-upload input[type=file]", str(export))
    page.wait_for_selector("#trace-waterfall .bars path", timeout=TIMEOUT_MS)
    assert page.url.endswith(f"/trace/{TRACE_503}")
    assert page.locator("#trace-waterfall .ytick text").count() == 4
    api = page.request.get(f"{base}/api/trace/{TRACE_503}")
    assert api.ok and api.json()["span_count"] == 4
    missing = page.request.get(f"{base}/api/trace/{TRACE_OK}")
    assert missing.status == 404 and "is not in this server's memory" in missing.json()["error"]
    assert bookinfo_trace()["traceID"] == TRACE_OK

    # As if the upload had reached another server process: the page says what happened.
    page.goto(f"{base}/trace/{TRACE_OK}")
    banner = page.locator("#trace-banner")
    banner.get_by_text("is not in this server's memory").wait_for(timeout=TIMEOUT_MS)
    assert "uploaded traces live in the one server process that received them" in banner.inner_text()
    assert "re-open the file" in banner.inner_text()
    assert not page.locator("#trace-loading").is_visible()


def test_an_upload_over_the_size_limit_is_refused_with_a_message(
    browser_page: Any, serve_app: Any, tmp_path: Path
) -> None:
    settings = resolve({"max_upload_mb": str(2048 / 2**20)}, {})
    base = serve_app(create_app(settings, Services(telemetry=ScriptedSource([]), traces=None)))
    export = tmp_path / "big.json"
    export.write_text(json.dumps({"data": [bookinfo_trace()]}))
    assert export.stat().st_size > 2048
    page = browser_page
    page.goto(f"{base}/traces")
    page.get_by_text("No Jaeger configured").first.wait_for(timeout=TIMEOUT_MS)
    page.set_input_files("#traces-upload input[type=file]", str(export))
    banner = page.locator("#traces-banner")
    banner.get_by_text("big.json is larger than 2 KB, the limit for trace files").wait_for(timeout=TIMEOUT_MS)
    assert page.url.endswith("/traces")


def test_a_slow_trace_shows_what_is_loading(browser_page: Any, app_url: str, jaeger: FakeJaeger) -> None:
    jaeger.delay_s = 1.5
    page = browser_page
    page.goto(f"{app_url}/trace/{TRACE_OK}")
    loading = page.locator("#trace-loading")
    loading.get_by_text(f"Loading trace {TRACE_OK}: fetching it from Jaeger…").wait_for(timeout=TIMEOUT_MS)
    page.wait_for_selector("#trace-waterfall .bars path", timeout=TIMEOUT_MS)
    loading.wait_for(state="hidden", timeout=TIMEOUT_MS)
    assert page.errors == []


def test_a_bad_limit_in_the_address_says_why_and_the_form_still_works(
    browser_page: Any, app_url: str
) -> None:
    page = browser_page
    page.goto(f"{app_url}/traces?service=productpage.default&limit=abc")
    page.locator(".mw-page-problem").get_by_text("bad limit 'abc': a number of traces, 1 to 1,500").wait_for(
        timeout=TIMEOUT_MS
    )
    page.locator("#traces-results .mw-trace-result").first.wait_for(timeout=TIMEOUT_MS)
    assert page.errors == []


FAR_TRACE = "00000000000000000000000000000f42"


def test_span_times_far_out_of_range_break_neither_the_trace_nor_the_search(
    browser_page: Any, app_url: str, jaeger: FakeJaeger
) -> None:
    """A trace whose span starts at 1e18 µs is refused by name; a search that
    finds it shows the others and says one was left out."""
    far = bookinfo_trace()
    far["traceID"] = FAR_TRACE
    for span in far["spans"]:
        span["traceID"] = FAR_TRACE
    far["spans"][1]["startTime"] = 10**18
    jaeger.traces.append(far)
    page = browser_page
    page.goto(f"{app_url}/traces?service=productpage.default")
    banner = page.locator("#traces-banner")
    banner.get_by_text("1 trace Jaeger sent could not be read and is left out").wait_for(timeout=TIMEOUT_MS)
    assert "startTime: out of range" in banner.inner_text()
    assert page.locator("#traces-results a").count() == 2

    page.goto(f"{app_url}/trace/{FAR_TRACE}")
    page.locator("#trace-banner").get_by_text("startTime: out of range").wait_for(timeout=TIMEOUT_MS)
    page.locator("#trace-loading").wait_for(state="hidden", timeout=TIMEOUT_MS)
    assert page.errors == []


def test_an_upload_request_over_the_limit_is_refused_before_it_is_read() -> None:
    app = create_app(resolve({"max_upload_mb": "1"}, {}), Services(telemetry=ScriptedSource([]), traces=None))
    client = app.server.test_client()
    oversized = b"x" * (3 << 20)  # past 1 MB as base64 in a callback's JSON
    answer = client.post("/_dash-update-component", data=oversized, content_type="application/json")
    assert answer.status_code == 413
