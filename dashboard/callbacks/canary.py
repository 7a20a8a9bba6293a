"""The canary page (`/canary`) and `GET /api/canary` (the release view itself
is gathered by dashboard.refresh, shared with `meshwatch canary`).

Configured weights come from `services.istio_objects()` when set (the demo's
current phase), else from `--istio-config` (a directory, or `kubernetes:`),
else from the Kubernetes API when the optional client and a cluster config
are present. A failed refresh leaves the cards on screen under a "stale
since" banner (or, before any success, says "no data yet" and why);
unreadable Istio config shows the observed split alone under an info
banner; a bad `?service=` or `?window=` gets a page saying so, which does
not poll. The window picker (and `?window=`) sets the rate window.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from dash import Dash, Input, Output, State, no_update
from flask import jsonify, request

from dashboard.canary import canary_document
from dashboard.config import ConfigError, Settings, instant, namespace as valid_namespace, service as valid_service
from dashboard.config import window as valid_window
from dashboard.refresh import clock_text, configured_routing, release_view, stale_text
from dashboard.services import Services
from layouts.shell import banner_style
from layouts import canary as view
from layouts.topology import WINDOWS
from queries.promql import duration_seconds
from queries.telemetry import SourceError


@dataclass
class CanaryView:
    """What one refresh puts on screen; `cards` None keeps the drawn ones."""

    cards: Any
    banner: str | None
    banner_kind: str
    status: str | None
    last_good: float | None


def refresh_canary(services: Services, settings: Settings, service: str | None, last_good: float | None,
                   window: str | None = None) -> CanaryView:
    """One poll of the canary page over `window` (default: the configured one)."""
    try:
        service, window = valid_service(service), valid_window(window or settings.window)
    except ConfigError as error:
        return CanaryView(view.bad_address(str(error)), None, "stale", None, None)
    note = None
    try:
        config = configured_routing(settings, services)
    except (ConfigError, SourceError) as error:
        config, note = None, f"Istio config not read — {error}; showing the observed split only"
    try:
        at = services.clock()
        releases = release_view(services.telemetry, config, settings, at, window, settings.namespace, service)
    except (SourceError, ConfigError) as error:
        # Cards drawn earlier stay under the banner; before any, the banner says why nothing shows.
        cards = None if last_good else view.waiting(settings.refresh)
        return CanaryView(cards, stale_text(last_good, error), "stale", None, last_good)
    source = config.origin if config else "no Istio config"
    thresholds = settings.canary
    status = (f"updated {clock_text(at)} · window {window} · configured weights from {source} · "
              f"thresholds: success ≥ {thresholds.min_success_ratio * 100:g} %, "
              f"p99 ≤ {thresholds.max_p99_ms:g} ms over ≥ {thresholds.min_requests_for_verdict:g} requests "
              f"to a canary, split within {thresholds.max_share_deviation * 100:g} points over ≥ "
              f"{thresholds.min_requests_for_deviation:g} requests")
    return CanaryView(view.releases_view(releases, service), note, "info", status, time.time())


def page_for(path: str, search: str, settings: Settings) -> Any | None:
    if path.rstrip("/") != "/canary":
        return None
    query = parse_qs(search.lstrip("?"))
    try:
        service = valid_service(query.get("service", [None])[0])
        window = valid_window(query.get("window", [settings.window])[0])
    except ConfigError as error:
        return view.bad_address(str(error))
    return view.page(settings.refresh, service, window, sorted(set(WINDOWS) | {window}, key=duration_seconds))


def register(app: Dash, services: Services, settings: Settings) -> None:
    @app.callback(
        Output("canary-cards", "children"),
        Output("canary-banner", "children"),
        Output("canary-banner", "style"),
        Output("canary-banner", "className"),
        Output("canary-status", "children"),
        Output("canary-last-good", "data"),
        Input("canary-tick", "n_intervals"),
        Input("canary-window", "value"),
        State("canary-service", "data"),
        State("canary-last-good", "data"),
    )
    def refresh(_tick, window, service, last_good):
        result = refresh_canary(services, settings, service, last_good, window)
        return (
            no_update if result.cards is None else result.cards,
            result.banner or "",
            banner_style(result.banner),
            f"mw-banner mw-banner-{result.banner_kind}",
            no_update if result.status is None else result.status,
            result.last_good,
        )

    @app.server.route("/api/canary")
    def api_canary() -> Any:
        at_text = request.args.get("at")
        namespaces = [valid_namespace(ns) for ns in request.args.getlist("namespace")] or list(settings.namespace)
        releases = release_view(
            services.telemetry, configured_routing(settings, services), settings,
            instant(at_text) if at_text else services.clock(),
            valid_window(request.args.get("window", settings.window)), namespaces,
            valid_service(request.args.get("service")))
        return jsonify(canary_document(releases))
