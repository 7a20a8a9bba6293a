"""`meshwatch trace`: the analysed trace as JSON, from Jaeger or an export file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from dashboard.app.cli import main
from tests.support.jaeger import (
    T0,
    TRACE_503,
    TRACE_OK,
    FakeJaeger,
    bookinfo_trace,
    circuit_open_trace,
    to_otlp,
)

SPAN_KEYS = [
    "span_id",
    "parent_id",
    "depth",
    "service",
    "operation",
    "start_us",
    "duration_us",
    "self_us",
    "critical_us",
    "error",
    "tags",
]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main(["trace", *argv])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else out), err


def write(tmp_path: Path, document: Any, name: str = "export.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return str(path)


def test_export_file_prints_the_analysis(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc, _ = run(capsys, "--file", write(tmp_path, {"data": [circuit_open_trace()]}))
    assert code == 0
    assert list(doc) == [
        "trace_id",
        "start_time_us",
        "duration_us",
        "span_count",
        "services",
        "warnings",
        "spans",
    ]
    assert doc["start_time_us"] == T0 + 100_000
    assert (doc["trace_id"], doc["duration_us"], doc["span_count"]) == (TRACE_503, 20_000, 4)
    assert doc["services"] == ["productpage.default", "reviews.default"]
    assert doc["warnings"] == []
    assert [list(s) for s in doc["spans"]] == [SPAN_KEYS] * 4
    assert [(s["span_id"], s["parent_id"], s["depth"], s["start_us"], s["error"]) for s in doc["spans"]] == [
        ("b7ad6b7169203331", None, 0, 0, False),
        ("c1d2e3f405162738", "b7ad6b7169203331", 1, 1_000, False),
        ("2a3b4c5d6e7f8091", "c1d2e3f405162738", 2, 1_400, False),
        ("3b4c5d6e7f809102", "2a3b4c5d6e7f8091", 3, 2_000, True),
    ]
    assert sum(s["critical_us"] for s in doc["spans"]) == 20_000
    assert [s["self_us"] for s in doc["spans"]] == [2_000, 1_000, 16_700, 300]
    refused = doc["spans"][3]["tags"]
    assert (refused["http.status_code"], refused["response_flags"], refused["error"]) == ("503", "UO", True)
    assert refused["istio.canonical_revision"] == "v3" and len(refused) == 23


def test_tags_keep_their_wire_types(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, doc, _ = run(capsys, "--file", write(tmp_path, bookinfo_trace()))
    tags = doc["spans"][1]["tags"]
    # int64 beyond 2^53 arrives as a string and leaves as the number; binary stays base64.
    assert tags["request.id.int"] == 9007199254740993 and tags["tls.session"] == "AAECAwQ="
    assert tags["sample.ratio"] == 0.01 and tags["http.status_code"] == "200"


def test_bare_trace_and_otlp_files_give_the_same_answer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, from_v1, _ = run(capsys, "--file", write(tmp_path, bookinfo_trace(), "bare.json"))
    _, from_otlp, _ = run(capsys, "--file", write(tmp_path, to_otlp([bookinfo_trace()]), "otlp.json"))
    assert from_v1 == from_otlp
    assert from_v1["span_count"] == 8 and from_v1["duration_us"] == 48_000


def test_several_traces_need_a_trace_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, {"data": [bookinfo_trace(), circuit_open_trace()]})
    code, _, err = run(capsys, "--file", path)
    assert code == 2 and err.count("\n") == 1 and "holds 2 traces; choose one with --trace-id" in err
    code, doc, _ = run(capsys, "--file", path, "--trace-id", TRACE_OK.upper())
    assert code == 0 and doc["trace_id"] == TRACE_OK
    code, _, err = run(capsys, "--file", path, "--trace-id", "abc123")
    assert code == 2 and "trace abc123 is not in" in err


@pytest.mark.parametrize(
    "content, message",
    [
        (
            "{not json",
            "is not valid JSON: Expecting property name enclosed in double quotes at line 1 column 2",
        ),
        ("", "is empty"),
        (
            '{"data": [{"traceID": "ab", "spans": [{"spanID": "1"}]}]}',
            "not a Jaeger trace: data[0].spans[0].startTime: missing",
        ),
        ('{"data": [{"spans": "x"}]}', "not a Jaeger trace: data[0].spans: expected a list"),
        (
            '[{"traceID": "ab", "spans": [], "processes": {"p1": "productpage"}}]',
            "not a Jaeger trace: [0].processes.p1: expected an object",
        ),
        (
            '{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "ab", "spanId": "1"}]}]}]}',
            "not an OTLP trace: resourceSpans[0].scopeSpans[0].spans[0].startTimeUnixNano: missing",
        ),
        ('{"hello": 1}', "not a Jaeger trace export"),
        ('{"data": []}', "holds no spans"),
        ('{"data": [{"traceID": "ab", "spans": []}]}', "holds no spans"),
    ],
)
def test_bad_or_empty_files_are_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    code, _, err = run(capsys, "--file", str(path))
    assert (code, err.count("\n"), err.startswith(f"meshwatch: {path}")) == (2, 1, True)
    assert message in err and "object has no attribute" not in err


def test_missing_file_bad_id_and_missing_arguments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "--file", str(tmp_path / "nope.json"))
    assert code == 2 and "cannot read" in err and "No such file or directory" in err
    code, _, err = run(capsys)
    assert code == 2 and "give a TRACE_ID" in err
    code, _, err = run(capsys, "not-a-trace-id", "--jaeger", "http://127.0.0.1:9")
    assert code == 2 and "bad trace id 'not-a-trace-id'" in err


def test_from_jaeger(capsys: pytest.CaptureFixture[str]) -> None:
    fake = FakeJaeger("v1")
    base = fake.start()
    try:
        code, doc, _ = run(capsys, TRACE_OK, "--jaeger", base + "/jaeger")
        assert code == 0 and doc["span_count"] == 8
        assert doc["spans"][0]["service"] == "istio-ingressgateway.istio-system"
        code, _, err = run(capsys, "00000000000000000000000000000bad", "--jaeger", base)
        assert code == 1 and "not found" in err and err.count("\n") == 1
    finally:
        fake.stop()
    code, _, err = run(capsys, TRACE_OK, "--jaeger", base, "--jaeger-timeout", "1")
    assert code == 1 and "cannot reach Jaeger" in err and err.count("\n") == 1


def test_jaeger_sending_a_malformed_trace_is_a_source_failure(capsys: pytest.CaptureFixture[str]) -> None:
    fake = FakeJaeger("v1")
    base = fake.start()
    fake.traces = [dict(bookinfo_trace(), spans="x")]
    try:
        code, _, err = run(capsys, TRACE_OK, "--jaeger", base)
        assert code == 1 and "not a Jaeger trace: data[0].spans: expected a list" in err
    finally:
        fake.stop()


def test_a_device_or_an_oversized_file_is_refused_unread(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["trace", "--file", "/dev/zero"]) == 2
    assert capsys.readouterr().err == "meshwatch: cannot read /dev/zero: not a regular file\n"
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"data": [bookinfo_trace()]}))
    assert main(["trace", "--file", str(big), "--max-upload-mb", "0.001"]) == 2
    err = capsys.readouterr().err
    assert "more than the 0.001 MB limit for trace files (--max-upload-mb)" in err and err.count("\n") == 1


def test_every_file_option_refuses_pipes_and_oversized_files_of_any_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A named pipe with no writer is refused at once (not waited on), by
    `trace` and by `trace-diff`'s sides; an OTLP JSON Lines file over the limit too."""
    from tests.support.trace_files import to_otlp_lines

    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    assert main(["trace", "--file", str(pipe)]) == 2
    assert capsys.readouterr().err == f"meshwatch: cannot read {pipe}: not a regular file\n"
    lines = tmp_path / "traces.jsonl"
    lines.write_text(to_otlp_lines([bookinfo_trace(), circuit_open_trace()]))
    good = write(tmp_path, circuit_open_trace())
    for argv in (
        ["trace-diff", "--file-a", str(pipe), "--file-b", good],
        ["trace-diff", "--file-a", good, "--file-b", str(lines), "--max-upload-mb", "0.001"],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert ("not a regular file" in err or "limit for trace files" in err) and err.count("\n") == 1


@pytest.mark.parametrize("start", [10**18, -(10**18), "1000000000000000000"])
def test_span_times_out_of_range_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], start: object
) -> None:
    document = bookinfo_trace()
    document["spans"][1]["startTime"] = start
    export = tmp_path / "far.json"
    export.write_text(json.dumps(document))
    assert main(["trace", "--file", str(export)]) == 2
    err = capsys.readouterr().err
    assert "spans[1].startTime: out of range" in err and err.count("\n") == 1


def test_otlp_json_lines_and_zipkin_files_open_like_jaeger_exports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.support.trace_files import to_otlp_lines, to_zipkin

    _, expected, _ = run(capsys, "--file", write(tmp_path, circuit_open_trace(), "jaeger.json"))
    lines = tmp_path / "traces.jsonl"
    lines.write_text(to_otlp_lines([bookinfo_trace(), circuit_open_trace()]))
    code, _, err = run(capsys, "--file", str(lines))
    assert code == 2 and "holds 2 traces; choose one with --trace-id" in err
    code, from_lines, _ = run(capsys, "--file", str(lines), "--trace-id", TRACE_503)
    code, from_zipkin, _ = run(
        capsys, "--file", write(tmp_path, to_zipkin(circuit_open_trace()), "zipkin.json")
    )
    for doc in (from_lines, from_zipkin):
        assert [(s["span_id"], s["critical_us"], s["error"]) for s in doc["spans"]] == [
            (s["span_id"], s["critical_us"], s["error"]) for s in expected["spans"]
        ]
    assert from_zipkin["spans"][3]["tags"]["response_flags"] == "UO"
    broken = tmp_path / "broken.jsonl"
    broken.write_text(to_otlp_lines([bookinfo_trace()]) + "{oops\n")
    code, _, err = run(capsys, "--file", str(broken))
    assert code == 2 and err.startswith(f"meshwatch: {broken} is not valid JSON Lines: line 6:")


def test_from_tempo(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.support.tempo import FakeTempo

    fake = FakeTempo()
    base = fake.start()
    try:
        code, doc, _ = run(capsys, TRACE_503, "--tempo", base)
        assert code == 0 and doc["trace_id"] == TRACE_503 and doc["span_count"] == 4
        assert doc["spans"][3]["tags"]["response_flags"] == "UO"
        code, _, err = run(capsys, "0bad", "--tempo", base)
        assert code == 1 and "trace 0bad not found in Tempo at" in err and err.count("\n") == 1
    finally:
        fake.stop()
