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


def graph_patch(
    previous: Elements | None, current: list[dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The patch, and the drawing it leaves (by id, in the order both sides
    keep: what stayed in its old order, then what was added).

    `{"full": elements}` without a previous drawing, else `{"add", "remove",
    "fields", "update"}`, an update being `[index, changes]` or `[index,
    changes, position]`: the index into that order stands for the element's
    id (a third of a steady poll when ids travelled), and `changes` is
    `[field, value, ...]`, each field an index into `fields` (the names
    were a third of what was left)."""
    now = by_id(current)
    if previous is None:
        return {"full": current}, now
    kept = [element_id for element_id in previous if element_id in now]
    added = [element_id for element_id in now if element_id not in previous]
    drawing = {element_id: now[element_id] for element_id in (*kept, *added)}
    update: list[list[Any]] = []
    fields: dict[str, int] = {}
    for index, element_id in enumerate(kept):
        element, before = now[element_id], previous[element_id]
        if before == element:
            continue
        data, old = element["data"], before["data"]
        changed = {key: value for key, value in data.items() if old.get(key) != value}
        changed.update({key: None for key in old if key not in data})
        changes = [
            part for key, value in changed.items() for part in (fields.setdefault(key, len(fields)), value)
        ]
        moved = element.get("position") != before.get("position")
        update.append([index, changes, element["position"]] if moved else [index, changes])
    patch = {
        "add": [now[element_id] for element_id in added],
        "remove": [element_id for element_id in previous if element_id not in now],
        "fields": list(fields),
        "update": update,
    }
    return patch, drawing
