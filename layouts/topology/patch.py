"""What a poll sends the graph. The first paint (and a re-layout, a new
graph type, boxes on or off) sends every element; after it, a poll sends
only what changed: elements added, ids removed, and for the others the data
fields that changed (a field gone is sent as null) and a position that moved.
A steady mesh then costs its changing figures, not the whole graph again."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Elements = Mapping[str, dict[str, Any]]


def by_id(elements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {element["data"]["id"]: element for element in elements}


def graph_patch(previous: Elements | None, current: list[dict[str, Any]]) -> dict[str, Any]:
    """`{"full": elements}` without a previous drawing, else `{"add", "remove", "update"}`."""
    if previous is None:
        return {"full": current}
    now = by_id(current)
    update = []
    for element_id, element in now.items():
        before = previous.get(element_id)
        if before is None or before == element:
            continue
        data, old = element["data"], before["data"]
        changed = {key: value for key, value in data.items() if old.get(key) != value}
        changed.update({key: None for key in old if key not in data})
        entry: dict[str, Any] = {"id": element_id, "data": changed}
        if element.get("position") != before.get("position"):
            entry["position"] = element["position"]
        update.append(entry)
    return {
        "add": [element for element_id, element in now.items() if element_id not in previous],
        "remove": [element_id for element_id in previous if element_id not in now],
        "update": update,
    }
