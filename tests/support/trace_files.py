"""The fake Jaeger's Bookinfo traces in the other formats traces arrive in:
Zipkin v2 JSON as Envoy's Zipkin tracer reports it, OTLP JSON Lines as the
OpenTelemetry Collector's file exporter writes it, and Grafana Tempo's
protobuf JSON (base64 ids, enum names, `batches`). Only the formats' own
fields; nothing invented."""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.support.jaeger import to_otlp

_OTLP_KINDS = {1: "SPAN_KIND_INTERNAL", 2: "SPAN_KIND_SERVER", 3: "SPAN_KIND_CLIENT", 4: "SPAN_KIND_PRODUCER"}
_OTLP_KINDS[5] = "SPAN_KIND_CONSUMER"


def to_zipkin(trace: dict[str, Any]) -> list[dict[str, Any]]:
    """A v1 trace as the list of Zipkin v2 spans Envoy posts to /api/v2/spans."""
    spans = []
    for span in trace["spans"]:
        process = trace["processes"][span["processID"]]
        tags = {t["key"]: t["value"] for t in span["tags"]}
        kind = tags.pop("span.kind", None)
        tags.pop("internal.span.format", None)
        ip = next((t["value"] for t in process["tags"] if t["key"] == "ip"), None)
        zipkin = {
            "traceId": span["traceID"],
            "id": span["spanID"],
            "name": span["operationName"],
            "timestamp": span["startTime"],
            "duration": span["duration"],
            "localEndpoint": {"serviceName": process["serviceName"], "ipv4": ip},
            # Zipkin tags are strings; Envoy writes booleans as "true".
            "tags": {k: ("true" if v is True else str(v)) for k, v in tags.items()},
        }
        if kind:
            zipkin["kind"] = kind.upper()
        if span["references"]:
            zipkin["parentId"] = span["references"][0]["spanID"]
        if span["logs"]:
            zipkin["annotations"] = [
                {"timestamp": log["timestamp"], "value": log["fields"][0]["value"]} for log in span["logs"]
            ]
        spans.append(zipkin)
    return spans


def to_otlp_lines(traces: list[dict[str, Any]]) -> str:
    """The traces as a Collector file exporter's JSON Lines: one TracesData
    per line, here one per resource, so each trace is spread over lines."""
    resources = to_otlp(traces)["result"]["resourceSpans"]
    return "".join(json.dumps({"resourceSpans": [resource]}) + "\n" for resource in resources)


def _b64(hex_id: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_id)).decode()


def to_tempo_batches(traces: list[dict[str, Any]]) -> dict[str, Any]:
    """What Tempo's `GET /api/traces/<id>` sends: protobuf JSON under `batches`,
    ids in base64, kinds and status codes by enum name, uint64 as strings."""
    batches = to_otlp(traces)["result"]["resourceSpans"]
    for batch in batches:
        for scope in batch["scopeSpans"]:
            for span in scope["spans"]:
                span["traceId"] = _b64(span["traceId"])
                span["spanId"] = _b64(span["spanId"])
                if "parentSpanId" in span:
                    span["parentSpanId"] = _b64(span["parentSpanId"])
                span["kind"] = _OTLP_KINDS.get(span["kind"], "SPAN_KIND_UNSPECIFIED")
                if span["status"].get("code") == 2:
                    span["status"] = {"code": "STATUS_CODE_ERROR"}
    return {"batches": batches}
