"""Whether each backend answers, as the dashboard last found it.

Every call the app makes to Prometheus or to the trace backend goes through
`Watched`, which notes how it went: `/api/status` reports it, the
`meshwatch_backend_up` gauge shows it, and one log line says when a backend
goes down and one when it comes back (never one per poll). A trace that is
not there, or a question refused as bad input, says nothing about the
backend's health.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dashboard.app import metrics
from dashboard.app.config import Settings
from dashboard.app.services import Services
from queries.errors import ConfigError, SourceError, TraceNotFound

log = logging.getLogger("meshwatch.backends")


@dataclass
class BackendState:
    """One backend: up (None until first asked), when it last answered, why it last failed."""

    name: str
    up: bool | None = None
    last_ok: float | None = None
    error: str | None = None
    checked: float | None = None

    def document(self) -> dict[str, Any]:
        return {"up": self.up, "last_ok": self.last_ok, "error": self.error}


class Backends:
    """The states of the dashboard's backends, by key (`prometheus`, `jaeger`, `tempo`)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.states: dict[str, BackendState] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def state(self, key: str, name: str) -> BackendState:
        with self._lock:
            return self.states.setdefault(key, BackendState(name))

    def answered(self, key: str, name: str) -> None:
        state = self.state(key, name)
        with self._lock:
            was, state.up, state.error = state.up, True, None
            state.last_ok = state.checked = self._clock()
        metrics.BACKEND_UP.labels(key).set(1)
        if was is False:
            log.info("%s is back up", name, extra={"backend": key, "up": True})

    def failed(self, key: str, name: str, error: Exception) -> None:
        state = self.state(key, name)
        with self._lock:
            was, state.up, state.error = state.up, False, str(error)
            state.checked = self._clock()
        metrics.BACKEND_UP.labels(key).set(0)
        if was is not False:
            log.warning("%s is down: %s", name, error, extra={"backend": key, "up": False})

    def document(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {key: state.document() for key, state in self.states.items()}


class Watched:
    """A data source whose calls note, in `backends`, whether the backend
    answered; everything else about it passes through."""

    def __init__(self, source: Any, key: str, name: str, backends: Backends) -> None:
        self._source, self._backends = source, backends
        self.backend_key, self.backend_name = key, name

    def __getattr__(self, attribute: str) -> Any:
        value = getattr(self._source, attribute)
        if not callable(value) or attribute.startswith("_"):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            key, name = self.backend_key, self.backend_name
            try:
                result = value(*args, **kwargs)
            except (TraceNotFound, ConfigError):
                self._backends.answered(key, name)
                raise
            except SourceError as error:
                self._backends.failed(key, name, error)
                raise
            self._backends.answered(key, name)
            return result

        return call


def watched(services: Services, settings: Settings, backends: Backends) -> Services:
    """The services with their backends watched: Prometheus (the simulation in
    the demo) and the trace backend, Jaeger or Tempo."""
    telemetry_key = "prometheus" if services.mode == "live" else "simulation"
    traces_key = "tempo" if settings.tempo else "jaeger"
    telemetry_name = getattr(services.telemetry, "name", "Prometheus")
    if hasattr(services.telemetry, "on_query"):
        services.telemetry.on_query = metrics.query_outcome
    return dataclasses.replace(
        services,
        telemetry=Watched(services.telemetry, telemetry_key, telemetry_name, backends),
        traces=None
        if services.traces is None
        else Watched(services.traces, traces_key, traces_key.capitalize(), backends),
    )
