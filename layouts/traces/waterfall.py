"""The waterfall, as HTML rows (the way Jaeger UI draws it): a label column,
left-aligned, indented by depth with a guide line per level, the span's
service, operation and version chip; and a timeline where the span's bar
sits at its start offset, one colour per service, with its duration beside
it, errors outlined red and never narrower than MIN_ERROR_PX, the critical
path a yellow strip over the time each span owns on it. Rows carry
`data-span` (a click selects the span) and their toggles `data-fold` (a
click folds or unfolds it); see assets/meshwatch.js. Geometry travels as
CSS variables (percentages), so the rows reflow with the screen. Span text
is made visible (layouts.text), in the tooltip too."""

from __future__ import annotations

from collections.abc import Iterable

from dash import html

from dashboard.format import duration_text
from dashboard.traces.tree import TraceTree
from dashboard.traces.versions import SpanVersion
from dashboard.traces.waterfall import Row
from layouts.text import visible
from layouts.traces.names import display_operation

ERROR_RED = "#ff4d4f"
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
FONT = {"size": 16}
# Where a bar's duration goes: after the bar while it ends before this share
# of the timeline, else before it, or inside it when the bar fills the lane.
LABEL_AFTER_BELOW = 0.8
LABEL_BEFORE_ABOVE = 0.2
TICKS = 4


def service_colour(service: str, services: list[str]) -> str:
    return PALETTE[services.index(service) % len(PALETTE)]


def percent(value: float) -> str:
    return f"{100 * value:.4f}%"


def span_title(tree: TraceTree, index: int, version: SpanVersion) -> str:
    """A row's tooltip: the full names and figures, as plain text."""
    span = tree.span(index)
    lines = [
        f"{span.service}: {span.operation}",
        f"start +{duration_text(span.start_us - tree.start_us)} · duration {duration_text(span.duration_us)}",
        f"self {duration_text(tree.self_us[index])} · critical path {duration_text(tree.critical_us[index])}",
    ]
    if version.label:
        lines.append(f"version {version.version or '–'}" + (f" · pod {version.pod}" if version.pod else ""))
    if span.error:
        lines.append("ERROR")
    return "\n".join(visible(line) for line in lines)


def span_label(tree: TraceTree, row: Row, version: SpanVersion, services: list[str]) -> html.Div:
    """The label cell: fold toggle, service, operation, version chip, error mark."""
    span = tree.span(row.span)
    span_id = tree.span_ids[row.span]
    if row.folded:
        toggle = html.Span("▸", className="mw-wf-toggle", title="expand", **{"data-fold": span_id})
    elif tree.children[row.span]:
        toggle = html.Span("▾", className="mw-wf-toggle", title="collapse", **{"data-fold": span_id})
    else:
        toggle = html.Span("", className="mw-wf-toggle mw-wf-leaf")
    return html.Div(
        className="mw-wf-label",
        style={"--mw-depth": str(min(row.depth, 40))},
        children=[
            toggle,
            html.Span(
                visible(span.service),
                className="mw-wf-service",
                style={"--mw-colour": service_colour(span.service, services)},
            ),
            html.Span(visible(display_operation(span.operation)), className="mw-wf-operation"),
            html.Span(
                visible(version.label), className="mw-chip mw-wf-version", title=visible(version.pod or "")
            )
            if version.label
            else None,
            html.Span(f"+{row.folded:,}", className="mw-wf-folded", title=f"{row.folded:,} spans folded")
            if row.folded
            else None,
            html.Span("⚠", className="mw-wf-error-mark", title="error") if span.error else None,
        ],
    )


def sections_by_span(sections: Iterable[tuple[int, int, int]]) -> dict[int, list[tuple[int, int]]]:
    """The critical path's (start, end) sections of each span."""
    owned: dict[int, list[tuple[int, int]]] = {}
    for span, start, end in sections:
        owned.setdefault(span, []).append((start, end))
    return owned


def critical_strips(tree: TraceTree, index: int, sections: list[tuple[int, int]]) -> list[html.Div]:
    """Yellow strips over the parts of a span's box that are on the critical path."""
    span = tree.span(index)
    length = span.duration_us or 1
    return [
        html.Div(
            className="mw-wf-critical",
            style={
                "--mw-left": percent((a - span.start_us) / length),
                "--mw-width": percent((b - a) / length),
            },
        )
        for a, b in sections
    ]


def span_bar(
    tree: TraceTree, index: int, sections: list[tuple[int, int]], colour: str
) -> list[html.Div | html.Span]:
    """The bar, its critical-path strips and its duration text, in the timeline cell."""
    span = tree.span(index)
    length = tree.duration_us or 1
    start = (span.start_us - tree.start_us) / length
    width = span.duration_us / length
    end = start + width
    if end < LABEL_AFTER_BELOW:
        place, at = "mw-wf-duration-after", end
    elif start > LABEL_BEFORE_ABOVE:
        place, at = "mw-wf-duration-before", start
    else:
        place, at = "mw-wf-duration-inside", start
    return [
        html.Div(
            className="mw-wf-bar",
            style={"--mw-left": percent(start), "--mw-width": percent(width), "--mw-colour": colour},
            children=critical_strips(tree, index, sections),
        ),
        html.Span(
            duration_text(span.duration_us),
            className=f"mw-wf-duration {place}",
            style={"--mw-at": percent(at)},
        ),
    ]


def state_classes(tree: TraceTree, index: int, matches: set[int] | None, selected: int | None) -> list[str]:
    """How a span's row or box is marked: error, match or dimmed (while finding), selected."""
    classes = []
    if tree.span(index).error:
        classes.append("mw-wf-error")
    if matches is not None:
        classes.append("mw-wf-match" if index in matches else "mw-wf-dim")
    if index == selected:
        classes.append("mw-wf-selected")
    return classes


def time_axis(tree: TraceTree) -> html.Div:
    """The header row: the label column's title and the time ticks."""
    ticks = [
        html.Span(
            duration_text(tree.duration_us * k / TICKS),
            className="mw-wf-tick" + (" mw-wf-tick-last" if k == TICKS else ""),
            style={"--mw-at": percent(k / TICKS)},
        )
        for k in range(TICKS + 1)
    ]
    return html.Div(
        className="mw-wf-row mw-wf-head",
        children=[
            html.Div("service: operation", className="mw-wf-label mw-muted"),
            html.Div(ticks, className="mw-wf-lane mw-wf-axis"),
        ],
    )


def waterfall(
    tree: TraceTree,
    rows: list[Row],
    matches: set[int] | None,
    sections: Iterable[tuple[int, int, int]],
    selected: int | None,
    versions: dict[int, SpanVersion],
) -> list[html.Div]:
    """The rows of one page of the waterfall, under the time axis."""
    services = tree.services
    owned = sections_by_span(sections)
    drawn = [time_axis(tree)]
    for row in rows:
        span = tree.span(row.span)
        classes = ["mw-wf-row", "mw-wf-span", *state_classes(tree, row.span, matches, selected)]
        version = versions[row.span]
        colour = service_colour(span.service, services)
        drawn.append(
            html.Div(
                className=" ".join(classes),
                title=span_title(tree, row.span, version),
                children=[
                    span_label(tree, row, version, services),
                    html.Div(
                        span_bar(tree, row.span, owned.get(row.span, []), colour), className="mw-wf-lane"
                    ),
                ],
                **{"data-span": tree.span_ids[row.span]},
            )
        )
    return drawn
