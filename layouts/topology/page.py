"""The live topology page: controls, the graph, the side panel and the legend."""

from __future__ import annotations

from collections.abc import Sequence

import dash_cytoscape as cyto
from dash import dcc, html

from dashboard.format import percent
from dashboard.mesh.graph_types import GRAPH_TYPES
from dashboard.mesh.health import HealthThresholds
from layouts.controls import captioned, window_picker
from layouts.topology.graph import (
    BOX_COLOUR,
    CIRCUIT_OPEN_COLOUR,
    FOUND_COLOUR,
    HEALTH_COLOURS,
    MTLS_COLOUR,
    OUTBOUND_FILLS,
    RETIRED_FILL,
    SELECTED_COLOUR,
    TRACE_COLOUR,
    TRACE_ERROR_COLOUR,
    TRIPPING_COLOUR,
    stylesheet,
)

# How soon after a graph drawn without its latency the page asks again.
FOLLOW_UP_MS = 250
REFRESH_CHOICES = [("off", 0), ("2 s", 2), ("5 s", 5), ("10 s", 10), ("30 s", 30), ("1 min", 60)]
GRAPH_TYPE_WORDS = {
    "versioned": "versioned app",
    "app": "app (versions merged)",
    "workload": "workload",
    "service": "service",
}


def health_words(health: HealthThresholds) -> tuple[str, str]:
    """What degraded and failing mean under the thresholds in force."""
    any_5xx = (
        "any 5xx" if health.http_5xx_degraded <= 0 else f"more than {percent(health.http_5xx_degraded)} 5xx"
    )
    degraded = f"degraded: {any_5xx}, or ≥ {percent(health.http_4xx_degraded)} 4xx"
    failing = (
        f"failing: ≥ {percent(health.http_5xx_failing)} 5xx, ≥ {percent(health.no_response_failing)} "
        f"no response, ≥ {percent(health.grpc_failing)} gRPC errors "
        f"or ≥ {percent(health.http_4xx_failing)} 4xx"
    )
    return degraded, failing


def _swatch(kind: str, colour: str, text: str) -> html.Li:
    # The colour is the graph's own (Cytoscape cannot read CSS); the line's style is CSS.
    return html.Li([html.Span(className=f"mw-swatch mw-swatch-{kind}", style={"--mw-swatch": colour}), text])


def legend(health: HealthThresholds) -> html.Details:
    degraded, failing = health_words(health)
    # Open on a tall screen, folded on a short one (the page's script decides):
    # at 1366x768 the graph needs the room more.
    return html.Details(
        id="topology-legend",
        open=True,
        className="mw-legend",
        children=[
            html.Summary("Legend"),
            html.Ul(
                [
                    _swatch("solid", HEALTH_COLOURS["healthy"], "healthy"),
                    _swatch("solid", HEALTH_COLOURS["degraded"], degraded),
                    _swatch("solid", HEALTH_COLOURS["failing"], failing),
                    _swatch(
                        "fill",
                        OUTBOUND_FILLS["failing"],
                        "filled red / orange: the node's own calls fail / degrade",
                    ),
                    _swatch("shedding", TRIPPING_COLOUR, "breaker shedding: 503 UO (pool overflow)"),
                    _swatch(
                        "open",
                        CIRCUIT_OPEN_COLOUR,
                        "light GREY wide dashes, a red bar and ⊘ = circuit OPEN: "
                        "destination cut off by outlier detection (503 UH)",
                    ),
                    _swatch(
                        "idle", HEALTH_COLOURS["idle"], "idle: no traffic in the window (hidden unless shown)"
                    ),
                    _swatch("halo", TRACE_COLOUR, "blue halo: the path of the trace shown (/?trace=ID)"),
                    _swatch("halo", TRACE_ERROR_COLOUR, "red halo: where that trace failed"),
                    _swatch("halo", FOUND_COLOUR, "yellow halo: what the find expression matched"),
                    _swatch(
                        "mark",
                        MTLS_COLOUR,
                        "▪ at the caller's end: mutual TLS; ◇ amber: some requests in plain text",
                    ),
                    _swatch(
                        "box",
                        BOX_COLOUR,
                        "dashed box: a namespace; solid: a cluster; doubled edge: between clusters",
                    ),
                    _swatch(
                        "halo", SELECTED_COLOUR, "white glow: the node or edge selected (its details aside)"
                    ),
                    _swatch(
                        "box", RETIRED_FILL, "faded, dashed border: a retired version (no requests, no route)"
                    ),
                    html.Li(
                        "◆ service   ■ workload (app version)   "
                        "● unknown caller (no sidecar)   ⬟ ingress gateway   ⬢ waypoint (ambient)"
                    ),
                ]
            ),
        ],
    )


def time_bar(window: str, shown: bool) -> html.Div:
    """Time travel: the moment shown on a slider over the data's range, a
    window back or forward, a replay at 1×, 10× or 60× from the moment shown,
    and back to live. Folded away until asked for (or not live), so the live
    graph keeps the screen."""
    return html.Div(
        id="topology-timebar",
        className="mw-timebar",
        hidden=not shown,
        children=[
            html.Button(
                f"◀ {window}", id="topology-step-back", className="mw-button", title="one window back"
            ),
            html.Div(
                dcc.Slider(
                    id="topology-slider",
                    min=0,
                    max=1,
                    value=1,
                    step=1,
                    marks={},
                    updatemode="mouseup",
                    allow_direct_input=False,
                    tooltip=None,
                ),
                className="mw-slider",
            ),
            html.Button(
                f"{window} ▶", id="topology-step-forward", className="mw-button", title="one window forward"
            ),
            *[
                html.Button(
                    f"▶ {speed}×",
                    id={"type": "topology-replay", "speed": speed},
                    className="mw-button",
                    title=f"replay at {speed}× from the moment shown",
                )
                for speed in (1, 10, 60)
            ],
            html.Button("Live", id="topology-live", className="mw-button mw-primary", title="back to now"),
        ],
    )


def find_bar(find: str, hide: str) -> html.Div:
    """Find and hide expressions (`rps > 10`, `circuit = open and ns = payments`),
    each with the line saying why it cannot be read; then what moves the
    view: time travel, fit, re-layout; and export."""

    def expression_box(kind: str, text: str, example: str) -> html.Label:
        return html.Label(
            className="mw-control mw-control-expression",
            children=[
                kind.capitalize(),
                dcc.Input(
                    id=f"topology-{kind}",
                    type="text",
                    value=text,
                    debounce=True,
                    placeholder=example,
                    spellCheck=False,
                    autoComplete="off",
                    className="mw-expression",
                ),
                html.Span(id=f"topology-{kind}-error", className="mw-expression-error"),
            ],
        )

    return html.Div(
        className="mw-controls mw-find-bar",
        children=[
            expression_box("find", find, "e.g. error > 5% or circuit = open"),
            expression_box("hide", hide, "e.g. rps < 0.1 or ns = istio-system"),
            html.Button(
                "◷ Time travel",
                id="topology-time-open",
                className="mw-button",
                title="look at the mesh as it was, or replay it",
            ),
            # The view stays where the operator put it; only this fits it again.
            html.Button("Fit", id="topology-fit", className="mw-button", title="fit the graph to the screen"),
            html.Span(id="topology-fitted", hidden=True),
            html.Button(
                "Fold namespaces",
                id="topology-fold",
                className="mw-button",
                hidden=True,
                title="back to the namespace overview: every opened namespace folded again",
            ),
            html.Button(
                "Re-layout",
                id="topology-relayout",
                className="mw-button",
                title="lay the graph out afresh (what was hidden leaves its room)",
            ),
            *[
                html.Button(
                    kind.upper(),
                    id=f"topology-export-{kind}",
                    className="mw-button",
                    title=f"download the view as {kind.upper()}",
                )
                for kind in ("png", "svg")
            ],
        ],
    )


def controls(
    namespaces: Sequence[str],
    selected: Sequence[str],
    windows: Sequence[str],
    window: str,
    refresh_s: float,
    show_idle: bool = False,
    graph_type: str = "versioned",
    boxed: bool = True,
) -> html.Div:
    choices = list(REFRESH_CHOICES)
    if refresh_s > 0 and refresh_s not in [value for _, value in choices]:
        choices.append((f"{refresh_s:g} s", refresh_s))
    return html.Div(
        className="mw-controls",
        children=[
            captioned(
                "Namespaces",
                dcc.Dropdown(
                    id="topology-namespaces",
                    options=list(namespaces),
                    value=list(selected),
                    multi=True,
                    placeholder="all namespaces",
                ),
                wide=True,
            ),
            window_picker("topology-window", windows, window),
            captioned(
                "Refresh",
                dcc.Dropdown(
                    id="topology-refresh",
                    options=[{"label": label, "value": value} for label, value in choices],
                    value=max(refresh_s, 0),
                    clearable=False,
                ),
            ),
            captioned(
                "Graph",
                dcc.Dropdown(
                    id="topology-graph-type",
                    # A bad type from the address stays shown: the refresh says why.
                    options=[
                        {"label": GRAPH_TYPE_WORDS.get(name, name), "value": name}
                        for name in dict.fromkeys((*GRAPH_TYPES, graph_type))
                    ],
                    value=graph_type,
                    clearable=False,
                ),
            ),
            html.Span(id="topology-paused", className="mw-paused"),
            dcc.Checklist(
                id="topology-show-idle",
                options=[{"label": " idle edges", "value": "idle"}],
                value=["idle"] if show_idle else [],
                className="mw-checklist",
            ),
            dcc.Checklist(
                id="topology-boxes",
                options=[{"label": " namespace boxes", "value": "boxes"}],
                value=["boxes"] if boxed else [],
                className="mw-checklist",
            ),
            html.Span(id="topology-url-sync", hidden=True),
        ],
    )


def page(
    namespaces: Sequence[str],
    selected: Sequence[str],
    windows: Sequence[str],
    window: str,
    refresh_s: float,
    health: HealthThresholds,
    trace_id: str | None = None,
    show_idle: bool = False,
    kiosk: bool = False,
    rotate: Sequence[str] = (),
    rotate_s: float = 0.0,
    timeline: dict | None = None,
    graph_type: str = "versioned",
    boxed: bool = True,
    find: str = "",
    hide: str = "",
    clusters: Sequence[str] = (),
    address_problems: Sequence[str] = (),
    view_id: str = "",
) -> html.Div:
    """The page; `kiosk` drops the controls, legend and panel for a wall
    screen (they stay in the page, hidden, so the callbacks keep working);
    `rotate` cycles those namespaces every `rotate_s` seconds; `clusters`
    (from the address) are the only ones drawn, with their neighbours."""
    return html.Div(
        className="mw-topology" + (" mw-kiosk" if kiosk else ""),
        children=[
            controls(namespaces, selected, windows, window, refresh_s, show_idle, graph_type, boxed),
            find_bar(find, hide),
            time_bar(window, shown=bool(timeline) and timeline.get("mode") != "live"),
            html.Div(id="topology-status", className="mw-status"),
            html.Div(id="topology-trace-note", className="mw-status"),
            # Not live: said so at once, in a colour no other banner uses.
            html.Div(id="topology-asof", className="mw-asof", hidden=True),
            # A wall screen's one line: what it shows and as of when, big.
            html.Div(id="topology-clock", className="mw-clock", hidden=not kiosk),
            html.Div(
                id="topology-body",
                className="mw-topology-body",
                children=[
                    html.Div(id="topology-banner", className="mw-banner", hidden=True),
                    cyto.Cytoscape(
                        id="topology-graph",
                        elements=[],
                        stylesheet=stylesheet(),
                        className="mw-graph",
                        layout={"name": "preset", "fit": True, "padding": 60},
                        # The poll's patch places and fits the graph (drawPatch); the
                        # component's own re-layout on every add or remove refitted a
                        # zoomed-in view and placed every label again.
                        autoRefreshLayout=False,
                        style={"width": "100%", "height": "100%"},
                        autoungrabify=True,
                        minZoom=0.1,
                        maxZoom=3,
                        wheelSensitivity=0.2,
                    ),
                    html.Aside(
                        className="mw-details",
                        children=[
                            # Refreshed with the graph; the release summary beside a service on click.
                            html.Div(
                                id="topology-details",
                                children=[
                                    html.P("Click a node or an edge for details.", className="mw-hint")
                                ],
                            ),
                            html.Div(id="topology-release"),
                            # The selection's last half hour, redrawn with each refresh.
                            html.Div(id="topology-sparklines"),
                        ],
                    ),
                ],
            ),
            legend(health),
            html.Span(id="topology-decluttered", hidden=True),
            # Each poll's patch of the graph, and the last one the page applied (its sequence).
            dcc.Store(id="topology-patch", data=None),
            html.Span(id="topology-drawn", hidden=True),
            dcc.Store(id="topology-view", data=view_id),
            dcc.Interval(id="topology-tick", interval=int(refresh_s * 1000) or 5000, disabled=refresh_s <= 0),
            # What the graph drawn still lacks (its latency, on a first paint), and
            # the one poll soon after that asks for it (armed by raising max_intervals).
            dcc.Store(id="topology-pending", data=[]),
            dcc.Interval(id="topology-follow-up", interval=FOLLOW_UP_MS, max_intervals=0),
            dcc.Interval(
                id="topology-rotate",
                interval=int(rotate_s * 1000) or 30_000,
                disabled=not (rotate and rotate_s > 0),
            ),
            dcc.Store(id="topology-rotation", data=list(rotate)),
            dcc.Store(id="topology-clusters", data=list(clusters)),
            dcc.Store(id="topology-positions", data={}),
            dcc.Store(id="topology-circuits", data={}),
            dcc.Store(id="topology-last-good", data=None),
            dcc.Store(id="topology-trace", data=trace_id),
            dcc.Store(id="topology-trace-hops", data=[]),
            dcc.Store(id="topology-selected", data=None),
            # The node last tapped, but for a folded namespace (a tap on one opens it).
            dcc.Store(id="topology-tapped", data=None),
            # The namespaces opened in a big mesh's overview, and those a click
            # where the pointer rests would open (built meanwhile, said nowhere).
            dcc.Store(id="topology-expanded", data=[]),
            dcc.Store(id="topology-hovered", data=None),
            html.Span(id="topology-warmed", hidden=True),
            # What the address asked for that cannot be (said in the banner with each refresh).
            dcc.Store(id="topology-address-problems", data=list(address_problems)),
            dcc.Store(id="topology-time", data=timeline),
            # Where the last refresh put the slider: a value change that is not the operator's.
            dcc.Store(id="topology-slider-shown", data=None),
        ],
    )
