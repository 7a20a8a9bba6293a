"""The trace pages in headless Chromium: what an SRE sees."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dashboard.app import create_app
from dashboard.app.config import resolve
from dashboard.app.services import Services
from dashboard.format import duration_text
from queries.jaeger import JaegerClient
from tests.support.jaeger import (
    T0,
    TRACE_503,
    TRACE_OK,
    FakeJaeger,
    batch_trace,
    bookinfo_trace,
    circuit_open_trace,
)
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


ROWS = "#trace-waterfall .mw-wf-span"


def row_facts(page: Any) -> list[dict[str, Any]]:
    """What each waterfall row shows, measured in the page: label text and
    position, the bar's box, the duration text and its box."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('#trace-waterfall .mw-wf-span')).map(row => {
            const box = el => { const r = el.getBoundingClientRect(); return {x: r.left, y: r.top, w: r.width, h: r.height}; };
            const label = row.querySelector('.mw-wf-label'), service = row.querySelector('.mw-wf-service');
            const bar = row.querySelector('.mw-wf-bar'), duration = row.querySelector('.mw-wf-duration');
            return {span: row.dataset.span, label: label.innerText, labelBox: box(label), service: box(service),
                    bar: box(bar), duration: duration.innerText, durationBox: box(duration),
                    lane: box(row.querySelector('.mw-wf-lane')), critical: row.querySelectorAll('.mw-wf-critical').length,
                    version: (row.querySelector('.mw-wf-version') || {}).innerText || null};
        })"""
    )


def test_trace_page_shows_waterfall_critical_path_and_span_detail(browser_page: Any, app_url: str) -> None:
    page = browser_page
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{app_url}/trace/{TRACE_OK}")
    page.wait_for_selector(ROWS, timeout=TIMEOUT_MS)
    rows = row_facts(page)
    labels = [row["label"] for row in rows]
    assert len(rows) == 8
    assert "istio-ingressgateway.istio-system" in labels[0] and "ratings.default" in labels[-1]
    # Istio's FQDN suffix and the usual port are dropped on screen, kept in the data.
    assert "reviews.default/*" in labels[5] and not any(
        ".svc.cluster.local" in t or ":9080" in t for t in labels
    )
    document = page.request.get(f"{app_url}/api/trace/{TRACE_OK}").json()
    assert document["spans"][5]["operation"] == "reviews.default.svc.cluster.local:9080/*"
    # A wall screen: the waterfall takes the page's height, in type readable from across the room.
    waterfall = page.locator("#trace-waterfall").bounding_box()
    assert waterfall["y"] + waterfall["height"] >= 1080 - 40 and waterfall["height"] >= 8 * 40
    sizes = page.evaluate(
        "() => Array.from(document.querySelectorAll('#trace-waterfall *')).filter(e => e.innerText)"
        ".map(e => parseFloat(getComputedStyle(e).fontSize))"
    )
    assert min(sizes) >= 14
    # Labels are left-aligned and indented by depth: each child starts right of its parent.
    depths = [span["depth"] for span in document["spans"]]
    starts = [row["service"]["x"] for row in rows]
    for (depth, x), (next_depth, next_x) in zip(zip(depths, starts), zip(depths[1:], starts[1:])):
        assert (next_x > x + 8) if next_depth > depth else (next_x <= x)
    assert all(row["labelBox"]["x"] == rows[0]["labelBox"]["x"] for row in rows)
    # Every bar says its duration beside it, in the timeline, and spans on the critical path are marked.
    for row, span in zip(rows, document["spans"]):
        assert row["duration"] == duration_text(span["duration_us"])
        assert row["durationBox"]["x"] >= row["lane"]["x"] - 1 and row["durationBox"]["w"] > 0
        assert (row["critical"] > 0) == (span["critical_us"] > 0)
    assert sum(span["critical_us"] for span in document["spans"]) == 48_000
    # Each span wears the version Istio's tags name.
    assert [row["version"] for row in rows] == ["latest", "v1", "v1", "v1", "v1", "v2", "v2", "v1"]
    assert page.get_by_text("Where the time went (per service)").is_visible()

    # Click the ratings server span's bar: its detail panel opens, and the URL deep-links it.
    ratings = page.locator(f'{ROWS}[data-span="e2f30415263748a9"] .mw-wf-bar')
    ratings.click()
    panel = page.locator("#trace-detail")
    panel.get_by_text("inbound|9080||").first.wait_for(timeout=TIMEOUT_MS)
    assert "ratings.default" in panel.inner_text() and "e2f30415263748a9" in panel.inner_text()
    assert "2025-11-26 10:00:00.012 UTC" in panel.inner_text()  # the absolute start, to the millisecond
    assert page.url.endswith(f"/trace/{TRACE_OK}?span=e2f30415263748a9")
    assert (
        page.locator(f'{ROWS}[data-span="e2f30415263748a9"]').get_attribute("class").count("mw-wf-selected")
    )

    # Clicking a row's label selects its span too.
    page.locator(f'{ROWS}[data-span="9a1b2c3d4e5f6071"] .mw-wf-operation').click()
    panel.get_by_text("outbound|9080||reviews.default.svc.cluster.local").first.wait_for(timeout=TIMEOUT_MS)
    assert page.url.endswith(f"/trace/{TRACE_OK}?span=9a1b2c3d4e5f6071")

    # A row's fold toggle collapses its subtree, and unfolds it again.
    page.locator(f'{ROWS}[data-span="9a1b2c3d4e5f6071"] .mw-wf-toggle').click()
    page.get_by_text("rows 1–5 of 5").wait_for(timeout=TIMEOUT_MS)
    assert "+3" in page.locator(f'{ROWS}[data-span="9a1b2c3d4e5f6071"]').inner_text()
    page.locator(f'{ROWS}[data-span="9a1b2c3d4e5f6071"] .mw-wf-toggle').click()
    page.get_by_text("rows 1–8 of 8").wait_for(timeout=TIMEOUT_MS)

    # What is typed into Find is readable: dark on white.
    page.fill("#trace-find", "ratings")
    colours = page.evaluate(
        "() => { const s = getComputedStyle(document.querySelector('#trace-find'));"
        " return [s.color, s.backgroundColor]; }"
    )
    assert colours == ["rgb(17, 17, 17)", "rgb(255, 255, 255)"]
    assert page.errors == []


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
    assert page.locator(ROWS).last.locator(".mw-wf-error-mark").is_visible()


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
    page.wait_for_selector(ROWS, timeout=TIMEOUT_MS)
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
    page.wait_for_selector(ROWS, timeout=TIMEOUT_MS)
    assert page.url.endswith(f"/trace/{TRACE_503}")
    assert page.locator(ROWS).count() == 4
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
    page.wait_for_selector(ROWS, timeout=TIMEOUT_MS)
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
    # The banner and the results are separate outputs: wait for the list, then count it.
    page.locator("#traces-results a").nth(1).wait_for(timeout=TIMEOUT_MS)
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


def test_the_demos_failing_trace_says_its_cause_in_one_line_at_the_top(
    serve_app: Any, browser_page: Any
) -> None:
    from dashboard.app.services import demo_services

    settings = resolve({"phase": "ejection"}, environ={})
    services = demo_services(settings)
    failing = services.traces.search(
        "reviews.bookinfo", tags={"error": "true"}, lookback_s=600, limit=50, end=services.clock()
    )
    # A user's request (through the gateway), not the load test's.
    failing = [t for t in failing if any(s.service == "istio-ingressgateway.istio-system" for s in t.spans)]
    assert failing
    page = browser_page
    page.goto(f"{serve_app(create_app(settings, services))}/trace/{failing[0].trace_id}")
    failure = page.locator("#trace-detail #trace-failure")
    failure.wait_for(timeout=TIMEOUT_MS)
    text = failure.inner_text()
    assert text.startswith("Failed: HTTP 503 · UH: no healthy upstream") and "outbound|9080|" in text
    assert "ratings.bookinfo.svc.cluster.local" in text and "\n" not in text.strip()
    # The first thing in the panel, in view without scrolling.
    panel = page.locator("#trace-detail").bounding_box()
    box = failure.bounding_box()
    assert box["y"] - panel["y"] < 80 and box["y"] + box["height"] < 1080
    assert "reviews.bookinfo: ratings.bookinfo/ratings/0" in page.locator("#trace-detail h3").inner_text()
    # The refused call is the short error span: drawn at least 8 px wide, outlined red.
    bar = page.locator(".mw-wf-span.mw-wf-error .mw-wf-bar").last.bounding_box()
    assert bar["width"] >= 8
    assert page.errors == []


def choose(page: Any, dropdown: str, option: str) -> None:
    page.locator(dropdown).click()
    page.locator("[role=option], .Select-option").filter(has_text=option).first.click()


def test_search_results_say_what_each_trace_is_sort_filter_and_pick_two(
    browser_page: Any, app_url: str
) -> None:
    page = browser_page
    page.goto(f"{app_url}/traces?service=reviews.default&lookback=1h")
    results = page.locator("#traces-results .mw-trace-result")
    results.nth(1).wait_for(timeout=TIMEOUT_MS)
    texts = results.all_inner_texts()
    # Newest first; each titled by its root with the versions it went through and where it failed.
    assert "reviews v3" in texts[0] and "✖ reviews.default v3 → ratings.default: HTTP 503 UO" in texts[0]
    assert "reviews v2" in texts[1] and "ratings v1" in texts[1] and "✖" not in texts[1]
    choose(page, "#traces-sort", "longest first")
    page.wait_for_function(
        "() => document.querySelector('#traces-results .mw-trace-result').innerText.includes('48.00 ms')",
        timeout=TIMEOUT_MS,
    )
    choose(page, "#traces-versions", "reviews v3")
    page.get_by_text("1 trace of 2 found").wait_for(timeout=TIMEOUT_MS)
    assert "reviews v3" in results.first.inner_text() and results.count() == 1
    assert page.evaluate(
        "() => document.querySelector('#traces-scatter .js-plotly-plot').data[0].customdata"
    ) == [TRACE_503]
    # Pick two traces: the compare link appears.
    page.locator(".mw-result-row .mw-pick input").first.click()
    assert not page.locator("#traces-compare").is_visible()
    page.locator(
        "#traces-versions .Select-clear, #traces-versions [aria-label*=Clear], #traces-versions [title*=Clear]"
    ).first.click()
    page.get_by_text("2 traces", exact=True).wait_for(timeout=TIMEOUT_MS)
    for box in page.locator(".mw-result-row .mw-pick input").all():
        if not box.is_checked():
            box.click()
    page.locator("#traces-compare").wait_for(timeout=TIMEOUT_MS)
    href = page.locator("#traces-compare").get_attribute("href")
    assert href.startswith("/compare/") and {TRACE_OK, TRACE_503} == set(href.split("/")[2:])
    assert page.errors == []


def test_a_first_open_shows_the_last_quarter_hours_requests(browser_page: Any, app_url: str) -> None:
    page = browser_page
    page.goto(f"{app_url}/traces")
    page.locator("#traces-results .mw-trace-result").first.wait_for(timeout=TIMEOUT_MS)
    # The ingress gateway's traces are the users' requests; the form says what it searched.
    assert "istio-ingressgateway.istio-system" in page.locator("#traces-service").inner_text()
    assert "15m" in page.locator("#traces-lookback").inner_text()
    assert page.locator("#traces-results .mw-trace-result").count() == 1
    # The address says what was searched, so a reload or a shared link finds it again.
    page.wait_for_url("**/traces?service=istio-ingressgateway.istio-system*")
    assert "lookback=15m" in page.url and "limit=20" in page.url
    assert page.errors == []


def test_a_search_finding_nothing_says_so_and_how_to_widen_it(browser_page: Any, app_url: str) -> None:
    page = browser_page
    page.goto(f"{app_url}/traces?service=reviews.default&tags=http.status_code%3D418&lookback=1h")
    page.locator("#traces-results").get_by_text("0 traces found: widen the lookback").wait_for(
        timeout=TIMEOUT_MS
    )
    page.wait_for_url("**tags=http.status_code%3D418*")
    assert not page.locator("#traces-scatter").is_visible()


def test_compare_two_traces(browser_page: Any, app_url: str) -> None:
    page = browser_page
    page.goto(f"{app_url}/compare/{TRACE_OK}/{TRACE_503}")
    rows = page.locator(".mw-diff-table tbody tr")
    rows.first.wait_for(timeout=TIMEOUT_MS)
    summary = page.locator(".mw-compare-summary").inner_text()
    assert summary.startswith("4 added · 8 removed · 0 changed · 0 same")  # different roots: nothing shared
    sides = page.locator(".mw-compare-side").all_inner_texts()
    assert "48.00 ms" in sides[0] and "20.00 ms" in sides[1] and "1 error" in sides[1]
    # Each side says the versions it went through, and where B failed and why.
    assert "✖" not in sides[0] and "✖" in sides[1] and "503" in sides[1]
    assert page.locator(".mw-compare-side").nth(0).locator(".mw-version-chip").count() > 0
    # Removed first: the longest time that vanished leads.
    assert rows.first.inner_text().startswith("removed") and "48.00 ms → –" in rows.first.inner_text()
    critical = page.locator(".mw-critical-table tbody tr").all_inner_texts()
    assert len(critical) == 12 and all(row.count("–") == 1 for row in critical)
    assert page.locator(".mw-compare-side a").first.get_attribute("href") == f"/trace/{TRACE_OK}"

    # From a trace page: compare with another id.
    page.goto(f"{app_url}/trace/{TRACE_OK}")
    page.fill("#trace-compare-with", TRACE_503)
    page.press("#trace-compare-with", "Enter")
    page.locator("#trace-compare-link").click()
    page.locator(".mw-diff-table tbody tr").first.wait_for(timeout=TIMEOUT_MS)
    assert page.url.endswith(f"/compare/{TRACE_OK}/{TRACE_503}")
    page.goto(f"{app_url}/compare/{TRACE_OK}/0bad")
    page.locator("#compare-banner").get_by_text("trace 0bad not found").wait_for(timeout=TIMEOUT_MS)
    assert page.errors == []


def test_flame_graph_and_statistics_views_of_the_same_trace(browser_page: Any, app_url: str) -> None:
    page = browser_page
    page.goto(f"{app_url}/trace/{TRACE_OK}?view=flame")
    boxes = page.locator("#trace-flame .mw-flame-box")
    boxes.first.wait_for(timeout=TIMEOUT_MS)
    assert boxes.count() == 8 and not page.locator("#trace-waterfall").is_visible()
    # Width is time: the root spans the lane, ratings' server span is 27 of its 48 ms.
    widths = page.evaluate(
        "() => Object.fromEntries(Array.from(document.querySelectorAll('#trace-flame .mw-flame-box'))"
        ".map(b => [b.dataset.span, b.getBoundingClientRect()]).map(([id, r]) => [id, {w: r.width, y: r.top}]))"
    )
    root, ratings = widths["a3ce929d0e0e4736"], widths["e2f30415263748a9"]
    assert ratings["w"] / root["w"] == pytest.approx(27 / 48, abs=0.01)
    assert ratings["y"] > widths["7b8c9daebfc0d1e2"]["y"] > root["y"]  # stacked by depth, roots on top
    assert page.locator("#trace-flame .mw-wf-critical").count() >= 6
    # The same find and hide: only matches leaves the match and its ancestors.
    page.fill("#trace-find", "details")
    page.press("#trace-find", "Enter")
    page.get_by_text("only matches").click()
    page.wait_for_function(
        "() => document.querySelectorAll('#trace-flame .mw-flame-box').length === 4", timeout=TIMEOUT_MS
    )
    boxes.first.click()
    page.locator("#trace-detail").get_by_text("a3ce929d0e0e4736").wait_for(timeout=TIMEOUT_MS)
    assert "view=flame" in page.url

    page.get_by_text("Statistics", exact=True).click()
    table = page.locator(".mw-stats-table tbody tr")
    table.first.wait_for(timeout=TIMEOUT_MS)
    rows = table.all_inner_texts()
    assert len(rows) == 5 and rows[0].startswith("productpage.default")  # most spans first
    page.get_by_role("button", name="self total ms").click()
    page.wait_for_function(
        "() => document.querySelector('.mw-stats-table tbody tr').innerText.startsWith('ratings.default')",
        timeout=TIMEOUT_MS,
    )
    assert "27.00" in table.first.inner_text() and "56.25 %" in table.first.inner_text()
    choose(page, "#trace-stats-group", "tag istio.canonical_revision")
    page.wait_for_function(
        "() => document.querySelector('.mw-stats-table tbody tr').innerText.startsWith('v1')",
        timeout=TIMEOUT_MS,
    )
    assert page.errors == []


def test_the_waterfall_reads_on_a_laptop_screen(chromium: Any, app_url: str) -> None:
    context = chromium.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    try:
        page.goto(f"{app_url}/trace/{TRACE_503}")
        page.wait_for_selector(ROWS, timeout=TIMEOUT_MS)
        page.locator("#trace-failure").wait_for(timeout=TIMEOUT_MS)
        rows = row_facts(page)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 1366  # nothing spills sideways
        for row in rows:
            # Labels keep the service readable, the bars keep room, and every duration stays on screen.
            assert row["service"]["w"] >= 60 and row["lane"]["w"] >= 400
            assert (
                row["durationBox"]["x"] + row["durationBox"]["w"] <= row["lane"]["x"] + row["lane"]["w"] + 60
            )
            assert row["durationBox"]["x"] >= row["labelBox"]["x"] + row["labelBox"]["w"]
        refused = rows[-1]
        assert refused["bar"]["w"] >= 8 and refused["duration"] == "300 µs"
        detail = page.locator(".mw-span-detail").bounding_box()
        assert detail["x"] + detail["width"] <= 1366
    finally:
        context.close()


def test_otlp_json_lines_and_zipkin_files_open_in_the_browser(
    browser_page: Any, serve_app: Any, tmp_path: Path
) -> None:
    from tests.support.trace_files import to_otlp_lines, to_zipkin

    base = serve_app(create_app(resolve({}, {}), Services(telemetry=ScriptedSource([]), traces=None)))
    lines = tmp_path / "collector.jsonl"
    lines.write_text(to_otlp_lines([bookinfo_trace(), circuit_open_trace()]))
    zipkin = tmp_path / "zipkin.json"
    zipkin.write_text(json.dumps(to_zipkin(circuit_open_trace())))
    page = browser_page
    page.goto(f"{base}/traces")
    page.get_by_text("No Jaeger configured").first.wait_for(timeout=TIMEOUT_MS)
    # Two traces in the Collector's file: the page lists them to open one.
    page.set_input_files("#traces-upload input[type=file]", str(lines))
    page.locator("#traces-results").get_by_text("This file holds several traces").wait_for(timeout=TIMEOUT_MS)
    page.locator("#traces-results a", has_text=TRACE_OK).click()
    page.wait_for_selector(ROWS, timeout=TIMEOUT_MS)
    assert page.locator(ROWS).count() == 8
    page.set_input_files("#trace-upload input[type=file]", str(zipkin))
    page.wait_for_function(f"() => location.pathname.endsWith('/trace/{TRACE_503}')", timeout=TIMEOUT_MS)
    page.locator("#trace-failure").get_by_text("HTTP 503 · UO: upstream overflow").wait_for(
        timeout=TIMEOUT_MS
    )
    assert page.locator(ROWS).count() == 4
    broken = tmp_path / "broken.jsonl"
    broken.write_text(to_otlp_lines([bookinfo_trace()]) + "{oops\n")
    page.set_input_files("#trace-upload input[type=file]", str(broken))
    page.locator("#trace-banner").get_by_text("broken.jsonl is not valid JSON Lines: line 6").wait_for(
        timeout=TIMEOUT_MS
    )
    assert page.errors == []


def test_tempo_as_the_backend(browser_page: Any, serve_app: Any) -> None:
    from queries.tempo import TempoClient
    from tests.support.tempo import FakeTempo

    tempo = FakeTempo()
    try:
        client = TempoClient(tempo.start(), timeout=2)
        services = Services(telemetry=ScriptedSource([]), traces=client, clock=lambda: T0 / 1e6 + 60)
        base = serve_app(create_app(resolve({}, {}), services))
        page = browser_page
        page.goto(f"{base}/traces?service=reviews.default&tags=response_flags=UO")
        results = page.locator("#traces-results .mw-trace-result")
        results.first.wait_for(timeout=TIMEOUT_MS)
        assert (
            results.count() == 1
            and "✖ reviews.default v3 → ratings.default: HTTP 503 UO" in results.first.inner_text()
        )
        results.first.click()
        page.wait_for_selector(ROWS, timeout=TIMEOUT_MS)
        assert page.locator(ROWS).count() == 4
        page.goto(f"{base}/traces?service=nope")
        page.locator("#traces-banner").get_by_text("service 'nope' is not known to Tempo").wait_for(
            timeout=TIMEOUT_MS
        )
        assert page.errors == []
    finally:
        tempo.stop()


def test_a_large_trace_shows_its_first_rows_then_its_critical_path_and_statistics(
    browser_page: Any, serve_app: Any, jaeger: FakeJaeger
) -> None:
    from dashboard.app.runtime import EXTENSION
    from dashboard.traces.tree import analyse

    big = batch_trace(12_001)
    jaeger.traces.append(big)
    client = JaegerClient(f"http://127.0.0.1:{jaeger.server.server_port}", timeout=10)
    app = create_app(resolve({}, {}), Services(telemetry=ScriptedSource([]), traces=client))
    # The analysis waits until the test has seen the first rows: no race between them.
    analysis_may_run = threading.Event()

    def held_analysis(tree: Any) -> Any:
        assert analysis_may_run.wait(60)
        return analyse(tree)

    app.server.extensions[EXTENSION].traces.analyse = held_analysis
    page = browser_page
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{serve_app(app)}/trace/{big['traceID']}")
    page.wait_for_selector(ROWS)
    header = page.locator("#trace-header")
    header.get_by_text("Working out self times and the critical path").wait_for()
    assert page.locator(ROWS).count() == 100 and "Spans 12,001" in header.inner_text()
    assert page.locator("#trace-waterfall .mw-wf-critical").count() == 0
    assert "rows 1–100 of" in page.locator("#trace-page-label").inner_text()

    analysis_may_run.set()
    page.locator("#trace-waterfall .mw-wf-critical").first.wait_for()
    header.get_by_text("Where the time went (per service)").wait_for()
    assert "Working out" not in header.inner_text()
    assert "critical path" in (page.locator(ROWS).first.get_attribute("title") or "")
    page.get_by_text("Statistics", exact=True).click()
    page.locator(".mw-stats-table tbody tr").first.wait_for()
    assert page.locator(".mw-stats-table tbody tr").count() == 16  # one row per service
    assert page.errors == []
