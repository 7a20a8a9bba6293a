"""One trace (`/trace/<trace_id>?span=<span id>&view=waterfall|flame|statistics`):
the waterfall with the critical path, the flame graph and the statistics of
the same trace, collapsible subtrees, find, proxy-span hiding, pages of rows
and the span detail panel, which opens on what failed. Traces come through
the trace cache (Jaeger or Tempo, or a file opened in this process)."""

from __future__ import annotations

from typing import Any

import dash
from dash import ALL, ClientsideFunction, Dash, Input, Output, State, ctx, html, no_update

from dashboard.app import trace_upload
from dashboard.app.runtime import Runtime, current
from dashboard.app.trace_cache import TraceNotInMemory
from dashboard.traces.details import details_of
from dashboard.traces.failure import root_cause, span_failure
from dashboard.traces.find import find_spans
from dashboard.traces.flame import flame_graph
from dashboard.traces.proxy import redundant_proxy_spans
from dashboard.traces.statistics import sort_rows, tag_keys, trace_statistics
from dashboard.traces.summary import service_totals
from dashboard.traces.tree import TraceTree
from dashboard.traces.versions import version_lookup
from dashboard.traces.waterfall import Collapse, critical_sections_of, initial_collapse, waterfall_rows
from layouts.links import compare_href
from layouts.text import visible
from layouts.traces import statistics as statistics_views
from layouts.traces import trace_page as page_views
from layouts.traces.flame import flame_view
from layouts.traces.span_panel import cause_panel, failure_below_line, span_detail
from layouts.traces.waterfall import waterfall
from queries.errors import SourceError, TraceNotFound
from queries.traces.records import check_trace_id

# Rows drawn per page of the waterfall, and the most a trace shows before its
# deep subtrees start collapsed: past a few thousand rows nobody can read it.
PAGE_ROWS = 100
MAX_OPEN_ROWS = 2000


def first(value: Any) -> Any:
    """A query parameter given once or several times: the last one counts."""
    return value[-1] if isinstance(value, list) else value


def layout(trace_id: str = "", span: Any = None, view: Any = None, **_: Any) -> html.Div:
    return page_views.trace_page(
        trace_id,
        first(span),
        first(view) or page_views.WATERFALL,
        trace_upload.upload_limit(current().settings),
    )


def view_state(tree: TraceTree, collapse_data: dict[str, Any] | None, reveal: str | None) -> Collapse:
    if collapse_data is None:
        collapse = initial_collapse(tree, MAX_OPEN_ROWS)
        index = tree.index_of(reveal) if reveal else None
        return collapse.revealing(tree, index) if index is not None else collapse
    return Collapse(
        collapse_data.get("depth"),
        frozenset(collapse_data.get("opened") or ()),
        frozenset(collapse_data.get("closed") or ()),
    )


def collapse_data(collapse: Collapse) -> dict[str, Any]:
    return {"depth": collapse.depth, "opened": sorted(collapse.opened), "closed": sorted(collapse.closed)}


def register(app: Dash, runtime: Runtime) -> None:
    dash.register_page(__name__, path_template="/trace/<trace_id>", title="meshwatch · trace", layout=layout)
    cache = runtime.traces

    def load(trace_id: str) -> TraceTree:
        return cache.load(check_trace_id(trace_id))

    @app.callback(
        Output("trace-waterfall", "children"),
        Output("trace-flame", "children"),
        Output("trace-tools", "hidden"),
        Output("trace-body", "hidden"),
        Output("trace-header", "children"),
        Output("trace-banner", "children", allow_duplicate=True),
        Output("trace-banner", "hidden", allow_duplicate=True),
        Output("trace-page-label", "children"),
        Output("trace-page-shown", "data"),
        Output("trace-collapse-shown", "data"),
        Output("trace-loading", "children", allow_duplicate=True),
        Input("trace-id", "data"),
        Input("trace-collapse", "data"),
        Input("trace-page", "data"),
        Input("trace-find", "value"),
        Input("trace-options", "value"),
        Input("trace-selected", "data"),
        Input("trace-view", "value"),
        State("trace-reveal", "data"),
        State("trace-collapse-shown", "data"),
        prevent_initial_call="initial_duplicate",
        running=[
            (Output("trace-loading", "hidden"), False, True),
            (Output("trace-loading-tick", "disabled"), False, True),
        ],
    )
    def render(
        trace_id: str,
        collapse_in: dict[str, Any] | None,
        page: int | None,
        find: str | None,
        options: list[str] | None,
        selected: str | None,
        view: str | None,
        reveal: str | None,
        shown: dict[str, Any] | None,
    ) -> tuple[Any, ...]:
        try:
            tree = load(trace_id)
        except (ValueError, SourceError) as error:
            message = str(error)
            if shown is None or isinstance(error, (ValueError, TraceNotFound, TraceNotInMemory)):
                # No trace to show: the banner alone says why, and the trace's tools go away.
                return no_update, no_update, True, True, None, message, False, "", 0, None, no_update
            message += " (showing the trace as last loaded)"
            return (no_update,) * 5 + (message, False) + (no_update,) * 4
        options = options or []
        collapse = view_state(tree, collapse_in, reveal)
        matches = find_spans(tree, find) if find and find.strip() else None
        hidden = redundant_proxy_spans(tree) if "hide-proxy" in options else set()
        rows = waterfall_rows(
            tree, collapse, hidden, matches if matches is not None and "filter" in options else None
        )
        chosen = tree.index_of(selected) if selected else None
        versions = version_lookup(tree)
        header = page_views.trace_header(
            tree, service_totals(tree), len(rows), None if matches is None else len(matches), len(hidden)
        )
        pages = max(1, -(-len(rows) // PAGE_ROWS))
        if page is None:
            target = tree.index_of(reveal) if reveal else None
            page = next((n // PAGE_ROWS for n, row in enumerate(rows) if row.span == target), 0)
        page = max(0, min(page, pages - 1))
        waterfall_rows_shown = flame_boxes = no_update
        if view == page_views.FLAME:
            flame = flame_graph(tree, rows)
            spans = [box.span for box in flame.boxes]
            flame_boxes = flame_view(
                tree,
                flame,
                matches,
                critical_sections_of(tree, spans),
                chosen,
                {i: versions(i) for i in spans},
            )
        elif view != page_views.STATISTICS:
            window = rows[page * PAGE_ROWS : (page + 1) * PAGE_ROWS]
            spans = [row.span for row in window]
            waterfall_rows_shown = waterfall(
                tree,
                window,
                matches,
                critical_sections_of(tree, spans),
                chosen,
                {i: versions(i) for i in spans},
            )
        label = (
            f"rows {page * PAGE_ROWS + 1:,}–{min((page + 1) * PAGE_ROWS, len(rows)):,} of {len(rows):,}"
            if rows
            else "no rows"
        )
        # Later renders (find, page turns) take a moment, not a load.
        return (
            waterfall_rows_shown,
            flame_boxes,
            False,
            False,
            header,
            None,
            True,
            label,
            page,
            collapse_data(collapse),
            "Updating…",
        )

    @app.callback(
        Output("trace-waterfall", "hidden"),
        Output("trace-flame", "hidden"),
        Output("trace-stats-view", "hidden"),
        Output("trace-paging", "hidden"),
        Input("trace-view", "value"),
    )
    def switch_view(view: str | None) -> tuple[bool, bool, bool, bool]:
        shown = view if view in (page_views.FLAME, page_views.STATISTICS) else page_views.WATERFALL
        return (
            shown != page_views.WATERFALL,
            shown != page_views.FLAME,
            shown != page_views.STATISTICS,
            shown != page_views.WATERFALL,
        )

    @app.callback(
        Output("trace-stats", "children"),
        Output("trace-stats-group", "options"),
        Input("trace-id", "data"),
        Input("trace-view", "value"),
        Input("trace-stats-group", "value"),
        Input("trace-stats-sort", "data"),
    )
    def show_statistics(trace_id: str, view: str | None, group: str | None, order: dict[str, Any]) -> Any:
        if view != page_views.STATISTICS:
            return no_update, no_update
        try:
            tree = load(trace_id)
            rows = trace_statistics(tree, group or "service")
            rows = sort_rows(rows, order.get("column", "count"), bool(order.get("descending", True)))
        except (ValueError, SourceError) as error:
            return html.Div(str(error), className="mw-error-text"), no_update
        table = statistics_views.statistics_table(
            rows, order.get("column", "count"), bool(order.get("descending", True)), len(tree.order)
        )
        return table, statistics_views.group_options(tag_keys(tree))

    @app.callback(
        Output("trace-stats-sort", "data"),
        Input({"type": "trace-stats-column", "column": ALL}, "n_clicks"),
        State("trace-stats-sort", "data"),
        prevent_initial_call=True,
    )
    def sort_statistics(clicks: list[int | None], order: dict[str, Any]) -> Any:
        if not ctx.triggered_id or not any(clicks):
            return no_update  # the table was redrawn, nothing was clicked
        column = ctx.triggered_id["column"]
        if column == order.get("column"):
            return {"column": column, "descending": not order.get("descending", True)}
        return {"column": column, "descending": column != "group"}

    @app.callback(
        Output("trace-loading", "children", allow_duplicate=True),
        Input("trace-loading-tick", "n_intervals"),
        State("trace-id", "data"),
        prevent_initial_call=True,
    )
    def show_progress(_: Any, trace_id: str) -> Any:
        progress = cache.progress(trace_id)
        return page_views.loading_text(trace_id, *progress) if progress else no_update

    @app.callback(
        Output("trace-detail", "children"),
        Output("trace-toggle", "children"),
        Output("trace-toggle", "hidden"),
        Input("trace-selected", "data"),
        Input("trace-collapse-shown", "data"),
        State("trace-id", "data"),
    )
    def show_detail(selected: str | None, shown: dict[str, Any] | None, trace_id: str) -> tuple[Any, ...]:
        hidden_button = ("Collapse subtree", True)
        try:
            tree = load(trace_id)
        except (ValueError, SourceError):
            return no_update, *hidden_button
        index = tree.index_of(selected) if selected else None
        if selected and index is None:
            return html.Div(
                visible(f"Span {selected} is not in this trace."), className="mw-muted"
            ), *hidden_button
        if index is None:
            # Nothing chosen yet: a failed trace opens on the span its failure starts at.
            cause = root_cause(tree)
            if cause is None:
                return no_update, *hidden_button
            panel = detail_panel(tree, cause)
            return cause_panel(panel) if isinstance(panel, html.Div) else panel, *hidden_button
        panel = detail_panel(tree, index)
        if not tree.children[index]:
            return panel, *hidden_button
        collapsed = view_state(tree, shown, None).is_collapsed(tree, index) if shown is not None else False
        return panel, ("Expand subtree" if collapsed else "Collapse subtree"), False

    def detail_panel(tree: TraceTree, index: int) -> html.Div:
        """A span's details, opening with its failure or the failure under it."""
        try:
            details = details_of(tree, index)
        except SourceError as error:
            return html.Div(str(error), className="mw-error-text")
        span = tree.span(index)
        failure = span_failure(details.tags, span.error)
        below = None
        if failure is None:
            cause = root_cause(tree, under=index)
            if cause is not None:
                try:
                    cause_failure = span_failure(details_of(tree, cause).tags, True)
                except SourceError:
                    cause_failure = None
                below = failure_below_line(tree, cause, cause_failure)
        return span_detail(
            tree, index, details, version_lookup(tree)(index), failure, below, runtime.settings.trace_link
        )

    @app.callback(
        Output("trace-collapse", "data"),
        Input("trace-toggle", "n_clicks"),
        Input("trace-expand-all", "n_clicks"),
        Input("trace-collapse-all", "n_clicks"),
        Input("trace-fold", "data"),
        State("trace-selected", "data"),
        State("trace-collapse-shown", "data"),
        State("trace-id", "data"),
        prevent_initial_call=True,
    )
    def change_collapse(
        _: Any,
        __: Any,
        ___: Any,
        fold: dict[str, Any] | None,
        selected: str | None,
        shown: dict[str, Any] | None,
        trace_id: str,
    ) -> Any:
        if ctx.triggered_id == "trace-expand-all":
            return collapse_data(Collapse())
        if ctx.triggered_id == "trace-collapse-all":
            return collapse_data(Collapse(depth=1))
        target = (fold or {}).get("span") if ctx.triggered_id == "trace-fold" else selected
        if not target:
            return no_update  # nothing to fold (the fold store starting out, or no span selected)
        try:
            tree = load(trace_id)
        except (ValueError, SourceError):
            return no_update
        index = tree.index_of(target)
        if index is None:
            return no_update
        return collapse_data(view_state(tree, shown, None).toggled(tree, index))

    @app.callback(
        Output("trace-page", "data"),
        Input("trace-prev", "n_clicks"),
        Input("trace-next", "n_clicks"),
        State("trace-page-shown", "data"),
        prevent_initial_call=True,
    )
    def turn_page(_: Any, __: Any, shown: int | None) -> int:
        return max(0, (shown or 0) + (1 if ctx.triggered_id == "trace-next" else -1))

    @app.callback(
        Output("trace-compare-link", "href"),
        Output("trace-compare-box", "hidden"),
        Input("trace-compare-with", "value"),
        State("trace-id", "data"),
        prevent_initial_call=True,
    )
    def compare_with(other: str | None, trace_id: str) -> tuple[Any, bool]:
        try:
            other_id = check_trace_id(other or "")
        except ValueError:
            return no_update, True
        return compare_href(trace_id, other_id), False

    app.clientside_callback(
        ClientsideFunction("meshwatch", "selectOnRowClick"),
        Output("trace-label-clicks", "children"),
        Input("trace-id", "data"),
    )
    app.clientside_callback(
        ClientsideFunction("meshwatch", "followSelectedSpan"),
        Output("trace-url-sync", "children"),
        Input("trace-selected", "data"),
        Input("trace-view", "value"),
        State("trace-id", "data"),
    )
