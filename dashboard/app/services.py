"""The data sources one running dashboard talks to, chosen once at start."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dashboard.app.config import CONNECTION_OPTIONS, PrometheusEndpoint, Settings, bytes_of

if TYPE_CHECKING:  # the frames' module loads pandas, which `meshwatch trace` does without
    from queries.connection import Connection
    from queries.telemetry import TelemetrySource


@dataclass
class Services:
    """Everything the app wiring may ask for data.

    - telemetry: Prometheus, or the simulated mesh in demo mode;
    - traces: the tracing backend's client, Jaeger's (queries.jaeger) or
      Tempo's (queries.tempo, with --tempo), both with one interface; `serve`
      always has one, or None where a caller builds Services without;
    - istio_objects: returns the VirtualService/DestinationRule manifests
      (plain dicts as `kubectl get -o yaml` gives them) and where they came
      from, or None when no Istio config is known;
    - clock: unix seconds now (the demo's clock may run fast);
    - story_phase: in the demo, the story phase in force (name, description,
      started_at, ends_at, held), for the header.
    """

    telemetry: TelemetrySource
    traces: Any = None
    istio_objects: Callable[[], Any] | None = None
    clock: Callable[[], float] = time.time
    mode: str = "live"
    story_phase: Callable[[], Any] | None = None


def connection(
    settings: Settings, backend: str, url: str, endpoint: PrometheusEndpoint | None = None
) -> Connection:
    """The connection options of `backend` ("prometheus" or "jaeger": the
    `--B-...` options, named as Connection's fields), checked against `url`;
    a Prometheus of several takes its own from its `[prometheus.NAME]` table."""
    from queries.connection import Connection

    def value(name: str) -> Any:
        return endpoint.setting(settings, name) if endpoint else getattr(settings, f"{backend}_{name}")

    made = Connection(**{name: value(name) for name in CONNECTION_OPTIONS})
    made.check(f"--{backend}", url)
    return made


def prometheus_source(settings: Settings) -> TelemetrySource:
    """The Prometheus of `--prometheus`; several (one per cluster) as one
    source that asks them all at once and merges what they hold."""
    from queries.prometheus import PrometheusSource

    sources = [
        PrometheusSource(
            endpoint.url,
            endpoint.setting(settings, "timeout"),
            bytes_of(settings.max_response_mb),
            connection(settings, "prometheus", endpoint.url, endpoint),
            endpoint.setting(settings, "method"),
            endpoint.name,
        )
        for endpoint in settings.prometheus
    ]
    if len(sources) == 1:
        return sources[0]
    from queries.merged import MergedSource

    return MergedSource(sources)


def trace_backend(settings: Settings) -> Any:
    """Tempo's client with --tempo, else Jaeger's (at --jaeger or its
    default); either goes over the `--jaeger-...` connection options."""
    if settings.tempo:
        from queries.tempo import TempoClient

        return TempoClient(
            settings.tempo,
            settings.tempo_timeout,
            max_response_bytes=bytes_of(settings.max_response_mb),
            connection=connection(settings, "jaeger", settings.tempo),
        )
    from queries.jaeger import JaegerClient

    return JaegerClient(
        settings.jaeger,
        settings.jaeger_api,
        settings.jaeger_timeout,
        max_response_bytes=bytes_of(settings.max_response_mb),
        connection=connection(settings, "jaeger", settings.jaeger),
    )


def live_services(settings: Settings) -> Services:
    return Services(telemetry=prometheus_source(settings), traces=trace_backend(settings))


def demo_services(settings: Settings) -> Services:
    """The simulated Bookinfo mesh: its telemetry, its traces through a Jaeger
    client, its Istio config, and its clock (which runs the model forward)."""
    from queries.jaeger import JaegerClient
    from queries.simulator import Simulation
    from queries.simulator.simulation import DEMO_PRELUDE

    simulation = Simulation(speed=settings.speed, phase=settings.phase, prelude=DEMO_PRELUDE)
    traces = JaegerClient("http://simulated", api="v1", transport=simulation.jaeger_transport)
    return Services(
        telemetry=simulation.telemetry,
        traces=traces,
        istio_objects=simulation.istio_objects,
        clock=simulation.clock,
        mode="demo",
        story_phase=simulation.phase_info,
    )
