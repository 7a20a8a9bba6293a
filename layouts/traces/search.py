"""The trace search page: the form, a scatter plot of the traces found and
their list, each titled by its root with the versions it went through and
the call where it failed; sortable, filtered by version, two of them picked
for a compare."""

from __future__ import annotations

from datetime import UTC, datetime

import plotly.graph_objects as go
from dash import dcc, html

from dashboard.format import duration_text, plural, utc_timestamp_us
from dashboard.traces.results import LONGEST, MOST_ERRORS, MOST_SPANS, OLDEST, RECENT, SHORTEST
from dashboard.traces.summary import TraceSummary
from layouts.links import trace_href
from layouts.text import plotly_text, visible
from layouts.traces.names import display_operation
from layouts.traces.upload import upload
from layouts.traces.waterfall import ERROR_RED, FONT, PALETTE

LOOKBACKS = [("5m", 300), ("15m", 900), ("1h", 3600), ("6h", 21600), ("24h", 86400), ("48h", 172800)]
# What the page shows on first open: the last quarter hour.
DEFAULT_LOOKBACK = "15m"
SORT_OPTIONS = [
    ("most recent", RECENT),
    ("oldest first", OLDEST),
    ("longest first", LONGEST),
    ("shortest first", SHORTEST),
    ("most spans", MOST_SPANS),
    ("most errors", MOST_ERRORS),
]
# A version filter's value: `service|version`.
VERSION_SEPARATOR = "|"


def name_options(names: list[str]) -> list[dict[str, str]]:
    """Dropdown options for names from Jaeger: shown made visible, kept as they are."""
    return [{"label": visible(name), "value": name} for name in names]


def field(label: str, control: object) -> html.Label:
    return html.Label([html.Span(label), control], className="mw-field")


def version_value(service: str, version: str) -> str:
    return f"{service}{VERSION_SEPARATOR}{version}"


def short_service(service: str) -> str:
    """`reviews.bookinfo` reads `reviews` in a chip; the title keeps the full name."""
    return service.split(".")[0] or service


def search_page(prefill: dict[str, str], max_upload_bytes: int) -> html.Div:
    lookback = prefill.get("lookback", DEFAULT_LOOKBACK)
    sort = prefill.get("sort", RECENT)
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
                "Tags (or a TraceQL query with Tempo)",
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
                    value=lookback if lookback in dict(LOOKBACKS) else DEFAULT_LOOKBACK,
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
    refine = html.Div(
        className="mw-trace-form mw-trace-refine",
        children=[
            field(
                "Sort",
                dcc.Dropdown(
                    id="traces-sort",
                    value=sort if sort in dict((v, k) for k, v in SORT_OPTIONS) else RECENT,
                    options=[{"label": label, "value": value} for label, value in SORT_OPTIONS],
                    clearable=False,
                ),
            ),
            field(
                "Through versions",
                dcc.Dropdown(
                    id="traces-versions", multi=True, value=[], options=[], placeholder="any version"
                ),
            ),
            html.Span(
                dcc.Link("Compare the two picked traces", id="traces-compare", href="", className="mw-link"),
                id="traces-compare-box",
                hidden=True,
            ),
            html.Span("Pick two traces to compare them.", id="traces-compare-hint", className="mw-muted"),
        ],
    )
    return html.Div(
        className="mw-traces",
        children=[
            dcc.Store(id="traces-prefill", data=prefill),
            # The traces found (their summaries), so sorting and filtering need no new search.
            dcc.Store(id="traces-found", data=None),
            # The address follows each search, so it can be shared or reloaded.
            html.Span(id="traces-url-sync", hidden=True),
            # Set when the page picked the service itself (first open), to search at once.
            dcc.Store(id="traces-autosearch", data=None),
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
            refine,
            html.Div(id="traces-results", className="mw-trace-results"),
        ],
    )


def no_backend_message() -> html.Div:
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
                    ". For Grafana Tempo, give ",
                    html.Code("--tempo URL"),
                    ".",
                ]
            ),
            html.P(
                'You can still open a trace file (a Jaeger UI "Download JSON" export, OTLP JSON or '
                "JSON Lines, Tempo's JSON or Zipkin v2) with the button above."
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


def unknown_service_message(service: str, known: list[str], backend: str, shown: int = 5) -> str:
    names = ", ".join(known[:shown]) + (", …" if len(known) > shown else "")
    return visible(
        f"service '{service}' is not known to {backend} "
        + (f"(known: {names})" if known else f"({backend} knows no services yet)")
    )


def skipped_message(skipped: list[str], backend: str) -> str:
    """Why traces the backend sent are missing from the results."""
    verb = "is" if len(skipped) == 1 else "are"
    first = visible(skipped[0])
    return f"{plural(len(skipped), 'trace')} {backend} sent could not be read and {verb} left out: {first}"


def version_chips(summary: TraceSummary) -> list[html.Span]:
    return [
        html.Span(
            visible(f"{short_service(service)} {version}"),
            className="mw-chip mw-version-chip",
            title=visible(service),
        )
        for service, version in summary.versions
    ]


def failed_hop(summary: TraceSummary) -> html.Span | None:
    """Where the trace failed and what its spans say, in one line (none if it did not)."""
    if not (summary.failed_hop or summary.failure):
        return None
    text = f"✖ {summary.failed_hop}" + (f": {summary.failure}" if summary.failure else "")
    return html.Span(visible(text), className="mw-failed-hop")


def result_card(summary: TraceSummary) -> dcc.Link:
    s = summary
    failed = failed_hop(s)
    return dcc.Link(
        href=trace_href(s.trace_id),
        className="mw-trace-result" + (" mw-error" if s.error_count else ""),
        children=[
            html.Div(
                [
                    html.Strong(
                        visible(f"{s.service}: {display_operation(s.operation)}"), className="mw-result-title"
                    ),
                    *version_chips(s),
                    failed,
                ],
                className="mw-result-head",
            ),
            html.Div(
                [
                    html.Span(duration_text(s.duration_us), className="mw-duration"),
                    html.Span(plural(s.span_count, "span")),
                    html.Span(plural(s.error_count, "error"), className="mw-error-text")
                    if s.error_count
                    else None,
                    html.Span(utc_timestamp_us(s.start_us), className="mw-muted"),
                    html.Span(visible(s.trace_id[:12]), className="mw-muted"),
                ]
            ),
            html.Div(
                [html.Span(f"{visible(name)} ({count})", className="mw-chip") for name, count in s.services]
            ),
        ],
    )


def result_list(summaries: list[TraceSummary], found: int) -> html.Div:
    """The results shown (after the version filter) out of those found; each with a pick box for compare."""
    if not summaries:
        return html.Div(
            "0 traces found: widen the lookback, or loosen the operation, tags or durations."
            if not found
            else f"None of the {plural(found, 'trace')} went through those versions.",
            className="mw-muted",
        )
    rows = [
        html.Div(
            [
                dcc.Checklist(
                    id={"type": "traces-pick", "trace": s.trace_id},
                    options=[{"label": "", "value": s.trace_id}],
                    value=[],
                    className="mw-pick",
                ),
                result_card(s),
            ],
            className="mw-result-row",
        )
        for s in summaries
    ]
    count = plural(len(summaries), "trace") + ("" if len(summaries) == found else f" of {found:,} found")
    return html.Div([html.Div(count, className="mw-muted"), *rows])


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
