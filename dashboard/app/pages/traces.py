"""The trace search page (`/traces`): the backend's search (Jaeger or Tempo)
with a scatter plot and a result list that says what each trace is.
`?service=&operation=&tags=&minDuration=&maxDuration=&lookback=&limit=&sort=`
prefill the form (the topology's links use them) and search at once; on a
first open without a service the page picks the ingress gateway's (the
requests users made) and shows the last 15 minutes. Sorting and the version
filter act on the traces found, without a new search; two picked traces
open the compare page."""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Any

import dash
from dash import ALL, Dash, Input, Output, State, ctx, html, no_update

from dashboard.app import trace_upload
from dashboard.app.runtime import Runtime, current
from dashboard.app.trace_cache import ParsesBusy
from dashboard.traces.results import describe, sort_summaries, through_versions, version_choices
from dashboard.traces.summary import TraceSummary
from layouts.links import compare_href, trace_href
from layouts.text import visible
from layouts.traces import search as views
from queries.errors import SourceError

LOOKBACK_SECONDS = dict(views.LOOKBACKS)
PREFILL = ("service", "operation", "tags", "minDuration", "maxDuration", "lookback", "limit", "sort")
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


def traceql_of(text: str | None) -> str | None:
    """The Tags box holding a TraceQL query (`{ ... }`), for Tempo."""
    value = (text or "").strip()
    return value if value.startswith("{") else None


def default_service(names: list[str], ingress: str) -> str | None:
    """The service a first open searches: the ingress gateway's (where users' requests
    start), else the first one."""
    pattern = re.compile(ingress)
    return next((name for name in names if pattern.search(name.split(".")[0])), names[0] if names else None)


def summaries_of(data: list[dict[str, Any]]) -> list[TraceSummary]:
    """The summaries kept in the page's store, as they were."""
    return [TraceSummary(**item) for item in data]


def register(app: Dash, runtime: Runtime) -> None:
    dash.register_page(__name__, path="/traces", title="meshwatch · traces", layout=layout)
    backend = runtime.services.traces
    name = getattr(backend, "name", "Jaeger")

    @app.callback(
        Output("traces-service", "options"),
        Output("traces-service", "value"),
        Output("traces-autosearch", "data"),
        Output("traces-banner", "children", allow_duplicate=True),
        Output("traces-banner", "hidden", allow_duplicate=True),
        Input("traces-prefill", "data"),
        State("traces-service", "value"),
        prevent_initial_call="initial_duplicate",
    )
    def list_services(_: Any, current: str | None) -> tuple[Any, ...]:
        if backend is None:
            return [], no_update, no_update, None, True
        try:
            names = sorted(backend.services())
        except SourceError as error:
            return no_update, no_update, no_update, f"{name}: {error}", False
        if current:
            return views.name_options(sorted(set(names) | {current})), no_update, no_update, None, True
        chosen = default_service(names, runtime.settings.ingress)
        return views.name_options(names), chosen, (chosen is not None) or no_update, None, True

    @app.callback(
        Output("traces-operation", "options"),
        Input("traces-service", "value"),
        State("traces-operation", "value"),
    )
    def list_operations(service: str | None, current: str | None) -> Any:
        if backend is None or not service:
            return []
        try:
            return views.name_options(
                sorted(set(backend.operations(service)) | ({current} if current else set()))
            )
        except SourceError:
            return no_update  # the search itself reports the backend's trouble

    @app.callback(
        Output("traces-found", "data"),
        Output("traces-results", "children", allow_duplicate=True),
        Output("traces-results", "className"),
        Output("traces-banner", "children", allow_duplicate=True),
        Output("traces-banner", "hidden", allow_duplicate=True),
        Input("traces-search", "n_clicks"),
        Input("traces-prefill", "data"),
        Input("traces-autosearch", "data"),
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
        _autosearch: Any,
        service: str | None,
        operation: str | None,
        tags: str | None,
        min_duration: str | None,
        max_duration: str | None,
        lookback: str | None,
        limit: Any,
    ) -> tuple[Any, ...]:
        if backend is None:
            return no_update, views.no_backend_message(), "mw-trace-results", None, True
        if not service:
            if ctx.triggered_id != "traces-search":
                return (
                    no_update,
                    "Choose a service and press Find traces.",
                    "mw-trace-results mw-muted",
                    None,
                    True,
                )
            return no_update, no_update, no_update, "Choose a service to search.", False
        try:
            traceql = traceql_of(tags)
            # The traces found are analysed into the cache in one of its parse slots.
            with runtime.traces.parsing():
                found = backend.search(
                    service,
                    operation or None,
                    {} if traceql else parse_tags(tags),
                    (min_duration or "").strip() or None,
                    (max_duration or "").strip() or None,
                    LOOKBACK_SECONDS.get(lookback or views.DEFAULT_LOOKBACK, 900),
                    parse_limit(limit or 20),
                    runtime.services.clock(),
                    **({"traceql": traceql} if traceql else {}),
                )
                trees = [runtime.traces.put(trace) for trace in found]
        except (ValueError, ParsesBusy) as error:
            return no_update, no_update, no_update, str(error), False
        except SourceError as error:
            message = f"{name}: {error}. The results below are from the last successful search (stale)."
            return no_update, no_update, "mw-trace-results mw-stale", message, False
        summaries = [describe(tree) for tree in trees]
        unknown = None if summaries else unknown_service(service)
        skipped = views.skipped_message(found.skipped, name) if found.skipped else None
        message = "; ".join(filter(None, [unknown, skipped])) or None
        data = {"found": [asdict(s) for s in summaries], "unknown_service": bool(unknown)}
        return data, no_update, "mw-trace-results", message, not message

    def unknown_service(service: str) -> str | None:
        """Why a search found nothing, when the reason is a service the backend has never seen."""
        try:
            known = sorted(backend.services())
        except SourceError:
            return None  # the empty result stands; the next search reports the backend's trouble
        return None if service in known else views.unknown_service_message(service, known, name)

    @app.callback(
        Output("traces-scatter", "figure"),
        Output("traces-scatter-box", "hidden"),
        Output("traces-results", "children", allow_duplicate=True),
        Output("traces-versions", "options"),
        Input("traces-found", "data"),
        Input("traces-sort", "value"),
        Input("traces-versions", "value"),
        prevent_initial_call=True,
    )
    def show_results(data: dict[str, Any] | None, order: str | None, chosen: list[str] | None) -> Any:
        if data is None:
            return no_update, no_update, no_update, no_update
        found = summaries_of(data["found"])
        wanted = [tuple(value.split(views.VERSION_SEPARATOR, 1)) for value in chosen or []]
        shown = sort_summaries(through_versions(found, wanted), order or "recent")
        options = [
            {
                "label": visible(f"{views.short_service(service)} {version}"),
                "value": views.version_value(service, version),
            }
            for service, version in version_choices(found)
        ]
        return (
            views.scatter_figure(shown),
            not shown,
            views.result_list(shown, len(found)) if found else None,
            options,
        )

    @app.callback(
        Output("traces-compare", "href"),
        Output("traces-compare-box", "hidden"),
        Output("traces-compare-hint", "hidden"),
        Input({"type": "traces-pick", "trace": ALL}, "value"),
    )
    def pick_for_compare(picks: list[list[str]]) -> tuple[Any, bool, bool]:
        picked = [trace_id for values in picks for trace_id in values or []]
        if len(picked) != 2:
            return no_update, True, False
        return compare_href(picked[0], picked[1]), False, True

    @app.callback(
        Output("url", "href", allow_duplicate=True),
        Input("traces-scatter", "clickData"),
        prevent_initial_call=True,
    )
    def open_clicked(click: dict[str, Any] | None) -> Any:
        points = (click or {}).get("points") or []
        return trace_href(points[0]["customdata"]) if points and points[0].get("customdata") else no_update
