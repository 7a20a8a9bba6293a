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
from dashboard.app.refresh import (
    ReleaseView,
    clusters_shown,
    graph_of,
    release_view,
    routing_config,
    selected_history,
    sparkline_end,
)
from dashboard.app.runtime import Runtime
from dashboard.app.view_cache import aligned
from dashboard.mesh.build import folded_graph, folds, versioned_graph
from dashboard.mesh.graph_types import VERSIONED, Overview
from dashboard.mesh.history import SelectionHistory
from queries.duration import Duration
from queries.errors import ConfigError, SourceError
from queries.telemetry import MeshTelemetry, SeriesSelection


def live_moment(runtime: Runtime) -> float:
    """When a live view is evaluated: now, aligned down to the refresh interval."""
    runtime.polls.note()
    return aligned(runtime.services.clock(), runtime.settings.refresh)


def mesh_key(namespaces: Sequence[str], window: Duration) -> tuple[tuple[str, ...], str]:
    """The mesh view's key: its queries are the namespaces' and window's alone,
    so every graph type, cluster filter and overview of them (the page's
    and the API's) shares them."""
    return tuple(sorted(namespaces)), str(window)


def drawn_moment(runtime: Runtime, at: float, window: Duration, namespaces: Sequence[str]) -> float:
    """When a change to the live graph on screen (a namespace opened or
    folded) is drawn: at `at`, the present's moment, once its queries are
    in; until then at the moment of the last live queries evaluated, those
    of the graph shown (a click at 5,000 workloads would otherwise wait for
    a whole refresh)."""
    key = mesh_key(namespaces, window)
    if runtime.views.cached("mesh", key, at) is not None:
        return at
    latest = runtime.views.latest("mesh", key)
    return latest[0] if latest is not None else at


def routing_or_none(runtime: Runtime) -> Any:
    """The routing config, to mark retired versions; the graph does without it
    when it cannot be read (the canary page says why)."""
    try:
        return routing_config(runtime.settings, runtime.services)
    except (ConfigError, SourceError):
        return None


def of_mesh(graph: nx.DiGraph, mesh: MeshTelemetry) -> nx.DiGraph | None:
    """The graph when it was built of this mesh (its instant, window and what
    it lacks), else None: a live view's flight may hand over the last
    interval's graph, never to be mixed with this one's."""
    built = graph.graph["at"], graph.graph["window"], graph.graph["pending"]
    return graph if built == (mesh.at, mesh.window, mesh.pending) else None


def graph_view(
    runtime: Runtime,
    at: float,
    window: Duration,
    namespaces: Sequence[str],
    graph_type: str,
    wait: float,
    live: bool,
    clusters: Sequence[str] | None = None,
    overview: Overview | None = None,
    part_wait: float | None = None,
) -> nx.DiGraph | InFlight:
    """The service graph of the window ending at `at` (`live`: the present's,
    from live_moment) in the clusters (default: --cluster's), folded into a
    namespace overview when asked, retired versions marked. With
    `part_wait`, a graph of the refresh's early report (its `pending`
    latency) once so many seconds have passed without the whole."""
    namespaces = tuple(sorted(namespaces))
    clusters = None if clusters is None else tuple(sorted(clusters))
    mesh = runtime.views.view_in_parts(
        "mesh",
        mesh_key(namespaces, window),
        at,
        live,
        # Told early only for an asker that draws the early report: the source
        # then asks for the latency buckets last.
        lambda report: runtime.services.telemetry.mesh(
            at, window, namespaces, None if part_wait is None else report
        ),
        wait,
        part_wait,
    )
    if isinstance(mesh, InFlight):
        return mesh
    # A graph of an early report is another view than the whole one's.
    partial = mesh.pending
    versioned = None
    if overview is not None or graph_type != VERSIONED:
        # Drawn after the versioned graph: a click that opens a namespace, or
        # another graph type, re-draws the one built of these queries.
        versioned = runtime.views.view(
            "versioned",
            (namespaces, str(window), partial),
            at,
            live,
            lambda: versioned_graph(mesh, runtime.settings),
            wait,
        )
        if isinstance(versioned, InFlight):
            return versioned
        versioned = of_mesh(versioned, mesh)
    folded = None
    if (
        versioned is not None
        and overview is not None
        and folds(versioned, namespaces, clusters_shown(runtime.settings, clusters), overview)
    ):
        # Every namespace folded: the big mesh's overview, and what a click
        # that opens a namespace re-draws only that namespace of.
        folded = runtime.views.view(
            "folded",
            (namespaces, str(window), graph_type, partial),
            at,
            live,
            lambda: folded_graph(mesh, runtime.settings, graph_type, versioned),
            wait,
        )
        if isinstance(folded, InFlight):
            return folded
        folded = of_mesh(folded, mesh)
    return runtime.views.view(
        "graph",
        (namespaces, clusters, str(window), graph_type, overview, partial),
        at,
        live,
        lambda: graph_of(
            mesh,
            runtime.settings,
            namespaces,
            routing_or_none(runtime),
            graph_type,
            overview,
            clusters,
            versioned,
            folded,
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


def history_view(
    runtime: Runtime, selection: SeriesSelection, at: float, window: Duration, wait: float
) -> SelectionHistory | InFlight:
    """The selection's last half hour up to `at`, kept by its last whole step:
    every viewer of one selection and step shares one range query."""
    end = sparkline_end(at)
    return runtime.views.view(
        "sparklines",
        (selection, str(window)),
        end,
        False,
        lambda: selected_history(runtime.services.telemetry, selection, end, window),
        wait,
    )
