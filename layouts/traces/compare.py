"""The compare page's views: the two traces side by side, their nodes
(spans matched by path) added, removed, changed or the same, slowest
differences first, and the two critical paths next to each other. Span text
and the ids from the address are made visible (layouts.text)."""

from __future__ import annotations

from dash import dcc, html

from dashboard.format import duration_text, plural, signed, utc_timestamp_us
from dashboard.traces.compare import ADDED, CHANGED, REMOVED, SAME, DiffNode, TraceDiff
from dashboard.traces.results import describe
from dashboard.traces.tree import TraceTree
from layouts.links import trace_href
from layouts.text import visible
from layouts.traces.names import display_operation
from layouts.traces.search import failed_hop, version_chips

STATUS_TEXT = {ADDED: "added", REMOVED: "removed", CHANGED: "changed", SAME: "same"}


def compare_page(a: str, b: str) -> html.Div:
    return html.Div(
        className="mw-compare",
        children=[
            dcc.Store(id="compare-ids", data=[a, b]),
            html.H2(["Compare traces ", html.Span(visible(f"{a} · {b}"), className="mw-muted mw-trace-id")]),
            html.Div(id="compare-banner", className="mw-banner mw-banner-stale", hidden=True),
            html.Div(
                visible(f"Loading traces {a} and {b}…"),
                id="compare-loading",
                className="mw-trace-loading",
                hidden=True,
            ),
            dcc.Checklist(
                id="compare-options",
                className="mw-options",
                inline=True,
                value=[],
                options=[{"label": "show the spans that are the same too", "value": "same"}],
            ),
            html.Div(id="compare-body"),
        ],
    )


def node_name(path: tuple[str, ...]) -> str:
    """A node's last `service:operation`, as the screen shortens operations."""
    service, _, operation = path[-1].partition(":")
    return visible(f"{service}: {display_operation(operation)}")


def _side(label: str, tree: TraceTree) -> html.Div:
    """One trace of the two: its name, size, the versions it went through and where it failed."""
    root = tree.span(tree.roots[0]) if tree.roots else None
    summary = describe(tree)
    return html.Div(
        className="mw-compare-side",
        children=[
            html.Div(label, className="mw-compare-letter"),
            dcc.Link(
                visible(f"{root.service}: {display_operation(root.operation)}" if root else tree.trace_id),
                href=trace_href(tree.trace_id),
                className="mw-link mw-compare-title",
            ),
            html.Div(
                [
                    html.Strong(duration_text(tree.duration_us)),
                    f" · {plural(len(tree.order), 'span')} · ",
                    html.Span(
                        plural(tree.error_count, "error"),
                        className="mw-error-text" if tree.error_count else "",
                    ),
                    f" · {utc_timestamp_us(tree.start_us)}",
                ]
            ),
            html.Div([*version_chips(summary), failed_hop(summary)], className="mw-result-head"),
            html.Div(visible(tree.trace_id), className="mw-muted"),
        ],
    )


def _arrow(a: str, b: str) -> str:
    return a if a == b else f"{a} → {b}"


def _node_row(node: DiffNode) -> html.Tr:
    moved = node.b.duration_us - node.a.duration_us
    errors = _arrow(str(node.a.errors), str(node.b.errors)) if node.a.errors or node.b.errors else ""
    return html.Tr(
        className=f"mw-diff-{node.status}",
        children=[
            html.Td(
                html.Span(
                    STATUS_TEXT[node.status], className=f"mw-chip mw-diff-chip mw-diff-chip-{node.status}"
                )
            ),
            # Listed by difference, not as a tree: the caller says where the span sits.
            html.Td(
                [
                    html.Div(node_name(node.path), className="mw-diff-name"),
                    html.Div(f"in {node_name(node.path[:-1])}", className="mw-muted mw-diff-parent")
                    if len(node.path) > 1
                    else html.Div("the root", className="mw-muted mw-diff-parent"),
                ],
                title=visible(" › ".join(node.path)),
            ),
            html.Td(_arrow(str(node.a.count), str(node.b.count)), className="mw-num"),
            html.Td(
                _arrow(
                    duration_text(node.a.duration_us) if node.a.count else "–",
                    duration_text(node.b.duration_us) if node.b.count else "–",
                ),
                className="mw-num",
            ),
            html.Td(signed(moved / 1000, " ms", digits=2) if moved else "", className="mw-num"),
            html.Td(
                _arrow(duration_text(node.a.self_us), duration_text(node.b.self_us))
                if node.a.count and node.b.count
                else "",
                className="mw-num",
            ),
            html.Td(errors, className="mw-num mw-error-text" if errors else "mw-num"),
        ],
    )


def node_table(nodes: list[DiffNode]) -> html.Table:
    head = html.Tr(
        [html.Th(h) for h in ("", "span path", "count", "duration", "Δ duration", "self time", "errors")]
    )
    return html.Table(
        [html.Thead(head), html.Tbody([_node_row(n) for n in nodes])], className="mw-table mw-diff-table"
    )


def critical_paths(diff: TraceDiff) -> html.Div:
    """The two critical paths side by side: every node on either, in the order it ran."""
    on_a, on_b = diff.critical_path("a"), diff.critical_path("b")
    seen, nodes = set(), []
    for node in on_a + on_b:
        if node.path not in seen:
            seen.add(node.path)
            nodes.append(node)
    rows = [
        html.Tr(
            [
                html.Td(
                    node_name(node.path),
                    title=visible(" › ".join(node.path)),
                    className="mw-diff-path",
                    style={"--mw-depth": str(min(len(node.path) - 1, 30))},
                ),
                html.Td(duration_text(node.a.critical_us) if node.a.critical_us else "–", className="mw-num"),
                html.Td(duration_text(node.b.critical_us) if node.b.critical_us else "–", className="mw-num"),
            ]
        )
        for node in nodes
    ]
    head = html.Tr([html.Th("on the critical path"), html.Th("A"), html.Th("B")])
    return html.Table([html.Thead(head), html.Tbody(rows)], className="mw-table mw-critical-table")


def compare_body(diff: TraceDiff, show_same: bool) -> html.Div:
    counts = {status: sum(1 for n in diff.nodes if n.status == status) for status in STATUS_TEXT}
    shown = [n for n in diff.nodes if show_same or n.status != SAME]
    summary = " · ".join(f"{counts[s]} {STATUS_TEXT[s]}" for s in (ADDED, REMOVED, CHANGED, SAME))
    return html.Div(
        [
            html.Div([_side("A", diff.a), _side("B", diff.b)], className="mw-compare-sides"),
            html.Div(
                [
                    html.Strong(summary),
                    html.Span(
                        " — what ran differently first, then timing alone; slowest differences first",
                        className="mw-muted",
                    ),
                ],
                className="mw-compare-summary",
            ),
            html.Div(
                [
                    html.Div(
                        node_table(shown)
                        if shown
                        else html.Div("The two traces ran the same spans.", className="mw-muted"),
                        className="mw-compare-nodes",
                    ),
                    html.Div(critical_paths(diff), className="mw-compare-critical"),
                ],
                className="mw-compare-columns",
            ),
        ]
    )
