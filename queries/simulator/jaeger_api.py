"""Jaeger's query API v1 over the simulated traces, answered as Jaeger's
query service answers it (cmd/query/app/http_handler.go and query_parser.go,
with the in-memory span store's search semantics).

Envelope `{"data", "total", "limit", "offset", "errors"}`; errors are that
JSON with `Content-Type: text/plain` (Go's http.Error) and a trailing
newline: 400 for a bad parameter, 404 for a missing trace; an unknown path
is gorilla/mux's plain `404 page not found`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from queries.duration import go_duration_seconds
from queries.simulator.traces import TraceQuery, TraceStore, trace_id_hex, trace_json

JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
DEFAULT_LIMIT = 100
SEARCH_LOOKBACK = 48 * 3600.0
DEPENDENCIES_LOOKBACK_MS = 24 * 3600 * 1000

Answer = tuple[int, str, bytes]


class BadRequest(ValueError):
    """A parameter Jaeger would refuse with 400; the message is Jaeger's."""


def _envelope(data: Any, total: int = 0, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"data": data, "total": total, "limit": 0, "offset": 0, "errors": errors or None}


def _ok(document: dict[str, Any], params: Mapping[str, Any]) -> Answer:
    pretty = _first(params, "prettyPrint").lower() in ("1", "t", "true")
    body = json.dumps(
        document, indent=4 if pretty else None, separators=None if pretty else (",", ":"), ensure_ascii=False
    )
    return 200, JSON, body.encode()


def _error(status: int, message: str) -> Answer:
    document = {
        "data": None,
        "total": 0,
        "limit": 0,
        "offset": 0,
        "errors": [{"code": status, "msg": message}],
    }
    return status, TEXT, (json.dumps(document, separators=(",", ":")) + "\n").encode()


def _values(params: Mapping[str, Any], name: str) -> list[str]:
    value = params.get(name)
    if value is None:
        return []
    return [str(item) for item in value] if isinstance(value, (list, tuple)) else [str(value)]


def _first(params: Mapping[str, Any], name: str) -> str:
    values = _values(params, name)
    return values[0] if values else ""


def _parse_int(text: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", text):
        raise BadRequest(f'strconv.ParseInt: parsing "{text}": invalid syntax')
    return int(text)


def _time_param(params: Mapping[str, Any], name: str, unit: float, default: float) -> float:
    text = _first(params, name)
    if not text:
        return default
    try:
        return _parse_int(text) * unit
    except BadRequest as error:
        raise BadRequest(f"unable to parse param '{name}': {error}") from None


def _duration_param(params: Mapping[str, Any], name: str) -> float | None:
    text = _first(params, name)
    if not text:
        return None
    try:
        return go_duration_seconds(text)
    except ValueError as error:
        raise BadRequest(f"unable to parse param '{name}': {error}") from None


def parse_trace_id(text: str) -> int:
    """model.TraceIDFromString: up to 32 hex digits."""
    if len(text) > 32:
        raise BadRequest(f"TraceID cannot be longer than 32 hex characters: {text}")
    for part in (text[:-16], text[-16:]):
        if part and not re.fullmatch(r"[0-9a-fA-F]+", part):
            raise BadRequest(f'strconv.ParseUint: parsing "{part}": invalid syntax')
    return int(text, 16) if text else 0


def _tags(params: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    tags: dict[str, str] = {}
    for tag in _values(params, "tag"):
        key, separator, value = tag.partition(":")
        if not separator:
            raise BadRequest(f"malformed 'tag' parameter, expecting key:value, received: {tag}")
        tags[key] = value
    for text in _values(params, "tags"):
        try:
            parsed = json.loads(text)
        except ValueError as error:
            raise BadRequest(f"malformed 'tags' parameter, cannot unmarshal JSON: {error}") from None
        if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
            raise BadRequest(
                "malformed 'tags' parameter, cannot unmarshal JSON: "
                "json: cannot unmarshal into Go value of type map[string]string"
            )
        tags.update(parsed)
    return tuple(sorted(tags.items()))


def _search(store: TraceStore, now: float, params: Mapping[str, Any]) -> Answer:
    start = _time_param(params, "start", 1e-6, now - SEARCH_LOOKBACK)
    end = _time_param(params, "end", 1e-6, now)
    tags = _tags(params)
    limit_text = _first(params, "limit")
    limit = _parse_int(limit_text) if limit_text else DEFAULT_LIMIT
    low, high = _duration_param(params, "minDuration"), _duration_param(params, "maxDuration")
    trace_ids = []
    for text in _values(params, "traceID"):
        try:
            trace_ids.append(parse_trace_id(text))
        except BadRequest as error:
            raise BadRequest(f"cannot parse traceID param: {error}") from None
    service = _first(params, "service")
    if not trace_ids and not service:
        raise BadRequest("parameter 'service' is required")
    if low and high and high < low:
        raise BadRequest("'maxDuration' should be greater than 'minDuration'")
    if trace_ids:
        found, errors = [], []
        for trace_id in trace_ids:
            trace = store.get(trace_id)
            if trace is None:
                errors.append({"msg": "trace not found", "traceID": trace_id_hex(trace_id)})
            else:
                found.append(trace)
        return _ok(_envelope([trace_json(t) for t in found], errors=errors), params)
    query = TraceQuery(
        service=service,
        operation=_first(params, "operation"),
        tags=tags,
        start_min=start,
        start_max=end,
        duration_min=low or None,
        duration_max=high or None,
        limit=max(limit, 0),
    )
    return _ok(_envelope([trace_json(trace) for trace in store.find(query)]), params)


def _dependencies(store: TraceStore, now: float, params: Mapping[str, Any]) -> Answer:
    end = _time_param(params, "endTs", 1e-3, now)
    lookback_text = _first(params, "lookback")
    try:
        lookback = (_parse_int(lookback_text) if lookback_text else DEPENDENCIES_LOOKBACK_MS) / 1000.0
    except BadRequest as error:
        raise BadRequest(f"unable to parse param 'lookback': {error}") from None
    service = _first(params, "service")
    links = [
        {"parent": parent, "child": child, "callCount": count}
        for parent, child, count in store.dependencies(end - lookback, end)
        if not service or service in (parent, child)
    ]
    return _ok(_envelope(links), params)


def answer(store: TraceStore, now: float, path: str, params: Mapping[str, Any]) -> Answer:
    """Route one GET of Jaeger's API v1 (`path` starts with `/api/`)."""
    parts = path.split("/")
    try:
        if parts[:2] != ["", "api"]:
            return 404, TEXT, b"404 page not found\n"
        route = parts[2:]
        if route == ["services"]:
            services = store.services()
            return _ok(_envelope(services, len(services)), params)
        if len(route) == 3 and route[0] == "services" and route[2] == "operations":
            names = sorted({name for name, _ in store.operations(unquote(route[1]))})
            return _ok(_envelope(names, len(names)), params)
        if route == ["operations"]:
            service = _first(params, "service")
            if not service:
                raise BadRequest("parameter 'service' is required")
            operations = [
                {"name": name, "spanKind": kind}
                for name, kind in store.operations(service, _first(params, "spanKind"))
            ]
            return _ok(_envelope(operations, len(operations)), params)
        if route == ["traces"]:
            return _search(store, now, params)
        if len(route) == 2 and route[0] == "traces" and route[1]:
            trace = store.get(parse_trace_id(unquote(route[1])))
            if trace is None:
                return _error(404, "trace not found")
            return _ok(_envelope([trace_json(trace)]), params)
        if route == ["dependencies"]:
            return _dependencies(store, now, params)
    except BadRequest as error:
        return _error(400, str(error))
    return 404, TEXT, b"404 page not found\n"
