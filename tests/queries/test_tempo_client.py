"""The Tempo client against a local server speaking Tempo's wire format: the
same records and answers as from Jaeger."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from queries.errors import SourceError, TraceNotFound
from queries.jaeger import JaegerClient
from queries.tempo import TempoClient, search_query
from tests.support.jaeger import T0, TRACE_503, TRACE_OK, FakeJaeger, bookinfo_trace
from tests.support.tempo import FakeTempo

END = T0 / 1e6 + 60


@pytest.fixture
def tempo() -> Iterator[tuple[FakeTempo, TempoClient]]:
    fake = FakeTempo()
    base = fake.start()
    yield fake, TempoClient(base, timeout=2)
    fake.stop()


def test_services_and_operations(tempo: tuple[FakeTempo, TempoClient]) -> None:
    fake, client = tempo
    assert client.services() == [
        "details.default",
        "istio-ingressgateway.istio-system",
        "productpage.default",
        "ratings.default",
        "reviews.default",
    ]
    assert client.operations("details.default") == ["details.default.svc.cluster.local:9080/*"]
    path, query = fake.requests[-1]
    assert path == "/api/v2/search/tag/name/values"
    assert query["q"] == ['{ resource.service.name = "details.default" }']


def test_a_trace_reads_the_same_as_from_jaeger(tempo: tuple[FakeTempo, TempoClient]) -> None:
    _, client = tempo
    jaeger = FakeJaeger("v3")
    try:
        expected = JaegerClient(jaeger.start()).trace(TRACE_503)
    finally:
        jaeger.stop()
    trace = client.trace(TRACE_503)
    assert trace.trace_id == TRACE_503  # base64 on the wire
    shape = [(s.span_id, s.refs, s.service, s.start_us, s.duration_us, s.kind, s.error) for s in trace.spans]
    assert shape == [
        (s.span_id, s.refs, s.service, s.start_us, s.duration_us, s.kind, s.error) for s in expected.spans
    ]
    with pytest.raises(TraceNotFound, match="trace 00000000000000000000000000000bad not found in Tempo at"):
        client.trace("00000000000000000000000000000bad")


def test_search_sends_one_traceql_spanset_and_fetches_each_trace(
    tempo: tuple[FakeTempo, TempoClient],
) -> None:
    fake, client = tempo
    found = client.search("reviews.default", lookback_s=600, end=END)
    assert [t.trace_id for t in found] == [TRACE_503, TRACE_OK]  # newest first
    # Envoy's status code is a string; a number typed in the form finds it all the same.
    failed = client.search("reviews.default", tags={"http.status_code": "503"}, lookback_s=600, end=END)
    assert [t.trace_id for t in failed] == [TRACE_503]
    search = next(q for p, q in fake.requests if p == "/api/search" and "503" in q["q"][0])
    assert search["q"] == [
        '{ resource.service.name = "reviews.default" && '
        '(.http.status_code = 503 || .http.status_code = "503") }'
    ]
    assert int(search["end"][0]) - int(search["start"][0]) == 601
    # Tempo drops the leading zero of 0af7...; the client asks for the full id.
    assert "/api/traces/0af7651916cd43dd8448eb211c80319c" in [p for p, _ in fake.requests]
    slow = client.search("ratings.default", min_duration="20ms", lookback_s=600, end=END)
    assert [t.trace_id for t in slow] == [TRACE_OK]
    typed = client.search("", traceql='{ span.response_flags = "UO" }', lookback_s=600, end=END)
    assert [t.trace_id for t in typed] == [TRACE_503]
    assert client.search("reviews.default", lookback_s=600, end=T0 / 1e6 - 3600) == []


def test_traceql_literals_are_quoted() -> None:
    query = search_query('we"ird', "GET /a\\b", {"error": "true", "span.peer": "x y"}, None, "2s")
    assert query == (
        '{ resource.service.name = "we\\"ird" && name = "GET /a\\\\b" && '
        '(.error = true || .error = "true") && span.peer = "x y" && duration <= 2s }'
    )
    with pytest.raises(ValueError, match="bad duration"):
        search_query("a", None, {}, "soon", None)


def test_tempo_errors_are_one_line(tempo: tuple[FakeTempo, TempoClient]) -> None:
    fake, client = tempo
    with pytest.raises(SourceError, match=r"Tempo at http://127.0.0.1:\d+/api/search: 400 – parse error"):
        client.search("x", traceql="{ nonsense", end=END)
    fake.stop()
    with pytest.raises(SourceError, match="cannot reach Tempo at"):
        client.services()


def test_a_search_and_the_traces_it_fetches_share_one_byte_budget(
    tempo: tuple[FakeTempo, TempoClient],
) -> None:
    """Each answer alone fits in 20 kB; the search with both its traces does not."""
    fake, _ = tempo
    client = TempoClient(f"http://127.0.0.1:{fake.server.server_port}", max_response_bytes=20_000)
    assert client.trace(TRACE_OK).spans and client.trace(TRACE_503).spans
    with pytest.raises(
        SourceError, match=r"response over 0\.0191 MB: narrow the search, or raise --max-response-mb"
    ):
        client.search("reviews.default", end=END)


def test_a_slow_tempo_meets_its_deadline_and_credentials_stay_out_of_messages(
    tempo: tuple[FakeTempo, TempoClient],
) -> None:
    fake, _ = tempo
    base = f"http://127.0.0.1:{fake.server.server_port}"
    with pytest.raises(TraceNotFound) as failed:
        TempoClient(base.replace("http://", "http://admin:hunter2@") + "/?token=s3cret").trace("0bad")
    assert "hunter2" not in str(failed.value) and "s3cret" not in str(failed.value)
    assert f"Tempo at {base}/" in str(failed.value)
    fake.delay_s = 1.0
    with pytest.raises(SourceError, match=r"Tempo at http://127.0.0.1:\d+ did not answer within 0.2s"):
        TempoClient(base, timeout=0.2).services()


def test_a_trace_found_that_cannot_be_read_is_left_out_and_said_why(
    tempo: tuple[FakeTempo, TempoClient],
) -> None:
    fake, client = tempo
    far = bookinfo_trace()
    far["traceID"] = "00000000000000000000000000000f42"
    for span in far["spans"]:
        span["traceID"] = far["traceID"]
    far["spans"][1]["startTime"] = 10**18
    fake.traces.append(far)
    found = client.search("productpage.default", end=END)
    assert {trace.trace_id for trace in found} == {TRACE_OK, TRACE_503}  # the others still show
    assert len(found.skipped) == 1 and "startTimeUnixNano: out of range" in found.skipped[0]
    with pytest.raises(SourceError, match="startTimeUnixNano: out of range"):
        client.trace(far["traceID"])
