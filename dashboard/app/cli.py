"""The `meshwatch` command: serve, demo, simulate, snapshot, trace, trace-diff, canary.

Each sub-command names the options it takes (declared in dashboard.app.config);
every failure a user can cause or meet ends as one line on stderr and a
non-zero exit: 2 for bad input, 1 for a data source that failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dashboard import __version__
from dashboard.app.config import Settings, add_options, bytes_of, connection_options, resolve
from queries.errors import ConfigError, SourceError

EXIT_SOURCE, EXIT_USAGE = 1, 2
# How much of a compact trace document is held in memory before it spools to a file.
SPOOL_IN_MEMORY = 64 << 20

Command = Callable[[Settings, argparse.Namespace], int]


def print_json(document: Any, pretty: bool = True) -> None:
    """The document, indented, or compact (`pretty=False`) written by orjson:
    a 100k-span trace's document in a fraction of a second rather than many."""
    if pretty:
        json.dump(document, sys.stdout, indent=2, allow_nan=False)
        sys.stdout.write("\n")
        return
    write_bytes(compact_json(document) + b"\n")


def write_bytes(data: bytes) -> None:
    """Bytes to stdout, after whatever text went before them."""
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a text stream (redirected in a test)
        sys.stdout.write(data.decode())
        return
    sys.stdout.flush()
    buffer.write(data)
    buffer.flush()


def print_trace_document(tree: Any, pretty: bool) -> None:
    """`meshwatch trace`'s document. Compact, it is written a batch of spans
    at a time through a spool (the warnings, which come before the spans, are
    known only once every span's tags are read): a million spans' tags are
    never in memory at once."""
    import tempfile

    from dashboard.traces.document import document_head, span_batches, trace_document

    if pretty:
        print_json(trace_document(tree))
        return

    warnings = list(tree.warnings)
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
        for n, batch in enumerate(span_batches(tree, warnings)):
            spool.write((b"," if n else b"") + compact_json(batch)[1:-1])
        head = compact_json(document_head(tree, warnings))
        write_bytes(head[:-1] + b',"spans":[')
        spool.seek(0)
        while chunk := spool.read(SPOOL_IN_MEMORY):
            write_bytes(chunk)
    write_bytes(b"]}\n")


def compact_json(document: Any) -> bytes:
    """Compact JSON, the same document `json.dumps` writes: orjson, or the
    standard library's C encoder for what orjson refuses (integers beyond
    64 bits, lone surrogates)."""
    import orjson

    try:
        return orjson.dumps(document, option=orjson.OPT_NON_STR_KEYS)
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(document, separators=(",", ":"), allow_nan=False).encode()


def warn(message: str) -> None:
    print(f"meshwatch: {message}", file=sys.stderr)


def cmd_snapshot(settings: Settings, args: argparse.Namespace) -> int:
    from dashboard.app.refresh import mesh_graph, routing_config
    from dashboard.app.services import prometheus_source
    from dashboard.mesh.build import missing_clusters, missing_namespaces
    from dashboard.mesh.find import apply
    from dashboard.mesh.snapshot import snapshot_document
    from layouts.topology.dot import dot_document

    at = settings.at if settings.at is not None else time.time()
    graph = mesh_graph(
        prometheus_source(settings),
        settings,
        at,
        settings.window,
        settings.namespace,
        routing_config(settings),
        settings.graph,
    )
    document = apply(snapshot_document(graph), settings.find, settings.hide)
    for warning in document["warnings"]:
        warn(warning)
    for namespace in missing_namespaces(graph, settings.namespace):
        warn(f"namespace {namespace!r} has no Istio telemetry in {_window_words(settings, at)}")
    for cluster in missing_clusters(graph, settings.cluster):
        warn(f"cluster {cluster!r} has no Istio telemetry in {_window_words(settings, at)}")
    if not settings.namespace and not settings.cluster and graph.number_of_nodes() == 0:
        warn(f"no Istio telemetry in {_window_words(settings, at)}")
    if settings.format == "dot":
        sys.stdout.write(dot_document(document))
    else:
        print_json(document)
    return 0


def _window_words(settings: Settings, at: float) -> str:
    """`the 1m window ending at 2026-11-26T10:00:00Z`, for "nothing there" lines."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
    return f"the {settings.window} window ending at {stamp} ({at:.0f})"


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from dashboard.app import create_app
    from dashboard.app.services import live_services

    return _run_app(create_app(settings, live_services(settings)), settings)


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from dashboard.app import create_app
    from dashboard.app.services import demo_services

    # One worker: the simulated mesh lives in the process that runs it.
    return _run_app(create_app(settings, demo_services(settings)), settings, workers=1)


def _listen(settings: Settings, make: Callable[[str, int], Any]) -> Any:
    """A server on --listen, or one line saying why there is none."""
    host, port = settings.listen
    try:
        return make(host, port)
    except OSError as error:
        raise SourceError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None


def _run_app(app: Any, settings: Settings, workers: int | None = None) -> int:
    """The app under gunicorn (dashboard.app.server) on --listen."""
    from dashboard.app import logs
    from dashboard.app.access import is_loopback
    from dashboard.app.server import bind_address, gunicorn_options, listening_socket, serve

    options = gunicorn_options(settings, workers)  # a bad TLS option is one line, before listening
    # gunicorn retries a taken port for seconds, then exits with its own lines:
    # bind here, so the user gets meshwatch's one line instead, and hand
    # gunicorn the socket (port 0 is then the port the system chose).
    listener = _listen(settings, listening_socket)
    host, port = settings.listen[0], listener.getsockname()[1]
    if settings.auth == "none" and not is_loopback(host):
        warn(f"--auth none on {host}: anyone who reaches port {port} sees the dashboard")
    scheme = "https" if "certfile" in options else "http"
    print(
        f"meshwatch {__version__}: dashboard on {scheme}://{bind_address(host, port)}{settings.base_path} "
        f"({options['workers']} worker{'s' if options['workers'] > 1 else ''} x {settings.threads} threads)",
        file=sys.stderr,
        flush=True,
    )
    logs.configure(settings)
    serve(app.server, settings, workers, listener)
    return 0


def cmd_simulate(settings: Settings, args: argparse.Namespace) -> int:
    from queries.simulator import Simulation
    from queries.simulator.server import make_server

    # No prelude: a Prometheus scraping it has only what it scrapes from now on.
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


def _file_traces(path: str, settings: Settings) -> list[Any]:
    """The traces with spans of a file the user named (at most --max-upload-mb):
    its problems are bad input (exit 2)."""
    from queries.traces.export import load_export

    try:
        traces = [trace for trace in load_export(path, bytes_of(settings.max_upload_mb)) if trace.spans]
    except SourceError as error:
        raise ConfigError(str(error)) from None
    if not traces:
        raise ConfigError(f"{path} holds no spans")
    return traces


def _pick(traces: list[Any], trace_id: str | None, path: str) -> Any:
    from queries.traces.export import pick_trace

    try:
        return pick_trace(traces, trace_id, path)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def _backend_trace(settings: Settings, trace_id: str) -> Any:
    """A trace from Jaeger (or Tempo): a bad id is bad input, the backend's trouble exit 1."""
    from dashboard.app.services import trace_backend
    from queries.traces.records import check_trace_id

    try:
        trace_id = check_trace_id(trace_id)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    return trace_backend(settings).trace(trace_id)


def cmd_trace(settings: Settings, args: argparse.Namespace) -> int:
    """A file the user names is input: unreadable, malformed, empty or
    ambiguous is exit 2. The backend (Jaeger, or Tempo with --tempo) is the
    source: unreachable, failing, or without the trace is exit 1."""
    from dashboard.traces.tree import build_tree

    if settings.file:
        if args.trace_argument:
            raise ConfigError("give a trace id with --trace-id when reading --file, not as an argument")
        trace = _pick(_file_traces(settings.file, settings), settings.trace_id, settings.file)
    elif args.trace_argument:
        if settings.trace_id:
            raise ConfigError(
                "--trace-id goes with --file; to fetch from Jaeger or Tempo give the id as an argument"
            )
        trace = _backend_trace(settings, args.trace_argument)
    else:
        raise ConfigError("give a TRACE_ID to fetch from Jaeger (or Tempo), or --file EXPORT.json")
    print_trace_document(build_tree(trace), settings.pretty)
    return 0


# `trace-diff`: an id of `-` takes a side's file's only trace.
ONLY_TRACE = "-"


def cmd_trace_diff(settings: Settings, args: argparse.Namespace) -> int:
    """Trace A against trace B. Each side comes from its file (--file-a,
    --file-b, or --file for both) or else the backend. Give both ids, or none
    when files hold the traces: one trace each, or two in a shared --file."""
    from dashboard.traces.compare import compare_traces, diff_document
    from dashboard.traces.tree import build_tree

    ids = args.trace_ids or []
    if len(ids) not in (0, 2):
        raise ConfigError("give two trace ids, A and B (- for the only trace of a side's file), or none")
    files = [settings.file_a or settings.file, settings.file_b or settings.file]
    if not ids:
        if None in files:
            raise ConfigError("give trace ids A and B to compare traces from Jaeger or Tempo")
        if files[0] == files[1]:
            traces = _file_traces(files[0], settings)
            if len(traces) != 2:
                raise ConfigError(
                    f"{files[0]} holds {len(traces)} trace{'s' if len(traces) != 1 else ''}; "
                    "give the ids of the two to compare"
                )
            sides = traces
        else:
            sides = [_pick(_file_traces(path, settings), None, path) for path in files]
    else:
        sides = []
        for side, trace_id, path in zip("AB", ids, files):
            if path:
                sides.append(
                    _pick(_file_traces(path, settings), None if trace_id == ONLY_TRACE else trace_id, path)
                )
            elif trace_id == ONLY_TRACE:
                raise ConfigError(f"- stands for the only trace of a file, and side {side} has no file")
            else:
                sides.append(_backend_trace(settings, trace_id))
    print_json(diff_document(compare_traces(build_tree(sides[0]), build_tree(sides[1]))), settings.pretty)
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
    # What the data left out first: it may be why the service is not there.
    for warning in releases.warnings:
        warn(warning)
    if service and not releases:
        raise SourceError(
            f"no such versioned service {service!r}: no Istio telemetry in "
            f"{_window_words(settings, at)} and no VirtualService routes it"
        )
    print_json(canary_document(releases, releases.warnings))
    return 0


@dataclass(frozen=True)
class Subcommand:
    """A sub-command: its handler, help, the options it takes (declared in
    dashboard.app.config) and any defaults of its own."""

    handler: Command
    help: str
    options: tuple[str, ...]
    defaults: dict[str, str] = field(default_factory=dict)


# Where the Prometheus and trace backend options go, the same everywhere.
PROMETHEUS = (
    "prometheus",
    "prometheus_timeout",
    "prometheus_method",
    *connection_options("prometheus"),
)
# A trace backend: Jaeger or Grafana Tempo (over the --jaeger-... connection options).
TRACES = ("jaeger", "jaeger_api", "jaeger_timeout", *connection_options("jaeger"), "tempo", "tempo_timeout")
# What the dashboards take to bound the memory traces use.
TRACE_MEMORY = ("max_upload_mb", "trace_cache_mb", "max_trace_parses", "trace_link")
# Who may see a dashboard, over what, and what it logs.
ACCESS = ("auth", "auth_htpasswd", "auth_header", "trusted_proxy", "tls_cert_file", "tls_key_file")
LOGS = ("log_format", "log_level")

COMMANDS: dict[str, Subcommand] = {
    "serve": Subcommand(
        cmd_serve,
        "run the dashboard against Prometheus and Jaeger",
        (
            *PROMETHEUS,
            *TRACES,
            "namespace",
            "cluster",
            "window",
            "ingress",
            "waypoint",
            "refresh",
            "overview_nodes",
            "listen",
            "base_path",
            "istio_config",
            "max_window",
            "max_response_mb",
            *TRACE_MEMORY,
            *ACCESS,
            "workers",
            "threads",
            "cache_url",
            *LOGS,
            "config",
        ),
    ),
    "demo": Subcommand(
        cmd_demo,
        "run the dashboard on the built-in simulated Bookinfo mesh (no cluster needed)",
        (
            "window",
            "ingress",
            "waypoint",
            "refresh",
            "overview_nodes",
            "listen",
            "base_path",
            "speed",
            "phase",
            "max_window",
            *TRACE_MEMORY,
            *ACCESS,
            "threads",
            *LOGS,
            "config",
        ),
    ),
    "simulate": Subcommand(
        cmd_simulate,
        "serve the simulated mesh's /metrics and Jaeger API for a real Prometheus",
        ("listen", "speed", "phase", "config"),
        # Beside a dashboard on its default address, not on top of it.
        {"listen": "127.0.0.1:9101"},
    ),
    "snapshot": Subcommand(
        cmd_snapshot,
        "print the service graph as JSON (or Graphviz DOT)",
        (
            *PROMETHEUS,
            "namespace",
            "cluster",
            "window",
            "at",
            "ingress",
            "waypoint",
            "istio_config",
            "graph",
            "find",
            "hide",
            "format",
            "max_window",
            "max_response_mb",
            "config",
        ),
    ),
    "trace": Subcommand(
        cmd_trace,
        "print one trace's analysis (span tree, self time, critical path) as JSON",
        (*TRACES, "file", "trace_id", "pretty", "max_response_mb", "max_upload_mb", "config"),
    ),
    "trace-diff": Subcommand(
        cmd_trace_diff,
        "compare two traces (span paths added, removed, changed; slowest differences first) as JSON",
        (*TRACES, "file", "file_a", "file_b", "pretty", "max_response_mb", "max_upload_mb", "config"),
    ),
    "canary": Subcommand(
        cmd_canary,
        "print the canary analysis of versioned services as JSON",
        (
            *PROMETHEUS,
            "namespace",
            "window",
            "at",
            "ingress",
            "waypoint",
            "istio_config",
            "service",
            "max_window",
            "max_response_mb",
            "config",
        ),
    ),
}


def _extra_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    if name == "trace":
        parser.add_argument(
            "trace_argument", nargs="?", metavar="TRACE_ID", help="trace id to fetch from Jaeger or Tempo"
        )
    elif name == "trace-diff":
        parser.add_argument(
            "trace_ids",
            nargs="*",
            metavar="A B",
            help="the two trace ids (- for the only trace of that side's file); none when files hold them",
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="meshwatch", description="Live topology, traces and canaries for Istio meshes."
    )
    parser.add_argument("--version", action="version", version=f"meshwatch {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        sub = commands.add_parser(name, help=command.help, description=command.help)
        add_options(sub, command.options, command.defaults)
        _extra_arguments(name, sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = COMMANDS[args.command]
    try:
        settings = resolve({name: getattr(args, name) for name in command.options}, defaults=command.defaults)
        return command.handler(settings, args)
    except BrokenPipeError:
        # The reader went away (`meshwatch snapshot | head`): end quietly, and
        # keep Python from complaining when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_SOURCE
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
