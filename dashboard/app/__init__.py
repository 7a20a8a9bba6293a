"""The app wiring, where all state lives: settings (`config`), the command
line (`cli`), the data sources (`services`), one refresh of each view
(`refresh`), the JSON API (`api`), the trace cache, and the pages (`pages`,
one module each).

`gunicorn 'dashboard.app:create_app()'` serves the dashboard (options from
MESHWATCH_* environment variables). Importing this package stays cheap: Dash
loads only when an app is made, so `meshwatch --version` starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dash import Dash

    from dashboard.app.config import Settings
    from dashboard.app.services import Services


def create_app(settings: Settings | None = None, services: Services | None = None) -> Dash:
    from dashboard.app.factory import create_app as build

    return build(settings, services)
