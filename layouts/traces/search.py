"""The trace search page: the form, a scatter plot of the traces found and
their list."""

from __future__ import annotations

from datetime import UTC, datetime

import plotly.graph_objects as go
from dash import dcc, html

from dashboard.format import duration_text, plural, utc_timestamp_us
from dashboard.traces.summary import TraceSummary
from layouts.links import trace_href
from layouts.text import plotly_text, visible
from layouts.traces.names import display_operation
from layouts.traces.upload import upload
from layouts.traces.waterfall import ERROR_RED, FONT, PALETTE

LOOKBACKS = [("5m", 300), ("15m", 900), ("1h", 3600), ("6h", 21600), ("24h", 86400), ("48h", 172800)]


def name_options(names: list[str]) -> list[dict[str, str]]:
    """Dropdown options for names from Jaeger: shown made visible, kept as they are."""
    return [{"label": visible(name), "value": name} for name in names]


def field(label: str, control: object) -> html.Label:
    return html.Label([html.Span(label), control], className="mw-field")


def search_page(prefill: dict[str, str], max_upload_bytes: int) -> html.Div:
    lookback = prefill.get("lookback", "1h")
    form = html.Div(
        className="mw-trace-form",
        children=[
            field(
                "Service",
                dcc.Dropdown(
                    id="traces-service",
                    value=prefill.get("service"),
                    options=[prefill["service"]] if prefill.get("service") else [],
                    placeholder="service",
                    clearable=False,
                ),
            ),
            field(
                "Operation",
                dcc.Dropdown(
                    id="traces-operation",
                    value=prefill.get("operation"),
                    options=[prefill["operation"]] if prefill.get("operation") else [],
                    placeholder="all operations",
                ),
            ),
            field(
                "Tags",
                dcc.Input(
                    id="traces-tags",
                    value=prefill.get("tags", ""),
                    debounce=True,
                    placeholder="error=true http.status_code=503",
                ),
            ),
            field(
                "Min duration",
                dcc.Input(id="traces-min", value=prefill.get("minDuration", ""), placeholder="e.g. 100ms"),
            ),
            field(
                "Max duration",
                dcc.Input(id="traces-max", value=prefill.get("maxDuration", ""), placeholder="e.g. 2s"),
            ),
            field(
                "Lookback",
                dcc.Dropdown(
                    id="traces-lookback",
                    value=lookback if lookback in dict(LOOKBACKS) else "1h",
                    options=[name for name, _ in LOOKBACKS],
                    clearable=False,
                ),
            ),
            field(
                "Limit",
                dcc.Input(id="traces-limit", type="number", min=1, max=1500, value=prefill.get("limit", 20)),
            ),
            html.Button("Find traces", id="traces-search", className="mw-button mw-primary"),
            upload("traces-upload", max_upload_bytes),
        ],
    )
    return html.Div(
        className="mw-traces",
        children=[
            dcc.Store(id="traces-prefill", data=prefill),
            form,
            html.Div(id="traces-banner", className="mw-banner mw-banner-stale", hidden=True),
            # The plot shows only when there are traces to place: empty axes say nothing.
            html.Div(
                id="traces-scatter-box",
                hidden=True,
                children=dcc.Graph(
                    id="traces-scatter", figure=scatter_figure([]), config={"displayModeBar": False}
                ),
            ),
            html.Div(id="traces-results", className="mw-trace-results"),
        ],
    )


def no_jaeger_message() -> html.Div:
    return html.Div(
        className="mw-traces-empty",
        children=[
            html.H3("No Jaeger configured"),
            html.P(
                [
                    "Start meshwatch with ",
                    html.Code("--jaeger URL"),
                    " (or ",
                    html.Code("MESHWATCH_JAEGER"),
                    "), e.g. ",
                    html.Code("meshwatch serve --jaeger http://tracing.istio-system/jaeger"),
                    ". Jaeger's v3 API is detected; force it with ",
                    html.Code("--jaeger-api v3"),
                    ".",
                ]
            ),
            html.P(
                'You can still open a trace exported from the Jaeger UI ("Download JSON") '
                "with the button above."
            ),
        ],
    )


def scatter_figure(summaries: list[TraceSummary]) -> go.Figure:
    """x start time, y duration, size span count, red when the trace has errors."""
    figure = go.Figure(
        go.Scatter(
            x=[datetime.fromtimestamp(s.start_us / 1e6, tz=UTC) for s in summaries],
            y=[s.duration_us / 1000 for s in summaries],
            mode="markers",
            customdata=[s.trace_id for s in summaries],
            marker={
                "size": [min(60, 10 + s.span_count**0.5 * 2) for s in summaries],
                "color": [ERROR_RED if s.error_count else PALETTE[0] for s in summaries],
                "line": {"width": 1, "color": "#ddd"},
                "opacity": 0.85,
            },
            hovertext=[
                f"{plotly_text(s.service)}: {plotly_text(display_operation(s.operation))}"
                f"<br>{duration_text(s.duration_us)} · "
                f"{plural(s.span_count, 'span')}"
                f"{' · ' + plural(s.error_count, 'error') if s.error_count else ''}"
                for s in summaries
            ],
            hoverinfo="text",
        )
    )
    figure.update_layout(
        template="plotly_dark",
        height=300,
        margin={"l": 80, "r": 20, "t": 20, "b": 50},
        font=FONT,
        xaxis_title="start time (UTC)",
        yaxis_title="duration (ms)",
        paper_bgcolor="rgba(0,0,0,0)",
        clickmode="event",
        hoverlabel={"font": {"size": 16}},
    )
    return figure


def unknown_service_message(service: str, known: list[str], shown: int = 5) -> str:
    names = ", ".join(known[:shown]) + (", …" if len(known) > shown else "")
    return visible(
        f"service '{service}' is not known to Jaeger "
        + (f"(known: {names})" if known else "(Jaeger knows no services yet)")
    )


def skipped_message(skipped: list[str]) -> str:
    """Why traces Jaeger sent are missing from the results."""
    verb = "is" if len(skipped) == 1 else "are"
    first = visible(skipped[0])
    return f"{plural(len(skipped), 'trace')} Jaeger sent could not be read and {verb} left out: {first}"


def result_list(summaries: list[TraceSummary]) -> html.Div:
    if not summaries:
        return html.Div("No traces match.", className="mw-muted")
    rows = []
    for s in summaries:
        badges = [html.Span(f"{visible(name)} ({count})", className="mw-chip") for name, count in s.services]
        rows.append(
            dcc.Link(
                href=trace_href(s.trace_id),
                className="mw-trace-result" + (" mw-error" if s.error_count else ""),
                children=[
                    html.Div(
                        [
                            html.Strong(visible(f"{s.service}: {display_operation(s.operation)}")),
                            html.Span(visible(s.trace_id[:12]), className="mw-muted"),
                        ]
                    ),
                    html.Div(
                        [
                            html.Span(duration_text(s.duration_us), className="mw-duration"),
                            html.Span(plural(s.span_count, "span")),
                            html.Span(plural(s.error_count, "error"), className="mw-error-text")
                            if s.error_count
                            else None,
                            html.Span(utc_timestamp_us(s.start_us), className="mw-muted"),
                        ]
                    ),
                    html.Div(badges),
                ],
            )
        )
    return html.Div([html.Div(plural(len(summaries), "trace"), className="mw-muted"), *rows])


def trace_links(trace_ids: list[str]) -> html.Div:
    """The traces of a file that holds several, to open one."""
    return html.Div(
        [
            html.Span("This file holds several traces: "),
            *[
                dcc.Link(visible(trace_id), href=trace_href(trace_id), className="mw-link mw-chip")
                for trace_id in trace_ids
            ],
        ]
    )
