"""The canary panel: one card per service with a release in play.

Pure view code: ServiceRelease records in, Dash components and Plotly
figures out. Sized for a wall screen: big shares, a verdict badge readable
from across the room, observed-vs-configured bars, canary-minus-baseline
deltas, the reasons in words, and the last hour's split as a stacked area.
`service_summary` is the compact form for the topology's side panel.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Sequence

import plotly.graph_objects as go
from dash import dcc, html

from dashboard.canary import (
    BASELINE,
    HOLD,
    MIRROR,
    NO_DATA,
    PROMOTE,
    RETIRED,
    ROLL_BACK,
    SERVING,
    Call,
    Deltas,
    ServiceRelease,
    VersionFigures,
    percent,
)
from dashboard.circuit import OPEN

VERDICT_COLOURS = {PROMOTE: "#27ae60", HOLD: "#f39c12", ROLL_BACK: "#e74c3c", NO_DATA: "#7f8c8d"}
# One colour per version, in version order, shared by the bars and the chart.
VERSION_COLOURS = ("#3498db", "#e67e22", "#9b59b6", "#1abc9c", "#e84393", "#f1c40f", "#95a5a6")
STRATEGY_WORDS = {"weighted": "weighted canary", "blue-green": "blue-green switch", "single": "single route",
                  "content": "routed by request content", "none": "no split configured"}
MUTED = "var(--mw-muted, #95a5a6)"


def verdict_badge(verdict: str, size: int = 34) -> html.Span:
    return html.Span(verdict.upper(), className="mw-verdict", **{"data-verdict": verdict}, style={
        "background": VERDICT_COLOURS.get(verdict, "#7f8c8d"), "color": "#fff", "fontWeight": "bold",
        "fontSize": f"{size}px", "padding": "4px 18px", "borderRadius": "6px", "letterSpacing": "1px",
        "whiteSpace": "nowrap"})


def _colour(release: ServiceRelease, version: VersionFigures) -> str:
    index = [v.key for v in release.versions].index(version.key)
    return VERSION_COLOURS[index % len(VERSION_COLOURS)]


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} ms"


def _rps(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}/s"


def _signed(value: float | None, unit: str, scale: float = 1.0, digits: int = 0) -> str:
    return "—" if value is None else f"{value * scale:+.{digits}f}{unit}"


def deltas_text(deltas: Deltas, baseline: str) -> str:
    return (f"Δ vs {baseline}: rate {_signed(deltas.rps, '/s', digits=2)} · success "
            f"{_signed(deltas.success_ratio, ' pts', 100, 1)} · p50 {_signed(deltas.p50_ms, ' ms')} · "
            f"p99 {_signed(deltas.p99_ms, ' ms')}")


def split_bars(version: VersionFigures, colour: str) -> html.Div:
    """Observed share (solid) above configured weight (outlined), same scale."""
    def bar(value: float | None, label: str, solid: bool) -> html.Div:
        width = max(0.0, min(1.0, value or 0.0))
        fill = {"background": colour} if solid else {"border": f"3px solid {colour}", "boxSizing": "border-box"}
        # Nothing drawn for 0 or unknown: an outline's border alone would show a sliver.
        inner = html.Div(className="mw-bar-fill", style={"width": f"{width * 100:.1f}%", "height": "100%",
                                                         "borderRadius": "3px", **fill}) if width > 0 else None
        return html.Div(style={"display": "flex", "alignItems": "center", "gap": "10px"}, children=[
            html.Span(label, style={"width": "112px", "color": MUTED, "fontSize": "16px"}),
            html.Div(style={"flex": "1", "height": "22px", "background": "rgba(255,255,255,0.06)", "borderRadius": "3px"},
                     children=inner),
            html.Span(percent(value), style={"width": "74px", "textAlign": "right", "fontSize": "18px",
                                             "whiteSpace": "nowrap"}),
        ])

    outline = {"outline": "3px solid #e74c3c", "outlineOffset": "3px"} if version.deviates else {}
    return html.Div(className="mw-split", style={"display": "grid", "gap": "4px", **outline}, children=[
        bar(version.share, "observed", True), bar(version.configured_weight, "configured", False)])


def _role(release: ServiceRelease, version: VersionFigures) -> str:
    if version.state == RETIRED:
        return "retired"
    if version.role == BASELINE:
        return "baseline"
    if version.state == MIRROR:
        return "mirror"
    if version.role == SERVING:
        return "serving"
    return "canary"


def failing_calls_line(failing: Sequence[Call]) -> html.Div | None:
    """The services this version's calls fail on, in red: a canary can answer
    100 % while what it depends on is broken."""
    if not failing:
        return None
    words = [" ".join([f"→ {c.service}", *([f"{percent(c.error_ratio)} failing"] if c.error_ratio is not None else []),
                       *(["· circuit OPEN"] if c.circuit == OPEN else [])]) for c in failing]
    return html.Div("calls " + " · ".join(words), className="mw-failing-calls",
                    style={"fontSize": "19px", "color": "#ff6b5b", "fontWeight": "bold"})


def version_row(release: ServiceRelease, version: VersionFigures) -> html.Div:
    colour = _colour(release, version)
    judgement = next((j for j in release.judgements if j.version == version.label), None)
    figures = [("rate", _rps(version.rps)), ("success", percent(version.success_ratio, 1)),
               ("p50", _ms(version.p50_ms)), ("p99", _ms(version.p99_ms))]
    dimmed = {"opacity": "0.55"} if version.state == RETIRED else {}
    return html.Div(className="mw-version", **{"data-version": version.label}, style={
        "display": "grid", "gridTemplateColumns": "190px 170px 1fr", "gap": "18px", "alignItems": "center",
        "padding": "10px 0", "borderTop": "1px solid var(--mw-line, #2f3640)", **dimmed}, children=[
        html.Div([
            html.Div(version.label, style={"fontSize": "30px", "fontWeight": "bold", "color": colour}),
            html.Div(f"{_role(release, version)} · {version.workload or 'no workload'}",
                     style={"color": MUTED, "fontSize": "15px"}),
        ]),
        html.Div(percent(version.share) if version.share is not None else version.state,
                 className="mw-share", style={"fontSize": "46px" if version.share is not None else "24px",
                                              "fontWeight": "bold", "textAlign": "right", "whiteSpace": "nowrap"}),
        html.Div([
            split_bars(version, colour),
            html.Div(" · ".join(f"{name} {value}" for name, value in figures),
                     style={"fontSize": "19px", "marginTop": "6px"}),
            failing_calls_line(version.failing_calls),
            # After a completed rollout the baseline has no figures left to compare with.
            html.Div(deltas_text(judgement.deltas, release.baseline or "baseline"), className="mw-deltas",
                     style={"fontSize": "17px", "color": MUTED})
            if judgement and release.baseline and version.role != SERVING else None,
        ]),
    ])


def history_figure(release: ServiceRelease) -> go.Figure:
    """The split over the last hour, stacked to 100 %: rollout steps show as steps."""
    figure = go.Figure()
    history = release.history
    for version in release.versions:
        rows = history[history["version"] == version.key].sort_values("time")
        if rows.empty:
            continue
        figure.add_trace(go.Scatter(
            x=[datetime.fromtimestamp(t, timezone.utc) for t in rows["time"]], y=rows["rps"],
            name=version.label, mode="lines", stackgroup="split", groupnorm="percent",
            line={"width": 0.5, "color": _colour(release, version)},
            hovertemplate="%{y:.0f} %% of requests<extra>" + version.label + "</extra>"))
    figure.update_layout(
        template="plotly_dark", height=210, margin={"l": 50, "r": 10, "t": 30, "b": 30},
        paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)", font={"size": 15},
        title={"text": "share of requests per version, last hour (UTC)", "font": {"size": 15}},
        yaxis={"range": [0, 100], "ticksuffix": " %"}, legend={"orientation": "h", "y": -0.25},
        showlegend=False)
    return figure


def service_card(release: ServiceRelease) -> html.Section:
    routing = release.routing
    strategy = STRATEGY_WORDS[routing.strategy] if routing else "no VirtualService"
    has_history = not release.history.empty
    return html.Section(className="mw-canary-card", id=f"canary-{release.namespace}-{release.service}",
                        **{"data-service": f"{release.service}.{release.namespace}"}, style={
        "background": "var(--mw-panel, #1e232b)", "border": "1px solid var(--mw-line, #2f3640)",
        "borderRadius": "8px", "padding": "14px 20px"}, children=[
        html.Header(style={"display": "flex", "alignItems": "center", "gap": "18px"}, children=[
            html.H2(release.service, style={"fontSize": "34px", "margin": "0"}),
            html.Span(f"{release.namespace} · {strategy} · {release.requests:.0f} requests in {release.window}",
                      style={"color": MUTED, "fontSize": "17px"}),
            html.Span(style={"flex": "1"}),
            verdict_badge(release.verdict),
        ]),
        html.Div([version_row(release, v) for v in release.versions]),
        html.Ul([html.Li(reason) for reason in release.reasons], className="mw-reasons",
                style={"fontSize": "19px", "lineHeight": "1.45", "margin": "10px 0", "paddingLeft": "24px"}),
        dcc.Graph(figure=history_figure(release), config={"displayModeBar": False}, className="mw-canary-history")
        if has_history else html.P("No history of the split in the last hour.", style={"color": MUTED}),
    ])


def releases_view(releases: Sequence[ServiceRelease], service: str | None = None) -> html.Div:
    if not releases:
        what = (f"No traffic and no VirtualService for {service}." if service else
                "No release in play: no service has more than one version receiving traffic, "
                "none had in the last hour, and no VirtualService splits or mirrors traffic.")
        return html.Div(what, className="mw-hint", style={"fontSize": "24px", "padding": "40px"})
    return html.Div(className="mw-canary-grid", style={
        "display": "grid", "gridTemplateColumns": "repeat(auto-fit, minmax(880px, 1fr))", "gap": "16px"},
        children=[service_card(r) for r in releases])


def _title(service: str | None) -> html.H1:
    return html.H1("Releases: observed split, configured weights, verdict" + (f" — {service}" if service else ""),
                   style={"fontSize": "26px", "margin": "6px 0"})


def page(refresh_s: float, service: str | None, window: str, windows: Sequence[str]) -> html.Div:
    """The live page; `windows` are the picker's choices (at low traffic a
    longer window is what gathers enough requests for a verdict)."""
    return html.Div(className="mw-canary", children=[
        html.Div(className="mw-controls", style={"justifyContent": "space-between"}, children=[
            _title(service),
            html.Label(["Window", dcc.Dropdown(id="canary-window", options=list(windows), value=window,
                                               clearable=False, style={"width": "140px"})]),
        ]),
        html.Div(id="canary-banner", className="mw-banner", style={"display": "none"}),
        html.Div(id="canary-status", className="mw-status"),
        html.Div(id="canary-cards", children=html.P("Loading…", className="mw-hint")),
        dcc.Interval(id="canary-tick", interval=int(refresh_s * 1000) or 5000, disabled=refresh_s <= 0),
        dcc.Store(id="canary-service", data=service),
        dcc.Store(id="canary-last-good", data=None),
    ])


def bad_address(problem: str) -> html.Div:
    """The page for an address it cannot serve: what is wrong and what works;
    nothing polls, so nothing waits forever."""
    return html.Div(className="mw-canary", children=[
        _title(None),
        html.Div(problem, className="mw-banner mw-banner-stale mw-canary-problem"),
        html.P(["Open ", dcc.Link("/canary", href="/canary"), " for every release in play, or "
                "/canary?service=NAME[.NAMESPACE]&window=5m for one service."],
               className="mw-hint", style={"fontSize": "20px"}),
    ])


def waiting(refresh_s: float) -> html.P:
    """The cards' place while no refresh has succeeded yet (the banner says why)."""
    retry = f"retrying every {refresh_s:g} s" if refresh_s > 0 else "reload the page to retry"
    return html.P(f"Nothing to show yet: {retry}.", className="mw-hint mw-canary-waiting", style={"fontSize": "20px"})


def service_summary(release: ServiceRelease) -> html.Div:
    """Compact release state for the topology's side panel beside a service node."""
    rows = [html.Tr([html.Th(v.label), html.Td(percent(v.share) if v.share is not None else v.state),
                     html.Td("cfg " + percent(v.configured_weight), style={"color": MUTED})])
            for v in release.versions]
    return html.Div(className="mw-canary-summary", children=[
        html.Div([html.Span("Release ", style={"fontSize": "18px"}), verdict_badge(release.verdict, 18)]),
        html.Table(rows, className="mw-facts"),
        html.P(release.reasons[0], style={"fontSize": "15px"}) if release.reasons else None,
        dcc.Link("Canary view →", href=f"/canary?service={release.service}.{release.namespace}", className="mw-link"),
    ])
