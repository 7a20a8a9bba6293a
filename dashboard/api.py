"""JSON API routes on the dashboard's Flask server.

`/api/graph` serves exactly the document `meshwatch snapshot` prints;
`/readyz` says whether the data sources answer (`/healthz`, from Dash, only
says the process is up).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request

from dashboard.config import ConfigError, Settings, instant, namespace, window
from dashboard.services import Services
from queries.telemetry import SourceError


def error_response(message: str, status: int) -> Any:
    response = jsonify({"error": message})
    response.status_code = status
    return response


def graph_request(settings: Settings, services: Services) -> tuple[float, str, list[str]]:
    """(at, window, namespaces) from the query string, validated like the CLI's."""
    at_text = request.args.get("at")
    return (
        instant(at_text) if at_text else services.clock(),
        window(request.args.get("window", settings.window)),
        [namespace(ns) for ns in request.args.getlist("namespace")] or list(settings.namespace),
    )


def register(server: Flask, services: Services, settings: Settings) -> None:
    from dashboard.refresh import mesh_graph
    from dashboard.snapshot import snapshot_document

    # The API serves the CLI's documents: keep their field order.
    server.json.sort_keys = False

    @server.errorhandler(ConfigError)
    def bad_request(error: ConfigError) -> Any:
        return error_response(str(error), 400)

    @server.errorhandler(SourceError)
    def source_failed(error: SourceError) -> Any:
        return error_response(str(error), 502)

    @server.route("/api/graph")
    def api_graph() -> Any:
        at, rate_window, namespaces = graph_request(settings, services)
        graph = mesh_graph(services.telemetry, settings, at, rate_window, namespaces)
        return jsonify(snapshot_document(graph))

    @server.route("/readyz")
    def readyz() -> Any:
        try:
            # Not a mesh refresh: a probe every few seconds must stay cheap.
            services.telemetry.check()
        except SourceError as error:
            return error_response(str(error), 503)
        return jsonify({"status": "ready"})
