"""The canary page (`/canary`), `GET /api/canary`, and the one function that
gathers a release view for them and for `meshwatch canary`.

Configured weights come from `services.istio_objects()` when set (the demo's
current phase), else from `--istio-config` (a directory, or `kubernetes:`),
else from the Kubernetes API when the optional client and a cluster config
are present. A failed refresh leaves the cards on screen under a "stale
since" banner; unreadable Istio config shows the observed split alone under
an info banner.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Sequence
from urllib.parse import parse_qs

from dash import Dash, Input, Output, State, no_update
from flask import jsonify, request

from dashboard.canary import HISTORY_SECONDS, HISTORY_STEP_SECONDS, ServiceRelease, analyze, canary_document
from dashboard.config import ConfigError, Settings, instant, namespace as valid_namespace, window as valid_window
from dashboard.services import Services
from dashboard.topology import build_graph
from layouts import canary as view
from queries import istio_config
from queries.istio_config import IstioConfig
from queries.telemetry import SourceError, TelemetrySource


def valid_service(text: str | None) -> str | None:
    """`name` or `name.namespace`, each a DNS-1123 label."""
    if not text:
        return None
    name, dot, namespace = text.strip().partition(".")
    try:
        return valid_namespace(name) + (dot + valid_namespace(namespace) if dot else "")
    except ConfigError:
        raise ConfigError(f"bad service {text!r}: expected NAME or NAME.NAMESPACE (DNS-1123 labels)") from None


def configured(settings: Settings, services: Services | None = None) -> IstioConfig | None:
    """The Istio routing config in force, or None when none is known."""
    if services is not None and services.istio_objects is not None:
        objects = services.istio_objects()
        return None if objects is None else istio_config.from_manifests(objects, "demo")
    if settings.istio_config:
        return istio_config.load(settings.istio_config)
    if istio_config.kubernetes_configured():
        return istio_config.load_kubernetes()
    return None


def release_view(telemetry: TelemetrySource, config: IstioConfig | None, settings: Settings, at: float,
                 window: str, namespaces: Sequence[str] = (), service: str | None = None) -> list[ServiceRelease]:
    """One mesh refresh plus the last hour's split, analysed (5 queries on Prometheus)."""
    graph = build_graph(telemetry.mesh(at, window, namespaces), settings, namespaces)
    history = telemetry.version_traffic(at - HISTORY_SECONDS, at, HISTORY_STEP_SECONDS, window, namespaces)
    return analyze(graph, history, config, settings.canary, window, service, namespaces)


@dataclass
class CanaryView:
    """What one refresh puts on screen; `cards` None keeps the drawn ones."""

    cards: Any
    banner: str | None
    banner_kind: str
    status: str | None
    last_good: float | None


def _clock(at: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at))


def refresh_canary(services: Services, settings: Settings, service: str | None, last_good: float | None) -> CanaryView:
    """One poll of the canary page."""
    note = None
    try:
        config = configured(settings, services)
    except (ConfigError, SourceError) as error:
        config, note = None, f"Istio config not read — {error}; showing the observed split only"
    try:
        at = services.clock()
        releases = release_view(services.telemetry, config, settings, at, settings.window,
                                settings.namespace, valid_service(service))
    except (SourceError, ConfigError) as error:
        since = f"stale since {_clock(last_good)}" if last_good else "no data yet"
        return CanaryView(None, f"{since} — {error}", "stale", None, last_good)
    source = config.origin if config else "no Istio config"
    status = (f"updated {_clock(at)} · window {settings.window} · configured weights from {source} · "
              f"thresholds: success ≥ {settings.canary.min_success_ratio * 100:g} %, "
              f"p99 ≤ {settings.canary.max_p99_ms:g} ms, split within "
              f"{settings.canary.max_share_deviation * 100:g} points over ≥ "
              f"{settings.canary.min_requests_for_deviation:g} requests")
    return CanaryView(view.releases_view(releases, service), note, "info", status, time.time())


def page_for(path: str, search: str, settings: Settings) -> Any | None:
    if path.rstrip("/") != "/canary":
        return None
    service = parse_qs(search.lstrip("?")).get("service", [None])[0]
    return view.page(settings.refresh, service)


def register(app: Dash, services: Services, settings: Settings) -> None:
    @app.callback(
        Output("canary-cards", "children"),
        Output("canary-banner", "children"),
        Output("canary-banner", "style"),
        Output("canary-banner", "className"),
        Output("canary-status", "children"),
        Output("canary-last-good", "data"),
        Input("canary-tick", "n_intervals"),
        State("canary-service", "data"),
        State("canary-last-good", "data"),
    )
    def refresh(_tick, service, last_good):
        result = refresh_canary(services, settings, service, last_good)
        return (
            no_update if result.cards is None else result.cards,
            result.banner or "",
            {"display": "block" if result.banner else "none"},
            f"mw-banner mw-banner-{result.banner_kind}",
            no_update if result.status is None else result.status,
            result.last_good,
        )

    @app.server.route("/api/canary")
    def api_canary() -> Any:
        at_text = request.args.get("at")
        namespaces = [valid_namespace(ns) for ns in request.args.getlist("namespace")] or list(settings.namespace)
        releases = release_view(
            services.telemetry, configured(settings, services), settings,
            instant(at_text) if at_text else services.clock(),
            valid_window(request.args.get("window", settings.window)), namespaces,
            valid_service(request.args.get("service")))
        return jsonify(canary_document(releases))
