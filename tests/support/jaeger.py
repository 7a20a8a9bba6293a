"""A local HTTP server answering like Jaeger's query service, for client tests.

It serves hand-written Bookinfo traces as Istio's Envoy sidecars report them
(Zipkin spans as Jaeger stores them), in the exact wire format of the v1 API
(`/api/...`, the `{"data", "total", "limit", "offset", "errors"}` envelope)
or of the v3 API (OTLP JSON under `{"result": ...}`), with Jaeger's quirks:
null warnings, int64 beyond 2^53 as strings, string status codes, binary
tags, errors as JSON sent with `Content-Type: text/plain`, and v3's 404
"No traces found" for an empty search.
"""

from __future__ import annotations

import copy
import json
import random
import time
from collections import deque
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from tests.support import wire

T0 = 1_764_151_200_000_000  # 2025-11-26T10:00:00Z in µs
TRACE_OK = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACE_503 = "0af7651916cd43dd8448eb211c80319c"
BIG_INT = "9007199254740993"  # 2^53 + 1: Jaeger sends it as a string


def _envoy_tags(
    kind: str,
    service: str,
    revision: str,
    pod_ip: str,
    pod: str,
    url: str,
    cluster: str,
    status: str,
    flags: str = "-",
    request_id: str = "3c6a1f0e-8f6b-9a4e-b8c2-5d8e0f6a7b21",
    error: bool = False,
    response_size: str = "5289",
) -> list[dict[str, Any]]:
    tags = [
        {
            "key": "node_id",
            "type": "string",
            "value": f"sidecar~{pod_ip}~{pod}.default~default.svc.cluster.local",
        },
        {"key": "zone", "type": "string", "value": ""},
        {"key": "guid:x-request-id", "type": "string", "value": request_id},
        {"key": "http.url", "type": "string", "value": url},
        {"key": "http.method", "type": "string", "value": "GET"},
        {"key": "downstream_cluster", "type": "string", "value": "-"},
        {
            "key": "user_agent",
            "type": "string",
            "value": "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/133.0",
        },
        {"key": "http.protocol", "type": "string", "value": "HTTP/1.1"},
        {"key": "peer.address", "type": "string", "value": "10.244.0.1"},
        {"key": "request_size", "type": "string", "value": "0"},
        {"key": "response_size", "type": "string", "value": response_size},
        {"key": "component", "type": "string", "value": "proxy"},
        {"key": "upstream_cluster", "type": "string", "value": cluster},
        {"key": "upstream_cluster.name", "type": "string", "value": cluster},
        {"key": "http.status_code", "type": "string", "value": status},
        {"key": "response_flags", "type": "string", "value": flags},
        {"key": "istio.canonical_revision", "type": "string", "value": revision},
        {"key": "istio.canonical_service", "type": "string", "value": service},
        {"key": "istio.mesh_id", "type": "string", "value": "cluster.local"},
        {"key": "istio.namespace", "type": "string", "value": "default"},
        {"key": "span.kind", "type": "string", "value": kind},
        {"key": "internal.span.format", "type": "string", "value": "zipkin"},
    ]
    if error:
        tags.append({"key": "error", "type": "bool", "value": True})
    return tags


def _span(
    trace_id: str,
    span_id: str,
    parent: str | None,
    operation: str,
    start: int,
    duration: int,
    process: str,
    tags: list[dict[str, Any]],
    **extra: Any,
) -> dict[str, Any]:
    return {
        "traceID": trace_id,
        "spanID": span_id,
        "operationName": operation,
        "references": [{"refType": "CHILD_OF", "traceID": trace_id, "spanID": parent}] if parent else [],
        "startTime": T0 + start,
        "duration": duration,
        "tags": tags,
        "logs": extra.pop("logs", []),
        "processID": process,
        "warnings": extra.pop("warnings", None),
        **extra,
    }


def _processes() -> dict[str, dict[str, Any]]:
    names = [
        "istio-ingressgateway.istio-system",
        "productpage.default",
        "details.default",
        "reviews.default",
        "ratings.default",
    ]
    ips = ["10.244.0.5", "10.244.0.12", "10.244.0.14", "10.244.0.17", "10.244.0.21"]
    return {
        f"p{i + 1}": {"serviceName": name, "tags": [{"key": "ip", "type": "string", "value": ip}]}
        for i, (name, ip) in enumerate(zip(names, ips))
    }


def bookinfo_trace() -> dict[str, Any]:
    """productpage through the gateway, calling details and reviews-v2 -> ratings; all 200."""
    t = TRACE_OK
    pp, det, rev, rat = (
        "productpage.default.svc.cluster.local:9080/productpage",
        "details.default.svc.cluster.local:9080/*",
        "reviews.default.svc.cluster.local:9080/*",
        "ratings.default.svc.cluster.local:9080/*",
    )
    gw_tags = _envoy_tags(
        "client",
        "istio-ingressgateway",
        "latest",
        "10.244.0.5",
        "istio-ingressgateway-6bd9f7cb9-7tqkp",
        "http://bookinfo.example.com/productpage",
        "outbound|9080||productpage.default.svc.cluster.local",
        "200",
    )
    gw_tags[0]["value"] = (
        "router~10.244.0.5~istio-ingressgateway-6bd9f7cb9-7tqkp.istio-system~istio-system.svc.cluster.local"
    )
    pp_server = _envoy_tags(
        "server",
        "productpage",
        "v1",
        "10.244.0.12",
        "productpage-v1-5b4c8d9f7-x2x9z",
        "http://bookinfo.example.com/productpage",
        "inbound|9080||",
        "200",
    )
    pp_server.append({"key": "request.id.int", "type": "int64", "value": BIG_INT})
    pp_server.append({"key": "tls.session", "type": "binary", "value": "AAECAwQ="})
    pp_server.append({"key": "sample.ratio", "type": "float64", "value": 0.01})
    return {
        "traceID": t,
        "spans": [
            _span(t, "a3ce929d0e0e4736", None, pp, 0, 48_000, "p1", gw_tags),
            _span(
                t,
                "00f067aa0ba902b7",
                "a3ce929d0e0e4736",
                pp,
                1_000,
                46_000,
                "p2",
                pp_server,
                logs=[
                    {
                        "timestamp": T0 + 2_000,
                        "fields": [
                            {"key": "event", "type": "string", "value": "upstream request headers sent"}
                        ],
                    }
                ],
            ),
            _span(
                t,
                "53995c3f42cd8ad8",
                "00f067aa0ba902b7",
                det,
                3_000,
                6_000,
                "p2",
                _envoy_tags(
                    "client",
                    "productpage",
                    "v1",
                    "10.244.0.12",
                    "productpage-v1-5b4c8d9f7-x2x9z",
                    "http://details:9080/details/0",
                    "outbound|9080||details.default.svc.cluster.local",
                    "200",
                    response_size="178",
                ),
            ),
            _span(
                t,
                "d4cda95b652f4a15",
                "53995c3f42cd8ad8",
                det,
                3_500,
                5_000,
                "p3",
                _envoy_tags(
                    "server",
                    "details",
                    "v1",
                    "10.244.0.14",
                    "details-v1-65cfcf56f9-4dvb9",
                    "http://details:9080/details/0",
                    "inbound|9080||",
                    "200",
                    response_size="178",
                ),
            ),
            _span(
                t,
                "9a1b2c3d4e5f6071",
                "00f067aa0ba902b7",
                rev,
                10_000,
                35_000,
                "p2",
                _envoy_tags(
                    "client",
                    "productpage",
                    "v1",
                    "10.244.0.12",
                    "productpage-v1-5b4c8d9f7-x2x9z",
                    "http://reviews:9080/reviews/0",
                    "outbound|9080||reviews.default.svc.cluster.local",
                    "200",
                    response_size="358",
                ),
            ),
            _span(
                t,
                "1f2e3d4c5b6a7988",
                "9a1b2c3d4e5f6071",
                rev,
                10_500,
                34_000,
                "p4",
                _envoy_tags(
                    "server",
                    "reviews",
                    "v2",
                    "10.244.0.17",
                    "reviews-v2-7d79d5bd5d-8zwnp",
                    "http://reviews:9080/reviews/0",
                    "inbound|9080||",
                    "200",
                    response_size="358",
                ),
            ),
            _span(
                t,
                "7b8c9daebfc0d1e2",
                "1f2e3d4c5b6a7988",
                rat,
                12_000,
                28_000,
                "p4",
                _envoy_tags(
                    "client",
                    "reviews",
                    "v2",
                    "10.244.0.17",
                    "reviews-v2-7d79d5bd5d-8zwnp",
                    "http://ratings:9080/ratings/0",
                    "outbound|9080||ratings.default.svc.cluster.local",
                    "200",
                    response_size="48",
                ),
            ),
            _span(
                t,
                "e2f30415263748a9",
                "7b8c9daebfc0d1e2",
                rat,
                12_500,
                27_000,
                "p5",
                _envoy_tags(
                    "server",
                    "ratings",
                    "v1",
                    "10.244.0.21",
                    "ratings-v1-85c74b6cb4-2bwlf",
                    "http://ratings:9080/ratings/0",
                    "inbound|9080||",
                    "200",
                    response_size="48",
                ),
            ),
        ],
        "processes": _processes(),
        "warnings": None,
    }


def circuit_open_trace() -> dict[str, Any]:
    """reviews' call to ratings refused by the circuit breaker: 503 UO, no server span."""
    t = TRACE_503
    pp, rev, rat = (
        "productpage.default.svc.cluster.local:9080/productpage",
        "reviews.default.svc.cluster.local:9080/*",
        "ratings.default.svc.cluster.local:9080/*",
    )
    return {
        "traceID": t,
        "spans": [
            _span(
                t,
                "b7ad6b7169203331",
                None,
                pp,
                100_000,
                20_000,
                "p2",
                _envoy_tags(
                    "server",
                    "productpage",
                    "v1",
                    "10.244.0.12",
                    "productpage-v1-5b4c8d9f7-x2x9z",
                    "http://productpage:9080/productpage",
                    "inbound|9080||",
                    "200",
                    request_id="9f1c2e3d-0a4b-4c5d-8e6f-7a8b9c0d1e2f",
                ),
            ),
            _span(
                t,
                "c1d2e3f405162738",
                "b7ad6b7169203331",
                rev,
                101_000,
                18_000,
                "p2",
                _envoy_tags(
                    "client",
                    "productpage",
                    "v1",
                    "10.244.0.12",
                    "productpage-v1-5b4c8d9f7-x2x9z",
                    "http://reviews:9080/reviews/0",
                    "outbound|9080||reviews.default.svc.cluster.local",
                    "200",
                ),
            ),
            _span(
                t,
                "2a3b4c5d6e7f8091",
                "c1d2e3f405162738",
                rev,
                101_400,
                17_000,
                "p4",
                _envoy_tags(
                    "server",
                    "reviews",
                    "v3",
                    "10.244.0.18",
                    "reviews-v3-84779c7bbc-pqz6d",
                    "http://reviews:9080/reviews/0",
                    "inbound|9080||",
                    "200",
                ),
            ),
            _span(
                t,
                "3b4c5d6e7f809102",
                "2a3b4c5d6e7f8091",
                rat,
                102_000,
                300,
                "p4",
                _envoy_tags(
                    "client",
                    "reviews",
                    "v3",
                    "10.244.0.18",
                    "reviews-v3-84779c7bbc-pqz6d",
                    "http://ratings:9080/ratings/0",
                    "outbound|9080||ratings.default.svc.cluster.local",
                    "503",
                    flags="UO",
                    error=True,
                    response_size="81",
                ),
                warnings=["clock skew adjustment disabled; not applying calculated delta of -32µs"],
            ),
        ],
        "processes": {k: v for k, v in _processes().items() if k in ("p2", "p4")},
        "warnings": None,
    }


def v1_envelope(data: Any, errors: Any = None) -> dict[str, Any]:
    return {
        "data": data,
        "total": len(data) if isinstance(data, list) else 0,
        "limit": 0,
        "offset": 0,
        "errors": errors,
    }


# --- a huge trace, for the trace page's staged loading and bench/bench_trace.py ---

BATCH_SERVICES = [
    "productpage",
    "reviews",
    "ratings",
    "details",
    "cart",
    "checkout",
    "payment",
    "shipping",
    "inventory",
    "search",
    "users",
    "auth",
    "catalog",
    "pricing",
    "mail",
    "ads",
]


def _batch_tags(
    kind: str, service: str, callee: str, status: str, rng: random.Random
) -> list[dict[str, Any]]:
    cluster = f"outbound|9080||{callee}.default.svc.cluster.local" if kind == "client" else "inbound|9080||"
    return [
        {
            "key": "node_id",
            "type": "string",
            "value": f"sidecar~10.244.{rng.randrange(256)}.{rng.randrange(256)}~{service}-v1-5b4c8d9f7-x2x9z"
            ".default~default.svc.cluster.local",
        },
        {"key": "zone", "type": "string", "value": ""},
        {"key": "guid:x-request-id", "type": "string", "value": "3c6a1f0e-8f6b-9a4e-b8c2-5d8e0f6a7b21"},
        {
            "key": "http.url",
            "type": "string",
            "value": f"http://{callee}:9080/api/v1/items/{rng.randrange(10000)}",
        },
        {"key": "http.method", "type": "string", "value": "GET"},
        {"key": "downstream_cluster", "type": "string", "value": "-"},
        {"key": "user_agent", "type": "string", "value": "python-requests/2.32.3"},
        {"key": "http.protocol", "type": "string", "value": "HTTP/1.1"},
        {
            "key": "peer.address",
            "type": "string",
            "value": f"10.244.{rng.randrange(256)}.{rng.randrange(256)}",
        },
        {"key": "request_size", "type": "string", "value": "0"},
        {"key": "response_size", "type": "string", "value": str(rng.randrange(50, 9000))},
        {"key": "component", "type": "string", "value": "proxy"},
        {"key": "upstream_cluster", "type": "string", "value": cluster},
        {"key": "upstream_cluster.name", "type": "string", "value": cluster},
        {"key": "http.status_code", "type": "string", "value": status},
        {"key": "response_flags", "type": "string", "value": "-" if status == "200" else "UO"},
        {"key": "istio.canonical_revision", "type": "string", "value": "v1"},
        {"key": "istio.canonical_service", "type": "string", "value": service},
        {"key": "istio.mesh_id", "type": "string", "value": "cluster.local"},
        {"key": "istio.namespace", "type": "string", "value": "default"},
        {"key": "span.kind", "type": "string", "value": kind},
        {"key": "internal.span.format", "type": "string", "value": "zipkin"},
    ]


def batch_processes() -> dict[str, dict[str, Any]]:
    return {
        f"p{i}": {
            "serviceName": f"{name}.default",
            "tags": [{"key": "ip", "type": "string", "value": f"10.244.0.{i}"}],
        }
        for i, name in enumerate(BATCH_SERVICES)
    }


def batch_spans(trace_id: str, spans: int, seed: int = 1) -> Iterator[dict[str, Any]]:
    """The spans of a huge Istio trace as Jaeger's v1 API holds them (every
    hop a client span from the caller's sidecar and a server span from the
    callee's, with Envoy's tags): a batch job's root fanning out, breadth
    first, to `spans` spans; one at a time, so a million need not be in memory."""
    rng = random.Random(seed)

    def span(parent: str | None, op: str, start: int, duration: int, pid: str, tags: list) -> dict[str, Any]:
        return {
            "traceID": trace_id,
            "spanID": f"{rng.getrandbits(64):016x}",
            "operationName": op,
            "references": [{"refType": "CHILD_OF", "traceID": trace_id, "spanID": parent}] if parent else [],
            "startTime": T0 + start,
            "duration": duration,
            "tags": tags,
            "logs": [],
            "processID": pid,
            "warnings": None,
        }

    root = span(
        None,
        "productpage.default.svc.cluster.local:9080/batch",
        0,
        600_000_000,
        "p0",
        _batch_tags("server", "productpage", "productpage", "200", rng),
    )
    yield root
    made = 1
    # (server span id, service index, start, duration) of the hops still to fan out.
    frontier = deque([(root["spanID"], 0, 0, 600_000_000)])
    while made < spans and frontier:
        parent, service, start, duration = frontier.popleft()
        for _ in range(rng.randint(2, 6)):
            if made + 2 > spans:
                break
            callee = rng.randrange(len(BATCH_SERVICES))
            offset = rng.randrange(max(1, duration // 2))
            length = max(2, rng.randrange(max(2, duration - offset)))
            status = "503" if rng.random() < 0.01 else "200"
            op = f"{BATCH_SERVICES[callee]}.default.svc.cluster.local:9080/*"
            client = span(
                parent,
                op,
                start + offset,
                length,
                f"p{service}",
                _batch_tags("client", BATCH_SERVICES[service], BATCH_SERVICES[callee], status, rng),
            )
            server = span(
                client["spanID"],
                op,
                start + offset + 1,
                length - 2,
                f"p{callee}",
                _batch_tags("server", BATCH_SERVICES[callee], BATCH_SERVICES[callee], status, rng),
            )
            yield client
            yield server
            made += 2
            frontier.append((server["spanID"], callee, start + offset + 1, length - 2))


def batch_trace(spans: int, seed: int = 1) -> dict[str, Any]:
    """A huge trace (batch_spans) as one v1 trace object."""
    trace_id = f"{random.Random(seed).getrandbits(128):032x}"
    return {
        "traceID": trace_id,
        "spans": list(batch_spans(trace_id, spans, seed)),
        "processes": batch_processes(),
        "warnings": None,
    }


# --- the same traces as Jaeger's v3 API returns them (OTLP JSON) ---

_KINDS = {"internal": 1, "server": 2, "client": 3, "producer": 4, "consumer": 5}


def _otlp_value(tag: dict[str, Any]) -> dict[str, Any]:
    kind, value = tag["type"], tag["value"]
    if kind == "bool":
        return {"boolValue": value}
    if kind == "int64":
        return {"intValue": str(value)}  # protobuf JSON writes int64 as a string
    if kind == "float64":
        return {"doubleValue": value}
    if kind == "binary":
        return {"bytesValue": value}
    return {"stringValue": value}


def to_otlp(traces: list[dict[str, Any]]) -> dict[str, Any]:
    """What `/api/v3/traces` sends for these traces: one resourceSpans per
    process, span.kind and error moved into `kind` and `status`."""
    resources: dict[str, dict[str, Any]] = {}
    for trace in traces:
        for span in trace["spans"]:
            process = trace["processes"][span["processID"]]
            resource = resources.setdefault(
                process["serviceName"],
                {
                    "resource": {
                        "attributes": [
                            {"key": "service.name", "value": {"stringValue": process["serviceName"]}}
                        ]
                        + [{"key": t["key"], "value": _otlp_value(t)} for t in process["tags"]]
                    },
                    "scopeSpans": [{"scope": {"name": "zipkin"}, "spans": []}],
                },
            )
            tags = {t["key"]: t for t in span["tags"]}
            error = tags.get("error", {}).get("value") is True
            otlp = {
                "traceId": span["traceID"],
                "spanId": span["spanID"],
                "name": span["operationName"],
                "kind": _KINDS.get(tags.get("span.kind", {}).get("value", ""), 0),
                "startTimeUnixNano": str(span["startTime"] * 1000),
                "endTimeUnixNano": str((span["startTime"] + span["duration"]) * 1000),
                "attributes": [
                    {"key": t["key"], "value": _otlp_value(t)}
                    for t in span["tags"]
                    if t["key"] not in ("span.kind", "error")
                ],
                "events": [
                    {"timeUnixNano": str(log["timestamp"] * 1000), "name": log["fields"][0]["value"]}
                    for log in span["logs"]
                ],
                "status": {"code": 2} if error else {},
            }
            if span["references"]:
                otlp["parentSpanId"] = span["references"][0]["spanID"]
            resource["scopeSpans"][0]["spans"].append(otlp)
    return {"result": {"resourceSpans": list(resources.values())}}


TEXT_PLAIN = "text/plain; charset=utf-8"
JSON = "application/json"


class FakeJaeger:
    """Routes for one API flavour: "v1", "v3" (v1 search removed, as in
    Jaeger main) or a `broken` mode that sends bad bodies."""

    def __init__(self, api: str = "v1") -> None:
        self.api = api
        self.traces = [bookinfo_trace(), circuit_open_trace()]
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        self.delay_s = 0.0
        self.server: ThreadingHTTPServer | None = None

    # Each route returns (status, content type, body bytes).
    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, str, bytes]:
        self.requests.append((path, query))
        if self.delay_s:
            time.sleep(self.delay_s)  # a slow Jaeger, for the client's timeout
        if path.startswith("/api/v3/"):
            return self._v3(path, query) if self.api == "v3" else (404, TEXT_PLAIN, b"404 page not found\n")
        if path == "/api/dependencies":
            return (
                200,
                JSON,
                json.dumps(
                    v1_envelope(
                        [
                            {"parent": "productpage.default", "child": "reviews.default", "callCount": 1204},
                            {"parent": "reviews.default", "child": "ratings.default", "callCount": 802},
                        ]
                    )
                ).encode(),
            )
        if path.startswith("/api/traces/"):
            return self._v1_trace(path.rsplit("/", 1)[1])
        if self.api == "v3":
            return 404, TEXT_PLAIN, b"404 page not found\n"
        return self._v1(path, query)

    def _matching(
        self, service: str, query: dict[str, list[str]], tags: dict[str, str]
    ) -> list[dict[str, Any]]:
        found = []
        for trace in self.traces:
            names = {trace["processes"][s["processID"]]["serviceName"] for s in trace["spans"]}
            if service not in names:
                continue
            if tags and not any(
                all(
                    any(t["key"] == k and str(t["value"]).lower() == v.lower() for t in s["tags"])
                    for k, v in tags.items()
                )
                for s in trace["spans"]
            ):
                continue
            found.append(copy.deepcopy(trace))
        return found

    def _v1(self, path: str, query: dict[str, list[str]]) -> tuple[int, str, bytes]:
        if path == "/api/services":
            names = sorted({p["serviceName"] for t in self.traces for p in t["processes"].values()})
            return 200, JSON, json.dumps(v1_envelope(names)).encode()
        if path.startswith("/api/services/") and path.endswith("/operations"):
            service = unquote(path[len("/api/services/") : -len("/operations")])
            ops = sorted(
                {
                    s["operationName"]
                    for t in self.traces
                    for s in t["spans"]
                    if t["processes"][s["processID"]]["serviceName"] == service
                }
            )
            return 200, JSON, json.dumps(v1_envelope(ops or None)).encode()
        if path == "/api/traces":
            if "service" not in query:
                body = v1_envelope(None, [{"code": 400, "msg": "parameter 'service' is required"}])
                return 400, TEXT_PLAIN, json.dumps(body).encode()
            for key in ("start", "end", "limit"):
                if key in query and not query[key][0].isdigit():
                    body = v1_envelope(None, [{"code": 400, "msg": f"unable to parse param '{key}'"}])
                    return 400, TEXT_PLAIN, json.dumps(body).encode()
            tags = json.loads(query["tags"][0]) if "tags" in query else {}
            traces = self._matching(query["service"][0], query, tags)
            return 200, JSON, json.dumps(v1_envelope(traces)).encode()
        return 404, TEXT_PLAIN, b"404 page not found\n"

    def _v1_trace(self, trace_id: str) -> tuple[int, str, bytes]:
        for trace in self.traces:
            if trace["traceID"].lstrip("0") == trace_id.lower().lstrip("0"):
                return 200, JSON, json.dumps(v1_envelope([trace])).encode()
        body = v1_envelope(None, [{"code": 404, "msg": "trace not found"}])
        return 404, TEXT_PLAIN, json.dumps(body).encode()

    def _v3(self, path: str, query: dict[str, list[str]]) -> tuple[int, str, bytes]:
        if path == "/api/v3/services":
            names = sorted({p["serviceName"] for t in self.traces for p in t["processes"].values()})
            return 200, JSON, json.dumps({"services": names}).encode()
        if path == "/api/v3/operations":
            service = query.get("service", [""])[0]
            ops = sorted(
                {
                    (s["operationName"], next(t["value"] for t in s["tags"] if t["key"] == "span.kind"))
                    for t in self.traces
                    for s in t["spans"]
                    if t["processes"][s["processID"]]["serviceName"] == service
                }
            )
            return (
                200,
                JSON,
                json.dumps({"operations": [{"name": n, "spanKind": k} for n, k in ops]}).encode(),
            )
        if path == "/api/v3/traces":
            if "query.start_time_min" not in query or "query.start_time_max" not in query:
                return _v3_error(400, "query.start_time_min and query.start_time_max are required")
            traces = self._matching(query.get("query.service_name", [""])[0], query, {})
            if not traces:
                return _v3_error(404, "No traces found")
            return 200, JSON, json.dumps(to_otlp(traces)).encode()
        trace_id = path.rsplit("/", 1)[1]
        traces = [t for t in self.traces if t["traceID"] == trace_id.lower()]
        if not traces:
            return _v3_error(404, "trace not found")
        return 200, JSON, json.dumps(to_otlp(traces)).encode()

    # --- serving ---

    def start(self) -> str:
        self.server = wire.serve(self.answer, base_path="/jaeger")
        return f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        wire.stop(self.server)


def _v3_error(status: int, message: str) -> tuple[int, str, bytes]:
    return (
        status,
        TEXT_PLAIN,
        (json.dumps({"error": {"httpCode": status, "message": message}}) + "\n").encode(),
    )
