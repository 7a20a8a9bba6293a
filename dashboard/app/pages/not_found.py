"""The page for an address no page serves."""

from __future__ import annotations

from typing import Any

import dash
from dash import Dash, html

from dashboard.app.runtime import Runtime
from layouts.shell import not_found


def layout(**_: Any) -> html.Div:
    path = dash.ctx.inputs.get("_pages_location.pathname") if dash.ctx else None
    return not_found(path or "this address")


def register(app: Dash, runtime: Runtime) -> None:
    # Dash Pages shows the page registered under a module named `not_found_404`.
    dash.register_page("meshwatch.not_found_404", title="meshwatch · not found", layout=layout)
