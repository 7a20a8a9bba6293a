"""The JSON API and the probes: one Flask blueprint, one argument parser,
one error helper.

`/api/graph`, `/api/canary`, `/api/trace/<id>` and `/api/compare/<a>/<b>`
serve exactly the documents `meshwatch snapshot|canary|trace|trace-diff`
print (`/api/graph` takes `graph`, `find`, `hide` and `cluster` as `snapshot`
takes `--graph`, `--find`, `--hide` and `--cluster`); bad input answers 400, a
failing data source 502, too much in flight (busy, retry) 503, an unknown trace
or path 404, each as `{"error": "..."}`.
`/healthz` says the process serves, `/readyz` that it can serve pages (a
backend outage leaves stale views worth serving), `/api/status` how each
backend last answered, `/metrics` meshwatch's own metrics.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from dashboard.app import config
from dashboard.app.flight import Busy, InFlight
from dashboard.app.refresh import longest_refresh, routing_config, slow_text
from dashboard.app.runtime import Runtime, current
from dashboard.app.trace_cache import ParsesBusy, TraceNotInMemory
from dashboard.app.views import graph_view, live_moment, releases_view
from dashboard.canary.document import canary_document
from dashboard.mesh.find import apply
from dashboard.mesh.snapshot import snapshot_document
from dashboard.traces.compare import compare_traces, diff_document
from dashboard.traces.document import trace_document
from queries.duration import Duration
from queries.errors import ConfigError, SourceError, TraceNotFound
from queries.traces.records import check_trace_id

api = Blueprint("meshwatch_api", __name__)


def error_response(message: str, status: int) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    return response


@dataclass(frozen=True)
class ViewArguments:
    """What a view is asked for in the query string, validated like the CLI's options."""

    at: float
    window: Duration
    namespaces: tuple[str, ...]
    service: str | None
    # No `at` asked for: the present, aligned (dashboard.app.views.live_moment).
    live: bool
    clusters: tuple[str, ...] = ()


def view_arguments(runtime: Runtime) -> ViewArguments:
    args = request.args
    return ViewArguments(
        at=config.instant(args["at"]) if args.get("at") else live_moment(runtime),
        window=runtime.settings.rate_window(args["window"]) if "window" in args else runtime.settings.window,
        namespaces=tuple(config.namespace(ns) for ns in args.getlist("namespace"))
        or runtime.settings.namespace,
        service=config.service(args["service"]) if args.get("service") else None,
        clusters=tuple(config.cluster_name(c) for c in args.getlist("cluster")) or runtime.settings.cluster,
        live=not args.get("at"),
    )


@api.errorhandler(ConfigError)
def bad_request(error: ConfigError) -> Response:
    return error_response(str(error), 400)


@api.errorhandler(Busy)
@api.errorhandler(ParsesBusy)
def busy(error: SourceError) -> Response:
    """Too much in flight already: retry, not a failing backend."""
    response = error_response(str(error), 503)
    response.headers["Retry-After"] = "5"
    return response


@api.errorhandler(TraceNotFound)
@api.errorhandler(TraceNotInMemory)
def not_found(error: SourceError) -> Response:
    return error_response(str(error), 404)


@api.errorhandler(SourceError)
def source_failed(error: SourceError) -> Response:
    return error_response(str(error), 502)


def landed(runtime: Runtime, view: Any) -> Any:
    """A view waited for in full; one still in flight then is a source too slow."""
    if isinstance(view, InFlight):
        raise SourceError(slow_text(runtime.services.telemetry.name, view.elapsed) + "; retry")
    return view


def _argument(name: str, parse: Any, default: Any) -> Any:
    """A query parameter parsed like its option; a bad one names the parameter."""
    if name not in request.args:
        return default
    try:
        return parse(request.args[name])
    except ConfigError as error:
        raise ConfigError(f"{name}: {error}") from None


@api.route("/api/graph")
def graph() -> Response:
    runtime = current()
    view = view_arguments(runtime)
    settings = runtime.settings
    graph_type = _argument("graph", config.graph_type, settings.graph)
    find = _argument("find", config.expression, settings.find)
    hide = _argument("hide", config.expression, settings.hide)
    wait = longest_refresh(settings)
    drawn = landed(
        runtime,
        graph_view(
            runtime, view.at, view.window, view.namespaces, graph_type, wait, view.live, view.clusters
        ),
    )
    return jsonify(apply(snapshot_document(drawn), find, hide))


@api.route("/api/canary")
def canary() -> Response:
    runtime = current()
    view = view_arguments(runtime)
    routing = routing_config(runtime.settings, runtime.services)
    wait = longest_refresh(runtime.settings)
    releases = landed(
        runtime,
        releases_view(runtime, view.at, view.window, view.namespaces, view.service, routing, wait, view.live),
    )
    return jsonify(canary_document(releases, releases.warnings))


def requested_trace_id(trace_id: str) -> str:
    try:
        return check_trace_id(trace_id)
    except ValueError as error:
        raise ConfigError(str(error)) from None


@api.route("/api/trace/<trace_id>")
def trace(trace_id: str) -> Response:
    return jsonify(trace_document(current().traces.load(requested_trace_id(trace_id))))


@api.route("/api/compare/<a>/<b>")
def compare(a: str, b: str) -> Response:
    traces = current().traces
    first, second = (traces.load(requested_trace_id(trace_id)) for trace_id in (a, b))
    return jsonify(diff_document(compare_traces(first, second)))


@api.route("/api/", defaults={"rest": ""})
@api.route("/api/<path:rest>")
def unknown(rest: str) -> Response:
    return error_response(
        f"no API at /api/{rest}: try /api/graph, /api/canary, /api/trace/<id> or /api/compare/<a>/<b>", 404
    )


@api.route("/api/status")
def status() -> Response:
    """How each backend last answered; asked afresh when nothing asked it
    within the refresh interval (one check in flight however many ask)."""
    runtime = current()
    runtime.flights.run(("api/status",), lambda: check_backends(runtime), longest_refresh(runtime.settings))
    return jsonify(runtime.backends.document())


def check_backends(runtime: Runtime) -> None:
    """A cheap question to each backend not heard from within the refresh interval."""
    services = runtime.services
    questions = [(services.telemetry, "check")]
    if services.traces is not None:
        questions.append((services.traces, "services"))
    recent = time.time() - runtime.settings.refresh
    for source, question in questions:
        checked = runtime.backends.state(source.backend_key, source.backend_name).checked
        if checked is not None and checked >= recent:
            continue
        try:
            getattr(source, question)()
        except SourceError:
            pass  # noted by the watch: the document says why


@api.route("/healthz")
def healthz() -> Any:
    return Response("OK", mimetype="text/plain")


@api.route("/readyz")
def readyz() -> Response:
    """Ready while this process can serve pages: a backend outage leaves the
    last good views (marked stale) worth serving, so it never takes a
    replica out of its Service; /api/status says how the backends are."""
    return jsonify({"status": "ready"})


@api.route("/metrics")
def prometheus_metrics() -> Response:
    return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)
