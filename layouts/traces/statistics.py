"""The trace statistics view: the group-by picker and the table (Jaeger UI's
columns, in milliseconds), sortable by a click on a column's header. Groups
and tag keys are span text: made visible (layouts.text)."""

from __future__ import annotations

from dash import dcc, html

from dashboard.traces.statistics import OPERATION, SERVICE, TAG_PREFIX, StatRow
from layouts.text import visible

# (column, header, tooltip); durations in ms as Jaeger UI shows them.
HEADERS = [
    ("group", "group", "what the spans are grouped by"),
    ("count", "count", "number of spans"),
    ("total_us", "total ms", "total duration of the spans"),
    ("avg_us", "avg ms", "average duration"),
    ("min_us", "min ms", "shortest duration"),
    ("max_us", "max ms", "longest duration"),
    ("self_total_us", "self total ms", "time spent in the spans when not waiting on their children"),
    ("self_avg_us", "self avg ms", "average self time"),
    ("self_min_us", "self min ms", "shortest self time"),
    ("self_max_us", "self max ms", "longest self time"),
    ("percent", "self % of trace", "self total as a share of the whole trace's duration"),
]


def group_options(tag_keys: list[str]) -> list[dict[str, str]]:
    return [
        {"label": "service", "value": SERVICE},
        {"label": "service and operation", "value": OPERATION},
        *({"label": visible(f"tag {key}"), "value": TAG_PREFIX + key} for key in tag_keys),
    ]


def statistics_controls() -> html.Div:
    return html.Div(
        className="mw-stats-controls",
        children=[
            html.Label(
                [
                    html.Span("Group by"),
                    dcc.Dropdown(
                        id="trace-stats-group", value=SERVICE, clearable=False, options=group_options([])
                    ),
                ],
                className="mw-field",
            ),
            dcc.Store(id="trace-stats-sort", data={"column": "count", "descending": True}),
        ],
    )


def _ms(us: float | None) -> str:
    return "–" if us is None else f"{us / 1000:,.2f}"


def _cell(row: StatRow, column: str) -> str:
    if column == "group":
        return visible(row.group)
    if column == "count":
        return f"{row.count:,}"
    if column == "percent":
        return f"{row.percent:.2f} %"
    return _ms(getattr(row, column))


def statistics_table(rows: list[StatRow], column: str, descending: bool, spans: int) -> html.Div:
    arrow = " ▼" if descending else " ▲"
    head = html.Tr(
        [
            html.Th(
                html.Button(
                    header + (arrow if key == column else ""),
                    id={"type": "trace-stats-column", "column": key},
                    className="mw-sort" + (" mw-sorted" if key == column else ""),
                    title=f"{tip}; click to sort",
                )
            )
            for key, header, tip in HEADERS
        ]
    )
    body = [
        html.Tr(
            [html.Td(_cell(row, key), className="mw-num" if key != "group" else "") for key, _, _ in HEADERS],
            className="mw-muted" if row.without else "",
        )
        for row in rows
    ]
    return html.Div(
        [
            html.Div(f"all {spans:,} spans of the trace", className="mw-muted"),
            html.Table([html.Thead(head), html.Tbody(body)], className="mw-table mw-stats-table"),
        ]
    )
