"""Callbacks of the traces pages: `/traces` (search) and `/trace/<id>` (one
trace), plus `/api/trace/<id>`, which serves what `meshwatch trace` prints.

Analysed traces are kept in a small in-memory cache (`TraceCache`), so a
click, a find or a page turn on a 100k-span trace never re-fetches or
re-analyses it; uploaded files live there too. The cache belongs to one
server process: a trace uploaded to one gunicorn worker is unknown to the
others, hence "run one worker with threads" (README).
"""

from __future__ import annotations

import base64
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable
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
from layouts.shell import banner_style
from queries.jaeger import MAX_TRACE_BYTES, TraceNotFound, check_trace_id
from queries.telemetry import SourceError
from queries.trace_records import TraceRecord, canonical_trace_id, read_export

# Rows drawn per page of the waterfall (Chromium paints 100 rows in ~1.5 s, 300
# in ~5 s), and the most a trace shows before its
# deep subtrees start collapsed: past a few thousand rows nobody can read it.
PAGE_ROWS = 100
MAX_OPEN_ROWS = 2000
LOOKBACK_SECONDS = dict(views.LOOKBACKS)
# The pages' upload pickers: (upload id, banner id, where a several-trace file lists its traces).
UPLOADS = [("traces-upload", "traces-banner", "traces-results"), ("trace-upload", "trace-banner", "trace-header")]
FETCHING, ANALYSING = "fetching", "analysing"


class TraceNotInMemory(SourceError):
    """Neither this process's cache nor Jaeger has the trace."""


@dataclass
class _Load:
    """One fetch and analysis in flight; requests for the same trace wait on `done`."""

    done: threading.Event = field(default_factory=threading.Event)
    stage: str = FETCHING
    spans: int | None = None
    tree: TraceTree | None = None
    error: BaseException | None = None


class TraceCache:
    """Analysed traces by id, least recently used dropped first once they
    hold more than `max_spans` spans together."""

    def __init__(self, max_spans: int = 400_000) -> None:
        self.max_spans = max_spans
        self._trees: OrderedDict[str, TraceTree] = OrderedDict()
        self._loading: dict[str, _Load] = {}
        self._lock = threading.Lock()

    def _cached(self, key: str) -> TraceTree | None:
        """The tree under `key`, marked recently used; call with the lock held."""
        tree = self._trees.get(key)
        if tree is not None:
            self._trees.move_to_end(key)
        return tree

    def get(self, trace_id: str) -> TraceTree | None:
        with self._lock:
            return self._cached(canonical_trace_id(trace_id))

    def put(self, trace: TraceRecord) -> TraceTree:
        tree = build_tree(trace)
        with self._lock:
            self._trees[canonical_trace_id(trace.trace_id)] = tree
            while len(self._trees) > 1 and sum(len(t.order) for t in self._trees.values()) > self.max_spans:
                self._trees.popitem(last=False)
        return tree

    def load(self, trace_id: str, fetch: Callable[[str], TraceRecord]) -> TraceTree:
        """The cached tree, or fetch and analyse it: once per trace id at a
        time, however many requests ask meanwhile (a 100k-span trace takes
        seconds, and a page asks from several callbacks at once)."""
        key = canonical_trace_id(trace_id)
        with self._lock:
            tree = self._cached(key)
            if tree is not None:
                return tree
            pending = self._loading.get(key)
            leading = pending is None
            if leading:
                pending = self._loading[key] = _Load()
        if not leading:
            pending.done.wait()
            if pending.error is not None:
                raise pending.error
            assert pending.tree is not None
            return pending.tree
        try:
            trace = fetch(trace_id)
            pending.spans, pending.stage = len(trace.spans), ANALYSING
            pending.tree = self.put(trace)
            return pending.tree
        except BaseException as error:
            pending.error = error
            raise
        finally:
            with self._lock:
                del self._loading[key]
            pending.done.set()

    def progress(self, trace_id: str) -> tuple[str, int | None] | None:
        """(stage, span count once known) of a load in flight, else None."""
        with self._lock:
            pending = self._loading.get(canonical_trace_id(trace_id))
            return (pending.stage, pending.spans) if pending is not None else None


def parse_search(search: str) -> dict[str, str]:
    query = parse_qs((search or "").lstrip("?"))
    return {key: values[0] for key, values in query.items() if values and values[0]}


def page_for(path: str, search: str, settings: Settings) -> Any | None:
    if path.rstrip("/") == "/traces":
        return views.search_page(parse_search(search), MAX_TRACE_BYTES)
    if path.startswith("/trace/"):
        trace_id = path[len("/trace/"):].strip("/")
        return views.trace_page(trace_id, parse_search(search).get("span"), MAX_TRACE_BYTES)
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
    """A dcc.Upload data URL holding a Jaeger JSON export, of at most MAX_TRACE_BYTES."""
    encoded = contents.partition(",")[2]
    if len(encoded) // 4 * 3 > MAX_TRACE_BYTES:
        raise SourceError(f"the file is larger than {views.size_text(MAX_TRACE_BYTES)}, the limit for trace files")
    try:
        document = json.loads(base64.b64decode(encoded))
    except (ValueError, TypeError, RecursionError):
        raise SourceError("the file is not valid JSON") from None
    return read_export(document)


# Browsers refuse a file over the picker's max_size without telling Dash, so
# the page checks the size itself and says why nothing happened.
SIZE_CHECK = """function(maxSize, uploadId, bannerId, limitText) {
    var checks = window.mwUploadSizeChecks;
    if (!checks) {
        checks = window.mwUploadSizeChecks = {};
        // One listener on the document, so it works however late the upload is drawn.
        var check = function(event) {
            var files = event.type === "drop" ? event.dataTransfer && event.dataTransfer.files : event.target.files;
            for (var id in checks) {
                var box = document.getElementById(id);
                if (!box || !box.contains(event.target)) { continue; }
                for (var i = 0; i < (files ? files.length : 0); i++) {
                    if (checks[id].maxSize >= 0 && files[i].size > checks[id].maxSize) {
                        window.dash_clientside.set_props(checks[id].bannerId, {
                            children: files[i].name + " is larger than " + checks[id].limitText +
                                      ", the limit for trace files; use meshwatch trace --file, or export a smaller trace",
                            style: {display: "block"}});
                    }
                }
            }
        };
        document.addEventListener("change", check, true);
        document.addEventListener("drop", check, true);
    }
    checks[uploadId] = {maxSize: maxSize, bannerId: bannerId, limitText: limitText};
    return "";
}"""


def register(app: Dash, services: Services, settings: Settings) -> None:
    cache = TraceCache()
    jaeger = services.traces

    not_in_memory = ("is not in this server's memory: uploaded traces live in the one server process that "
                     "received them (and the oldest give way to new ones); re-open the file")

    def fetch(trace_id: str) -> TraceRecord:
        if jaeger is None:
            raise TraceNotInMemory(f"trace {trace_id} {not_in_memory} (no Jaeger is configured to fetch it from)")
        try:
            return jaeger.trace(trace_id)
        except TraceNotFound as error:
            raise TraceNotFound(f"{error}; if you opened it from a file, it {not_in_memory}") from None

    def load(trace_id: str) -> TraceTree:
        return cache.load(trace_id, fetch)

    def open_upload(contents: str | None, filename: str | None) -> tuple[Any, ...]:
        """(href to navigate to, banner text, banner style, links to the traces of a several-trace file)."""
        if not contents:
            return no_update, no_update, no_update, no_update
        try:
            traces = [trace for trace in decode_upload(contents) if trace.spans]
        except SourceError as error:
            traces, message = [], f"{filename or 'upload'}: {error}"
        else:
            message = None if traces else f"{filename or 'upload'} holds no spans"
        for trace in traces:
            cache.put(trace)
        if len(traces) == 1:
            return f"/trace/{traces[0].trace_id}", None, banner_style(None), no_update
        links = views.trace_links([trace.trace_id for trace in traces]) if traces else no_update
        return no_update, message, banner_style(message), links

    for upload_id, banner_id, links_id in UPLOADS:
        app.callback(Output("url", "href", allow_duplicate=True), Output(banner_id, "children", allow_duplicate=True),
                     Output(banner_id, "style", allow_duplicate=True), Output(links_id, "children", allow_duplicate=True),
                     Input(upload_id, "contents"), State(upload_id, "filename"), prevent_initial_call=True)(open_upload)
        app.clientside_callback(
            SIZE_CHECK, Output(views.upload_size_check_id(upload_id), "children"), Input(upload_id, "max_size"),
            State(upload_id, "id"), State(banner_id, "id"), State(views.upload_size_check_id(upload_id), "title"))

    # --- search page ---

    @app.callback(Output("traces-service", "options"), Output("traces-banner", "children", allow_duplicate=True),
                  Output("traces-banner", "style", allow_duplicate=True),
                  Input("traces-prefill", "data"), State("traces-service", "value"), prevent_initial_call="initial_duplicate")
    def list_services(_: Any, current: str | None) -> tuple[Any, Any, Any]:
        if jaeger is None:
            return [], None, banner_style(None)
        try:
            names = jaeger.services()
        except SourceError as error:
            message = f"Jaeger: {error}"
            return no_update, message, banner_style(message)
        return sorted(set(names) | ({current} if current else set())), None, banner_style(None)

    @app.callback(Output("traces-operation", "options"), Input("traces-service", "value"),
                  State("traces-operation", "value"))
    def list_operations(service: str | None, current: str | None) -> Any:
        if jaeger is None or not service:
            return []
        try:
            return sorted(set(jaeger.operations(service)) | ({current} if current else set()))
        except SourceError:
            return no_update  # the search itself reports Jaeger's trouble

    @app.callback(Output("traces-scatter", "figure"), Output("traces-scatter", "style"),
                  Output("traces-results", "children"), Output("traces-results", "className"),
                  Output("traces-banner", "children", allow_duplicate=True),
                  Output("traces-banner", "style", allow_duplicate=True),
                  Input("traces-search", "n_clicks"), Input("traces-prefill", "data"),
                  State("traces-service", "value"), State("traces-operation", "value"), State("traces-tags", "value"),
                  State("traces-min", "value"), State("traces-max", "value"), State("traces-lookback", "value"),
                  State("traces-limit", "value"), prevent_initial_call="initial_duplicate")
    def search(_: Any, prefill: dict[str, str] | None, service: str | None, operation: str | None, tags: str | None,
               min_duration: str | None, max_duration: str | None, lookback: str | None, limit: Any) -> tuple[Any, ...]:
        if jaeger is None:
            return no_update, views.HIDDEN, views.no_jaeger_message(), "mw-trace-results", None, banner_style(None)
        if not service:
            if ctx.triggered_id == "traces-prefill":
                return no_update, views.HIDDEN, "Choose a service and press Find traces.", \
                    "mw-trace-results mw-muted", None, banner_style(None)
            message = "Choose a service to search."
            return no_update, no_update, no_update, no_update, message, banner_style(message)
        try:
            found = jaeger.search(service, operation or None, parse_tags(tags), (min_duration or "").strip() or None,
                                  (max_duration or "").strip() or None, LOOKBACK_SECONDS.get(lookback or "1h", 3600),
                                  max(1, min(int(limit or 20), 1500)), services.clock())
        except ValueError as error:
            return no_update, no_update, no_update, no_update, str(error), banner_style(str(error))
        except SourceError as error:
            message = f"Jaeger: {error}. The results below are from the last successful search (stale)."
            return no_update, no_update, no_update, "mw-trace-results mw-stale", message, banner_style(message)
        for trace in found:
            cache.put(trace)
        summaries = [summarise(trace) for trace in found]
        message = None if summaries else unknown_service(service)
        results = None if message else views.result_list(summaries)
        return views.scatter_figure(summaries), views.scatter_style(summaries), results, "mw-trace-results", \
            message, banner_style(message)

    def unknown_service(service: str) -> str | None:
        """Why a search found nothing, when the reason is a service Jaeger has never seen."""
        try:
            known = sorted(jaeger.services())
        except SourceError:
            return None  # the empty result stands; the next search reports Jaeger's trouble
        return None if service in known else views.unknown_service_message(service, known)

    @app.callback(Output("url", "href", allow_duplicate=True), Input("traces-scatter", "clickData"),
                  prevent_initial_call=True)
    def open_clicked(click: dict[str, Any] | None) -> Any:
        points = (click or {}).get("points") or []
        return f"/trace/{points[0]['customdata']}" if points and points[0].get("customdata") else no_update

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

    @app.callback(Output("trace-waterfall", "figure"), Output("trace-waterfall", "style"),
                  Output("trace-tools", "style"), Output("trace-body", "style"), Output("trace-header", "children"),
                  Output("trace-banner", "children", allow_duplicate=True), Output("trace-banner", "style", allow_duplicate=True),
                  Output("trace-page-label", "children"), Output("trace-page-shown", "data"),
                  Output("trace-collapse-shown", "data"),
                  Output("trace-loading", "children", allow_duplicate=True),
                  Input("trace-id", "data"), Input("trace-collapse", "data"), Input("trace-page", "data"),
                  Input("trace-find", "value"), Input("trace-options", "value"), Input("trace-selected", "data"),
                  State("trace-reveal", "data"), State("trace-collapse-shown", "data"),
                  prevent_initial_call="initial_duplicate",
                  running=[(Output("trace-loading", "style"), {"display": "block"}, {"display": "none"}),
                           (Output("trace-loading-tick", "disabled"), False, True)])
    def render(trace_id: str, collapse_in: dict[str, Any] | None, page: int | None, find: str | None,
               options: list[str] | None, selected: str | None, reveal: str | None,
               shown: dict[str, Any] | None) -> tuple[Any, ...]:
        try:
            tree = load(check_trace_id(trace_id))
        except (ValueError, SourceError) as error:
            message = str(error)
            if shown is None or isinstance(error, (ValueError, TraceNotFound, TraceNotInMemory)):
                # No trace to show: the banner alone says why, and the trace's tools go away.
                return no_update, no_update, views.HIDDEN, views.HIDDEN, None, message, banner_style(message), \
                    "", 0, None, no_update
            message += " (showing the trace as last loaded)"
            return no_update, no_update, no_update, no_update, no_update, message, banner_style(message), \
                no_update, no_update, no_update, no_update
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
        # Later renders (find, page turns) take a moment, not a load.
        return figure, views.waterfall_style(len(window)), {}, {}, header, None, banner_style(None), label, page, \
            collapse_data(collapse), "Updating…"

    @app.callback(Output("trace-loading", "children", allow_duplicate=True), Input("trace-loading-tick", "n_intervals"),
                  State("trace-id", "data"), prevent_initial_call=True)
    def show_progress(_: Any, trace_id: str) -> Any:
        progress = cache.progress(trace_id)
        return views.loading_text(trace_id, *progress) if progress else no_update

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
        try:
            details = details_of(tree, index)
        except SourceError as error:
            return html.Div(str(error), className="mw-error-text"), *hidden_button
        panel = views.span_detail(tree, index, details)
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

    # A click on a row's label selects its span, as a click on its bar does:
    # Plotly reports clicks on bars only, so the page maps the click's height to a row.
    app.clientside_callback(
        """function(traceId) {
            if (!window.mwWaterfallLabelClicks) {
                window.mwWaterfallLabelClicks = true;
                document.addEventListener("click", function(event) {
                    var graph = document.querySelector("#trace-waterfall .js-plotly-plot");
                    var rows = graph && graph.layout && graph.layout.meta && graph.layout.meta.rows;
                    var plot = graph && graph.querySelector(".nsewdrag");
                    if (!rows || !rows.length || !plot || !graph.contains(event.target)) { return; }
                    var box = plot.getBoundingClientRect();
                    if (event.clientX >= box.left || event.clientY < box.top || event.clientY >= box.bottom) { return; }
                    var row = Math.floor((event.clientY - box.top) / (box.height / rows.length));
                    window.dash_clientside.set_props("trace-selected", {data: rows[row]});
                }, true);
            }
            return "";
        }""",
        Output("trace-label-clicks", "children"), Input("trace-id", "data"),
    )

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
        except (TraceNotFound, TraceNotInMemory) as error:
            return _error(str(error), 404)
        except SourceError as error:
            return _error(str(error), 502)
        return jsonify(trace_document(tree))


def _error(message: str, status: int) -> Any:
    response = jsonify({"error": message})
    response.status_code = status
    return response

