"""After the first paint a poll sends the graph only what changed, and a
view this process cannot vouch for is sent it all."""

from __future__ import annotations

from dashboard.app.drawn import DrawnViews
from layouts.topology.patch import by_id, graph_patch


def node(node_id: str, x: int = 0, **data) -> dict:
    return {"data": {"id": node_id, **data}, "position": {"x": x, "y": 0}}


def test_the_first_drawing_is_whole_and_later_ones_carry_only_their_changes() -> None:
    before = [node("a", rps=1.0, label="a"), node("b", rps=2.0, found=True), node("c")]
    after = [node("a", rps=1.5, label="a"), node("b", x=40, rps=2.0), node("d", rps=3.0)]
    full, drawn = graph_patch(None, before)
    assert full == {"full": before} and list(drawn) == ["a", "b", "c"]
    patch, drawn = graph_patch(drawn, after)
    assert patch["add"] == [node("d", rps=3.0)] and patch["remove"] == ["c"]
    # Updates name an element by its index in the order kept on both sides: what stayed, then the new.
    assert list(drawn) == ["a", "b", "d"]
    # A changed field names its index in the patch's fields, each name sent once.
    assert patch["fields"] == ["rps", "found"]
    assert patch["update"] == [
        [0, [0, 1.5]],
        # A field gone is sent as null (Cytoscape's [?found] reads it as false); a move is sent.
        [1, [1, None], {"x": 40, "y": 0}],
    ]
    assert graph_patch(by_id(after), after)[0] == {"add": [], "remove": [], "fields": [], "update": []}


def test_a_view_is_vouched_for_only_when_its_browser_applied_the_last_patch() -> None:
    views = DrawnViews(max_views=2)
    first = views.put("page-1", {"a": node("a")})
    assert views.get("page-1", first).elements == {"a": node("a")}
    assert views.get("page-1", "") is None and views.get("page-1", first - 1) is None  # missed one
    assert views.get(None, first) is None and views.get("elsewhere", 1) is None
    assert views.put("page-1", {}) == first + 1
    views.put("page-2", {})
    views.put("page-3", {})  # past the bound: the least recently polled is forgotten
    assert views.get("page-1", first + 1) is None and views.get("page-3", 1) is not None
