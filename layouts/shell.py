"""The frame around every page: header, navigation, stale banner, page slot."""

from __future__ import annotations

from dash import dcc, html

NAV = [("Topology", "/"), ("Traces", "/traces"), ("Canary", "/canary")]


def stale_banner(message: str | None) -> dict:
    """Style for the banner: shown only when the view is stale."""
    return {"display": "block"} if message else {"display": "none"}


def shell(mode: str) -> html.Div:
    return html.Div(
        className="mw-shell",
        children=[
            dcc.Location(id="url", refresh="callback-nav"),
            html.Header(
                className="mw-header",
                children=[
                    html.Span("meshwatch", className="mw-brand"),
                    html.Span("demo: simulated Bookinfo mesh" if mode == "demo" else "", id="mode-badge",
                              className="mw-mode"),
                    html.Nav([dcc.Link(label, href=href, className="mw-nav-link") for label, href in NAV],
                             className="mw-nav"),
                ],
            ),
            html.Main(id="page", className="mw-page"),
        ],
    )


def not_found(path: str) -> html.Div:
    return html.Div([html.H2("Not found"), html.P(f"No page at {path}. "), dcc.Link("Back to the topology", href="/")],
                    className="mw-not-found")
