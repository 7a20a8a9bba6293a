"""Links between the pages, built with `dash.get_relative_path` so the
dashboard works under a path prefix (`--base-path /meshwatch`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import dash


def page_href(path: str, query: dict[str, Any] | None = None) -> str:
    """`/trace/<id>?span=…` under the app's prefix; query values may be lists."""
    try:
        href = dash.get_relative_path(path)
    except AttributeError:  # no app yet (view code rendered on its own, as in unit tests)
        href = path
    query = {key: value for key, value in (query or {}).items() if value not in (None, "", [], ())}
    return href + ("?" + urlencode(query, doseq=True) if query else "")


def trace_href(trace_id: str, span_id: str | None = None) -> str:
    return page_href(f"/trace/{quote(trace_id, safe='')}", {"span": span_id})


def compare_href(a: str, b: str) -> str:
    """The compare page of trace `a` against trace `b`."""
    return page_href(f"/compare/{quote(a, safe='')}/{quote(b, safe='')}")
