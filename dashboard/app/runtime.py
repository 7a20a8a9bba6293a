"""What one running dashboard holds: its settings, its data sources, its
trace cache and the refreshes in flight. The pages' layouts and the API find it on the Flask app that
serves the request; callbacks are given it when they are registered."""

from __future__ import annotations

from dataclasses import dataclass, field

import flask

from dashboard.app.config import Settings
from dashboard.app.flight import Flights
from dashboard.app.services import Services
from dashboard.app.trace_cache import TraceCache

EXTENSION = "meshwatch"


@dataclass
class Runtime:
    settings: Settings
    services: Services
    traces: TraceCache
    flights: Flights = field(default_factory=Flights)

    def install(self, server: flask.Flask) -> None:
        server.extensions[EXTENSION] = self


def current() -> Runtime:
    """The dashboard serving the request in hand."""
    return flask.current_app.extensions[EXTENSION]
