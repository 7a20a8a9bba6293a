"""A graph view is drawn after the versioned graph of the same queries: a
click that opens a namespace of the overview, or another graph type,
re-draws the one already built rather than building it again."""

from __future__ import annotations

import dashboard.app.views as views
from dashboard.app.config import resolve
from dashboard.app.services import Services
from dashboard.mesh.graph_types import APP, VERSIONED, Overview
from queries.duration import prometheus_duration
from tests.support.app import make_runtime
from tests.support.telemetry import ScriptedSource, bookinfo_ejection

AT = 1_800_000_000.0


def test_opening_namespaces_and_graph_types_reuse_one_versioned_graph(monkeypatch) -> None:
    built = []

    def counted(mesh, rules):
        built.append(mesh)
        return views_versioned(mesh, rules)

    views_versioned = views.versioned_graph
    monkeypatch.setattr(views, "versioned_graph", counted)
    runtime = make_runtime(resolve({}, {}), Services(telemetry=ScriptedSource(bookinfo_ejection())))
    window = prometheus_duration("1m")
    drawn = [
        views.graph_view(runtime, AT, window, (), graph_type, 5.0, live=False, overview=overview)
        for graph_type, overview in [
            (VERSIONED, Overview(1)),
            (VERSIONED, Overview(1, frozenset({"default"}))),
            (APP, None),
        ]
    ]
    assert len(built) == 1
    folded, opened, app = drawn
    assert "namespace:default" in folded and "namespace:default" not in opened
    assert any(node.startswith("workload:default:") for node in opened)
    assert any(node.startswith("app:default:") for node in app)
