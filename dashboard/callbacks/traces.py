"""Callbacks of the traces pages: `/traces` (search) and `/trace/<id>` (one
trace), plus `/api/trace/<id>`, which serves what `meshwatch trace` prints.

Analysed traces are kept in a small in-memory cache (`TraceCache`), so a
click, a find or a page turn on a 100k-span trace never re-fetches or
re-analyses it; uploaded files live there too.
"""

from __future__ import annotations

import base64
import json
import threading
from collections import OrderedDict
from typing import Any
from urllib.parse import parse_qs

from dash import Dash, Input, Output, State, ctx, html, no_update
from flask import jsonify

from dashboard.config import Settings
from dashboard.services import Services
from dashboard.trace import (
    Collapse,
    TraceTree,
    build_tree,
    critical_sections_of,
    details_of,
    find_spans,
    initial_collapse,
    redundant_proxy_spans,
    service_totals,
    summarise,
    trace_document,
    waterfall_rows,
)
from layouts import traces as views
from queries.jaeger import TraceNotFound, check_trace_id
from queries.telemetry import SourceError
from queries.trace_records import TraceRecord, canonical_trace_id, read_export

# Rows drawn per page of the waterfall (Chromium paints 100 rows in ~1.5 s, 300
# in ~5 s), and the most a trace shows before its
# deep subtrees start collapsed: past a few thousand rows nobody can read it.
PAGE_ROWS = 100
MAX_OPEN_ROWS = 2000
LOOKBACK_SECONDS = dict(views.LOOKBACKS)


class TraceCache:
    """Analysed traces by id, least recently used dropped first once they
    hold more than `max_spans` spans together."""

    def __init__(self, max_spans: int = 400_000) -> None:
        self.max_spans = max_spans
        self._trees: OrderedDict[str, TraceTree] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, trace_id: str) -> TraceTree | None:
        key = canonical_trace_id(trace_id)
        with self._lock:
            tree = self._trees.get(key)
            if tree is not None:
                self._trees.move_to_end(key)
            return tree

    def put(self, trace: TraceRecord) -> TraceTree:
        tree = build_tree(trace)
        with self._lock:
            self._trees[canonical_trace_id(trace.trace_id)] = tree
            while len(self._trees) > 1 and sum(len(t.order) for t in self._trees.values()) > self.max_spans:
                self._trees.popitem(last=False)
        return tree


def parse_search(search: str) -> dict[str, str]:
    query = parse_qs((search or "").lstrip("?"))
    return {key: values[0] for key, values in query.items() if values and values[0]}


def page_for(path: str, search: str, settings: Settings) -> Any | None:
    if path.rstrip("/") == "/traces":
        return views.search_page(parse_search(search))
    if path.startswith("/trace/"):
        trace_id = path[len("/trace/"):].strip("/")
        return views.trace_page(trace_id, parse_search(search).get("span"))
    return None


def parse_tags(text: str | None) -> dict[str, str]:
    """`key=value` pairs separated by spaces (Jaeger UI's tag syntax, also `key:value`)."""
    tags = {}
    for part in (text or "").split():
        key, sep, value = part.partition("=")
        if not sep:
            key, sep, value = part.partition(":")
        if not sep or not key:
            raise ValueError(f"bad tag {part!r}: write key=value, e.g. http.status_code=503")
        tags[key] = value
    return tags


def decode_upload(contents: str) -> list[TraceRecord]:
    """A dcc.Upload data URL holding a Jaeger JSON export."""
    try:
        document = json.loads(base64.b64decode(contents.partition(",")[2]))
    except (ValueError, TypeError):
        raise SourceError("the file is not valid JSON") from None
    return read_export(document)


def register(app: Dash, services: Services, settings: Settings) -> None:
    cache = TraceCache()
    jaeger = services.traces

    def load(trace_id: str) -> TraceTree:
        tree = cache.get(trace_id)
        if tree is not None:
            return tree
        if jaeger is None:
            raise SourceError("no Jaeger configured (start meshwatch with --jaeger URL); open a Jaeger JSON file instead")
        return cache.put(jaeger.trace(trace_id))

    def open_upload(contents: str | None, filename: str | None) -> tuple[Any, str | None, Any]:
        """(href to navigate to, banner message, extra links)."""
        if not contents:
            return no_update, None, no_update
        try:
            traces = [trace for trace in decode_upload(contents) if trace.spans]
        except SourceError as error:
            return no_update, f"{filename or 'upload'}: {error}", no_update
        if not traces:
            return no_update, f"{filename or 'upload'} holds no spans", no_update
        for trace in traces:
            cache.put(trace)
        if len(traces) == 1:
            return f"/trace/{traces[0].trace_id}", None, no_update
        return no_update, None, views.trace_links([trace.trace_id for trace in traces])

    # --- search page ---

    @app.callback(Output("traces-service", "options"), Output("traces-banner", "children", allow_duplicate=True),
                  Output("traces-banner", "style", allow_duplicate=True),
                  Input("traces-prefill", "data"), State("traces-service", "value"), prevent_initial_call="initial_duplicate")
    def list_services(_: Any, current: str | None) -> tuple[Any, Any, Any]:
        if jaeger is None:
            return [], None, views.banner(None)
        try:
            names = jaeger.services()
        except SourceError as error:
            message = f"Jaeger: {error}"
            return no_update, message, views.banner(message)
        return sorted(set(names) | ({current} if current else set())), None, views.banner(None)

    @app.callback(Output("traces-operation", "options"), Input("traces-service", "value"),
                  State("traces-operation", "value"))
    def list_operations(service: str | None, current: str | None) -> Any:
        if jaeger is None or not service:
            return []
        try:
            return sorted(set(jaeger.operations(service)) | ({current} if current else set()))
        except SourceError:
            return no_update  # the search itself reports Jaeger's trouble

    @app.callback(Output("traces-scatter", "figure"), Output("traces-results", "children"),
                  Output("traces-results", "className"),
                  Output("traces-banner", "children", allow_duplicate=True),
                  Output("traces-banner", "style", allow_duplicate=True),
                  Input("traces-search", "n_clicks"), Input("traces-prefill", "data"),
                  State("traces-service", "value"), State("traces-operation", "value"), State("traces-tags", "value"),
                  State("traces-min", "value"), State("traces-max", "value"), State("traces-lookback", "value"),
                  State("traces-limit", "value"), prevent_initial_call="initial_duplicate")
    def search(_: Any, prefill: dict[str, str] | None, service: str | None, operation: str | None, tags: str | None,
               min_duration: str | None, max_duration: str | None, lookback: str | None, limit: Any) -> tuple[Any, ...]:
        if jaeger is None:
            return views.empty_figure("No Jaeger configured"), views.no_jaeger_message(), "mw-trace-results", \
                None, views.banner(None)
        if not service:
            if ctx.triggered_id == "traces-prefill":
                return no_update, "Choose a service and press Find traces.", "mw-trace-results mw-muted", \
                    None, views.banner(None)
            message = "Choose a service to search."
            return no_update, no_update, no_update, message, views.banner(message)
        try:
            found = jaeger.search(service, operation or None, parse_tags(tags), (min_duration or "").strip() or None,
                                  (max_duration or "").strip() or None, LOOKBACK_SECONDS.get(lookback or "1h", 3600),
                                  max(1, min(int(limit or 20), 1500)), services.clock())
        except ValueError as error:
            return no_update, no_update, no_update, str(error), views.banner(str(error))
        except SourceError as error:
            message = f"Jaeger: {error}. The results below are from the last successful search (stale)."
            return no_update, no_update, "mw-trace-results mw-stale", message, views.banner(message)
        for trace in found:
            cache.put(trace)
        summaries = [summarise(trace) for trace in found]
        return views.scatter_figure(summaries), views.result_list(summaries), "mw-trace-results", None, views.banner(None)

    @app.callback(Output("url", "href", allow_duplicate=True), Input("traces-scatter", "clickData"),
                  prevent_initial_call=True)
    def open_clicked(click: dict[str, Any] | None) -> Any:
        points = (click or {}).get("points") or []
        return f"/trace/{points[0]['customdata']}" if points and points[0].get("customdata") else no_update

    @app.callback(Output("url", "href", allow_duplicate=True), Output("traces-banner", "children", allow_duplicate=True),
                  Output("traces-banner", "style", allow_duplicate=True), Output("traces-results", "children", allow_duplicate=True),
                  Input("traces-upload", "contents"), State("traces-upload", "filename"), prevent_initial_call=True)
    def upload_on_search(contents: str | None, filename: str | None) -> tuple[Any, ...]:
        href, message, links = open_upload(contents, filename)
        return href, message, views.banner(message), links

    # --- trace page ---

    def view_state(tree: TraceTree, collapse_data: dict[str, Any] | None, reveal: str | None) -> Collapse:
        if collapse_data is None:
            collapse = initial_collapse(tree, MAX_OPEN_ROWS)
            index = tree.index_of(reveal) if reveal else None
            return collapse.revealing(tree, index) if index is not None else collapse
        return Collapse(collapse_data.get("depth"), frozenset(collapse_data.get("opened") or ()),
                        frozenset(collapse_data.get("closed") or ()))

    def collapse_data(collapse: Collapse) -> dict[str, Any]:
        return {"depth": collapse.depth, "opened": sorted(collapse.opened), "closed": sorted(collapse.closed)}

    @app.callback(Output("trace-waterfall", "figure"), Output("trace-header", "children"),
                  Output("trace-banner", "children", allow_duplicate=True), Output("trace-banner", "style", allow_duplicate=True),
                  Output("trace-page-label", "children"), Output("trace-page-shown", "data"),
                  Output("trace-collapse-shown", "data"),
                  Input("trace-id", "data"), Input("trace-collapse", "data"), Input("trace-page", "data"),
                  Input("trace-find", "value"), Input("trace-options", "value"), Input("trace-selected", "data"),
                  State("trace-reveal", "data"), prevent_initial_call="initial_duplicate")
    def render(trace_id: str, collapse_in: dict[str, Any] | None, page: int | None, find: str | None,
               options: list[str] | None, selected: str | None, reveal: str | None) -> tuple[Any, ...]:
        try:
            tree = load(check_trace_id(trace_id))
        except ValueError as error:
            return views.empty_figure(str(error)), no_update, str(error), views.banner(str(error)), "", 0, None
        except SourceError as error:
            message = f"Jaeger: {error}"
            if not isinstance(error, TraceNotFound) and ctx.triggered_id != "trace-id":
                message += " (showing the trace as last loaded)"
            return no_update, no_update, message, views.banner(message), no_update, no_update, no_update
        options = options or []
        collapse = view_state(tree, collapse_in, reveal)
        matches = find_spans(tree, find) if find and find.strip() else None
        hidden = redundant_proxy_spans(tree) if "hide-proxy" in options else set()
        rows = waterfall_rows(tree, collapse, hidden, matches if matches is not None and "filter" in options else None)
        pages = max(1, -(-len(rows) // PAGE_ROWS))
        if page is None:
            target = tree.index_of(reveal) if reveal else None
            page = next((n // PAGE_ROWS for n, row in enumerate(rows) if row.span == target), 0)
        page = max(0, min(page, pages - 1))
        window = rows[page * PAGE_ROWS:(page + 1) * PAGE_ROWS]
        sections = critical_sections_of(tree, (row.span for row in window))
        chosen = tree.index_of(selected) if selected else None
        figure = views.waterfall_figure(tree, window, matches, sections, chosen)
        header = views.trace_header(tree, service_totals(tree), len(rows), None if matches is None else len(matches),
                                    len(hidden))
        label = f"rows {page * PAGE_ROWS + 1:,}–{page * PAGE_ROWS + len(window):,} of {len(rows):,}" if rows else "no rows"
        return figure, header, None, views.banner(None), label, page, collapse_data(collapse)

    @app.callback(Output("trace-selected", "data"), Input("trace-waterfall", "clickData"), prevent_initial_call=True)
    def select(click: dict[str, Any] | None) -> Any:
        points = (click or {}).get("points") or []
        return points[0].get("customdata") if points else no_update

    @app.callback(Output("trace-detail", "children"), Output("trace-toggle", "children"), Output("trace-toggle", "style"),
                  Input("trace-selected", "data"), Input("trace-collapse-shown", "data"), State("trace-id", "data"))
    def show_detail(selected: str | None, shown: dict[str, Any] | None, trace_id: str) -> tuple[Any, ...]:
        hidden_button = ("Collapse subtree", {"display": "none"})
        if not selected:
            return no_update, *hidden_button
        try:
            tree = load(check_trace_id(trace_id))
        except (ValueError, SourceError):
            return no_update, *hidden_button
        index = tree.index_of(selected)
        if index is None:
            return html.Div(f"Span {selected} is not in this trace.", className="mw-muted"), *hidden_button
        panel = views.span_detail(tree, index, details_of(tree, index))
        if not tree.children[index]:
            return panel, *hidden_button
        collapsed = view_state(tree, shown, None).is_collapsed(tree, index) if shown is not None else False
        return panel, ("Expand subtree" if collapsed else "Collapse subtree"), {"display": "inline-block"}

    @app.callback(Output("trace-collapse", "data"), Input("trace-toggle", "n_clicks"), Input("trace-expand-all", "n_clicks"),
                  Input("trace-collapse-all", "n_clicks"), State("trace-selected", "data"),
                  State("trace-collapse-shown", "data"), State("trace-id", "data"), prevent_initial_call=True)
    def change_collapse(_: Any, __: Any, ___: Any, selected: str | None, shown: dict[str, Any] | None,
                        trace_id: str) -> Any:
        if ctx.triggered_id == "trace-expand-all":
            return collapse_data(Collapse())
        if ctx.triggered_id == "trace-collapse-all":
            return collapse_data(Collapse(depth=1))
        try:
            tree = load(check_trace_id(trace_id))
        except (ValueError, SourceError):
            return no_update
        index = tree.index_of(selected) if selected else None
        if index is None:
            return no_update
        return collapse_data(view_state(tree, shown, None).toggled(tree, index))

    @app.callback(Output("trace-page", "data"), Input("trace-prev", "n_clicks"), Input("trace-next", "n_clicks"),
                  State("trace-page-shown", "data"), prevent_initial_call=True)
    def turn_page(_: Any, __: Any, shown: int | None) -> int:
        return max(0, (shown or 0) + (1 if ctx.triggered_id == "trace-next" else -1))

    @app.callback(Output("url", "href", allow_duplicate=True), Output("trace-banner", "children", allow_duplicate=True),
                  Output("trace-banner", "style", allow_duplicate=True), Output("trace-header", "children", allow_duplicate=True),
                  Input("trace-upload", "contents"), State("trace-upload", "filename"), prevent_initial_call=True)
    def upload_on_trace(contents: str | None, filename: str | None) -> tuple[Any, ...]:
        href, message, links = open_upload(contents, filename)
        return href, message, views.banner(message), links

    # The deep link follows the selected span without reloading the page.
    app.clientside_callback(
        """function(span, traceId) {
            if (!traceId) { return ""; }
            var url = "/trace/" + traceId + (span ? "?span=" + encodeURIComponent(span) : "");
            if (window.location.pathname + window.location.search !== url) {
                window.history.replaceState(null, "", url);
            }
            return "";
        }""",
        Output("trace-url-sync", "children"), Input("trace-selected", "data"), State("trace-id", "data"),
    )

    # --- JSON API ---

    @app.server.route("/api/trace/<trace_id>")
    def api_trace(trace_id: str) -> Any:
        try:
            tree = load(check_trace_id(trace_id))
        except ValueError as error:
            return _error(str(error), 400)
        except TraceNotFound as error:
            return _error(str(error), 404)
        except SourceError as error:
            return _error(str(error), 502 if jaeger is not None else 503)
        return jsonify(trace_document(tree))


def _error(message: str, status: int) -> Any:
    response = jsonify({"error": message})
    response.status_code = status
    return response

