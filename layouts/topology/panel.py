"""The topology's side panel: the facts of the node or edge selected."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dash import dcc, html

from dashboard.format import MISSING, byte_rate, clock_text, milliseconds, percent, rate
from layouts.text import visible


def _table(rows: list[tuple[str, str]]) -> html.Table:
    """Facts as rows; keys and values may be label values (made visible)."""
    return html.Table(
        [html.Tr([html.Th(visible(key)), html.Td(visible(value))]) for key, value in rows],
        className="mw-facts",
    )


def _rates(title: str, rates: Mapping[str, float], total: float | None) -> list:
    if not rates:
        return []
    rows = [
        (key, f"{rate(value)} ({percent(value / total, None) if total else MISSING})")
        for key, value in sorted(rates.items(), key=lambda item: -item[1])
    ]
    return [html.H4(title), _table(rows)]


def edge_details(edge: Mapping[str, Any], now: float, traces_href: str | None) -> list:
    facts = [
        ("protocol", edge["protocol"]),
        ("health", edge["health"]),
        ("circuit", edge["circuit"]),
        ("requests", rate(edge.get("rps"))),
        ("errors", percent(edge.get("error_ratio"), None)),
        ("p50 / p95 / p99", _latency(edge)),
    ]
    if edge.get("share") is not None:
        facts.append(("share of service traffic", percent(edge["share"], None)))
    if edge.get("bytes_per_s") is not None:
        facts.append(("TCP", byte_rate(edge["bytes_per_s"])))
    if edge.get("open_since") is not None:
        since = edge["open_since"]
        # Tracked by this page from its first refresh, so it can only be a lower bound.
        facts.append(("open for at least", f"{now - since:.0f} s (since {clock_text(since)})"))
    title = visible(
        f"{edge.get('source_label', edge['source'])} → {edge.get('target_label', edge['target'])}"
    )
    body: list = [html.H3(title, className="mw-details-title"), _table(facts)]
    if edge["circuit"] == "open":
        body.insert(
            1,
            html.P(
                "Circuit OPEN: every host of the destination is ejected by outlier detection; "
                "callers get 503 UH.",
                className="mw-alert",
            ),
        )
    elif edge["circuit"] == "tripping":
        body.insert(
            1, html.P("The caller's circuit breaker is shedding requests (503 UO).", className="mw-warning")
        )
    body += _rates("Response codes", edge.get("codes") or {}, edge.get("rps"))
    body += _rates("Response flags", edge.get("flags") or {}, edge.get("rps"))
    if traces_href:
        body.append(dcc.Link("Traces through this edge →", href=traces_href, className="mw-link"))
    return body


def _latency(data: Mapping[str, Any]) -> str:
    return " / ".join(milliseconds(data.get(key)) for key in ("p50_ms", "p95_ms", "p99_ms"))


def node_details(node: Mapping[str, Any], traces_href: str | None) -> list:
    facts = [
        ("kind", node["kind"] + (" (ingress gateway)" if node.get("ingress") else "")),
        ("namespace", node["namespace"]),
        ("app", node.get("app") or MISSING),
        ("version", (node.get("version") or MISSING) + (" (retired)" if node.get("retired") else "")),
        ("health (requests in)", node["health"]),
        ("health of its calls", node.get("outbound_health", "none")),
        ("requests in", rate(node.get("rps_in"))),
        ("requests out", rate(node.get("rps_out"))),
        ("errors in", percent(node.get("error_ratio"), None)),
        ("p50 / p95 / p99 in", _latency(node)),
    ]
    body: list = [html.H3(visible(node["name"]), className="mw-details-title"), _table(facts)]
    if node.get("retired"):
        body.insert(
            1,
            html.P(
                "Retired: no route or subset names this version any more, and it gets "
                "no requests; callers still count it.",
                className="mw-warning",
            ),
        )
    if traces_href:
        body.append(dcc.Link("Traces through this node →", href=traces_href, className="mw-link"))
    return body


def gone(title: str) -> list:
    """The panel once the selected node or edge has left the graph."""
    return [
        html.H3(visible(title), className="mw-details-title"),
        html.P(
            "The selected element is no longer in the graph (no telemetry for it in the window).",
            className="mw-warning mw-selection-gone",
        ),
    ]
