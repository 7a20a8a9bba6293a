"""Dash refuses callbacks that loop (an output that is, through others, an
input of its own callback): it reports a dependency cycle and may then stall
the page's first refresh. Every page's callbacks are checked here, so a new
one that closes a loop fails a test rather than a page."""

from __future__ import annotations

import json

import networkx as nx

from dashboard.app import create_app
from dashboard.app.config import resolve
from dashboard.app.services import Services
from tests.support.telemetry import ScriptedSource, bookinfo_ejection


def prop(component_id, prop_name: str) -> str:
    name = (
        component_id
        if isinstance(component_id, str)
        else json.dumps(component_id, sort_keys=True, default=str)
    )
    return f"{name}.{prop_name}"


def test_no_callback_feeds_itself_through_others():
    app = create_app(resolve({}, {}), Services(telemetry=ScriptedSource(bookinfo_ejection())))
    flow = nx.DiGraph()
    for spec in app.callback_map.values():
        outputs = spec["output"] if isinstance(spec["output"], list) else [spec["output"]]
        for given in spec["inputs"]:
            for output in outputs:
                flow.add_edge(
                    prop(given["id"], given["property"]), prop(output.component_id, output.component_property)
                )
    assert flow.number_of_edges() > 40
    assert nx.is_directed_acyclic_graph(flow), nx.find_cycle(flow)
