"""One refresh of each view: fetch from the data sources, then analyse.

Shared by the pages' callbacks, the JSON API and the CLI, so the three give
the same answer; no Dash here.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence

import networkx as nx

from dashboard.app.config import Settings, bytes_of
from dashboard.app.services import Services
from dashboard.canary.observation import HISTORY_SECONDS, HISTORY_STEP_SECONDS
from dashboard.canary.release import ServiceRelease, analyze
from dashboard.format import clock_text, ignored_series
from dashboard.mesh.build import build_graph
from queries.duration import Duration
from queries.errors import ConfigError
from queries.istio import load as istio_config
from queries.istio.records import IstioConfig
from queries.telemetry import IGNORED, TelemetrySource


class ReleaseView(list[ServiceRelease]):
    """The release view of each service with a release in play, and
    `warnings`: what the data left out (series with bad values)."""

    def __init__(self, releases: Sequence[ServiceRelease], warnings: Sequence[str] = ()) -> None:
        super().__init__(releases)
        self.warnings = list(warnings)


def mesh_graph(
    telemetry: TelemetrySource,
    settings: Settings,
    at: float,
    window: Duration,
    namespaces: Sequence[str] = (),
) -> nx.DiGraph:
    """The service graph of the window ending at `at` (4 queries on Prometheus)."""
    return build_graph(telemetry.mesh(at, window, namespaces), settings, namespaces)


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
        return istio_config.load(settings.istio_config, bytes_of(settings.max_response_mb))
    if istio_config.kubernetes_configured():
        return istio_config.load_kubernetes(max_bytes=bytes_of(settings.max_response_mb))
    return None


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


def release_view(
    telemetry: TelemetrySource,
    config: IstioConfig | None,
    settings: Settings,
    at: float,
    window: Duration,
    namespaces: Sequence[str] = (),
    service: str | None = None,
) -> ReleaseView:
    """One mesh refresh plus the last hour's split, analysed (5 queries on Prometheus)."""
    graph = mesh_graph(telemetry, settings, at, window, namespaces)
    history = telemetry.version_traffic(at - HISTORY_SECONDS, at, HISTORY_STEP_SECONDS, window, namespaces)
    ignored = Counter(graph.graph.get("ignored", {})) + Counter(history.attrs.get(IGNORED, {}))
    releases = analyze(graph, history, config, settings.canary, window, service, namespaces)
    return ReleaseView(releases, ignored_series(ignored))


def stale_text(last_good: float | None, error: Exception) -> str:
    """The banner over a view whose refresh failed: since when it is stale, and why."""
    since = f"stale since {clock_text(last_good)}" if last_good else "no data yet"
    return f"{since} — {error}"


def slow_text(backend: str, elapsed: float) -> str:
    """The banner over a view whose refresh outlasts the refresh interval."""
    return f"refreshing — {backend} slow ({elapsed:.0f} s)"


def longest_refresh(settings: Settings) -> float:
    """Seconds a refresh can take: two rounds of queries (the mesh, then the
    split's history), each within --prometheus-timeout, and a second to spare."""
    return 2 * settings.prometheus_timeout + 1.0


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
