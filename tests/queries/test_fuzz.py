"""Property-based tests of the parsers of what backends, files and users
send: the Prometheus vector parser, the trace formats (Jaeger v1, OTLP JSON
with Tempo's wrappings, OTLP JSON Lines, Zipkin v2), Istio YAML and the
topology's find/hide expressions. Whatever arrives, no exception escapes but
the module's own one-line error (SourceError for backends and trace files,
ConfigError for Istio config, ExpressionError for an expression), and what
parses can be analysed and written as strict JSON.

Inputs are mostly right-shaped documents with fields swapped for any JSON
value, which reach deeper than random bytes alone. (The trace page's find
box matches plain words; the find/hide expressions are the topology's.)
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from dashboard.app.config import resolve
from dashboard.mesh import find
from dashboard.mesh.build import build_graph
from dashboard.mesh.snapshot import snapshot_document
from dashboard.traces.compare import compare_traces, diff_document
from dashboard.traces.details import details_of
from dashboard.traces.document import trace_document
from dashboard.traces.find import find_spans
from dashboard.traces.flame import flame_graph
from dashboard.traces.proxy import redundant_proxy_spans
from dashboard.traces.results import describe
from dashboard.traces.statistics import TAG_PREFIX, tag_keys, trace_statistics
from dashboard.traces.tree import build_tree
from dashboard.traces.waterfall import waterfall_rows
from layouts.text import visible
from queries.duration import prometheus_duration
from queries.errors import ConfigError, SourceError
from queries.http import Reply
from queries.istio.load import from_manifests, load_directory
from queries.prometheus import instant_result, mesh_telemetry
from queries.telemetry import REQUEST_LABELS
from queries.traces import jaeger_v1, otlp, zipkin
from queries.traces.export import read_export, read_text
from tests.support.telemetry import bookinfo_ejection

FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
RULES = resolve({}, {})

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=6,
)


def maybe(good: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly a right value, one time in ten any JSON value at all."""
    # Hypothesis favours the ends of a range: the swap is a value in its middle.
    return st.integers(0, 9).flatmap(lambda dice: json_values if dice == 5 else good)


def strict_json(document: Any) -> None:
    json.dumps(document, allow_nan=False)


# --- Prometheus' instant vectors ---------------------------------------------

sample_texts = st.sampled_from(["1", "0", "2.5", "NaN", "+Inf", "-Inf", "-3", "1e400", "abc", ""])
label_values = st.text(max_size=10) | st.sampled_from(
    ["source", "unknown", "200", "503", "UH", "+Inf", "0.5"]
)
series = st.fixed_dictionaries(
    {
        "metric": maybe(
            st.dictionaries(st.sampled_from(REQUEST_LABELS + ["le", "stat"]), maybe(label_values))
        ),
        "value": maybe(st.tuples(maybe(st.floats(0, 2e9)), maybe(sample_texts)).map(list)),
    }
)
answers = st.fixed_dictionaries(
    {
        "status": maybe(st.just("success")),
        "data": maybe(
            st.fixed_dictionaries(
                {"resultType": maybe(st.just("vector")), "result": maybe(st.lists(series, max_size=6))}
            )
        ),
    }
)


def _body(answer: Any) -> bytes:
    return json.dumps(answer).encode()


@FUZZ
@given(st.one_of(answers.map(_body), st.binary(max_size=64)), st.sampled_from([200, 400, 422, 503]))
@example(  # a sample that is an object: the careful path passes it on, to be no number
    body=b'{"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": {}}]}}',
    status=200,
)
@example(  # a label value of null, which the frames once took in
    body=b'{"status": "success", "data": {"resultType": "vector", "result": '
    b'[{"metric": {"source_workload": null}, "value": [0.0, "1"]}]}}',
    status=200,
)
def test_prometheus_answers_end_in_a_graph_or_one_line(body: bytes, status: int) -> None:
    try:
        result = instant_result(Reply(status, "application/json", body), "Prometheus at http://p:9090")
        # The typed reader of well-formed answers and the careful one agree.
        sent = json.loads(body)["data"]["result"]
        assert result.metrics == [series["metric"] for series in sent]
        typed = [list(sample) if isinstance(sample, tuple) else sample for sample in result.samples]
        assert typed == [series["value"] for series in sent]
        telemetry = mesh_telemetry(
            {name: result for name in ("requests", "latency", "tcp", "cluster_stats")},
            1_700_000_000.0,
            prometheus_duration("1m"),
            "Prometheus at http://p:9090",
        )
    except SourceError as error:
        assert "\n" not in str(error)
        event("refused in one line")
        return
    event(f"a graph of {len(telemetry.requests)} request series")
    for frame in (telemetry.requests, telemetry.latency, telemetry.tcp):
        values = frame.iloc[:, -1].tolist()
        assert all(math.isfinite(value) and value >= 0 for value in values)
    strict_json(snapshot_document(build_graph(telemetry, RULES)))


# --- traces: Jaeger v1 and OTLP JSON ----------------------------------------

ids = st.sampled_from(["a1", "b2", "c3", "d4", ""]) | st.text(max_size=6)
times = st.integers(min_value=-(10**19), max_value=10**19) | st.sampled_from(
    [1_764_151_200_000_000, "1764151200000000", "9007199254740993"]
)
tags = st.lists(
    st.fixed_dictionaries(
        {
            "key": maybe(
                st.sampled_from(["error", "http.status_code", "component", "span.kind", "http.url"])
            ),
            "type": maybe(st.sampled_from(["string", "bool", "int64", "float64", "binary"])),
            "value": json_values,
        }
    ),
    max_size=4,
)
v1_spans = st.lists(
    st.fixed_dictionaries(
        {
            "spanID": maybe(ids),
            "operationName": maybe(st.text(max_size=10)),
            "processID": maybe(st.sampled_from(["p1", "p2", "p9"])),
            "startTime": maybe(times),
            "duration": maybe(times),
            "references": maybe(
                st.lists(st.fixed_dictionaries({"refType": maybe(st.just("CHILD_OF")), "spanID": maybe(ids)}))
            ),
            "tags": maybe(tags),
            "logs": maybe(
                st.lists(st.fixed_dictionaries({"timestamp": maybe(times), "fields": maybe(tags)}))
            ),
            "warnings": maybe(st.none() | st.lists(st.text(max_size=8), max_size=2)),
        }
    ),
    max_size=4,
)
v1_traces = st.fixed_dictionaries(
    {
        "traceID": maybe(st.just("4bf92f3577b34da6a3ce929d0e0e4736")),
        "spans": maybe(v1_spans),
        "processes": maybe(
            st.dictionaries(
                st.sampled_from(["p1", "p2"]),
                maybe(
                    st.fixed_dictionaries({"serviceName": maybe(st.text(max_size=8)), "tags": maybe(tags)})
                ),
            )
        ),
    }
)
attributes = st.lists(
    st.fixed_dictionaries(
        {
            "key": maybe(st.sampled_from(["service.name", "http.status_code", "error", "component"])),
            "value": maybe(
                st.one_of(
                    st.fixed_dictionaries({"stringValue": maybe(st.text(max_size=8))}),
                    st.fixed_dictionaries({"intValue": maybe(times)}),
                    st.fixed_dictionaries(
                        {"arrayValue": maybe(st.fixed_dictionaries({"values": json_values}))}
                    ),
                )
            ),
        }
    ),
    max_size=3,
)
otlp_documents = st.fixed_dictionaries(
    {
        "resourceSpans": maybe(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "resource": maybe(st.fixed_dictionaries({"attributes": maybe(attributes)})),
                        "scopeSpans": maybe(
                            st.lists(
                                st.fixed_dictionaries(
                                    {
                                        "spans": maybe(
                                            st.lists(
                                                st.fixed_dictionaries(
                                                    {
                                                        "traceId": maybe(st.sampled_from(["t1", "t2"])),
                                                        "spanId": maybe(ids),
                                                        "parentSpanId": maybe(ids),
                                                        "name": maybe(st.text(max_size=8)),
                                                        "startTimeUnixNano": maybe(times),
                                                        "endTimeUnixNano": maybe(times),
                                                        "attributes": maybe(attributes),
                                                        "status": maybe(
                                                            st.fixed_dictionaries({"code": maybe(st.just(2))})
                                                        ),
                                                    }
                                                ),
                                                max_size=4,
                                            )
                                        )
                                    }
                                ),
                                max_size=2,
                            )
                        ),
                    }
                ),
                max_size=3,
            )
        )
    }
)


def analyse_all(traces: list[Any]) -> None:
    """Everything a page or the CLI does with a trace that parsed."""
    event(f"{min(len(traces), 2)}+ traces parsed, {min(sum(len(t.spans) for t in traces), 3)}+ spans")
    for trace in traces:
        tree = build_tree(trace)
        strict_json(trace_document(tree))
        find_spans(tree, "error a1")
        redundant_proxy_spans(tree)
        flame_graph(tree, waterfall_rows(tree))
        for group in ["service", "operation", *(TAG_PREFIX + key for key in tag_keys(tree)[:2])]:
            trace_statistics(tree, group)
        strict_json(diff_document(compare_traces(tree, tree)))
        describe(tree)
        for index in range(len(tree.order)):
            try:
                details_of(tree, index)
            except SourceError as error:
                assert "\n" not in str(error)


def read_or_one_line(read: Callable[[], list[Any]]) -> None:
    """What a reader makes of an input: traces, analysed as the pages do; or one line."""
    try:
        traces = read()
    except SourceError as error:
        assert "\n" not in str(error)
        return
    analyse_all(traces)


@FUZZ
@given(maybe(v1_traces))
def test_jaeger_v1_traces_parse_or_end_in_one_line(document: Any) -> None:
    read_or_one_line(lambda: [jaeger_v1.parse_trace(document, "data[0]")])


# Tempo's wrappings of the same spans: `/api/traces/<id>` (`batches`), `/api/v2/traces/<id>`
# (`trace`), and Jaeger v3's `result`.
otlp_wrapped = st.one_of(
    otlp_documents,
    otlp_documents.map(lambda document: {"batches": document["resourceSpans"]}),
    otlp_documents.map(lambda document: {"trace": document}),
    otlp_documents.map(lambda document: {"result": document}),
)


@FUZZ
@given(maybe(otlp_wrapped), st.booleans())
def test_otlp_traces_parse_or_end_in_one_line(document: Any, search: bool) -> None:
    skipped: list[str] | None = [] if search else None
    read_or_one_line(lambda: otlp.parse_traces(document, skipped=skipped))


@FUZZ
@given(json_values | st.fixed_dictionaries({"data": maybe(st.lists(maybe(v1_traces), max_size=2))}))
@example(  # a tag whose value holds an infinity, which the document's per-span tags once kept
    {
        "traceID": "4bf92f3577b34da6a3ce929d0e0e4736",
        "spans": [{"spanID": "a1", "startTime": 0, "tags": [{"key": "x", "value": [math.inf]}]}],
    }
)
def test_any_export_file_reads_or_ends_in_one_line(document: Any) -> None:
    read_or_one_line(lambda: read_export(document))


def _json_lines(documents: list[Any]) -> bytes:
    return "".join(json.dumps(document) + "\n" for document in documents).encode()


@FUZZ
@given(
    st.one_of(
        st.lists(maybe(otlp_wrapped), min_size=1, max_size=3).map(_json_lines),
        st.lists(st.sampled_from(['{"resourceSpans": []}', "{", "", "[1]", "\ufeff{}", "\x00"])).map(
            lambda lines: "\n".join(lines).encode()
        ),
        st.binary(max_size=40),
    )
)
@example(b'{"resourceSpans": []}\n' + b"[" * 100_000)  # a line nested too deeply
def test_any_trace_file_bytes_read_or_end_in_one_line(data: bytes) -> None:
    """A file's bytes as `--file` and the upload read them: one JSON document or OTLP JSON Lines."""
    read_or_one_line(lambda: read_text(data))


zipkin_endpoints = st.fixed_dictionaries(
    {},
    optional={
        "serviceName": maybe(st.text(max_size=8)),
        "ipv4": maybe(st.just("10.0.0.1")),
        "port": maybe(st.integers(0, 65535)),
    },
)
zipkin_spans = st.fixed_dictionaries(
    {"traceId": maybe(st.sampled_from(["t1", "T1", "t2"])), "id": maybe(ids)},
    optional={
        "parentId": maybe(ids),
        "name": maybe(st.text(max_size=8)),
        "kind": maybe(st.sampled_from(["CLIENT", "SERVER", "PRODUCER", "CONSUMER"])),
        "timestamp": maybe(times),
        "duration": maybe(times),
        "localEndpoint": maybe(zipkin_endpoints),
        "remoteEndpoint": maybe(zipkin_endpoints),
        "annotations": maybe(
            st.lists(st.fixed_dictionaries({"timestamp": maybe(times), "value": maybe(st.text(max_size=6))}))
        ),
        "tags": maybe(
            st.dictionaries(
                st.sampled_from(["error", "http.status_code", "component"]), maybe(st.text(max_size=6))
            )
        ),
        "shared": maybe(st.booleans()),
    },
)


@FUZZ
@given(
    st.lists(maybe(zipkin_spans), min_size=1, max_size=4)
    | st.lists(st.lists(maybe(zipkin_spans), max_size=3), min_size=1, max_size=2)
)
def test_zipkin_spans_parse_or_end_in_one_line(document: list[Any]) -> None:
    read_or_one_line(lambda: zipkin.parse_spans(document))


# --- find and hide expressions ----------------------------------------------

expression_words = st.sampled_from(
    [*find.FIELDS, *find.OPERATORS, "and", "or", "not", "(", ")", "open", "failing", "true", "v2"]
    + ["reviews", "5%", "500ms", "0.5s", "1e400", "-1", "nan", "'", '"', "\u202e", "\x00", "%", "ms"]
)
expressions = st.one_of(
    st.lists(expression_words, max_size=12).map(" ".join),
    st.lists(expression_words, max_size=12).map("".join),
    st.text(max_size=40),
)
MESH_DOCUMENT = snapshot_document(build_graph(bookinfo_ejection(), RULES))


@FUZZ
@given(expressions)
@example("(" * 40 + "rps > 1" + ")" * 40)  # nested past the parser's depth
@example("rps > 1" + " or rps > 1" * 200)  # longer than an expression may be
def test_find_and_hide_expressions_parse_or_end_in_one_line(text: str) -> None:
    """`--find`, `--hide`, `?find=`, `?hide=`: whatever is typed, an expression
    or one visible line saying what is wrong; an expression applies to any graph."""
    try:
        expression = find.parse(text)
    except find.ExpressionError as error:
        message = str(error)
        assert "\n" not in message and visible(message) == message
        return
    strict_json(find.apply(MESH_DOCUMENT, expression, expression))


# --- Istio YAML --------------------------------------------------------------

destinations = st.fixed_dictionaries(
    {
        "destination": maybe(
            st.fixed_dictionaries(
                {"host": maybe(st.sampled_from(["reviews", "reviews.default", "*"])), "subset": maybe(ids)}
            )
        ),
        "weight": maybe(st.integers(-5, 120)),
    }
)
manifests = st.fixed_dictionaries(
    {
        "apiVersion": maybe(st.just("networking.istio.io/v1")),
        "kind": maybe(st.sampled_from(["VirtualService", "DestinationRule", "List", "Service"])),
        "metadata": maybe(
            st.fixed_dictionaries({"name": maybe(st.just("reviews")), "namespace": maybe(st.just("default"))})
        ),
        "spec": maybe(
            st.fixed_dictionaries(
                {
                    "hosts": maybe(st.lists(maybe(st.just("reviews")), max_size=2)),
                    "host": maybe(st.just("reviews")),
                    "http": maybe(
                        st.lists(
                            st.fixed_dictionaries(
                                {
                                    "route": maybe(st.lists(destinations, max_size=3)),
                                    "match": maybe(st.lists(json_values, max_size=2)),
                                    "mirror": maybe(
                                        st.fixed_dictionaries({"host": maybe(st.just("reviews"))})
                                    ),
                                }
                            ),
                            max_size=2,
                        )
                    ),
                    "subsets": maybe(
                        st.lists(
                            st.fixed_dictionaries(
                                {
                                    "name": maybe(ids),
                                    "labels": maybe(st.dictionaries(st.just("version"), ids)),
                                }
                            ),
                            max_size=2,
                        )
                    ),
                }
            )
        ),
        "items": maybe(st.lists(json_values, max_size=2)),
    }
)


@FUZZ
@given(st.lists(maybe(manifests), max_size=3))
def test_istio_manifests_parse_or_end_in_one_line(documents: list[Any]) -> None:
    try:
        from_manifests(documents, "fuzz")
    except ConfigError as error:
        assert "\n" not in str(error)


def _yaml(documents: list[Any]) -> str:
    return yaml.safe_dump_all(documents)


@FUZZ
@given(st.one_of(st.lists(maybe(manifests), max_size=3).map(_yaml), st.text(max_size=80)))
def test_istio_yaml_files_parse_or_end_in_one_line(tmp_path: Path, text: str) -> None:
    (tmp_path / "config.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        load_directory(str(tmp_path))
    except ConfigError as error:
        assert "\n" not in str(error)
