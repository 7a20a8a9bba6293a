"""Two traces compared (`/compare/<a>/<b>`): spans matched by their path of
service:operation, each added, removed, changed or the same, slowest
differences first, and the two critical paths side by side. The traces come
through the trace cache, like the trace page's: within its memory bound and
its limit of traces read at once (busy says retry)."""

from __future__ import annotations

from typing import Any

import dash
from dash import Dash, Input, Output, html, no_update

from dashboard.app.runtime import Runtime
from dashboard.traces.compare import compare_traces
from layouts.text import visible
from layouts.traces import compare as views
from queries.errors import SourceError
from queries.traces.records import check_trace_id


def layout(a: str = "", b: str = "", **_: Any) -> html.Div:
    return views.compare_page(a, b)


def register(app: Dash, runtime: Runtime) -> None:
    dash.register_page(__name__, path_template="/compare/<a>/<b>", title="meshwatch · compare", layout=layout)

    @app.callback(
        Output("compare-body", "children"),
        Output("compare-banner", "children"),
        Output("compare-banner", "hidden"),
        Input("compare-ids", "data"),
        Input("compare-options", "value"),
        running=[(Output("compare-loading", "hidden"), False, True)],
    )
    def show(ids: list[str], options: list[str] | None) -> tuple[Any, Any, bool]:
        try:
            a, b = (runtime.traces.load(check_trace_id(trace_id)) for trace_id in ids)
        except (ValueError, SourceError) as error:
            return no_update, visible(error), False
        return views.compare_body(compare_traces(a, b), "same" in (options or [])), None, True
