"""The live topology page (`/`, also `/topology`).

`?namespace=a&namespace=b&window=5m&trace=ID` make a view someone can share.
Polling state lives in the browser's stores (positions, open-circuit times,
last good refresh), so any worker can answer any poll. A failed refresh
leaves the drawn graph alone and raises the stale banner; the next good one
clears it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import dash
from dash import Dash, Input, Output, State, ctx, html, no_update

from dashboard.app import config
from dashboard.app.config import window_choices
from dashboard.app.flight import InFlight
from dashboard.app.refresh import (
    longest_refresh,
    mesh_graph,
    poll_wait,
    release_view,
    routing_config,
    slow_text,
    stale_text,
)
from dashboard.app.runtime import Runtime, current
from dashboard.format import clock_text
from dashboard.mesh.build import missing_namespaces
from dashboard.mesh.snapshot import snapshot_document
from layouts.canary import service_summary
from layouts.links import page_href
from layouts.text import visible
from layouts.topology import graph as view
from layouts.topology import page as topology_page
from layouts.topology.panel import edge_details, node_details
from queries.errors import ConfigError, SourceError


def _listed(value: Any) -> list[str]:
    """A query parameter given once, several times, or not at all."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def layout(namespace: Any = None, window: Any = None, trace: Any = None, **_: Any) -> html.Div:
    """The page as the address asks for it. A bad namespace or window is
    drawn as given: the first refresh refuses it in the banner, saying why."""
    settings = current().settings
    namespaces = _listed(namespace) or list(settings.namespace)
    chosen = _listed(window)[-1] if window else str(settings.window)
    return topology_page.page(
        sorted(namespaces),
        namespaces,
        window_choices(chosen),
        chosen,
        settings.refresh,
        settings.health,
        _listed(trace)[-1] if trace else None,
    )


def trace_overlay(runtime: Runtime, trace_id: str | None) -> tuple[list[list[Any]], str]:
    """The service hops of a trace to overlay, and a line saying what is shown."""
    if not trace_id:
        return [], ""
    if runtime.services.traces is None:
        return [], f"Cannot show trace {trace_id}: no Jaeger configured (--jaeger URL)"
    from dashboard.traces.hops import trace_hops

    try:
        hops = trace_hops(runtime.traces.load(trace_id))
    except SourceError as error:
        return [], f"Cannot show trace {trace_id}: {error}"
    failed = [hop for hop in hops if hop.error]
    note = f"Showing the path of trace {trace_id} ({len(hops)} hops) in blue"
    if failed:
        note += "; failed: " + ", ".join(f"{hop.caller} → {hop.callee}" for hop in failed) + " (red)"
    hops_drawn = [[hop.caller, hop.caller_version, hop.callee, hop.callee_version, hop.error] for hop in hops]
    return hops_drawn, visible(note)


@dataclass
class TopologyView:
    """What one refresh puts on screen; `elements` None keeps the drawn graph."""

    elements: list[dict] | None
    banner: str | None
    banner_kind: str
    status: str
    positions: dict[str, Any]
    circuits: dict[str, float]
    last_good: float | None
    namespaces: list[str] = field(default_factory=list)


def refresh_topology(
    runtime: Runtime,
    namespaces: list[str],
    window: str,
    show_idle: bool,
    positions: dict,
    circuits: dict,
    last_good: float | None,
    known_namespaces: list[str],
    hops: list[list[str]] = (),
    wait: float | None = None,
) -> TopologyView:
    """One poll: query, build the graph, and lay it out where it was before.
    The refresh is the view's one in flight; after `wait` seconds (default:
    the whole refresh) the poll leaves the graph as drawn and says so."""
    services, settings = runtime.services, runtime.settings
    stale = TopologyView(None, None, "stale", "", positions, circuits, last_good, known_namespaces)
    try:
        namespaces = [config.namespace(ns) for ns in namespaces]
        rate_window = settings.rate_window(window)

        def fetch() -> tuple[float, Any]:
            at = services.clock()
            return at, mesh_graph(services.telemetry, settings, at, rate_window, namespaces)

        key = ("topology", tuple(sorted(namespaces)), str(rate_window))
        landed = runtime.flights.run(key, fetch, longest_refresh(settings) if wait is None else wait)
    except (SourceError, ConfigError) as error:
        stale.banner = stale_text(last_good, error)
        return stale
    if isinstance(landed, InFlight):
        stale.banner = slow_text(services.telemetry.name, landed.elapsed)
        return stale
    at, graph = landed
    document = snapshot_document(graph)
    now = time.time()
    placed = view.place(document["nodes"], document["edges"], positions)
    positions = {**positions, **{k: list(v) for k, v in placed.items()}}
    circuits = track_open_circuits(document, circuits, at)
    seen = {node["namespace"] for node in document["nodes"] if node["namespace"] != "unknown"}
    missing = missing_namespaces(graph, namespaces)
    notes = list(document["warnings"])
    if missing:
        notes.append(
            "No Istio telemetry in the window for namespace " + ", ".join(repr(ns) for ns in missing)
        )
    banner = "; ".join(notes) or None
    shown = len([e for e in document["edges"] if show_idle or e["health"] != "idle"])
    status = (
        f"updated {clock_text(now)} · {len(document['nodes'])} nodes · {shown} edges"
        f" ({len(document['edges']) - shown} idle hidden) · window {rate_window}"
        f" · {services.telemetry.queries_per_refresh or 'simulated, no'} PromQL queries"
    )
    return TopologyView(
        elements=view.elements(document, positions, show_idle, circuits, hops),
        banner=banner,
        banner_kind="info",
        status=status,
        positions=positions,
        circuits=circuits,
        last_good=now,
        namespaces=sorted(seen | set(known_namespaces) | set(namespaces)),
    )


def track_open_circuits(
    document: Mapping[str, Any], since: Mapping[str, float], now: float
) -> dict[str, float]:
    """When each currently open circuit was first seen open (closed ones drop out)."""
    return {edge["id"]: since.get(edge["id"], now) for edge in document["edges"] if edge["circuit"] == "open"}


def traces_link(data: Mapping[str, Any]) -> str | None:
    """The traces page, searching the Jaeger service whose spans show this
    node or edge; for an edge with errors, its failed requests first."""
    if data.get("kind") == "unknown":
        return None
    return page_href(
        "/traces",
        {"service": data["traces_service"], "tags": "error=true" if data.get("error_ratio") else None},
    )


def register(app: Dash, runtime: Runtime) -> None:
    dash.register_page(__name__, path="/", title="meshwatch · topology", layout=layout)
    dash.register_page(f"{__name__}.alias", path="/topology", title="meshwatch · topology", layout=layout)
    services, settings = runtime.services, runtime.settings

    @app.callback(
        Output("topology-graph", "elements"),
        Output("topology-banner", "children"),
        Output("topology-banner", "hidden"),
        Output("topology-banner", "className"),
        Output("topology-body", "className"),
        Output("topology-status", "children"),
        Output("topology-positions", "data"),
        Output("topology-circuits", "data"),
        Output("topology-last-good", "data"),
        Output("topology-namespaces", "options"),
        Input("topology-tick", "n_intervals"),
        Input("topology-namespaces", "value"),
        Input("topology-window", "value"),
        Input("topology-show-idle", "value"),
        Input("topology-trace-hops", "data"),
        State("topology-positions", "data"),
        State("topology-circuits", "data"),
        State("topology-last-good", "data"),
        State("topology-namespaces", "options"),
        State("topology-tick", "interval"),
        State("topology-tick", "disabled"),
    )
    def refresh(
        _tick, namespaces, window, show_idle, hops, positions, circuits, last_good, options, interval, paused
    ):
        result = refresh_topology(
            runtime,
            namespaces or [],
            window or str(settings.window),
            "idle" in (show_idle or []),
            positions or {},
            circuits or {},
            last_good,
            [o if isinstance(o, str) else o["value"] for o in options or []],
            hops or [],
            poll_wait(settings, interval, not paused),
        )
        return (
            no_update if result.elements is None else result.elements,
            result.banner or "",
            not result.banner,
            f"mw-banner mw-banner-{result.banner_kind}",
            "mw-topology-body"
            + (" mw-graph-stale" if result.banner_kind == "stale" and result.banner else ""),
            no_update if result.elements is None else result.status,
            result.positions,
            result.circuits,
            result.last_good,
            [{"label": visible(ns), "value": ns} for ns in result.namespaces],
        )

    @app.callback(
        Output("topology-trace-hops", "data"),
        Output("topology-trace-note", "children"),
        Input("topology-trace", "data"),
    )
    def overlay_trace(trace_id):
        return trace_overlay(runtime, trace_id)

    @app.callback(
        Output("topology-tick", "interval"),
        Output("topology-tick", "disabled"),
        Output("topology-paused", "children"),
        Input("topology-refresh", "value"),
    )
    def set_refresh(seconds):
        seconds = float(seconds or 0)
        return int(seconds * 1000) or 5000, seconds <= 0, "⏸ paused: not refreshing" if seconds <= 0 else ""

    @app.callback(
        Output("topology-details", "children"),
        Input("topology-graph", "tapNodeData"),
        Input("topology-graph", "tapEdgeData"),
        State("topology-window", "value"),
    )
    def details(node, edge, window):
        if ctx.triggered_id is None or (node is None and edge is None):
            return no_update
        tapped_edge = ctx.triggered[0]["prop_id"].endswith("tapEdgeData")
        if tapped_edge and edge:
            return edge_details(edge, services.clock(), traces_link(edge))
        if node:
            return node_details(node, traces_link(node)) + release_beside(
                node, window or str(settings.window)
            )
        return no_update

    def release_beside(node: dict, window: str) -> list:
        """The canary state of a versioned service, beside its node."""
        if node["kind"] != "service":
            return []
        service = f"{node['name']}.{node['namespace']}"
        try:
            rate_window = settings.rate_window(window)
            releases = runtime.flights.run(
                ("release", service, str(rate_window)),
                lambda: release_view(
                    services.telemetry,
                    routing_config(settings, services),
                    settings,
                    services.clock(),
                    rate_window,
                    service=service,
                ),
                longest_refresh(settings),
            )
        except (SourceError, ConfigError) as error:
            return [html.P(f"Release state unavailable: {error}", className="mw-hint")]
        if isinstance(releases, InFlight):
            return [html.P(slow_text(services.telemetry.name, releases.elapsed), className="mw-hint")]
        return [service_summary(release) for release in releases if len(release.versions) > 1]
