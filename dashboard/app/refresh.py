"""One refresh of each view: fetch from the data sources, then analyse.

Shared by the pages' callbacks, the JSON API and the CLI, so the three give
the same answer; no Dash here.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import networkx as nx
import pandas as pd

from dashboard.app.config import Settings, bytes_of
from dashboard.app.services import Services
from dashboard.canary.observation import HISTORY_SECONDS, HISTORY_STEP_SECONDS
from dashboard.canary.release import ServiceRelease, analyze, retired_workloads
from dashboard.format import ignored_series
from dashboard.mesh.build import build_graph
from dashboard.mesh.graph_types import VERSIONED, Overview
from dashboard.mesh.history import SelectionHistory, selection_history
from queries.duration import Duration, prometheus_duration
from queries.errors import ConfigError, SourceError
from queries.istio import load as istio_config
from queries.istio.records import IstioConfig
from queries.telemetry import IGNORED, WARNINGS, MeshTelemetry, SeriesSelection, TelemetrySource


class ReleaseView(list[ServiceRelease]):
    """The release view of each service with a release in play, and
    `warnings`: what the data left out (series with bad values) and what
    the backend warned of."""

    def __init__(self, releases: Sequence[ServiceRelease], warnings: Sequence[str] = ()) -> None:
        super().__init__(releases)
        self.warnings = list(warnings)


# The baseline lookback is read in this many coarse steps (24 h: 10 minutes each).
LOOKBACK_STEPS = 144


def mesh_graph(
    telemetry: TelemetrySource,
    settings: Settings,
    at: float,
    window: Duration,
    namespaces: Sequence[str] = (),
    config: IstioConfig | None = None,
    *shape: Any,
    **named_shape: Any,
) -> nx.DiGraph:
    """The service graph of the window ending at `at` (4 queries on each
    Prometheus): graph_of its telemetry, of the shape given (graph type,
    overview, clusters) as graph_of takes it."""
    mesh = telemetry.mesh(at, window, namespaces)
    return graph_of(mesh, settings, namespaces, config, *shape, **named_shape)


def graph_of(
    mesh: MeshTelemetry,
    settings: Settings,
    namespaces: Sequence[str] = (),
    config: IstioConfig | None = None,
    graph_type: str = VERSIONED,
    overview: Overview | None = None,
    clusters: Sequence[str] | None = None,
    versioned: nx.DiGraph | None = None,
    folded: nx.DiGraph | None = None,
) -> nx.DiGraph:
    """The service graph of the telemetry, of the graph type
    (dashboard.mesh.graph_types), in the clusters (default: --cluster's),
    folded into a namespace overview above `overview.above` nodes (drawn
    after `versioned`, the telemetry's versioned graph, and `folded`, its
    folded_graph, when given); with
    routing config, retired versions are marked (versions are only drawn in
    the versioned graph)."""
    clusters = clusters_shown(settings, clusters)
    graph = build_graph(mesh, settings, namespaces, graph_type, clusters, overview, versioned, folded)
    if graph_type != VERSIONED:
        return graph
    retired = retired_workloads(graph, config)
    if retired and versioned is not None:
        graph = graph.copy()  # the cached versioned graph (or its nodes) stays as built
    for node_id in retired:
        graph.nodes[node_id]["node"] = dataclasses.replace(graph.nodes[node_id]["node"], retired=True)
    return graph


def clusters_shown(settings: Settings, clusters: Sequence[str] | None) -> Sequence[str]:
    """The clusters a graph is filtered to: those asked, else --cluster's."""
    return settings.cluster if clusters is None else clusters


def routing_config(settings: Settings, services: Services | None = None) -> IstioConfig | None:
    """The Istio routing config in force, or None when none is known: the
    demo's current phase, else --istio-config, else the Kubernetes API when
    its client and a cluster config are present."""
    if services is not None and services.istio_objects is not None:
        objects = services.istio_objects()
        return None if objects is None else istio_config.from_manifests(objects, "demo")
    if settings.istio_config and not settings.istio_config.startswith(istio_config.KUBERNETES):
        return directory_config(settings.istio_config)
    if settings.istio_config:
        return kubernetes_config(settings.istio_config, bytes_of(settings.max_response_mb))
    if istio_config.kubernetes_configured():
        return kubernetes_config(istio_config.KUBERNETES, bytes_of(settings.max_response_mb))
    return None


# Seconds a listing of the Kubernetes API's VirtualServices and DestinationRules
# is used before it is listed again: the polls of every viewer read it, never list.
KUBERNETES_KEEP_SECONDS = 30.0
# The listings as last read, by `kubernetes:[CONTEXT]`: when, and the config or why there is none.
_LISTINGS: dict[str, tuple[float, IstioConfig | SourceError | ConfigError]] = {}
_LISTING_LOCK = threading.Lock()


def kubernetes_config(spec: str, max_bytes: int) -> IstioConfig:
    """The routing config of a Kubernetes API (`kubernetes:[CONTEXT]`), listed
    at most once every KUBERNETES_KEEP_SECONDS; one listing at a time, the
    refreshes that ask meanwhile wait for it."""
    with _LISTING_LOCK:
        kept = _LISTINGS.get(spec)
        if kept is None or time.monotonic() - kept[0] >= KUBERNETES_KEEP_SECONDS:
            try:
                read: IstioConfig | SourceError | ConfigError = istio_config.load(spec, max_bytes)
            except (SourceError, ConfigError) as error:
                read = error
            kept = _LISTINGS[spec] = time.monotonic(), read
    if isinstance(kept[1], Exception):
        raise kept[1]
    return kept[1]


# --istio-config directories as last read: their files' stamp, and the config or why it is unreadable.
_DIRECTORIES: dict[str, tuple[istio_config.Stamp, IstioConfig | str]] = {}
_DIRECTORIES_LOCK = threading.Lock()


def directory_config(directory: str) -> IstioConfig:
    """The routing config of a directory, read again only when its files
    changed (which files, their modification times or sizes): a canary
    refresh every few seconds must not re-parse thousands of objects."""
    files = istio_config.config_files(directory)
    current = istio_config.stamp(files)
    with _DIRECTORIES_LOCK:
        known = _DIRECTORIES.get(directory)
    if known is None or known[0] != current:
        try:
            read: IstioConfig | str = istio_config.load_directory(directory, files)
        except ConfigError as error:
            read = str(error)
        with _DIRECTORIES_LOCK:
            _DIRECTORIES[directory] = current, read
    else:
        read = known[1]
    if isinstance(read, str):
        raise ConfigError(read)
    return read


class Lookback:
    """Version traffic over the baseline lookback, one coarse range query,
    kept until the next step is due (it changes once a step at most)."""

    def __init__(self, telemetry: TelemetrySource, hours: float) -> None:
        self.telemetry = telemetry
        self.seconds = hours * 3600.0
        self.step = max(60.0, math.ceil(self.seconds / LOOKBACK_STEPS / 60.0) * 60.0)
        self._kept: dict[tuple[tuple[str, ...], int], pd.DataFrame] = {}
        self._lock = threading.Lock()
        self._fetching = threading.Lock()

    def traffic(self, at: float, namespaces: Sequence[str] = ()) -> pd.DataFrame:
        key = (tuple(namespaces), int(at // self.step))
        # One range query a step, however many refreshes ask at once.
        with self._fetching:
            with self._lock:
                if key in self._kept:
                    return self._kept[key]
            end = key[1] * self.step
            frame = self.telemetry.version_traffic(
                end - self.seconds, end, self.step, prometheus_duration(f"{int(self.step)}s"), namespaces
            )
            with self._lock:
                self._kept = {k: v for k, v in self._kept.items() if k[1] == key[1]}
                self._kept[key] = frame
            return frame


def release_view(
    telemetry: TelemetrySource,
    config: IstioConfig | None,
    settings: Settings,
    at: float,
    window: Duration,
    namespaces: Sequence[str] = (),
    service: str | None = None,
    lookback: Lookback | None = None,
) -> ReleaseView:
    """One mesh refresh, the last hour's split and the baseline lookback,
    analysed (5 queries on each Prometheus, plus the lookback once a step).
    Releases span clusters (a service is one service in every cluster), so
    the analysis is never limited to --cluster."""
    graph = mesh_graph(telemetry, settings, at, window, namespaces, config, clusters=())
    history = telemetry.version_traffic(at - HISTORY_SECONDS, at, HISTORY_STEP_SECONDS, window, namespaces)
    lookback = lookback or Lookback(telemetry, settings.canary.baseline_lookback_h)
    baseline = lookback.traffic(at, namespaces)
    ignored = (
        Counter(graph.graph.get("ignored", {}))
        + Counter(history.attrs.get(IGNORED, {}))
        + Counter(baseline.attrs.get(IGNORED, {}))
    )
    said = [
        *graph.graph.get("warnings", []),
        *history.attrs.get(WARNINGS, []),
        *baseline.attrs.get(WARNINGS, []),
    ]
    releases = analyze(graph, history, config, settings.canary, window, service, namespaces, baseline)
    return ReleaseView(releases, ignored_series(ignored) + list(dict.fromkeys(said)))


def slow_text(backend: str, elapsed: float) -> str:
    """The banner over a view whose refresh outlasts the refresh interval."""
    return f"refreshing — {backend} slow ({elapsed:.0f} s)"


def longest_refresh(settings: Settings) -> float:
    """Seconds a refresh can take: three rounds of queries (the mesh, the
    split's history, and the baseline lookback when its step is due), each
    within --prometheus-timeout, and a second to spare."""
    return 3 * settings.prometheus_timeout + 1.0


# The share of a page's refresh interval a poll waits: its answer must land
# before the next tick, or the browser drops it for the newer poll.
POLL_WAIT_SHARE = 0.75


def poll_wait(settings: Settings, interval_ms: float | None, polling: bool) -> float:
    """How long a poll waits for its refresh before it says "refreshing":
    most of the page's refresh interval, or, when the page does not poll,
    the whole refresh."""
    if polling and interval_ms:
        return POLL_WAIT_SHARE * interval_ms / 1000.0
    return longest_refresh(settings)


# The side panel's sparklines: the last half hour, a point every 30 s.
SPARKLINE_MINUTES, SPARKLINE_STEP = 30, 30


def sparkline_end(at: float) -> float:
    """The last point at or before `at`: whole steps, so viewers of one moment ask one query."""
    return float(math.floor(at / SPARKLINE_STEP) * SPARKLINE_STEP)


def selected_history(
    telemetry: TelemetrySource, selection: SeriesSelection, at: float, window: Duration
) -> SelectionHistory:
    """The selection's figures at each step of the half hour up to `at` (one range query)."""
    end = sparkline_end(at)
    steps = SPARKLINE_MINUTES * 60 // SPARKLINE_STEP
    times = [end - (steps - i) * SPARKLINE_STEP for i in range(steps + 1)]
    rows = telemetry.selection_history(selection, times[0], end, SPARKLINE_STEP, window)
    return selection_history(rows, times)
