"""One trace (`/trace/<trace_id>?span=<span id>`): the waterfall with the
critical path, collapsible subtrees, find, proxy-span hiding, pages of rows
and the span detail panel. Traces come through the trace cache (Jaeger, or
a file opened in this process)."""

from __future__ import annotations

from typing import Any

import dash
from dash import ClientsideFunction, Dash, Input, Output, State, ctx, html, no_update

from dashboard.app import trace_upload
from dashboard.app.runtime import Runtime, current
from dashboard.app.trace_cache import TraceNotInMemory
from dashboard.traces.details import details_of
from dashboard.traces.find import find_spans
from dashboard.traces.proxy import redundant_proxy_spans
from dashboard.traces.summary import service_totals
from dashboard.traces.tree import TraceTree
from dashboard.traces.waterfall import Collapse, critical_sections_of, initial_collapse, waterfall_rows
from layouts.traces import trace_page as page_views
from layouts.traces import waterfall as waterfall_views
from layouts.traces.span_panel import span_detail
from queries.errors import SourceError
from queries.jaeger import TraceNotFound, check_trace_id

# Rows drawn per page of the waterfall (Chromium paints 100 rows in ~1.5 s, 300
# in ~5 s), and the most a trace shows before its deep subtrees start
# collapsed: past a few thousand rows nobody can read it.
PAGE_ROWS = 100
MAX_OPEN_ROWS = 2000


def layout(trace_id: str = "", span: Any = None, **_: Any) -> html.Div:
    return page_views.trace_page(
        trace_id,
        span[-1] if isinstance(span, list) else span,
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
        Output("trace-waterfall", "figure"),
        Output("trace-waterfall", "style"),
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
            return (
                no_update,
                no_update,
                no_update,
                no_update,
                no_update,
                message,
                False,
                no_update,
                no_update,
                no_update,
                no_update,
            )
        options = options or []
        collapse = view_state(tree, collapse_in, reveal)
        matches = find_spans(tree, find) if find and find.strip() else None
        hidden = redundant_proxy_spans(tree) if "hide-proxy" in options else set()
        rows = waterfall_rows(
            tree, collapse, hidden, matches if matches is not None and "filter" in options else None
        )
        pages = max(1, -(-len(rows) // PAGE_ROWS))
        if page is None:
            target = tree.index_of(reveal) if reveal else None
            page = next((n // PAGE_ROWS for n, row in enumerate(rows) if row.span == target), 0)
        page = max(0, min(page, pages - 1))
        window = rows[page * PAGE_ROWS : (page + 1) * PAGE_ROWS]
        sections = critical_sections_of(tree, (row.span for row in window))
        chosen = tree.index_of(selected) if selected else None
        figure = waterfall_views.waterfall_figure(tree, window, matches, sections, chosen)
        header = page_views.trace_header(
            tree, service_totals(tree), len(rows), None if matches is None else len(matches), len(hidden)
        )
        label = (
            f"rows {page * PAGE_ROWS + 1:,}–{page * PAGE_ROWS + len(window):,} of {len(rows):,}"
            if rows
            else "no rows"
        )
        # Later renders (find, page turns) take a moment, not a load.
        return (
            figure,
            waterfall_views.waterfall_style(len(window)),
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
        Output("trace-loading", "children", allow_duplicate=True),
        Input("trace-loading-tick", "n_intervals"),
        State("trace-id", "data"),
        prevent_initial_call=True,
    )
    def show_progress(_: Any, trace_id: str) -> Any:
        progress = cache.progress(trace_id)
        return page_views.loading_text(trace_id, *progress) if progress else no_update

    @app.callback(
        Output("trace-selected", "data"), Input("trace-waterfall", "clickData"), prevent_initial_call=True
    )
    def select(click: dict[str, Any] | None) -> Any:
        points = (click or {}).get("points") or []
        return points[0].get("customdata") if points else no_update

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
        if not selected:
            return no_update, *hidden_button
        try:
            tree = load(trace_id)
        except (ValueError, SourceError):
            return no_update, *hidden_button
        index = tree.index_of(selected)
        if index is None:
            return html.Div(f"Span {selected} is not in this trace.", className="mw-muted"), *hidden_button
        try:
            details = details_of(tree, index)
        except SourceError as error:
            return html.Div(str(error), className="mw-error-text"), *hidden_button
        panel = span_detail(tree, index, details, runtime.settings.trace_link)
        if not tree.children[index]:
            return panel, *hidden_button
        collapsed = view_state(tree, shown, None).is_collapsed(tree, index) if shown is not None else False
        return panel, ("Expand subtree" if collapsed else "Collapse subtree"), False

    @app.callback(
        Output("trace-collapse", "data"),
        Input("trace-toggle", "n_clicks"),
        Input("trace-expand-all", "n_clicks"),
        Input("trace-collapse-all", "n_clicks"),
        State("trace-selected", "data"),
        State("trace-collapse-shown", "data"),
        State("trace-id", "data"),
        prevent_initial_call=True,
    )
    def change_collapse(
        _: Any, __: Any, ___: Any, selected: str | None, shown: dict[str, Any] | None, trace_id: str
    ) -> Any:
        if ctx.triggered_id == "trace-expand-all":
            return collapse_data(Collapse())
        if ctx.triggered_id == "trace-collapse-all":
            return collapse_data(Collapse(depth=1))
        try:
            tree = load(trace_id)
        except (ValueError, SourceError):
            return no_update
        index = tree.index_of(selected) if selected else None
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

    app.clientside_callback(
        ClientsideFunction("meshwatch", "selectOnLabelClick"),
        Output("trace-label-clicks", "children"),
        Input("trace-id", "data"),
    )
    app.clientside_callback(
        ClientsideFunction("meshwatch", "followSelectedSpan"),
        Output("trace-url-sync", "children"),
        Input("trace-selected", "data"),
        State("trace-id", "data"),
    )
