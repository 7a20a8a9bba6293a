"""The Dash app: the shell, the pages (Dash Pages, one module each), the
JSON API blueprint and the demo's header clock."""

from __future__ import annotations

from pathlib import Path

import dash_cytoscape as cyto
from dash import Dash, Input, Output

from dashboard.app import access, pages, trace_upload
from dashboard.app.api import api
from dashboard.app.backends import Backends, watched
from dashboard.app.config import Settings, bytes_of, resolve
from dashboard.app.runtime import Runtime
from dashboard.app.services import Services, live_services
from dashboard.app.trace_cache import SharedUploads, TraceCache, backend_fetch, shared_fetch
from dashboard.app.view_cache import RedisStore, store_of
from layouts.shell import shell, story_badge


def assets_folder() -> str:
    """`assets/` of the checkout, or the copy packaged inside dashboard/."""
    package = Path(__file__).parent.parent
    packaged = package / "assets"
    return str(packaged if packaged.is_dir() else package.parent / "assets")


def create_app(settings: Settings | None = None, services: Services | None = None) -> Dash:
    settings = settings or resolve()
    services = services or live_services(settings)
    prefix = settings.base_path.rstrip("/") + "/"
    # Cytoscape's bundle with its extensions: the SVG export is one of them.
    cyto.load_extra_layouts()
    app = Dash(
        __name__,
        title="meshwatch",
        assets_folder=assets_folder(),
        use_pages=True,
        pages_folder="",
        url_base_pathname=prefix,
        suppress_callback_exceptions=True,
        update_title=None,
    )
    # First of all the server's hooks: nothing answers before the caller is known.
    access.install(app.server, settings)
    backends = Backends()
    services = watched(services, settings, backends)
    store = store_of(settings.cache_url)
    uploads = SharedUploads(store) if isinstance(store, RedisStore) else None
    traces = TraceCache(
        shared_fetch(uploads, backend_fetch(services.traces)),
        bytes_of(settings.trace_cache_mb),
        settings.max_trace_parses,
    )
    runtime = Runtime(settings, services, traces, backends=backends, store=store, uploads=uploads)
    runtime.install(app.server)
    # A request over this is refused before it is read (413): no upload parses past --max-upload-mb.
    app.server.config["MAX_CONTENT_LENGTH"] = trace_upload.request_limit(settings)
    # The API serves the CLI's documents: keep their field order.
    app.server.json.sort_keys = False
    app.server.register_blueprint(api, url_prefix=prefix.rstrip("/") or None)
    app.layout = shell(services.mode)
    pages.register(app, runtime)

    if services.story_phase is not None:

        @app.callback(
            Output("mode-badge", "children"),
            Output("mode-badge", "title"),
            Input("story-tick", "n_intervals"),
        )
        def show_story_phase(_tick):
            phase = services.story_phase()
            ends_in = None if phase.ends_at is None else max(0.0, phase.ends_at - services.clock())
            line = story_badge(
                phase.name, phase.description, ends_in, phase.held, runtime.clock_words(services.clock())
            )
            return line, line  # the whole line in the tooltip, where one row on a laptop cuts it

    return app
