"""The views every viewer shares, through the view cache: the service graph
(the topology page and /api/graph) and the release view (the canary page,
the topology's side panel and /api/canary).

A live view is evaluated at the present aligned down to the refresh interval
(dashboard.app.view_cache.aligned): twenty viewers of one view cost one
evaluation, four PromQL queries, per interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import networkx as nx

from dashboard.app.flight import InFlight
from dashboard.app.refresh import ReleaseView, mesh_graph, release_view, routing_config
from dashboard.app.runtime import Runtime
from dashboard.app.view_cache import aligned
from queries.duration import Duration
from queries.errors import ConfigError, SourceError


def live_moment(runtime: Runtime) -> float:
    """When a live view is evaluated: now, aligned down to the refresh interval."""
    runtime.polls.note()
    return aligned(runtime.services.clock(), runtime.settings.refresh)


def routing_or_none(runtime: Runtime) -> Any:
    """The routing config, to mark retired versions; the graph does without it
    when it cannot be read (the canary page says why)."""
    try:
        return routing_config(runtime.settings, runtime.services)
    except (ConfigError, SourceError):
        return None


def graph_view(
    runtime: Runtime,
    at: float,
    window: Duration,
    namespaces: Sequence[str],
    graph_type: str,
    wait: float,
    live: bool,
) -> nx.DiGraph | InFlight:
    """The service graph of the window ending at `at` (`live`: the present's,
    from live_moment), retired versions marked."""
    namespaces = tuple(sorted(namespaces))
    return runtime.views.view(
        "graph",
        (namespaces, str(window), graph_type),
        at,
        live,
        lambda: mesh_graph(
            runtime.services.telemetry,
            runtime.settings,
            at,
            window,
            namespaces,
            routing_or_none(runtime),
            graph_type,
        ),
        wait,
    )


def releases_view(
    runtime: Runtime,
    at: float,
    window: Duration,
    namespaces: Sequence[str],
    service: str | None,
    routing: Any,
    wait: float,
    live: bool,
) -> ReleaseView | InFlight:
    """The release view of the services (or one) in the window ending at `at`
    (`live`: the present's, from live_moment)."""
    namespaces = tuple(sorted(namespaces))
    return runtime.views.view(
        "canary",
        (namespaces, str(window), service, getattr(routing, "origin", None)),
        at,
        live,
        lambda: release_view(
            runtime.services.telemetry,
            routing,
            runtime.settings,
            at,
            window,
            namespaces,
            service,
            runtime.lookback,
        ),
        wait,
    )
