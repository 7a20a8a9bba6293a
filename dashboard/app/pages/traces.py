"""The trace search page (`/traces`): Jaeger's search with a scatter plot and
a result list. `?service=&operation=&tags=&minDuration=&maxDuration=&lookback=&limit=`
prefill the form (the topology's links use them) and search at once."""

from __future__ import annotations

from typing import Any

import dash
from dash import Dash, Input, Output, State, ctx, html, no_update

from dashboard.app import trace_upload
from dashboard.app.runtime import Runtime, current
from dashboard.app.trace_cache import ParsesBusy
from dashboard.traces.summary import summarise
from layouts.links import trace_href
from layouts.traces import search as views
from queries.errors import SourceError
from queries.jaeger import TraceSearch

LOOKBACK_SECONDS = dict(views.LOOKBACKS)
PREFILL = ("service", "operation", "tags", "minDuration", "maxDuration", "lookback", "limit")
MAX_LIMIT = 1500


def parse_limit(text: Any) -> int:
    """How many traces a search returns: 1 to 1,500 (Jaeger UI's bound)."""
    try:
        limit = int(str(text).strip())
    except ValueError:
        raise ValueError(f"bad limit {text!r}: a number of traces, 1 to {MAX_LIMIT:,}") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"bad limit {text!r}: a number of traces, 1 to {MAX_LIMIT:,}")
    return limit


def layout(**query: Any) -> html.Div:
    prefill = {
        key: str(query[key] if not isinstance(query[key], list) else query[key][-1])
        for key in PREFILL
        if query.get(key)
    }
    problems = []
    if "limit" in prefill:
        try:
            prefill["limit"] = parse_limit(prefill["limit"])
        except ValueError as error:
            problems.append(str(error))
            del prefill["limit"]
    if "lookback" in prefill and prefill["lookback"] not in LOOKBACK_SECONDS:
        problems.append(
            f"bad lookback {prefill.pop('lookback')!r}: choose one of {', '.join(LOOKBACK_SECONDS)}"
        )
    page = views.search_page(prefill, trace_upload.upload_limit(current().settings))
    if problems:
        banner = html.Div("; ".join(problems), className="mw-banner mw-banner-stale mw-page-problem")
        page.children.insert(0, banner)
    return page


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


def register(app: Dash, runtime: Runtime) -> None:
    dash.register_page(__name__, path="/traces", title="meshwatch · traces", layout=layout)
    jaeger = runtime.services.traces

    @app.callback(
        Output("traces-service", "options"),
        Output("traces-banner", "children", allow_duplicate=True),
        Output("traces-banner", "hidden", allow_duplicate=True),
        Input("traces-prefill", "data"),
        State("traces-service", "value"),
        prevent_initial_call="initial_duplicate",
    )
    def list_services(_: Any, current: str | None) -> tuple[Any, Any, Any]:
        if jaeger is None:
            return [], None, True
        try:
            names = jaeger.services()
        except SourceError as error:
            return no_update, f"Jaeger: {error}", False
        return views.name_options(sorted(set(names) | ({current} if current else set()))), None, True

    @app.callback(
        Output("traces-operation", "options"),
        Input("traces-service", "value"),
        State("traces-operation", "value"),
    )
    def list_operations(service: str | None, current: str | None) -> Any:
        if jaeger is None or not service:
            return []
        try:
            return views.name_options(
                sorted(set(jaeger.operations(service)) | ({current} if current else set()))
            )
        except SourceError:
            return no_update  # the search itself reports Jaeger's trouble

    @app.callback(
        Output("traces-scatter", "figure"),
        Output("traces-scatter-box", "hidden"),
        Output("traces-results", "children"),
        Output("traces-results", "className"),
        Output("traces-banner", "children", allow_duplicate=True),
        Output("traces-banner", "hidden", allow_duplicate=True),
        Input("traces-search", "n_clicks"),
        Input("traces-prefill", "data"),
        State("traces-service", "value"),
        State("traces-operation", "value"),
        State("traces-tags", "value"),
        State("traces-min", "value"),
        State("traces-max", "value"),
        State("traces-lookback", "value"),
        State("traces-limit", "value"),
        prevent_initial_call="initial_duplicate",
    )
    def search(
        _: Any,
        prefill: dict[str, str] | None,
        service: str | None,
        operation: str | None,
        tags: str | None,
        min_duration: str | None,
        max_duration: str | None,
        lookback: str | None,
        limit: Any,
    ) -> tuple[Any, ...]:
        if jaeger is None:
            return no_update, True, views.no_jaeger_message(), "mw-trace-results", None, True
        if not service:
            if ctx.triggered_id == "traces-prefill":
                return (
                    no_update,
                    True,
                    "Choose a service and press Find traces.",
                    "mw-trace-results mw-muted",
                    None,
                    True,
                )
            return no_update, no_update, no_update, no_update, "Choose a service to search.", False
        try:
            with runtime.traces.parsing():
                found = search_and_keep(
                    service,
                    operation or None,
                    parse_tags(tags),
                    (min_duration or "").strip() or None,
                    (max_duration or "").strip() or None,
                    LOOKBACK_SECONDS.get(lookback or "1h", 3600),
                    parse_limit(limit or 20),
                    runtime.services.clock(),
                )
        except (ValueError, ParsesBusy) as error:
            return no_update, no_update, no_update, no_update, str(error), False
        except SourceError as error:
            message = f"Jaeger: {error}. The results below are from the last successful search (stale)."
            return no_update, no_update, no_update, "mw-trace-results mw-stale", message, False
        summaries = [summarise(trace) for trace in found]
        message = None if summaries else unknown_service(service)
        if found.skipped:
            message = "; ".join(filter(None, [message, views.skipped_message(found.skipped)]))
        results = None if message and not summaries else views.result_list(summaries)
        return (
            views.scatter_figure(summaries),
            not summaries,
            results,
            "mw-trace-results",
            message,
            not message,
        )

    def search_and_keep(*arguments: Any) -> TraceSearch:
        """Jaeger's search, every trace found analysed into the cache."""
        found = jaeger.search(*arguments)
        for trace in found:
            runtime.traces.put(trace)
        return found

    def unknown_service(service: str) -> str | None:
        """Why a search found nothing, when the reason is a service Jaeger has never seen."""
        try:
            known = sorted(jaeger.services())
        except SourceError:
            return None  # the empty result stands; the next search reports Jaeger's trouble
        return None if service in known else views.unknown_service_message(service, known)

    @app.callback(
        Output("url", "href", allow_duplicate=True),
        Input("traces-scatter", "clickData"),
        prevent_initial_call=True,
    )
    def open_clicked(click: dict[str, Any] | None) -> Any:
        points = (click or {}).get("points") or []
        return trace_href(points[0]["customdata"]) if points and points[0].get("customdata") else no_update
