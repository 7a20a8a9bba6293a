"""Controls shared by the pages: a captioned control, the window picker."""

from __future__ import annotations

from collections.abc import Sequence

from dash import dcc, html


def captioned(caption: str, control: object, wide: bool = False) -> html.Label:
    return html.Label([caption, control], className="mw-control" + (" mw-control-wide" if wide else ""))


def window_picker(component_id: str, choices: Sequence[str], selected: str) -> html.Label:
    """The rate window: at low traffic a longer one gathers enough requests."""
    return captioned(
        "Window", dcc.Dropdown(id=component_id, options=list(choices), value=selected, clearable=False)
    )
