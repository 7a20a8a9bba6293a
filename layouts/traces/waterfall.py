"""The waterfall: one horizontal bar per span row at its start offset, one
colour per service, errors outlined red, matches bright, the critical path a
thin yellow bar over the spans that own it."""

from __future__ import annotations

from collections.abc import Iterable

import plotly.graph_objects as go

from dashboard.format import duration_text
from dashboard.traces.tree import TraceTree
from dashboard.traces.waterfall import Row
from layouts.text import plotly_text, visible
from layouts.traces.names import display_operation

ERROR_RED = "#ff4d4f"
CRITICAL = "#ffe14d"
PALETTE = [
    "#4e9cff",
    "#3ec28f",
    "#b07cff",
    "#ff9f43",
    "#2fd0e0",
    "#f368e0",
    "#a3cb38",
    "#ffc312",
    "#9aa5ff",
    "#12cbc4",
    "#fda7df",
    "#c4e538",
    "#7ed6df",
    "#e1b12c",
    "#badc58",
    "#dff9fb",
]
ROW_PX = 30
# Room above and below the rows: the time axis on top, the legend below.
WATERFALL_MARGIN_PX = {"t": 50, "b": 90}
# A fixed label column: Plotly's automargin re-measures every tick label and
# takes seconds on a few hundred rows.
LABEL_PX = 620
INDENT = "\u00a0\u00a0"  # plain spaces are trimmed from tick labels
FONT = {"size": 16}


def us_to_ms(us: float) -> float:
    """The waterfall's x axis is in milliseconds since the trace's start."""
    return us / 1000.0


def _colour(service: str, services: list[str]) -> str:
    return PALETTE[services.index(service) % len(PALETTE)]


def row_label(tree: TraceTree, row: Row, expandable: bool) -> str:
    span = tree.span(row.span)
    marker = "▸" if row.folded else ("▾" if expandable else "·")
    folded = f"  (+{row.folded:,})" if row.folded else ""
    error = " ⚠" if span.error else ""
    name = visible(display_operation(span.operation))
    operation = name if len(name) <= 48 else name[:47] + "…"
    # A tick label is Plotly markup: the span's own text goes in escaped.
    text = f"{plotly_text(span.service)}: {plotly_text(operation)}"
    return f"{INDENT * min(row.depth, 30)}{marker} {text}{folded}{error}"


def waterfall_figure(
    tree: TraceTree,
    rows: list[Row],
    matches: set[int] | None,
    sections: Iterable[tuple[int, int, int]],
    selected: int | None = None,
) -> go.Figure:
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
        figure.add_trace(
            go.Bar(
                name=plotly_text(service),
                orientation="h",
                y=[position[r.span] for r in service_rows],
                x=[max(us_to_ms(s.duration_us), 0.001) for s in spans],
                base=[us_to_ms(s.start_us - origin) for s in spans],
                customdata=[tree.span_ids[r.span] for r in service_rows],
                marker={
                    "color": _colour(service, services),
                    "opacity": [1.0 if matches is None or r.span in matches else 0.25 for r in service_rows],
                    "line": {"color": [ERROR_RED if s.error else "rgba(0,0,0,0)" for s in spans], "width": 3},
                },
                hovertext=[
                    f"{plotly_text(s.service)}: {plotly_text(display_operation(s.operation))}"
                    f"<br>start {duration_text(s.start_us - origin)} · "
                    f"duration {duration_text(s.duration_us)}"
                    f"<br>self {duration_text(tree.self_us[r.span])} · "
                    f"critical {duration_text(tree.critical_us[r.span])}{'<br>ERROR' if s.error else ''}"
                    for r, s in zip(service_rows, spans)
                ],
                hoverinfo="text",
                width=0.7,
            )
        )
    shown = [(span, start, end) for span, start, end in sections if span in position]
    figure.add_trace(
        go.Bar(
            name="critical path",
            orientation="h",
            y=[position[span] for span, _, _ in shown],
            x=[us_to_ms(end - start) for _, start, end in shown],
            base=[us_to_ms(start - origin) for _, start, _ in shown],
            customdata=[tree.span_ids[span] for span, _, _ in shown],
            marker={"color": CRITICAL, "line": {"width": 0}},
            width=0.22,
            hovertext=[f"on the critical path: {duration_text(end - start)}" for _, start, end in shown],
            hoverinfo="text",
        )
    )
    labels = [row_label(tree, row, bool(tree.children[row.span])) for row in rows]
    shapes = []
    if selected is not None and selected in position:
        y = position[selected]
        shapes.append(
            {
                "type": "rect",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "y0": y - 0.5,
                "y1": y + 0.5,
                "line": {"width": 0},
                "fillcolor": "rgba(255,255,255,0.12)",
                "layer": "below",
            }
        )
    figure.update_layout(
        # No height: the graph fills its box (`waterfall_style`), so few rows use the page and many scroll.
        template="plotly_dark",
        barmode="overlay",
        font=FONT,
        autosize=True,
        margin={"l": LABEL_PX, "r": 20, **WATERFALL_MARGIN_PX},
        paper_bgcolor="rgba(0,0,0,0)",
        bargap=0.2,
        legend={"orientation": "h", "y": 0, "yanchor": "top", "x": 0, "font": {"size": 15}},
        xaxis={
            "title": "ms since trace start",
            "side": "top",
            "range": [0, us_to_ms(tree.duration_us) * 1.01 or 1],
            "gridcolor": "#333",
        },
        # An explicit range puts row k in the k-th band of the plot, which the label clicks rely on.
        yaxis={
            "range": [len(rows) - 0.5, -0.5],
            "tickmode": "array",
            "tickvals": list(range(len(rows))),
            "ticktext": labels,
            "automargin": False,
            "tickfont": {"size": 16},
        },
        hoverlabel={"font": {"size": 16}},
        shapes=shapes,
        clickmode="event",
        uirevision=tree.trace_id,
        # The span id of each row, for a click on a row's label to select it.
        meta={"rows": [tree.span_ids[row.span] for row in rows]},
    )
    return figure


def waterfall_style(rows: int) -> dict[str, str]:
    """At least `ROW_PX` per row; the page's height when the rows need less."""
    return {"minHeight": f"{ROW_PX * max(rows, 4) + sum(WATERFALL_MARGIN_PX.values())}px"}
