"""The canary panel: one card per service with a release in play.

Pure view code: ServiceRelease records in, Dash components and Plotly
figures out. Sized for a wall screen: big shares, a verdict badge readable
from across the room, observed-vs-configured bars, canary-minus-baseline
deltas, the reasons in words, and the last hour's split as a stacked area.
`service_summary` is the compact form for the topology's side panel.
Styles are CSS classes (assets/canary.css); only data (a version's colour,
a bar's width) travels as CSS variables.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import plotly.graph_objects as go
from dash import dcc, html

from dashboard.canary.observation import Call, VersionFigures
from dashboard.canary.release import ServiceRelease
from dashboard.canary.verdict import Deltas
from dashboard.canary.versions import RETIRED
from dashboard.format import milliseconds, percent, rate, signed
from dashboard.mesh.circuit import OPEN
from layouts.controls import window_picker
from layouts.links import page_href
from layouts.text import plotly_text, visible

# One colour per version, in version order, shared by the bars and the chart.
VERSION_COLOURS = ("#3498db", "#e67e22", "#9b59b6", "#1abc9c", "#e84393", "#f1c40f", "#95a5a6")
STRATEGY_WORDS = {
    "weighted": "weighted canary",
    "blue-green": "blue-green switch",
    "single": "single route",
    "content": "routed by request content",
    "none": "no split configured",
}


def verdict_badge(verdict: str, small: bool = False) -> html.Span:
    """Coloured by `data-verdict` in CSS."""
    return html.Span(
        verdict.upper(),
        className="mw-verdict" + (" mw-verdict-small" if small else ""),
        **{"data-verdict": verdict},
    )


def controller_badge(release: ServiceRelease) -> html.Span | None:
    """The rollout controller's phase beside meshwatch's verdict (coloured
    by `data-state` in CSS, outlined when the two disagree), or nothing."""
    controller = release.controller
    if controller is None:
        return None
    return html.Span(
        f"{controller.product}: {controller.state.upper()}",
        className="mw-controller" + (" mw-controller-disagrees" if release.disagreement else ""),
        title=release.disagreement or f"{controller.kind} {controller.namespace}/{controller.name}",
        **{"data-state": controller.state},
    )


def _colour(release: ServiceRelease, version: VersionFigures) -> str:
    index = [v.key for v in release.versions].index(version.key)
    return VERSION_COLOURS[index % len(VERSION_COLOURS)]


def deltas_text(deltas: Deltas, baseline: str) -> str:
    return (
        f"Δ vs {baseline}: rate {signed(deltas.rps, '/s', digits=2)} · success "
        f"{signed(deltas.success_ratio, ' pts', 100, 1)} · p50 {signed(deltas.p50_ms, ' ms')} · "
        f"p99 {signed(deltas.p99_ms, ' ms')}"
    )


def split_bars(version: VersionFigures) -> html.Div:
    """Observed share (solid) above configured weight (outlined), same scale."""

    def bar(value: float | None, label: str, kind: str) -> html.Div:
        width = max(0.0, min(1.0, value or 0.0))
        # Nothing drawn for 0 or unknown: an outline's border alone would show a sliver.
        fill = (
            html.Div(className=f"mw-bar-fill mw-bar-{kind}", style={"--mw-bar": f"{width * 100:.1f}%"})
            if width > 0
            else None
        )
        return html.Div(
            className="mw-bar",
            children=[
                html.Span(label, className="mw-bar-label"),
                html.Div(fill, className="mw-bar-track"),
                html.Span(percent(value), className="mw-bar-value"),
            ],
        )

    return html.Div(
        className="mw-split" + (" mw-deviates" if version.deviates else ""),
        children=[
            bar(version.share, "observed", "observed"),
            bar(version.configured_weight, "configured", "configured"),
        ],
    )


def _role(release: ServiceRelease, version: VersionFigures) -> str:
    """The role as the card says it: the version a completed rollout moved
    every request onto is just "serving"; a retired baseline says so."""
    if version.key == release.completed:
        return "serving"
    if version.role == RETIRED and version.key == release.baseline:
        return "retired baseline"
    return version.role


def failing_calls_line(failing: Sequence[Call]) -> html.Div | None:
    """The services this version's calls fail on, in red: a canary can answer
    100 % while what it depends on is broken."""
    if not failing:
        return None
    words = [
        " ".join(
            [
                f"→ {visible(c.service)}",
                *([f"{percent(c.error_ratio)} failing"] if c.error_ratio is not None else []),
                *(["· circuit OPEN"] if c.circuit == OPEN else []),
            ]
        )
        for c in failing
    ]
    return html.Div("calls " + " · ".join(words), className="mw-failing-calls")


def version_row(release: ServiceRelease, version: VersionFigures) -> html.Div:
    judgement = next((j for j in release.judgements if j.version == version.label), None)
    figures = [
        ("rate", rate(version.rps)),
        ("success", percent(version.success_ratio, 1)),
        ("p50", milliseconds(version.p50_ms, 0)),
        ("p99", milliseconds(version.p99_ms, 0)),
    ]
    shown = version.share is not None
    return html.Div(
        className="mw-version" + (" mw-retired" if version.state == RETIRED else ""),
        style={"--mw-version": _colour(release, version)},
        **{"data-version": version.label},
        children=[
            html.Div(
                [
                    html.Div(visible(version.label), className="mw-version-label"),
                    html.Div(
                        visible(f"{_role(release, version)} · {version.workload or 'no workload'}"),
                        className="mw-version-role",
                    ),
                ]
            ),
            html.Div(
                percent(version.share) if shown else version.state,
                className="mw-share" + ("" if shown else " mw-share-state"),
            ),
            html.Div(
                [
                    split_bars(version),
                    html.Div(
                        " · ".join(f"{name} {value}" for name, value in figures),
                        className="mw-version-figures",
                    ),
                    failing_calls_line(version.failing_calls),
                    # After a completed rollout the baseline has no figures left to compare with.
                    html.Div(
                        deltas_text(judgement.deltas, release.baseline or "baseline"), className="mw-deltas"
                    )
                    if judgement and release.baseline and version.key != release.completed
                    else None,
                ]
            ),
        ],
    )


def history_figure(release: ServiceRelease) -> go.Figure:
    """The split over the last hour, stacked to 100 %: rollout steps show as steps."""
    figure = go.Figure()
    history = release.history
    for version in release.versions:
        rows = history[history["version"] == version.key].sort_values("time")
        if rows.empty:
            continue
        figure.add_trace(
            go.Scatter(
                x=[datetime.fromtimestamp(t, UTC) for t in rows["time"]],
                y=rows["rps"],
                name=plotly_text(version.label),
                mode="lines",
                stackgroup="split",
                groupnorm="percent",
                line={"width": 0.5, "color": _colour(release, version)},
                # Plotly reads markup (and %{...}) in templates: the label goes in escaped, its % doubled.
                hovertemplate="%{y:.0f} %% of requests<extra>"
                + plotly_text(version.label).replace("%", "%%")
                + "</extra>",
            )
        )
    figure.update_layout(
        template="plotly_dark",
        height=210,
        margin={"l": 50, "r": 10, "t": 30, "b": 30},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        font={"size": 15},
        title={"text": "share of requests per version, last hour (UTC)", "font": {"size": 15}},
        yaxis={"range": [0, 100], "ticksuffix": " %"},
        legend={"orientation": "h", "y": -0.25},
        showlegend=False,
    )
    return figure


def service_card(release: ServiceRelease) -> html.Section:
    routing = release.routing
    strategy = STRATEGY_WORDS[routing.strategy] if routing else "no VirtualService"
    if routing and routing.route:
        strategy += f" ({routing.route})"
    return html.Section(
        className="mw-canary-card",
        id=f"canary-{release.namespace}-{release.service}",
        **{"data-service": f"{release.service}.{release.namespace}"},
        children=[
            html.Header(
                className="mw-canary-head",
                children=[
                    html.H2(visible(release.service)),
                    html.Span(
                        f"{visible(release.namespace)} · {strategy} · "
                        f"{release.requests:.0f} requests in {release.window}",
                        className="mw-canary-meta",
                    ),
                    html.Span(className="mw-spacer"),
                    controller_badge(release),
                    verdict_badge(release.verdict),
                ],
            ),
            html.Div([version_row(release, v) for v in release.versions]),
            html.Ul([html.Li(visible(reason)) for reason in release.reasons], className="mw-reasons"),
            html.Div(
                className="mw-card-links",
                children=[
                    dcc.Link(
                        "Topology →",
                        href=page_href("/", {"namespace": release.namespace}),
                        className="mw-link",
                    ),
                    dcc.Link(
                        "Traces →",
                        href=page_href("/traces", {"service": f"{release.service}.{release.namespace}"}),
                        className="mw-link",
                    ),
                ],
            ),
            dcc.Graph(
                figure=history_figure(release),
                config={"displayModeBar": False},
                className="mw-canary-history",
            )
            if not release.history.empty
            else html.P("No history of the split in the last hour.", className="mw-hint"),
        ],
    )


def releases_view(releases: Sequence[ServiceRelease], service: str | None = None) -> html.Div:
    if not releases:
        what = (
            f"No traffic and no VirtualService for {service}."
            if service
            else "No release in play: no service has more than one version receiving traffic, "
            "none had in the last hour, and no VirtualService splits or mirrors traffic."
        )
        return html.Div(what, className="mw-hint mw-canary-none")
    return html.Div(className="mw-canary-grid", children=[service_card(r) for r in releases])


def _title(service: str | None) -> html.H1:
    return html.H1(
        "Releases: observed split, configured weights, verdict" + (f" — {service}" if service else ""),
        className="mw-canary-title",
    )


def page(
    refresh_s: float, service: str | None, windows: Sequence[str], window: str, at: float | None = None
) -> html.Div:
    """The page, live or at the moment `at`; `windows` are the picker's
    choices (at low traffic a longer window is what gathers enough requests
    for a verdict)."""
    return html.Div(
        className="mw-canary",
        children=[
            html.Div(
                className="mw-controls mw-canary-controls",
                children=[_title(service), window_picker("canary-window", windows, window)],
            ),
            html.Div(id="canary-banner", className="mw-banner", hidden=True),
            html.Div(id="canary-asof", className="mw-asof", hidden=True),
            html.Span(id="canary-url-sync", hidden=True),
            html.Div(id="canary-status", className="mw-status"),
            html.Div(id="canary-cards", children=html.P("Loading…", className="mw-hint")),
            dcc.Interval(id="canary-tick", interval=int(refresh_s * 1000) or 5000, disabled=refresh_s <= 0),
            dcc.Store(id="canary-service", data=service),
            dcc.Store(id="canary-at", data=at),
            dcc.Store(id="canary-last-good", data=None),
        ],
    )


def bad_address(problem: str) -> html.Div:
    """The page for an address it cannot serve: what is wrong and what works;
    nothing polls, so nothing waits forever."""
    return html.Div(
        className="mw-canary",
        children=[
            _title(None),
            html.Div(problem, className="mw-banner mw-banner-stale mw-canary-problem mw-page-problem"),
            html.P(
                [
                    "Open ",
                    dcc.Link("/canary", href=page_href("/canary")),
                    " for every release in play, or "
                    "/canary?service=NAME[.NAMESPACE]&window=5m for one service.",
                ],
                className="mw-hint mw-big-hint",
            ),
        ],
    )


def waiting(refresh_s: float) -> html.P:
    """The cards' place while no refresh has succeeded yet (the banner says why)."""
    retry = f"retrying every {refresh_s:g} s" if refresh_s > 0 else "reload the page to retry"
    return html.P(f"Nothing to show yet: {retry}.", className="mw-hint mw-canary-waiting mw-big-hint")


def service_summary(release: ServiceRelease) -> html.Div:
    """Compact release state for the topology's side panel beside a service node."""
    rows = [
        html.Tr(
            [
                html.Th(visible(v.label)),
                html.Td(percent(v.share) if v.share is not None else v.state),
                html.Td("cfg " + percent(v.configured_weight), className="mw-muted"),
            ]
        )
        for v in release.versions
    ]
    return html.Div(
        className="mw-canary-summary",
        children=[
            html.Div(
                [
                    html.Span("Release ", className="mw-summary-caption"),
                    verdict_badge(release.verdict, small=True),
                ]
            ),
            html.Table(rows, className="mw-facts"),
            html.P(visible(release.reasons[0]), className="mw-summary-reason") if release.reasons else None,
            dcc.Link(
                "Canary view →",
                href=page_href("/canary", {"service": f"{release.service}.{release.namespace}"}),
                className="mw-link",
            ),
        ],
    )
