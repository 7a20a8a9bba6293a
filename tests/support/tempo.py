"""A local HTTP server answering like Grafana Tempo's query frontend, for
client and page tests: the fake Jaeger's Bookinfo traces served in Tempo's
exact wire format.

- `GET /api/search?q=<TraceQL>&start=&end=&limit=`: `{"traces": [...], "metrics": {...}}`,
  each trace `{traceID (hex, leading zeros dropped), rootServiceName,
  rootTraceName, startTimeUnixNano (a string: uint64), durationMs, spanSet,
  spanSets}`; the TraceQL understood is one spanset of comparisons joined by
  `&&`/`||` with parentheses, typed as Tempo types them (`.a = 503` does not
  match the string "503"); anything else is a 400 with a text body.
- `GET /api/traces/<id>`: `{"batches": [...]}` protobuf JSON (base64 ids,
  enum names); 404 `trace not found` as text.
- `GET /api/v2/search/tag/<tag>/values[?q=]`: `{"tagValues": [{"type", "value"}], "metrics": {...}}`.
- `GET /api/echo`: `echo`.
"""

from __future__ import annotations

import json
import re
import time
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from queries.duration import go_duration_seconds
from tests.support import wire
from tests.support.jaeger import bookinfo_trace, circuit_open_trace, to_otlp
from tests.support.trace_files import to_tempo_batches

TEXT_PLAIN = "text/plain; charset=utf-8"
JSON = "application/json"
_TOKEN = re.compile(
    r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<op>&&|\|\||>=|<=|!=|=|>|<|\(|\)|\{|\})'
    r"|(?P<duration>\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))(?![\w.])|(?P<number>-?\d+(?:\.\d+)?)(?![\w.])"
    r"|(?P<word>[A-Za-z_.][\w.:/-]*))"
)


class TraceQLError(ValueError):
    pass


def _tokens(text: str) -> list[tuple[str, Any]]:
    tokens, at = [], 0
    while at < len(text.rstrip()):
        match = _TOKEN.match(text, at)
        if not match:
            raise TraceQLError(f"parse error at col {at + 1}: syntax error")
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "string":
            value = json.loads(value)
        elif kind == "number":
            value = float(value) if "." in value else int(value)
        elif kind == "duration":
            value = go_duration_seconds(value.replace("µs", "us"))
        elif kind == "word" and value in ("true", "false"):
            kind, value = "bool", value == "true"
        tokens.append((kind, value))
        at = match.end()
    return tokens


def parse_traceql(text: str) -> Any:
    """One spanset `{ ... }` as a nested ("and"|"or", a, b) / ("cmp", field, op, value) tree."""
    tokens = _tokens(text)
    position = 0

    def take(expected: str | None = None) -> tuple[str, Any]:
        nonlocal position
        if position >= len(tokens) or (expected and tokens[position][1] != expected):
            raise TraceQLError(f"parse error: expected {expected or 'more'}")
        position += 1
        return tokens[position - 1]

    def peek() -> Any:
        return tokens[position][1] if position < len(tokens) else None

    def expression(operator: str = "||") -> Any:
        left = expression("&&") if operator == "||" else term()
        while peek() == operator:
            take(operator)
            right = expression("&&") if operator == "||" else term()
            left = ("or" if operator == "||" else "and", left, right)
        return left

    def term() -> Any:
        if peek() == "(":
            take("(")
            inner = expression()
            take(")")
            return inner
        kind, field = take()
        if kind != "word":
            raise TraceQLError("parse error: expected an attribute")
        op = take()[1]
        if op not in ("=", "!=", ">=", "<=", ">", "<"):
            raise TraceQLError(f"parse error: unknown operator {op}")
        return ("cmp", field, op, take()[1])

    take("{")
    tree = expression()
    take("}")
    if position != len(tokens):
        raise TraceQLError("parse error: only one spanset is understood here")
    return tree


def _typed(value: dict[str, Any]) -> Any:
    if "stringValue" in value:
        return value["stringValue"]
    if "boolValue" in value:
        return value["boolValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    return None


def _field(span: dict[str, Any], resource: dict[str, Any], name: str) -> Any:
    if name == "name":
        return span["name"]
    if name == "duration":
        return (int(span["endTimeUnixNano"]) - int(span["startTimeUnixNano"])) / 1e9
    scope, _, key = name.partition(".")
    span_attrs = {a["key"]: _typed(a["value"]) for a in span.get("attributes", [])}
    resource_attrs = {a["key"]: _typed(a["value"]) for a in resource.get("attributes", [])}
    if scope == "span":
        return span_attrs.get(key)
    if scope == "resource":
        return resource_attrs.get(key)
    if scope == "":
        return span_attrs.get(key, resource_attrs.get(key))
    raise TraceQLError(f"parse error: unknown attribute {name}")


def _same_type(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str)
    return True


def matches(tree: Any, span: dict[str, Any], resource: dict[str, Any]) -> bool:
    if tree[0] == "and":
        return matches(tree[1], span, resource) and matches(tree[2], span, resource)
    if tree[0] == "or":
        return matches(tree[1], span, resource) or matches(tree[2], span, resource)
    _, name, op, literal = tree
    value = _field(span, resource, name)
    if value is None or not _same_type(value, literal):
        return False
    return {
        "=": value == literal,
        "!=": value != literal,
        ">=": value >= literal,
        "<=": value <= literal,
        ">": value > literal,
        "<": value < literal,
    }[op]


class FakeTempo:
    def __init__(self) -> None:
        self.traces = [bookinfo_trace(), circuit_open_trace()]
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        self.delay_s = 0.0
        self.server: ThreadingHTTPServer | None = None

    def _resources(self) -> list[dict[str, Any]]:
        return to_otlp(self.traces)["result"]["resourceSpans"]

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, str, bytes]:
        self.requests.append((path, query))
        if self.delay_s:
            time.sleep(self.delay_s)  # a slow Tempo, for the client's timeout
        if path == "/api/echo":
            return 200, TEXT_PLAIN, b"echo"
        if path == "/api/search":
            return self._search(query)
        if path.startswith("/api/traces/"):
            return self._trace(path.rsplit("/", 1)[1])
        if path.startswith("/api/v2/search/tag/") and path.endswith("/values"):
            return self._tag_values(unquote(path[len("/api/v2/search/tag/") : -len("/values")]), query)
        return 404, TEXT_PLAIN, b"404 page not found\n"

    def _spans(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        return [
            (span, resource["resource"])
            for resource in self._resources()
            for scope in resource["scopeSpans"]
            for span in scope["spans"]
        ]

    def _tag_values(self, tag: str, query: dict[str, list[str]]) -> tuple[int, str, bytes]:
        try:
            spanset = parse_traceql(query["q"][0]) if query.get("q") else None
        except TraceQLError as error:
            return 400, TEXT_PLAIN, str(error).encode()
        values = set()
        for span, resource in self._spans():
            if spanset is not None and not matches(spanset, span, resource):
                continue
            value = _field(span, resource, tag if tag == "name" or "." in tag[1:] else "." + tag)
            if value is not None:
                values.add(value)
        tag_values = [{"type": "string", "value": value} for value in sorted(values)]
        return (
            200,
            JSON,
            json.dumps({"tagValues": tag_values, "metrics": {"inspectedBytes": "4096"}}).encode(),
        )

    def _search(self, query: dict[str, list[str]]) -> tuple[int, str, bytes]:
        try:
            spanset = parse_traceql(query.get("q", ["{}"])[0])
        except TraceQLError as error:
            return 400, TEXT_PLAIN, str(error).encode()
        start = int(query["start"][0]) * 10**9 if "start" in query else 0
        end = int(query["end"][0]) * 10**9 if "end" in query else 2**63
        limit = int(query.get("limit", ["20"])[0])
        found = []
        for trace in self.traces:
            spans = [
                (span, resource)
                for span, resource in self._spans()
                if span["traceId"] == trace["traceID"] and matches(spanset, span, resource)
            ]
            all_spans = [s for s, _ in self._spans() if s["traceId"] == trace["traceID"]]
            root_start = min(int(s["startTimeUnixNano"]) for s in all_spans)
            if not spans or not start <= root_start <= end:
                continue
            root, root_resource = min(
                (
                    (s, r)
                    for s, r in self._spans()
                    if s["traceId"] == trace["traceID"] and "parentSpanId" not in s
                ),
                key=lambda pair: int(pair[0]["startTimeUnixNano"]),
            )
            root_end = max(int(s["endTimeUnixNano"]) for s in all_spans)
            spanset_json = {
                "spans": [
                    {
                        "spanID": span["spanId"],
                        "name": span["name"],
                        "startTimeUnixNano": span["startTimeUnixNano"],
                        "durationNanos": str(int(span["endTimeUnixNano"]) - int(span["startTimeUnixNano"])),
                    }
                    for span, _ in spans[:3]
                ],
                "matched": len(spans),
            }
            found.append(
                {
                    "traceID": trace["traceID"].lstrip("0"),
                    "rootServiceName": _field(root, root_resource, "resource.service.name"),
                    "rootTraceName": root["name"],
                    "startTimeUnixNano": str(root_start),
                    "durationMs": (root_end - root_start) // 10**6,
                    "spanSet": spanset_json,
                    "spanSets": [spanset_json],
                }
            )
        body = {
            "traces": found[:limit],
            "metrics": {"inspectedBytes": "292781", "completedJobs": 1, "totalJobs": 1},
        }
        return 200, JSON, json.dumps(body).encode()

    def _trace(self, trace_id: str) -> tuple[int, str, bytes]:
        for trace in self.traces:
            if trace["traceID"].lstrip("0") == trace_id.lower().lstrip("0"):
                return 200, JSON, json.dumps(to_tempo_batches([trace])).encode()
        return 404, TEXT_PLAIN, b"trace not found"

    def start(self) -> str:
        self.server = wire.serve(self.answer)
        return f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        wire.stop(self.server)
