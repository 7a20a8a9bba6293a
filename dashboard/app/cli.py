"""The `meshwatch` command: serve, demo, simulate, snapshot, trace, canary.

Each sub-command names the options it takes (declared in dashboard.app.config);
every failure a user can cause or meet ends as one line on stderr and a
non-zero exit: 2 for bad input, 1 for a data source that failed.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from dashboard import __version__
from dashboard.app.config import Settings, add_options, bytes_of, resolve
from queries.errors import ConfigError, SourceError

EXIT_SOURCE, EXIT_USAGE = 1, 2

Command = Callable[[Settings, argparse.Namespace], int]


def print_json(document: Any) -> None:
    json.dump(document, sys.stdout, indent=2, allow_nan=False)
    sys.stdout.write("\n")


def warn(message: str) -> None:
    print(f"meshwatch: {message}", file=sys.stderr)


def cmd_snapshot(settings: Settings, args: argparse.Namespace) -> int:
    from dashboard.app.refresh import mesh_graph
    from dashboard.app.services import prometheus_source
    from dashboard.mesh.build import missing_namespaces
    from dashboard.mesh.snapshot import snapshot_document

    at = settings.at if settings.at is not None else time.time()
    graph = mesh_graph(prometheus_source(settings), settings, at, settings.window, settings.namespace)
    document = snapshot_document(graph)
    for warning in document["warnings"]:
        warn(warning)
    for namespace in missing_namespaces(graph, settings.namespace):
        warn(
            f"namespace {namespace!r} has no Istio telemetry in the {settings.window} window "
            f"ending at {at:.0f}"
        )
    print_json(document)
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from dashboard.app import create_app
    from dashboard.app.services import live_services

    return _run_app(create_app(settings, live_services(settings)), settings)


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from dashboard.app import create_app
    from dashboard.app.services import demo_services

    return _run_app(create_app(settings, demo_services(settings)), settings)


def _listen(settings: Settings, make: Callable[[str, int], Any]) -> Any:
    """A server on --listen, or one line saying why there is none."""
    host, port = settings.listen
    try:
        return make(host, port)
    except OSError as error:
        raise SourceError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None


def _run_app(app: Any, settings: Settings) -> int:
    from werkzeug.serving import make_server

    def make(host: str, port: int) -> Any:
        # Werkzeug prints its own lines and exits when the port is taken:
        # bind once first so the user gets meshwatch's one line instead.
        with socket.create_server((host, port)):
            pass
        return make_server(host, port, app.server, threaded=True)

    server = _listen(settings, make)
    print(
        f"meshwatch {__version__}: dashboard on http://{settings.listen[0]}:{server.server_port}/",
        file=sys.stderr,
    )
    server.serve_forever()
    return 0


def cmd_simulate(settings: Settings, args: argparse.Namespace) -> int:
    from queries.simulator import Simulation
    from queries.simulator.server import make_server

    simulation = Simulation(speed=settings.speed, phase=settings.phase)
    server = _listen(settings, lambda host, port: make_server(simulation, host, port))
    host, port = settings.listen
    held = f"holding phase {settings.phase}" if settings.phase else "replaying the story"
    print(
        f"meshwatch {__version__}: simulated Bookinfo mesh ({held}, speed {settings.speed:g}) "
        f"on http://{host}:{port}/metrics and /api (Jaeger); clock starts at {simulation.start:.3f}",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


def cmd_trace(settings: Settings, args: argparse.Namespace) -> int:
    """A file the user names is input: unreadable, malformed, empty or
    ambiguous is exit 2. Jaeger is the source: unreachable, failing, or
    without the trace is exit 1."""
    from dashboard.app.services import jaeger_client
    from dashboard.traces.document import trace_document
    from dashboard.traces.tree import build_tree
    from queries.jaeger import check_trace_id
    from queries.traces.export import load_export, pick_trace

    if settings.file:
        if args.trace_argument:
            raise ConfigError("give a trace id with --trace-id when reading --file, not as an argument")
        try:
            traces = load_export(settings.file, bytes_of(settings.max_upload_mb))
            trace = pick_trace(traces, settings.trace_id, settings.file)
        except (SourceError, ValueError) as error:
            raise ConfigError(str(error)) from None
    elif args.trace_argument:
        if settings.trace_id:
            raise ConfigError("--trace-id goes with --file; to fetch from Jaeger give the id as an argument")
        try:
            trace_id = check_trace_id(args.trace_argument)
        except ValueError as error:
            raise ConfigError(str(error)) from None
        trace = jaeger_client(settings).trace(trace_id)
    else:
        raise ConfigError("give a TRACE_ID to fetch from Jaeger, or --file EXPORT.json")
    print_json(trace_document(build_tree(trace)))
    return 0


def cmd_canary(settings: Settings, args: argparse.Namespace) -> int:
    from dashboard.app.refresh import release_view, routing_config
    from dashboard.app.services import prometheus_source
    from dashboard.canary.document import canary_document

    service = settings.service
    config = routing_config(settings)
    at = settings.at if settings.at is not None else time.time()
    releases = release_view(
        prometheus_source(settings), config, settings, at, settings.window, settings.namespace, service
    )
    if service and not releases:
        warn(
            f"service {service!r} has no Istio telemetry in the {settings.window} window ending at {at:.0f} "
            "and no VirtualService"
        )
    for warning in releases.warnings:
        warn(warning)
    print_json(canary_document(releases, releases.warnings))
    return 0


# What the one-shot documents (snapshot, canary) are asked with.
PROMETHEUS_VIEW = ["prometheus", "prometheus_timeout", "namespace", "window", "at", "ingress"]
# What the dashboards take to bound the memory traces use.
TRACE_MEMORY = ["max_upload_mb", "trace_cache_mb", "max_trace_parses", "trace_link"]
# Sub-command -> (handler, help, options it takes); the trace id argument in _extra_arguments.
COMMANDS: dict[str, tuple[Command, str, list[str]]] = {
    "serve": (
        cmd_serve,
        "run the dashboard against Prometheus and Jaeger",
        [
            "prometheus",
            "prometheus_timeout",
            "jaeger",
            "jaeger_api",
            "jaeger_timeout",
            "namespace",
            "window",
            "ingress",
            "refresh",
            "listen",
            "base_path",
            "istio_config",
            "max_window",
            "max_response_mb",
            *TRACE_MEMORY,
            "config",
        ],
    ),
    "demo": (
        cmd_demo,
        "run the dashboard on the built-in simulated Bookinfo mesh (no cluster needed)",
        [
            "window",
            "ingress",
            "refresh",
            "listen",
            "base_path",
            "speed",
            "phase",
            "max_window",
            *TRACE_MEMORY,
            "config",
        ],
    ),
    "simulate": (
        cmd_simulate,
        "serve the simulated mesh's /metrics and Jaeger API for a real Prometheus",
        ["listen", "speed", "phase", "config"],
    ),
    "snapshot": (
        cmd_snapshot,
        "print the service graph as JSON",
        [*PROMETHEUS_VIEW, "max_window", "max_response_mb", "config"],
    ),
    "trace": (
        cmd_trace,
        "print one trace's analysis (span tree, self time, critical path) as JSON",
        [
            "jaeger",
            "jaeger_api",
            "jaeger_timeout",
            "file",
            "trace_id",
            "max_response_mb",
            "max_upload_mb",
            "config",
        ],
    ),
    "canary": (
        cmd_canary,
        "print the canary analysis of versioned services as JSON",
        [*PROMETHEUS_VIEW, "istio_config", "service", "max_window", "max_response_mb", "config"],
    ),
}


def _extra_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    if name == "trace":
        parser.add_argument(
            "trace_argument", nargs="?", metavar="TRACE_ID", help="trace id to fetch from Jaeger"
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="meshwatch", description="Live topology, traces and canaries for Istio meshes."
    )
    parser.add_argument("--version", action="version", version=f"meshwatch {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, help_text, options) in COMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        add_options(sub, options)
        _extra_arguments(name, sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler, _, options = COMMANDS[args.command]
    try:
        settings = resolve({name: getattr(args, name) for name in options})
        return handler(settings, args)
    except ConfigError as error:
        warn(str(error))
        return EXIT_USAGE
    except SourceError as error:
        warn(str(error))
        return EXIT_SOURCE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
