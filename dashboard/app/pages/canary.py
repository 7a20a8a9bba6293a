"""The canary page (`/canary?service=NAME[.NAMESPACE]&window=5m`): a card per
service with a release in play (the release view itself is gathered by
dashboard.app.refresh, shared with `meshwatch canary` and `/api/canary`).

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

from dataclasses import dataclass
from typing import Any

import dash
from dash import ClientsideFunction, Dash, Input, Output, State, html, no_update

from dashboard.app import config
from dashboard.app.config import window_choices
from dashboard.app.flight import InFlight
from dashboard.app.refresh import (
    longest_refresh,
    poll_wait,
    routing_config,
    slow_text,
)
from dashboard.app.runtime import Runtime, current
from dashboard.app.views import live_moment, releases_view
from layouts import canary as view
from queries.errors import ConfigError, SourceError


@dataclass
class CanaryView:
    """What one refresh puts on screen; `cards` None keeps the drawn ones."""

    cards: Any
    banner: str | None
    banner_kind: str
    status: str | None
    last_good: float | None
    asof: str | None = None


def _last(value: Any) -> Any:
    return value[-1] if isinstance(value, list) else value


def layout(service: Any = None, window: Any = None, at: Any = None, **_: Any) -> html.Div:
    """The page as the address asks; `?at=` (RFC 3339 or unix seconds) shows
    the releases as they stood then."""
    settings = current().settings
    try:
        name = config.service(_last(service)) if service else None
        chosen = settings.rate_window(_last(window)) if window else settings.window
        moment = config.instant(_last(at)) if at else None
    except ConfigError as error:
        return view.bad_address(str(error))
    return view.page(settings.refresh, name, window_choices(str(chosen)), str(chosen), moment)


def refresh_canary(
    runtime: Runtime,
    service: str | None,
    last_good: float | None,
    window: str | None = None,
    moment: float | None = None,
    wait: float | None = None,
) -> CanaryView:
    """One poll of the canary page over `window` (default: the configured
    one), now or at `moment` (never past now): the view's one refresh in
    flight, waited for `wait` seconds (default: the whole refresh)."""
    services, settings = runtime.services, runtime.settings
    try:
        name = config.service(service) if service else None
        rate_window = settings.rate_window(window) if window else settings.window
    except ConfigError as error:
        return CanaryView(view.bad_address(str(error)), None, "stale", None, None)
    note = None
    try:
        routing = routing_config(settings, services)
    except (ConfigError, SourceError) as error:
        routing, note = None, f"Istio config not read — {error}; showing the observed split only"

    # Cards drawn earlier stay under a banner; before any, the banner says why nothing shows.
    cards = None if last_good else view.waiting(settings.refresh)
    now = services.clock()
    at = live_moment(runtime) if moment is None else min(float(moment), now)
    try:
        wait = longest_refresh(settings) if wait is None else wait
        live = moment is None
        releases = releases_view(runtime, at, rate_window, settings.namespace, name, routing, wait, live)
    except (SourceError, ConfigError) as error:
        return CanaryView(cards, runtime.stale_text(last_good, error), "stale", None, last_good)
    if isinstance(releases, InFlight):
        slow = slow_text(services.telemetry.name, releases.elapsed)
        return CanaryView(cards, slow, "stale", None, last_good)
    source = routing.origin if routing else "no Istio config"
    thresholds = settings.canary
    status = (
        f"updated {runtime.clock_words(at)} · window {rate_window} · configured weights from {source} · "
        f"thresholds: success ≥ {thresholds.min_success_ratio * 100:g} %, "
        f"p99 ≤ {thresholds.max_p99_ms:g} ms over ≥ {thresholds.min_requests_for_verdict:g} requests "
        f"to a canary, split within {thresholds.max_share_deviation * 100:g} points over ≥ "
        f"{thresholds.min_requests_for_deviation:g} requests"
    )
    banner = "; ".join([*releases.warnings, *([note] if note else [])]) or None
    asof = None
    if moment is not None and at < now:
        # Istio keeps no history of its config: the weights are today's.
        asof = runtime.as_of_text(at, now, "configured weights as configured now · not live")
    return CanaryView(view.releases_view(releases, name), banner, "info", status, at, asof)


def register(app: Dash, runtime: Runtime) -> None:
    dash.register_page(__name__, path="/canary", title="meshwatch · canary", layout=layout)

    @app.callback(
        Output("canary-cards", "children"),
        Output("canary-banner", "children"),
        Output("canary-banner", "hidden"),
        Output("canary-banner", "className"),
        Output("canary-status", "children"),
        Output("canary-last-good", "data"),
        Output("canary-asof", "children"),
        Output("canary-asof", "hidden"),
        Input("canary-tick", "n_intervals"),
        Input("canary-window", "value"),
        State("canary-service", "data"),
        State("canary-last-good", "data"),
        State("canary-tick", "interval"),
        State("canary-tick", "disabled"),
        State("canary-at", "data"),
    )
    def refresh(_tick, window, service, last_good, interval, paused, moment):
        wait = poll_wait(runtime.settings, interval, not paused)
        result = refresh_canary(runtime, service, last_good, window, moment, wait)
        return (
            no_update if result.cards is None else result.cards,
            result.banner or "",
            not result.banner,
            f"mw-banner mw-banner-{result.banner_kind}",
            no_update if result.status is None else result.status,
            result.last_good,
            result.asof or "",
            not result.asof,
        )

    app.clientside_callback(
        ClientsideFunction("meshwatch", "canaryAddress"),
        Output("canary-url-sync", "children"),
        Input("canary-window", "value"),
        State("canary-service", "data"),
        State("canary-at", "data"),
    )
