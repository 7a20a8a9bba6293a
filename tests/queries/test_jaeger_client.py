"""The Jaeger client against a local server speaking Jaeger's wire formats."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from queries.errors import SourceError
from queries.jaeger import JaegerClient
from queries.traces.details import read_details
from tests.support.jaeger import BIG_INT, T0, TRACE_503, TRACE_OK, FakeJaeger


@pytest.fixture(params=["v1", "v3"])
def jaeger(request: pytest.FixtureRequest) -> Iterator[tuple[FakeJaeger, str]]:
    fake = FakeJaeger(request.param)
    base = fake.start()
    yield fake, base
    fake.stop()


def test_auto_detects_the_api_once_and_lists_services(jaeger: tuple[FakeJaeger, str]) -> None:
    fake, base = jaeger
    client = JaegerClient(base)
    assert client.services() == [
        "details.default",
        "istio-ingressgateway.istio-system",
        "productpage.default",
        "ratings.default",
        "reviews.default",
    ]
    assert client.api == fake.api
    client.services()
    probes = 1 if fake.api == "v3" else 3  # v1: the probe, then both calls
    assert [path for path, _ in fake.requests].count("/api/services") == probes


def test_operations_of_a_service(jaeger: tuple[FakeJaeger, str]) -> None:
    _, base = jaeger
    assert JaegerClient(base).operations("details.default") == ["details.default.svc.cluster.local:9080/*"]


def test_search_normalises_both_apis_into_the_same_records(jaeger: tuple[FakeJaeger, str]) -> None:
    fake, base = jaeger
    end = T0 / 1e6 + 60
    traces = JaegerClient(base).search(
        "ratings.default", lookback_s=600, limit=5, end=end, min_duration="1ms"
    )
    assert [t.trace_id for t in traces] == [TRACE_OK]
    trace = traces[0]
    spans = {s.span_id: s for s in trace.spans}
    assert len(spans) == 8
    root = spans["a3ce929d0e0e4736"]
    assert (root.service, root.start_us, root.duration_us, root.refs, root.proxy) == (
        "istio-ingressgateway.istio-system",
        T0,
        48_000,
        [],
        True,
    )
    assert spans["e2f30415263748a9"].refs == [("CHILD_OF", "7b8c9daebfc0d1e2")]
    assert spans["e2f30415263748a9"].kind == "server"
    assert not any(s.error for s in trace.spans)
    path, query = [r for r in fake.requests if r[0].endswith("/traces")][-1]
    if fake.api == "v1":
        assert (query["start"], query["end"]) == ([str(T0 - 540_000_000)], [str(T0 + 60_000_000)])
        assert query["minDuration"] == ["1ms"] and query["limit"] == ["5"]
    else:
        assert query["query.start_time_min"] == ["2025-11-26T09:51:00.000000Z"]
        assert query["query.start_time_max"] == ["2025-11-26T10:01:00.000000Z"]
        assert query["query.duration_min"] == ["1ms"]


def test_error_span_marks_and_typed_tag_details(jaeger: tuple[FakeJaeger, str]) -> None:
    _, base = jaeger
    client = JaegerClient(base)
    broken = client.trace(TRACE_503)
    errors = [s for s in broken.spans if s.error]
    assert [s.span_id for s in errors] == ["3b4c5d6e7f809102"]
    trace = client.trace(TRACE_OK.upper())
    productpage = next(s for s in trace.spans if s.span_id == "00f067aa0ba902b7")
    details = read_details(trace, productpage)
    tags = {tag.key: (tag.value, tag.type) for tag in details.tags}
    assert tags["request.id.int"][0] == int(BIG_INT)  # beyond 2^53, exactly
    assert tags["http.status_code"][0] == "200"
    assert tags["tls.session"][1] == "binary"
    assert tags["sample.ratio"][0] == 0.01
    assert [tag.value for tag in details.process_tags if tag.key == "ip"] == ["10.244.0.12"]
    assert [(log.timestamp_us - productpage.start_us, log.fields[-1].value) for log in details.logs] == [
        (1_000, "upstream request headers sent")
    ]
    assert [(ref.ref_type, ref.span_id) for ref in details.references] == [("CHILD_OF", "a3ce929d0e0e4736")]


def test_tag_search(jaeger: tuple[FakeJaeger, str]) -> None:
    _, base = jaeger
    traces = JaegerClient(base).search("reviews.default", tags={"response_flags": "UO"}, end=T0 / 1e6 + 60)
    assert [t.trace_id for t in traces] == [TRACE_503]


def test_empty_search_is_empty_not_an_error(jaeger: tuple[FakeJaeger, str]) -> None:
    _, base = jaeger
    assert JaegerClient(base).search("nobody.default", end=T0 / 1e6) == []


def test_unknown_trace_is_a_clear_error(jaeger: tuple[FakeJaeger, str]) -> None:
    _, base = jaeger
    with pytest.raises(SourceError, match="trace 00000000000000000000000000000bad not found"):
        JaegerClient(base).trace("00000000000000000000000000000bad")
    with pytest.raises(SourceError, match="bad trace id"):
        JaegerClient(base).trace("../api/services")


def test_dependencies() -> None:
    fake = FakeJaeger("v3")
    base = fake.start()
    try:
        deps = JaegerClient(base, api="v3").dependencies(T0 // 1000, 3_600_000)
        assert [(d.parent, d.child, d.call_count) for d in deps] == [
            ("productpage.default", "reviews.default", 1204),
            ("reviews.default", "ratings.default", 802),
        ]
        assert fake.requests[-1][1] == {"endTs": [str(T0 // 1000)], "lookback": ["3600000"]}
    finally:
        fake.stop()


def test_base_path_as_istio_addon_serves_it() -> None:
    fake = FakeJaeger("v1")
    base = fake.start()
    try:
        assert JaegerClient(base + "/jaeger/").trace(TRACE_OK).trace_id == TRACE_OK
    finally:
        fake.stop()


def test_v1_errors_sent_as_text_plain_show_code_and_message() -> None:
    fake = FakeJaeger("v1")
    base = fake.start()
    try:
        client = JaegerClient(base, api="v1")
        with pytest.raises(SourceError, match=r"400 – parameter 'service' is required"):
            client._get("/api/traces", {})
    finally:
        fake.stop()


def _canned(status: int, body: bytes, content_type: str = "text/plain; charset=utf-8"):
    def transport(path: str, params: dict[str, str]) -> tuple[int, str, bytes]:
        return status, content_type, body

    return transport


def test_storage_error_and_malformed_json() -> None:
    storage = json.dumps(
        {
            "data": None,
            "total": 0,
            "limit": 0,
            "offset": 0,
            "errors": [{"code": 500, "msg": "elasticsearch: no such index [jaeger-span-2025-11-26]"}],
        }
    )
    with pytest.raises(SourceError, match="500 – elasticsearch: no such index"):
        JaegerClient("http://jaeger", api="v1", transport=_canned(500, storage.encode())).services()
    with pytest.raises(SourceError, match="not JSON"):
        JaegerClient(
            "http://jaeger", api="v1", transport=_canned(200, b"<html>proxy login</html>")
        ).services()
    with pytest.raises(SourceError, match=r"not a Jaeger trace: data\[0\]\.spans\[0\]\.startTime: missing"):
        JaegerClient(
            "http://jaeger",
            api="v1",
            transport=_canned(200, b'{"data": [{"traceID": "ab", "spans": [{"spanID": "1"}]}]}'),
        ).trace("ab")


@pytest.mark.parametrize(
    "api, body, message",
    [
        (
            "v1",
            {"data": [{"traceID": "ab", "spans": "x"}]},
            "not a Jaeger trace: data[0].spans: expected a list",
        ),
        (
            "v1",
            {"data": [{"traceID": "ab", "spans": [{"spanID": "1", "startTime": 5, "tags": "error=true"}]}]},
            "not a Jaeger trace: data[0].spans[0].tags: expected a list",
        ),
        (
            "v1",
            {"data": [{"traceID": "ab", "processes": {"p1": []}, "spans": []}]},
            "not a Jaeger trace: data[0].processes.p1: expected an object",
        ),
        ("v1", {"data": "ab"}, "sent data that is not a list of traces"),
        (
            "v3",
            {"result": {"resourceSpans": [{"scopeSpans": [{"spans": "x"}]}]}},
            "not an OTLP trace: result.resourceSpans[0].scopeSpans[0].spans: expected a list",
        ),
        (
            "v3",
            {
                "result": {
                    "resourceSpans": [
                        {
                            "scopeSpans": [
                                {"spans": [{"traceId": "ab", "spanId": "1", "startTimeUnixNano": "soon"}]}
                            ]
                        }
                    ]
                }
            },
            "not an OTLP trace: result.resourceSpans[0].scopeSpans[0].spans[0].startTimeUnixNano: expected an integer",
        ),
        (
            "v3",
            {
                "result": {
                    "resourceSpans": [
                        {
                            "scopeSpans": [
                                {
                                    "spans": [
                                        {
                                            "traceId": "ab",
                                            "spanId": "1",
                                            "startTimeUnixNano": "1",
                                            "attributes": [{"key": "error", "value": "true"}],
                                        }
                                    ]
                                }
                            ]
                        }
                    ]
                }
            },
            "not an OTLP trace: result.resourceSpans[0].scopeSpans[0].spans[0].attributes[0].value: expected an object",
        ),
    ],
)
def test_malformed_traces_name_the_field(api: str, body: dict, message: str) -> None:
    client = JaegerClient(
        "http://jaeger", api=api, transport=_canned(200, json.dumps(body).encode(), "application/json")
    )
    with pytest.raises(SourceError) as caught:
        client.trace("ab")
    assert message in str(caught.value) and "object has no attribute" not in str(caught.value)


def test_null_data_is_an_empty_list() -> None:
    body = json.dumps({"data": None, "total": 0, "limit": 0, "offset": 0, "errors": None}).encode()
    assert (
        JaegerClient("http://jaeger", api="v1", transport=_canned(200, body, "application/json")).services()
        == []
    )


def test_connection_refused_and_timeout() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(
        SourceError, match=f"cannot reach Jaeger at http://127.0.0.1:{port}: Connection refused"
    ):
        JaegerClient(f"http://127.0.0.1:{port}").services()
    fake = FakeJaeger("v1")
    base = fake.start()
    fake.delay_s = 1.0
    try:
        with pytest.raises(SourceError, match="did not answer within 0.2s"):
            JaegerClient(base, timeout=0.2).services()
    finally:
        fake.stop()


def test_an_answer_over_the_cap_is_refused_unparsed(jaeger: tuple[FakeJaeger, str]) -> None:
    _, base = jaeger
    with pytest.raises(
        SourceError, match=r"response over 0\.01 MB: narrow the search, or raise --max-response-mb"
    ):
        JaegerClient(base, max_response_bytes=int(0.01 * 2**20)).trace(TRACE_OK)
    assert JaegerClient(base).trace(TRACE_OK).spans


def test_credentials_in_the_jaeger_url_never_reach_a_message(jaeger: tuple[FakeJaeger, str]) -> None:
    _, base = jaeger
    with pytest.raises(SourceError) as failed:
        JaegerClient(base.replace("http://", "http://admin:hunter2@"), "v1").trace("0123456789abcdef")
    assert "hunter2" not in str(failed.value) and base in str(failed.value)
