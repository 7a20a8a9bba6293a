"""Trace files in every format meshwatch opens give the same trace: Jaeger's
export, OTLP JSON and JSON Lines, Tempo's protobuf JSON, Zipkin v2."""

from __future__ import annotations

import json

import pytest

from dashboard.traces.details import details_of
from dashboard.traces.document import trace_document
from dashboard.traces.tree import build_tree
from queries.errors import SourceError
from queries.traces.export import read_text
from queries.traces.otlp import wire_id
from tests.support.jaeger import TRACE_503, TRACE_OK, bookinfo_trace, circuit_open_trace
from tests.support.trace_files import to_otlp_lines, to_tempo_batches, to_zipkin


def shape_of(data: bytes, trace_id: str = TRACE_OK) -> list[tuple]:
    traces = {trace.trace_id: trace for trace in read_text(data)}
    document = trace_document(build_tree(traces[trace_id]))
    return [
        (
            s["span_id"],
            s["parent_id"],
            s["service"],
            s["start_us"],
            s["duration_us"],
            s["critical_us"],
            s["error"],
        )
        for s in document["spans"]
    ]


def jaeger_shape(trace: dict) -> list[tuple]:
    return shape_of(json.dumps(trace).encode(), trace["traceID"])


@pytest.mark.parametrize(
    "encode",
    [
        lambda traces: json.dumps(to_zipkin(traces[0]) + to_zipkin(traces[1])).encode(),
        lambda traces: json.dumps([to_zipkin(t) for t in traces]).encode(),  # Zipkin's GET /api/v2/traces
        lambda traces: to_otlp_lines(traces).encode(),
        lambda traces: json.dumps(to_tempo_batches(traces)).encode(),
    ],
    ids=["zipkin-spans", "zipkin-traces", "otlp-json-lines", "tempo"],
)
def test_every_format_gives_the_jaeger_answer(encode) -> None:
    data = encode([bookinfo_trace(), circuit_open_trace()])
    assert shape_of(data, TRACE_OK) == jaeger_shape(bookinfo_trace())
    assert shape_of(data, TRACE_503) == jaeger_shape(circuit_open_trace())


def test_zipkin_details_error_convention_and_shared_spans() -> None:
    spans = to_zipkin(circuit_open_trace())
    spans[3]["tags"]["error"] = "upstream overflow"  # Zipkin: the tag's presence is the error
    spans[3]["tags"]["http.status_code"] = "200"
    tree = build_tree(read_text(json.dumps(spans).encode())[0])
    refused = tree.index_of("3b4c5d6e7f809102")
    assert tree.span(refused).error and tree.span(refused).kind == "client"
    details = details_of(tree, refused)
    assert ("response_flags", "UO") in [(t.key, t.value) for t in details.tags]
    assert [(t.key, t.value) for t in details.process_tags] == [("ipv4", "10.244.0.17")]

    # Envoy's shared span context: the server half reuses the client's id; it becomes its child.
    client = {
        "traceId": "5341a3f65e389606",
        "id": "5341a3f65e389606",
        "kind": "CLIENT",
        "name": "reviews:9080/*",
        "timestamp": 1692354579079400,
        "duration": 4622,
        "localEndpoint": {"serviceName": "productpage.default"},
    }
    server = dict(client, kind="SERVER", shared=True, timestamp=1692354579079500, duration=4000)
    server["localEndpoint"] = {"serviceName": "reviews.default", "ipv4": "172.16.0.226"}
    server["annotations"] = [{"timestamp": "1692354579084446", "value": "ss"}]  # Istio 1.10 sent strings
    untimed = {"traceId": "5341a3f65e389606", "id": "0000000000000bad", "name": "lost"}
    tree = build_tree(read_text(json.dumps([client, server, untimed]).encode())[0])
    assert [(tree.span_ids[i], tree.depth[i]) for i in tree.order] == [
        ("5341a3f65e389606", 0),
        ("5341a3f65e389607", 1),
    ]
    assert tree.warnings == ["1 span without a timestamp left out (incomplete spans)"]
    assert details_of(tree, 1).logs[0].timestamp_us == 1692354579084446


def test_tempo_ids_are_base64_and_otlp_ids_hex() -> None:
    assert wire_id("W47/95gDgQPSabYzgT/HAA==") == "5b8efff798038103d269b633813fc700"
    assert wire_id("7uGbfsPBsQA=") == "eee19b7ec3c1b100"
    assert wire_id("5B8EFFF798038103D269B633813FC60C") == "5b8efff798038103d269b633813fc60c"
    assert wire_id("00f067aa0ba902b7") == "00f067aa0ba902b7"  # hex text is valid base64 too: length decides
    assert wire_id("") == ""


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"resourceSpans": []}\n{"resourceSpans": [\n', "is not valid JSON Lines: line 2:"),
        ('{"resourceSpans": []}\n{"data": []}\n', "line 2: not OTLP JSON"),
        (
            '[{"traceId": "ab", "id": "1", "timestamp": "soon"}]',
            "not a Zipkin trace: [0].timestamp: expected an integer",
        ),
        (
            '[{"traceId": "ab", "id": "1", "timestamp": 1, "tags": ["x"]}]',
            "not a Zipkin trace: [0].tags: expected an object",
        ),
        (
            '{"batches": [{"scopeSpans": [{"spans": [{"traceId": "ab"}]}]}]}',
            "batches[0].scopeSpans[0].spans[0].spanId: missing",
        ),
    ],
)
def test_bad_files_say_where(text: str, message: str) -> None:
    with pytest.raises(SourceError, match=message.replace("[", r"\[").replace("]", r"\]")):
        read_text(text.encode())
