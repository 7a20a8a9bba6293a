"""Views of the traces pages: the search page (form, scatter plot, result
list) and the trace page (header, waterfall with the critical path, span
detail). Pure: trace model in, Dash components and Plotly figures out.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Iterable
from urllib.parse import quote

import plotly.graph_objects as go
from dash import dcc, html

from dashboard.trace import Row, ServiceTotals, SpanDetails, Tag, TraceSummary, TraceTree
from layouts.shell import banner_style

LOOKBACKS = [("5m", 300), ("15m", 900), ("1h", 3600), ("6h", 21600), ("24h", 86400), ("48h", 172800)]
ERROR_RED = "#ff4d4f"
CRITICAL = "#ffe14d"
PALETTE = ["#4e9cff", "#3ec28f", "#b07cff", "#ff9f43", "#2fd0e0", "#f368e0", "#a3cb38", "#ffc312",
           "#9aa5ff", "#12cbc4", "#fda7df", "#c4e538", "#7ed6df", "#e1b12c", "#badc58", "#dff9fb"]
ROW_PX = 30
# Room above and below the rows: the time axis on top, the legend below.
WATERFALL_MARGIN_PX = {"t": 50, "b": 90}
# A fixed label column: Plotly's automargin re-measures every tick label and
# takes seconds on a few hundred rows.
LABEL_PX = 620
INDENT = "\u00a0\u00a0"  # plain spaces are trimmed from tick labels
FONT = {"size": 16}
# Istio names proxy spans `host:port/path` with the service's FQDN; on screen
# the cluster suffix and the usual HTTP ports only take room.
_CLUSTER_SUFFIX = re.compile(r"\.svc\.cluster\.local(?=[:/\s]|$)")
_USUAL_PORT = re.compile(r":(?:80|9080)(?=[/\s]|$)")
HIDDEN = {"display": "none"}


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """`1 error`, `2 errors`, `1,204 spans`."""
    return f"{count:,} {noun if count == 1 else nouns or noun + 's'}"


def display_operation(name: str) -> str:
    """An operation name as the pages show it: `ratings.bookinfo.svc.cluster.local:9080/ratings/0`
    reads `ratings.bookinfo/ratings/0`. Data and JSON keep the full name."""
    return _USUAL_PORT.sub("", _CLUSTER_SUFFIX.sub("", name))


def no_jaeger_message() -> html.Div:
    return html.Div(className="mw-traces-empty", children=[
        html.H3("No Jaeger configured"),
        html.P(["Start meshwatch with ", html.Code("--jaeger URL"), " (or ", html.Code("MESHWATCH_JAEGER"),
                "), e.g. ", html.Code("meshwatch serve --jaeger http://tracing.istio-system/jaeger"),
                ". Jaeger's v3 API is detected; force it with ", html.Code("--jaeger-api v3"), "."]),
        html.P("You can still open a trace exported from the Jaeger UI (\"Download JSON\") with the button above."),
    ])


def size_text(size_bytes: int) -> str:
    if size_bytes >= 1 << 20:
        return f"{size_bytes / (1 << 20):g} MB"
    if size_bytes >= 1 << 10:
        return f"{size_bytes / (1 << 10):.0f} KB"
    return f"{size_bytes} bytes"


def upload_size_check_id(component_id: str) -> str:
    """A hidden element the upload's size check writes to: Dash callbacks need an output."""
    return f"{component_id}-size-check"


def upload(component_id: str, max_bytes: int) -> dcc.Upload:
    """A file picker for Jaeger JSON exports; the browser refuses files over `max_bytes`."""
    return dcc.Upload(id=component_id, className="mw-upload", max_size=max_bytes, multiple=False, children=[
        html.Button("Open a Jaeger JSON file", className="mw-button",
                    title=f"A Jaeger UI \"Download JSON\" export or OTLP JSON, up to {size_text(max_bytes)}"),
        # Its title carries the limit for the size check's message.
        html.Span(id=upload_size_check_id(component_id), hidden=True, title=size_text(max_bytes)),
    ])


# --- search page ---

def field(label: str, control: object) -> html.Label:
    return html.Label([html.Span(label), control], className="mw-field")


def search_page(prefill: dict[str, str], max_upload_bytes: int) -> html.Div:
    lookback = prefill.get("lookback", "1h")
    form = html.Div(className="mw-trace-form", children=[
        field("Service", dcc.Dropdown(id="traces-service", value=prefill.get("service"),
                                      options=[prefill["service"]] if prefill.get("service") else [],
                                      placeholder="service", clearable=False)),
        field("Operation", dcc.Dropdown(id="traces-operation", value=prefill.get("operation"),
                                        options=[prefill["operation"]] if prefill.get("operation") else [],
                                        placeholder="all operations")),
        field("Tags", dcc.Input(id="traces-tags", value=prefill.get("tags", ""), debounce=True,
                                placeholder="error=true http.status_code=503")),
        field("Min duration", dcc.Input(id="traces-min", value=prefill.get("minDuration", ""), placeholder="e.g. 100ms")),
        field("Max duration", dcc.Input(id="traces-max", value=prefill.get("maxDuration", ""), placeholder="e.g. 2s")),
        field("Lookback", dcc.Dropdown(id="traces-lookback", value=lookback if lookback in dict(LOOKBACKS) else "1h",
                                       options=[name for name, _ in LOOKBACKS], clearable=False)),
        field("Limit", dcc.Input(id="traces-limit", type="number", min=1, max=1500, value=int(prefill.get("limit") or 20))),
        html.Button("Find traces", id="traces-search", className="mw-button mw-primary"),
        upload("traces-upload", max_upload_bytes),
    ])
    return html.Div(className="mw-traces", children=[
        dcc.Store(id="traces-prefill", data=prefill),
        form,
        html.Div(id="traces-banner", className="mw-banner mw-banner-stale", style=banner_style(None)),
        dcc.Graph(id="traces-scatter", figure=scatter_figure([]), config={"displayModeBar": False}, style=HIDDEN),
        html.Div(id="traces-results", className="mw-trace-results"),
    ])


def _ms(us: float) -> float:
    return us / 1000.0


def duration_text(us: float) -> str:
    if us >= 1_000_000:
        return f"{us / 1e6:.2f} s"
    if us >= 1000:
        return f"{us / 1000:.2f} ms"
    return f"{us:.0f} µs"


def _clock(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def scatter_figure(summaries: list[TraceSummary]) -> go.Figure:
    """x start time, y duration, size span count, red when the trace has errors."""
    figure = go.Figure(go.Scatter(
        x=[datetime.fromtimestamp(s.start_us / 1e6, tz=timezone.utc) for s in summaries],
        y=[_ms(s.duration_us) for s in summaries],
        mode="markers",
        customdata=[s.trace_id for s in summaries],
        marker={"size": [min(60, 10 + s.span_count ** 0.5 * 2) for s in summaries],
                "color": [ERROR_RED if s.error_count else PALETTE[0] for s in summaries],
                "line": {"width": 1, "color": "#ddd"}, "opacity": 0.85},
        hovertext=[f"{s.service}: {display_operation(s.operation)}<br>{duration_text(s.duration_us)} · "
                   f"{plural(s.span_count, 'span')}{' · ' + plural(s.error_count, 'error') if s.error_count else ''}"
                   for s in summaries],
        hoverinfo="text",
    ))
    figure.update_layout(template="plotly_dark", height=300, margin={"l": 80, "r": 20, "t": 20, "b": 50},
                         font=FONT, xaxis_title="start time (UTC)", yaxis_title="duration (ms)",
                         paper_bgcolor="rgba(0,0,0,0)", clickmode="event", hoverlabel={"font": {"size": 16}})
    return figure


def scatter_style(summaries: list[TraceSummary]) -> dict[str, str]:
    """The plot shows only when there are traces to place: empty axes say nothing."""
    return {} if summaries else HIDDEN


def unknown_service_message(service: str, known: list[str], shown: int = 5) -> str:
    names = ", ".join(known[:shown]) + (", …" if len(known) > shown else "")
    return (f"service '{service}' is not known to Jaeger "
            + (f"(known: {names})" if known else "(Jaeger knows no services yet)"))


def result_list(summaries: list[TraceSummary]) -> html.Div:
    if not summaries:
        return html.Div("No traces match.", className="mw-muted")
    rows = []
    for s in summaries:
        badges = [html.Span(f"{name} ({count})", className="mw-chip") for name, count in s.services]
        rows.append(dcc.Link(href=f"/trace/{s.trace_id}", className="mw-trace-result" + (" mw-error" if s.error_count else ""),
                             children=[
            html.Div([html.Strong(f"{s.service}: {display_operation(s.operation)}"),
                      html.Span(s.trace_id[:12], className="mw-muted")]),
            html.Div([html.Span(duration_text(s.duration_us), className="mw-duration"),
                      html.Span(plural(s.span_count, "span")),
                      html.Span(plural(s.error_count, "error"), className="mw-error-text") if s.error_count else None,
                      html.Span(_clock(s.start_us), className="mw-muted")]),
            html.Div(badges),
        ]))
    return html.Div([html.Div(plural(len(summaries), "trace"), className="mw-muted"), *rows])


# --- trace page ---

def trace_page(trace_id: str, span_id: str | None, max_upload_bytes: int) -> html.Div:
    return html.Div(className="mw-trace", children=[
        dcc.Store(id="trace-id", data=trace_id),
        dcc.Store(id="trace-reveal", data=span_id),
        dcc.Store(id="trace-selected", data=span_id),
        dcc.Store(id="trace-collapse", data=None),
        dcc.Store(id="trace-collapse-shown", data=None),
        dcc.Store(id="trace-page", data=None),
        dcc.Store(id="trace-page-shown", data=0),
        html.Div(id="trace-url-sync", style=HIDDEN),
        html.Div(id="trace-label-clicks", style=HIDDEN),
        html.Div(id="trace-banner", className="mw-banner mw-banner-stale", style=banner_style(None)),
        # Shown while the page's render callback runs; its text follows the load.
        html.Div(id="trace-loading", className="mw-trace-loading", children=loading_text(trace_id, None, None)),
        dcc.Interval(id="trace-loading-tick", interval=400, disabled=True),
        html.Div(id="trace-header", className="mw-trace-header"),
        html.Div(className="mw-trace-controls", children=[
            # The tools that act on a trace show once there is one; opening a file works without.
            html.Div(id="trace-tools", className="mw-trace-tools", style=HIDDEN, children=[
                dcc.Input(id="trace-find", placeholder="Find: service, operation, tag or key=value", debounce=True,
                          className="mw-find"),
                dcc.Checklist(id="trace-options", className="mw-options", inline=True, value=[],
                              options=[{"label": "only matches", "value": "filter"},
                                       {"label": "hide proxy spans", "value": "hide-proxy"}]),
                html.Button("Expand all", id="trace-expand-all", className="mw-button"),
                html.Button("Collapse all", id="trace-collapse-all", className="mw-button"),
                html.Button("◀", id="trace-prev", className="mw-button", title="previous rows"),
                html.Span(id="trace-page-label", className="mw-muted"),
                html.Button("▶", id="trace-next", className="mw-button", title="next rows"),
                dcc.Link("Show path on topology", href=f"/?trace={quote(trace_id)}", id="trace-topology-link",
                         className="mw-link"),
            ]),
            upload("trace-upload", max_upload_bytes),
        ]),
        html.Div(id="trace-body", className="mw-trace-body", style=HIDDEN, children=[
            # Fills the page's height; its style's min-height grows with the rows (`waterfall_style`).
            dcc.Graph(id="trace-waterfall", className="mw-waterfall", config={"displayModeBar": False},
                      responsive=True, figure=empty_figure("")),
            html.Aside(className="mw-span-detail", children=[
                html.Button("Collapse subtree", id="trace-toggle", className="mw-button", style={"display": "none"}),
                html.Div(id="trace-detail", children=html.Div("Click a span to see its tags and logs.", className="mw-muted")),
            ]),
        ]),
    ])


def loading_text(trace_id: str, stage: str | None, spans: int | None) -> str:
    """What the trace page says while a trace loads: `stage` is None
    (waiting), "fetching" or "analysing"."""
    if stage == "fetching":
        return f"Loading trace {trace_id}: fetching it from Jaeger…"
    if stage == "analysing":
        return f"Loading {spans:,} spans of trace {trace_id}: building the tree and the critical path…"
    return f"Loading trace {trace_id}…"


def empty_figure(message: str) -> go.Figure:
    figure = go.Figure()
    figure.update_layout(template="plotly_dark", height=200, font=FONT, paper_bgcolor="rgba(0,0,0,0)",
                         xaxis={"visible": False}, yaxis={"visible": False},
                         annotations=[{"text": message, "showarrow": False, "font": {"size": 20}}])
    return figure


def trace_header(tree: TraceTree, totals: list[ServiceTotals], shown: int, matches: int | None,
                 hidden: int) -> html.Div:
    root = tree.span(tree.roots[0]) if tree.roots else None
    facts = [
        ("Start", _clock(tree.start_us)), ("Duration", duration_text(tree.duration_us)),
        ("Services", str(len(totals))), ("Depth", str(max(tree.depth, default=0) + 1)),
        ("Spans", f"{len(tree.order):,}"), ("Errors", str(tree.error_count)),
    ]
    notes = [plural(shown, "row") + " shown"]
    if hidden:
        notes.append(plural(hidden, "proxy span") + " hidden")
    if matches is not None:
        notes.append(plural(matches, "span") + (" matches" if matches == 1 else " match"))
    return html.Div([
        html.H2([f"{root.service}: {display_operation(root.operation)}" if root else "empty trace",
                 html.Span(f" {tree.trace_id}", className="mw-muted mw-trace-id")]),
        html.Div([html.Span([html.Span(label, className="mw-muted"), " ", html.Strong(value)], className="mw-trace-fact")
                  for label, value in facts], className="mw-trace-facts"),
        html.Ul([html.Li(warning) for warning in tree.warnings], className="mw-warnings") if tree.warnings else None,
        html.Details([html.Summary("Where the time went (per service)"), service_table(totals, tree.duration_us)],
                     open=True, className="mw-service-totals"),
        html.Div(" · ".join(notes), className="mw-muted"),
    ])


def service_table(totals: list[ServiceTotals], duration_us: int) -> html.Table:
    head = html.Tr([html.Th(h) for h in ("service", "spans", "errors", "self time", "on critical path")])
    body = [html.Tr([
        html.Td(t.service), html.Td(str(t.spans)), html.Td(str(t.errors), className="mw-error-text" if t.errors else ""),
        html.Td(duration_text(t.self_us)),
        html.Td(f"{duration_text(t.critical_us)} ({100 * t.critical_us / duration_us:.0f}%)" if duration_us else "–"),
    ]) for t in totals]
    return html.Table([html.Thead(head), html.Tbody(body)], className="mw-table")


def _colour(service: str, services: list[str]) -> str:
    return PALETTE[services.index(service) % len(PALETTE)]


def row_label(tree: TraceTree, row: Row, expandable: bool) -> str:
    span = tree.span(row.span)
    marker = "▸" if row.folded else ("▾" if expandable else "·")
    folded = f"  (+{row.folded:,})" if row.folded else ""
    error = " ⚠" if span.error else ""
    name = display_operation(span.operation)
    operation = name if len(name) <= 48 else name[:47] + "…"
    return f"{INDENT * min(row.depth, 30)}{marker} {span.service}: {operation}{folded}{error}"


def waterfall_figure(tree: TraceTree, rows: list[Row], matches: set[int] | None,
                     sections: Iterable[tuple[int, int, int]], selected: int | None = None) -> go.Figure:
    """Horizontal bars at their start offset, one colour per service, errors
    outlined red, non-matching spans dimmed, the critical path drawn as a thin
    yellow bar over the spans that own it."""
    services = tree.services
    position = {row.span: y for y, row in enumerate(rows)}
    origin = tree.start_us
    figure = go.Figure()
    by_service: dict[str, list[Row]] = {}
    for row in rows:
        by_service.setdefault(tree.span(row.span).service, []).append(row)
    for service, service_rows in by_service.items():
        spans = [tree.span(r.span) for r in service_rows]
        figure.add_trace(go.Bar(
            name=service, orientation="h",
            y=[position[r.span] for r in service_rows],
            x=[max(_ms(s.duration_us), 0.001) for s in spans],
            base=[_ms(s.start_us - origin) for s in spans],
            customdata=[tree.span_ids[r.span] for r in service_rows],
            marker={"color": _colour(service, services),
                    "opacity": [1.0 if matches is None or r.span in matches else 0.25 for r in service_rows],
                    "line": {"color": [ERROR_RED if s.error else "rgba(0,0,0,0)" for s in spans], "width": 3}},
            hovertext=[f"{s.service}: {display_operation(s.operation)}<br>start {duration_text(s.start_us - origin)} · "
                       f"duration {duration_text(s.duration_us)}<br>self {duration_text(tree.self_us[r.span])} · "
                       f"critical {duration_text(tree.critical_us[r.span])}{'<br>ERROR' if s.error else ''}"
                       for r, s in zip(service_rows, spans)],
            hoverinfo="text", width=0.7,
        ))
    shown = [(span, start, end) for span, start, end in sections if span in position]
    figure.add_trace(go.Bar(
        name="critical path", orientation="h",
        y=[position[span] for span, _, _ in shown],
        x=[_ms(end - start) for _, start, end in shown],
        base=[_ms(start - origin) for _, start, _ in shown],
        customdata=[tree.span_ids[span] for span, _, _ in shown],
        marker={"color": CRITICAL, "line": {"width": 0}}, width=0.22,
        hovertext=[f"on the critical path: {duration_text(end - start)}" for _, start, end in shown],
        hoverinfo="text",
    ))
    labels = [row_label(tree, row, bool(tree.children[row.span])) for row in rows]
    shapes = []
    if selected is not None and selected in position:
        y = position[selected]
        shapes.append({"type": "rect", "xref": "paper", "x0": 0, "x1": 1, "y0": y - 0.5, "y1": y + 0.5,
                       "line": {"width": 0}, "fillcolor": "rgba(255,255,255,0.12)", "layer": "below"})
    figure.update_layout(
        # No height: the graph fills its box (`waterfall_style`), so few rows use the page and many scroll.
        template="plotly_dark", barmode="overlay", font=FONT, autosize=True,
        margin={"l": LABEL_PX, "r": 20, **WATERFALL_MARGIN_PX}, paper_bgcolor="rgba(0,0,0,0)", bargap=0.2,
        legend={"orientation": "h", "y": 0, "yanchor": "top", "x": 0, "font": {"size": 15}},
        xaxis={"title": "ms since trace start", "side": "top", "range": [0, _ms(tree.duration_us) * 1.01 or 1],
               "gridcolor": "#333"},
        # An explicit range puts row k in the k-th band of the plot, which the label clicks rely on.
        yaxis={"range": [len(rows) - 0.5, -0.5], "tickmode": "array", "tickvals": list(range(len(rows))),
               "ticktext": labels, "automargin": False, "tickfont": {"size": 16}},
        hoverlabel={"font": {"size": 16}},
        shapes=shapes, clickmode="event", uirevision=tree.trace_id,
        # The span id of each row, for a click on a row's label to select it.
        meta={"rows": [tree.span_ids[row.span] for row in rows]},
    )
    return figure


def waterfall_style(rows: int) -> dict[str, str]:
    """At least `ROW_PX` per row; the page's height when the rows need less."""
    return {"minHeight": f"{ROW_PX * max(rows, 4) + sum(WATERFALL_MARGIN_PX.values())}px"}


def _tag_table(tags: list[Tag]) -> html.Table | html.Div:
    if not tags:
        return html.Div("none", className="mw-muted")
    return html.Table([html.Tbody([html.Tr([html.Td(t.key, className="mw-tag-key"), html.Td(_tag_value(t))])
                                   for t in tags])], className="mw-table mw-tags")


def _tag_value(tag: Tag) -> str:
    if tag.type == "binary":
        return f"(binary, base64) {tag.value}"
    if isinstance(tag.value, bool):
        return "true" if tag.value else "false"
    return str(tag.value)


def span_detail(tree: TraceTree, index: int, details: SpanDetails) -> html.Div:
    span = tree.span(index)
    span_id = tree.span_ids[index]
    link = f"/trace/{tree.trace_id}?span={quote(span_id)}"
    facts = [("Service", span.service), ("Operation", span.operation), ("Span id", span_id),
             ("Start", f"+{duration_text(span.start_us - tree.start_us)}"),
             ("Duration", duration_text(span.duration_us)), ("Self time", duration_text(tree.self_us[index])),
             ("On critical path", duration_text(tree.critical_us[index])),
             ("Kind", span.kind or "–")]
    logs = [html.Div([html.Strong(f"+{duration_text(log.timestamp_us - span.start_us)}"), _tag_table(log.fields)],
                     className="mw-log") for log in details.logs]
    references = [html.Li([f"{ref.ref_type} ", dcc.Link(ref.span_id, href=f"/trace/{tree.trace_id}?span={quote(ref.span_id)}")
                           if tree.index_of(ref.span_id) is not None else html.Span(f"{ref.span_id} (not in this trace)")])
                  for ref in details.references]
    return html.Div(className="mw-span-panel" + (" mw-error" if span.error else ""), children=[
        html.H3([f"{span.service}: {display_operation(span.operation)}", html.Span(" ERROR", className="mw-error-text") if span.error else None]),
        html.Table([html.Tbody([html.Tr([html.Th(k), html.Td(v)]) for k, v in facts])], className="mw-table"),
        html.A("Link to this span", href=link, id="trace-span-link", className="mw-link"),
        html.H4("Warnings") if details.warnings else None,
        html.Ul([html.Li(w) for w in details.warnings], className="mw-warnings") if details.warnings else None,
        html.H4(f"Tags ({len(details.tags)})"), _tag_table(details.tags),
        html.H4(f"Process ({len(details.process_tags)})"), _tag_table(details.process_tags),
        html.H4(f"Logs ({len(details.logs)})"), *(logs or [html.Div("none", className="mw-muted")]),
        html.H4("References"), html.Ul(references) if references else html.Div("none (root span)", className="mw-muted"),
    ])


def trace_links(trace_ids: list[str]) -> html.Div:
    return html.Div([html.Span("This file holds several traces: "),
                     *[dcc.Link(trace_id, href=f"/trace/{trace_id}", className="mw-link mw-chip") for trace_id in trace_ids]])
