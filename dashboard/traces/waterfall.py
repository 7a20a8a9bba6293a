"""The rows a waterfall draws: collapsed subtrees, hidden spans, "only
matches", and the critical-path sections on the rows shown."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from dashboard.traces.tree import TraceTree


@dataclass(frozen=True)
class Row:
    """One waterfall row: a span at a (visible) depth; `folded` counts the
    spans collapsed under it, 0 when it is expanded or a leaf."""

    span: int
    depth: int
    folded: int


@dataclass(frozen=True)
class Collapse:
    """Which subtrees are collapsed: every span at `depth` or deeper (None:
    no depth limit), except those in `opened`, plus those in `closed`."""

    depth: int | None = None
    opened: frozenset[int] = frozenset()
    closed: frozenset[int] = frozenset()

    def is_collapsed(self, tree: TraceTree, index: int) -> bool:
        if not tree.children[index]:
            return False
        if index in self.closed:
            return True
        return self.depth is not None and tree.depth[index] >= self.depth and index not in self.opened

    def toggled(self, tree: TraceTree, index: int) -> Collapse:
        if self.is_collapsed(tree, index):
            return Collapse(self.depth, self.opened | {index}, self.closed - {index})
        return Collapse(self.depth, self.opened - {index}, self.closed | {index})

    def revealing(self, tree: TraceTree, index: int) -> Collapse:
        """The same, with every ancestor of `index` expanded."""
        ancestors = set(tree.ancestors(index))
        return Collapse(self.depth, self.opened | ancestors, self.closed - ancestors)


def initial_collapse(tree: TraceTree, max_rows: int) -> Collapse:
    """Nothing collapsed when the trace fits in `max_rows`; otherwise collapse
    at the deepest level that keeps the rows within `max_rows`."""
    if len(tree.order) <= max_rows:
        return Collapse()
    per_depth = Counter(tree.depth)
    shown = 0
    for level in range(max(per_depth) + 1):
        shown += per_depth[level]
        if shown > max_rows:
            return Collapse(depth=max(level - 1, 0))
    return Collapse()


def waterfall_rows(
    tree: TraceTree, collapse: Collapse = Collapse(), hidden: Iterable[int] = (), only: set[int] | None = None
) -> list[Row]:
    """The rows to draw, in display order. Hidden spans give their place to
    their children; with `only`, just those spans and their ancestors show."""
    hidden = set(hidden)
    keep: set[int] | None = None
    if only is not None:
        keep = set()
        for i in only:
            keep.add(i)
            keep.update(tree.ancestors(i))
    rows: list[Row] = []
    stack = [(root, 0) for root in reversed(tree.roots)]
    children, size = tree.children, tree.subtree_size
    while stack:
        i, depth = stack.pop()
        if i in hidden:
            stack.extend((kid, depth) for kid in reversed(children[i]))
            continue
        if keep is not None and i not in keep:
            continue
        if collapse.is_collapsed(tree, i):
            rows.append(Row(i, depth, size[i] - 1))
            continue
        rows.append(Row(i, depth, 0))
        stack.extend((kid, depth + 1) for kid in reversed(children[i]))
    return rows


def critical_sections_of(tree: TraceTree, spans: Iterable[int]) -> list[tuple[int, int, int]]:
    """The critical-path sections lying on the given spans."""
    wanted = set(spans)
    return [section for section in tree.critical_sections if section[0] in wanted]
