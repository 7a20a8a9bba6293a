"""Two traces compared, as Jaeger UI's trace compare matches them: spans are
nodes by their path of `service:operation` from the root (repeated siblings
of one path are one node, counted), and each node is added, removed, changed
or the same.

- `added` / `removed`: the path is in one trace only;
- `changed`: a different number of spans or error spans there, or a duration
  or self time differing by more than DURATION_CHANGE (a fifth) of the
  longer and by at least MIN_CHANGE_US: one trace against one is no sample,
  so small wobbles are not differences;
- `same`: none of that.

Order, "the slowest differences first": first what ran differently (added,
removed, other span or error counts), by the time involved (the duration
that appeared, vanished or moved); then timing alone, by the node's own
self time difference, so the span that got slower leads rather than every
caller it held up; the same nodes last, in the order they ran.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dashboard.traces.tree import TraceTree

ADDED, REMOVED, CHANGED, SAME = "added", "removed", "changed", "same"
DURATION_CHANGE = 0.2
MIN_CHANGE_US = 100
Path = tuple[str, ...]


@dataclass
class NodeTimes:
    """The spans of one trace at one path, summed."""

    count: int = 0
    duration_us: int = 0
    self_us: int = 0
    critical_us: int = 0
    errors: int = 0


@dataclass(frozen=True)
class DiffNode:
    path: Path
    a: NodeTimes
    b: NodeTimes
    status: str

    @property
    def structural(self) -> bool:
        """Whether what ran differs (not only how long it took)."""
        return self.a.count != self.b.count or self.a.errors != self.b.errors

    @property
    def weight_us(self) -> int:
        """How much time the difference involves, for ordering."""
        if self.structural:
            return abs(self.b.duration_us - self.a.duration_us)
        return abs(self.b.self_us - self.a.self_us)


@dataclass(frozen=True)
class TraceDiff:
    a: TraceTree
    b: TraceTree
    nodes: list[DiffNode]

    def critical_path(self, side: str) -> list[DiffNode]:
        """The nodes on one trace's critical path, in the order they ran."""
        on_path = [node for node in self.nodes if getattr(node, side).critical_us > 0]
        position = {path: k for k, path in enumerate(_paths(self.a if side == "a" else self.b))}
        return sorted(on_path, key=lambda node: position[node.path])


def label(tree: TraceTree, index: int) -> str:
    span = tree.span(index)
    return f"{span.service}:{span.operation}"


def _paths(tree: TraceTree) -> dict[Path, NodeTimes]:
    """Every span's path from its root, in display order, with the times at each."""
    paths: list[Path] = [()] * len(tree.trace.spans)
    nodes: dict[Path, NodeTimes] = {}
    for i in tree.order:  # parents come before their children
        parent = tree.parent[i]
        path = (paths[parent] if parent >= 0 else ()) + (label(tree, i),)
        paths[i] = path
        node = nodes.setdefault(path, NodeTimes())
        node.count += 1
        node.duration_us += tree.span(i).duration_us
        node.self_us += tree.self_us[i]
        node.critical_us += tree.critical_us[i]
        node.errors += tree.span(i).error
    return nodes


def _status(a: NodeTimes, b: NodeTimes) -> str:
    if not a.count:
        return ADDED
    if not b.count:
        return REMOVED
    if a.count != b.count or a.errors != b.errors:
        return CHANGED
    for before, after in ((a.duration_us, b.duration_us), (a.self_us, b.self_us)):
        moved = abs(after - before)
        if moved >= MIN_CHANGE_US and moved > DURATION_CHANGE * max(before, after):
            return CHANGED
    return SAME


def compare_traces(a: TraceTree, b: TraceTree) -> TraceDiff:
    """Trace `a` against trace `b`, nodes in the order above."""
    in_a, in_b = _paths(a), _paths(b)
    run_order = list(in_a) + [path for path in in_b if path not in in_a]
    nodes = [
        DiffNode(path, in_a.get(path, NodeTimes()), in_b.get(path, NodeTimes()), "") for path in run_order
    ]
    nodes = [DiffNode(n.path, n.a, n.b, _status(n.a, n.b)) for n in nodes]
    position = {node.path: k for k, node in enumerate(nodes)}

    def rank(node: DiffNode) -> tuple[int, int, int]:
        group = 2 if node.status == SAME else (0 if node.structural else 1)
        return group, -node.weight_us if group < 2 else 0, position[node.path]

    return TraceDiff(a, b, sorted(nodes, key=rank))


def diff_document(diff: TraceDiff) -> dict[str, Any]:
    """The public JSON of `meshwatch trace-diff` and `/api/compare/<a>/<b>`."""
    return {
        "a": diff.a.trace_id,
        "b": diff.b.trace_id,
        "a_duration_us": diff.a.duration_us,
        "b_duration_us": diff.b.duration_us,
        "nodes": [
            {
                "path": list(node.path),
                "a_count": node.a.count,
                "b_count": node.b.count,
                "a_duration_us": node.a.duration_us,
                "b_duration_us": node.b.duration_us,
                "status": node.status,
                "a_self_us": node.a.self_us,
                "b_self_us": node.b.self_us,
                "a_critical_us": node.a.critical_us,
                "b_critical_us": node.b.critical_us,
                "a_errors": node.a.errors,
                "b_errors": node.b.errors,
            }
            for node in diff.nodes
        ],
    }
