"""The file picker for trace files, on both traces pages."""

from __future__ import annotations

from dash import dcc, html

from dashboard.format import size_text


def size_check_id(component_id: str) -> str:
    """A hidden element the upload's size check writes to: Dash callbacks need an output."""
    return f"{component_id}-size-check"


def upload(component_id: str, max_bytes: int) -> dcc.Upload:
    """A file picker for trace files; the browser refuses files over `max_bytes`."""
    return dcc.Upload(
        id=component_id,
        className="mw-upload",
        max_size=max_bytes,
        multiple=False,
        children=[
            html.Button(
                "Open a trace file",
                className="mw-button",
                title=(
                    'A Jaeger UI "Download JSON" export, OTLP JSON or JSON Lines, Tempo JSON or Zipkin v2 '
                    f"JSON, up to {size_text(max_bytes)}"
                ),
            ),
            # Its title carries the limit for the size check's message.
            html.Span(id=size_check_id(component_id), hidden=True, title=size_text(max_bytes)),
        ],
    )
