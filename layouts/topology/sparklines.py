"""The side panel's live charts: the selection's last half hour as
sparklines (rps, error %, p50 and p99; for an edge its response codes and
Envoy flags), each headed by its latest figure."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from dash import dcc, html

from dashboard.format import milliseconds, percent, rate
from dashboard.mesh.history import SelectionHistory
from layouts.topology.graph import HEALTH_COLOURS

SPARKLINE_HEIGHT = 64
LATENCY_COLOURS = {"p50": "#5dade2", "p99": "#f5b041"}


def _code_colour(code: str) -> str:
    """2xx healthy, 4xx degraded, 5xx failing, the rest (0: no response) grey."""
    return {
        "2": HEALTH_COLOURS["healthy"],
        "4": HEALTH_COLOURS["degraded"],
        "5": HEALTH_COLOURS["failing"],
    }.get(code[:1], HEALTH_COLOURS["none"])


def _latest(values: Sequence[float | None]) -> float | None:
    return next((value for value in reversed(values) if value is not None), None)


def _figure(times: Sequence[float], lines: list[go.Scatter], percent_axis: bool = False) -> go.Figure:
    figure = go.Figure(lines)
    figure.update_layout(
        template="plotly_dark",
        height=SPARKLINE_HEIGHT,
        margin={"l": 0, "r": 0, "t": 2, "b": 0},
        showlegend=False,
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        hovermode="x unified",
        xaxis={"visible": False, "range": [min(times) * 1000, max(times) * 1000] if times else None},
        yaxis={"visible": False, "rangemode": "tozero", **({"ticksuffix": " %"} if percent_axis else {})},
    )
    return figure


def _line(
    times: Sequence[float], values: Sequence[float | None], name: str, colour: str, **style
) -> go.Scatter:
    return go.Scatter(
        x=[t * 1000 for t in times],  # Plotly reads epoch milliseconds as dates
        y=list(values),
        name=name,
        mode="lines",
        line={"color": colour, "width": 2},
        connectgaps=False,
        hovertemplate="%{y:.3g}<extra>" + name + "</extra>",
        **style,
    )


def _chart(title: str, now: str, figure: go.Figure, kind: str) -> html.Div:
    return html.Div(
        className="mw-sparkline",
        **{"data-chart": kind},
        children=[
            html.Div(
                [html.Span(title), html.Span(now, className="mw-sparkline-now")],
                className="mw-sparkline-head",
            ),
            dcc.Graph(figure=figure, config={"displayModeBar": False, "staticPlot": False}),
        ],
    )


def sparklines(history: SelectionHistory, minutes: int, edge: bool) -> html.Div:
    """The charts of one selection; a line saying so when there is no data."""
    if history.empty:
        return html.Div(
            html.P(f"No requests in the last {minutes} min.", className="mw-hint"), className="mw-sparklines"
        )
    t = history.times
    error_pct = [None if ratio is None else 100 * ratio for ratio in history.error_ratio]
    charts = [
        _chart(
            "requests",
            rate(_latest(history.rps)),
            _figure(t, [_line(t, history.rps, "rps", HEALTH_COLOURS["healthy"])]),
            "rps",
        ),
        _chart(
            "errors",
            percent(_latest(history.error_ratio), None),
            _figure(t, [_line(t, error_pct, "error %", HEALTH_COLOURS["failing"])], percent_axis=True),
            "errors",
        ),
        _chart(
            "p50 / p99",
            f"{milliseconds(_latest(history.p50_ms))} / {milliseconds(_latest(history.p99_ms))}",
            _figure(
                t,
                [
                    _line(t, history.p50_ms, "p50 ms", LATENCY_COLOURS["p50"]),
                    _line(t, history.p99_ms, "p99 ms", LATENCY_COLOURS["p99"]),
                ],
            ),
            "latency",
        ),
    ]
    if edge and history.codes:
        stacked = [
            _line(t, values, code, _code_colour(code), stackgroup="codes")
            for code, values in history.codes.items()
        ]
        charts.append(_chart("response codes", ", ".join(history.codes), _figure(t, stacked), "codes"))
    if edge and history.flags:
        flagged = [
            _line(t, values, flag, HEALTH_COLOURS["failing"]) for flag, values in history.flags.items()
        ]
        charts.append(_chart("response flags", ", ".join(history.flags), _figure(t, flagged), "flags"))
    return html.Div(className="mw-sparklines", children=[html.H4(f"Last {minutes} min"), *charts])
