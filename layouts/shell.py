"""The frame around every page: header, navigation, the page slot; and the
page for an address no page serves."""

from __future__ import annotations

import dash
from dash import dcc, html

from layouts.links import page_href

NAV = [("Topology", "/"), ("Traces", "/traces"), ("Canary", "/canary")]


def story_badge(name: str, description: str, ends_in_s: float | None, held: bool, clock: str) -> str:
    """The demo's header line: which phase of the Bookinfo story is playing,
    and the story clock every time on the pages is read by."""
    timing = "held" if held else (f"next phase in {ends_in_s:.0f} s" if ends_in_s is not None else "")
    return f"demo · {clock} · phase {name}: {description}" + (f" ({timing})" if timing else "")


def shell(mode: str) -> html.Div:
    return html.Div(
        className="mw-shell",
        children=[
            dcc.Location(id="url", refresh="callback-nav"),
            html.Header(
                className="mw-header",
                children=[
                    html.Span("meshwatch", className="mw-brand"),
                    html.Span(
                        "demo: simulated Bookinfo mesh" if mode == "demo" else "",
                        id="mode-badge",
                        className="mw-mode",
                    ),
                    html.Nav(
                        [
                            dcc.Link(label, href=page_href(path), className="mw-nav-link")
                            for label, path in NAV
                        ],
                        className="mw-nav",
                    ),
                ],
            ),
            html.Main(dash.page_container, id="page", className="mw-page"),
            *([dcc.Interval(id="story-tick", interval=2000)] if mode == "demo" else []),
        ],
    )


def not_found(path: str) -> html.Div:
    return html.Div(
        [
            html.H2("Not found"),
            html.P(f"No page at {path}. "),
            dcc.Link("Back to the topology", href=page_href("/")),
        ],
        className="mw-not-found",
    )
