"""The dashboard's pages, one module each (Dash Pages): every module has a
`layout(**query)` Dash calls with the address's path variables and query
parameters, and a `register(app, runtime)` that registers the page and its
callbacks. The routing table is the list below."""

from __future__ import annotations

from dash import Dash

from dashboard.app import trace_upload
from dashboard.app.pages import canary, compare, not_found, topology, trace, traces
from dashboard.app.runtime import Runtime

# /  (and /topology), /traces, /trace/<trace_id>, /compare/<a>/<b>, /canary, and the rest.
PAGES = (topology, traces, trace, compare, canary, not_found)


def register(app: Dash, runtime: Runtime) -> None:
    for page in PAGES:
        page.register(app, runtime)
    trace_upload.register(app, runtime)
