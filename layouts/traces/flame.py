"""The flame graph view: one box per span, x by time (width = duration),
stacked by depth from the top, coloured by service, errors outlined red, the
critical path a yellow strip along the bottom of the boxes that own it. Boxes
carry `data-span` like the waterfall's rows, so a click selects the span.
Span text is made visible (layouts.text)."""

from __future__ import annotations

from collections.abc import Iterable

from dash import html

from dashboard.format import plural
from dashboard.traces.flame import Flame
from dashboard.traces.tree import TraceTree
from dashboard.traces.versions import SpanVersion
from layouts.text import visible
from layouts.traces.names import display_operation
from layouts.traces.waterfall import (
    critical_strips,
    percent,
    sections_by_span,
    service_colour,
    span_title,
    state_classes,
    time_axis,
)


def flame_view(
    tree: TraceTree,
    flame: Flame,
    matches: set[int] | None,
    sections: Iterable[tuple[int, int, int]],
    selected: int | None,
    versions: dict[int, SpanVersion],
) -> list[html.Div]:
    services = tree.services
    length = tree.duration_us or 1
    owned = sections_by_span(sections)
    boxes = []
    for box in flame.boxes:
        span = tree.span(box.span)
        classes = ["mw-flame-box", *state_classes(tree, box.span, matches, selected)]
        text = visible(f"{span.service}: {display_operation(span.operation)}")
        if box.folded:
            text += f" (+{box.folded:,})"
        boxes.append(
            html.Div(
                [
                    html.Span(text, className="mw-flame-text"),
                    *critical_strips(tree, box.span, owned.get(box.span, [])),
                ],
                className=" ".join(classes),
                title=span_title(tree, box.span, versions[box.span]),
                style={
                    "--mw-left": percent((span.start_us - tree.start_us) / length),
                    "--mw-width": percent(span.duration_us / length),
                    "--mw-level": str(box.level),
                    "--mw-colour": service_colour(span.service, services),
                },
                **{"data-span": tree.span_ids[box.span]},
            )
        )
    note = (
        html.Div(f"{plural(flame.left_out, 'shorter span')} not drawn", className="mw-muted")
        if flame.left_out
        else None
    )
    return [
        time_axis(tree),
        html.Div(boxes, className="mw-flame", style={"--mw-levels": str(max(flame.levels, 1))}),
        note,
    ]
