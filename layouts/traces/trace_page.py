"""The trace page around its views (waterfall, flame graph, statistics): its
stores, tools, header (facts, warnings, where the time went) and loading line."""

from __future__ import annotations

from dash import dcc, html

from dashboard.format import duration_text, plural, utc_timestamp_us
from dashboard.traces.summary import ServiceTotals
from dashboard.traces.tree import TraceTree
from layouts.links import page_href
from layouts.text import visible
from layouts.traces.names import display_operation
from layouts.traces.statistics import statistics_controls
from layouts.traces.upload import upload

WATERFALL, FLAME, STATISTICS = "waterfall", "flame", "statistics"
VIEWS = [("Waterfall", WATERFALL), ("Flame graph", FLAME), ("Statistics", STATISTICS)]


def trace_page(trace_id: str, span_id: str | None, view: str, max_upload_bytes: int) -> html.Div:
    return html.Div(
        className="mw-trace",
        children=[
            dcc.Store(id="trace-id", data=trace_id),
            dcc.Store(id="trace-reveal", data=span_id),
            dcc.Store(id="trace-selected", data=span_id),
            dcc.Store(id="trace-collapse", data=None),
            dcc.Store(id="trace-collapse-shown", data=None),
            dcc.Store(id="trace-page", data=None),
            dcc.Store(id="trace-page-shown", data=0),
            # A click on a row's fold toggle: {"span": id, "at": ms}, from assets/meshwatch.js.
            dcc.Store(id="trace-fold", data=None),
            html.Div(id="trace-url-sync", hidden=True),
            html.Div(id="trace-label-clicks", hidden=True),
            html.Div(id="trace-banner", className="mw-banner mw-banner-stale", hidden=True),
            # Shown while the page's render callback runs; its text follows the load.
            html.Div(
                id="trace-loading", className="mw-trace-loading", children=loading_text(trace_id, None, None)
            ),
            dcc.Interval(id="trace-loading-tick", interval=400, disabled=True),
            html.Div(id="trace-header", className="mw-trace-header"),
            html.Div(
                className="mw-trace-controls",
                children=[
                    # The tools that act on a trace show once there is one; opening a file works without.
                    html.Div(
                        id="trace-tools",
                        className="mw-trace-tools",
                        hidden=True,
                        children=[
                            dcc.RadioItems(
                                id="trace-view",
                                className="mw-views",
                                inline=True,
                                value=view if view in dict((v, k) for k, v in VIEWS) else WATERFALL,
                                options=[{"label": label, "value": value} for label, value in VIEWS],
                            ),
                            dcc.Input(
                                id="trace-find",
                                placeholder="Find: service, operation, tag or key=value",
                                debounce=True,
                                className="mw-find",
                            ),
                            dcc.Checklist(
                                id="trace-options",
                                className="mw-options",
                                inline=True,
                                value=[],
                                options=[
                                    {"label": "only matches", "value": "filter"},
                                    {"label": "hide proxy spans", "value": "hide-proxy"},
                                ],
                            ),
                            html.Button("Expand all", id="trace-expand-all", className="mw-button"),
                            html.Button("Collapse all", id="trace-collapse-all", className="mw-button"),
                            html.Span(
                                id="trace-paging",
                                className="mw-paging",
                                children=[
                                    html.Button(
                                        "◀", id="trace-prev", className="mw-button", title="previous rows"
                                    ),
                                    html.Span(id="trace-page-label", className="mw-muted"),
                                    html.Button(
                                        "▶", id="trace-next", className="mw-button", title="next rows"
                                    ),
                                ],
                            ),
                            dcc.Link(
                                "Show path on topology",
                                href=page_href("/", {"trace": trace_id}),
                                id="trace-topology-link",
                                className="mw-link",
                            ),
                            dcc.Input(
                                id="trace-compare-with",
                                placeholder="compare with trace id",
                                debounce=True,
                                className="mw-find mw-compare-with",
                            ),
                            html.Span(
                                dcc.Link("Compare", id="trace-compare-link", href="", className="mw-link"),
                                id="trace-compare-box",
                                hidden=True,
                            ),
                        ],
                    ),
                    upload("trace-upload", max_upload_bytes),
                ],
            ),
            html.Div(
                id="trace-body",
                className="mw-trace-body",
                hidden=True,
                children=[
                    html.Div(
                        className="mw-trace-view",
                        children=[
                            html.Div(id="trace-waterfall", className="mw-waterfall"),
                            html.Div(id="trace-flame", className="mw-waterfall mw-flame-view", hidden=True),
                            html.Div(
                                id="trace-stats-view",
                                className="mw-stats-view",
                                hidden=True,
                                children=[statistics_controls(), html.Div(id="trace-stats")],
                            ),
                        ],
                    ),
                    html.Aside(
                        className="mw-span-detail",
                        children=[
                            html.Button(
                                "Collapse subtree", id="trace-toggle", className="mw-button", hidden=True
                            ),
                            html.Div(
                                id="trace-detail",
                                children=html.Div(
                                    "Click a span to see its tags and logs.", className="mw-muted"
                                ),
                            ),
                        ],
                    ),
                ],
            ),
        ],
    )


def loading_text(trace_id: str, stage: str | None, spans: int | None) -> str:
    """What the trace page says while a trace loads: `stage` is None
    (waiting), "fetching" or "analysing"."""
    if stage == "fetching":
        return f"Loading trace {trace_id}: fetching it from Jaeger…"
    if stage == "analysing":
        return f"Loading {spans:,} spans of trace {trace_id}: building the tree and the critical path…"
    return f"Loading trace {trace_id}…"


def trace_header(
    tree: TraceTree, totals: list[ServiceTotals], shown: int, matches: int | None, hidden: int
) -> html.Div:
    root = tree.span(tree.roots[0]) if tree.roots else None
    facts = [
        ("Start", utc_timestamp_us(tree.start_us)),
        ("Duration", duration_text(tree.duration_us)),
        ("Services", str(len(totals))),
        ("Depth", str(max(tree.depth, default=0) + 1)),
        ("Spans", f"{len(tree.order):,}"),
        ("Errors", str(tree.error_count)),
    ]
    notes = [plural(shown, "row") + " shown"]
    if hidden:
        notes.append(plural(hidden, "proxy span") + " hidden")
    if matches is not None:
        notes.append(plural(matches, "span") + (" matches" if matches == 1 else " match"))
    return html.Div(
        [
            html.H2(
                [
                    visible(f"{root.service}: {display_operation(root.operation)}")
                    if root
                    else "empty trace",
                    html.Span(f" {visible(tree.trace_id)}", className="mw-muted mw-trace-id"),
                ]
            ),
            html.Div(
                [
                    html.Span(
                        [html.Span(label, className="mw-muted"), " ", html.Strong(value)],
                        className="mw-trace-fact",
                    )
                    for label, value in facts
                ],
                className="mw-trace-facts",
            ),
            html.Ul([html.Li(visible(warning)) for warning in tree.warnings], className="mw-warnings")
            if tree.warnings
            else None,
            html.Details(
                [html.Summary("Where the time went (per service)"), service_table(totals, tree.duration_us)],
                open=True,
                className="mw-service-totals",
            ),
            html.Div(" · ".join(notes), className="mw-muted"),
        ]
    )


def service_table(totals: list[ServiceTotals], duration_us: int) -> html.Table:
    head = html.Tr([html.Th(h) for h in ("service", "spans", "errors", "self time", "on critical path")])
    body = [
        html.Tr(
            [
                html.Td(visible(t.service)),
                html.Td(str(t.spans)),
                html.Td(str(t.errors), className="mw-error-text" if t.errors else ""),
                html.Td(duration_text(t.self_us)),
                html.Td(
                    f"{duration_text(t.critical_us)} ({100 * t.critical_us / duration_us:.0f}%)"
                    if duration_us
                    else "–"
                ),
            ]
        )
        for t in totals
    ]
    return html.Table([html.Thead(head), html.Tbody(body)], className="mw-table")
