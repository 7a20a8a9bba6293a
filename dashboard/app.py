"""The Dash app factory: layout shell, page routing, callbacks and API routes.

Servable by gunicorn: `gunicorn 'dashboard.app:create_app()'` (options from
MESHWATCH_* environment variables).
"""

from __future__ import annotations

from pathlib import Path

from dash import Dash, Input, Output

from dashboard.config import Settings, resolve
from dashboard.services import Services, live_services
from layouts.shell import not_found, shell, story_badge


def assets_folder() -> str:
    """`assets/` of the checkout, or the copy packaged inside dashboard/."""
    packaged = Path(__file__).parent / "assets"
    return str(packaged if packaged.is_dir() else Path(__file__).parent.parent / "assets")


def create_app(settings: Settings | None = None, services: Services | None = None) -> Dash:
    from dashboard import api
    from dashboard.callbacks import canary, topology, traces

    settings = settings or resolve()
    services = services or live_services(settings)
    app = Dash(
        __name__,
        title="meshwatch",
        assets_folder=assets_folder(),
        health_endpoint="healthz",
        suppress_callback_exceptions=True,
        update_title=None,
    )
    app.layout = shell(services.mode)
    pages = [topology, traces, canary]
    for module in pages:
        module.register(app, services, settings)

    @app.callback(Output("page", "children"), Input("url", "pathname"), Input("url", "search"))
    def route(pathname: str | None, search: str | None):
        path = pathname or "/"
        for module in pages:
            page = module.page_for(path, search or "", settings)
            if page is not None:
                return page
        return not_found(path)

    if services.story_phase is not None:
        @app.callback(Output("mode-badge", "children"), Input("story-tick", "n_intervals"))
        def show_story_phase(_tick):
            phase = services.story_phase()
            ends_in = None if phase.ends_at is None else max(0.0, phase.ends_at - services.clock())
            return story_badge(phase.name, phase.description, ends_in, phase.held)

    api.register(app.server, services, settings)
    return app
