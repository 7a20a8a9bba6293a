"""The app wiring for tests: a runtime around given services, and a page's
layout rendered as a request to the app would render it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dash import Dash

from dashboard.app.config import Settings
from dashboard.app.runtime import Runtime
from dashboard.app.services import Services
from dashboard.app.trace_cache import TraceCache, backend_fetch


def make_runtime(settings: Settings, services: Services) -> Runtime:
    return Runtime(settings, services, TraceCache(backend_fetch(services.traces)))


def render(app: Dash, layout: Callable[..., Any], **query: Any) -> str:
    """What a page's layout shows for these query parameters, as text."""
    with app.server.test_request_context():
        return str(layout(**query))
