"""Istio's proxy spans: which ones only double a hop, for "hide proxy spans"."""

from __future__ import annotations

from dashboard.traces.tree import TraceTree


def redundant_proxy_spans(tree: TraceTree) -> set[int]:
    """Proxy spans that only double a hop, hidden by "hide proxy spans": a
    sidecar span next to an application span of the same service, or the
    client half of a hop whose server half is another proxy span. Roots stay,
    so the trace keeps its start and duration; error spans and every span on
    their way to the root stay, so a failure is never hidden."""
    spans = tree.trace.spans
    hidden = set()
    for i, span in enumerate(spans):
        if not span.proxy or tree.parent[i] < 0:
            continue
        neighbours = [tree.parent[i], *tree.children[i]]
        if any(not spans[j].proxy and spans[j].service == span.service for j in neighbours):
            hidden.add(i)
        elif any(spans[kid].proxy and spans[kid].service != span.service for kid in tree.children[i]):
            hidden.add(i)
    kept: set[int] = set()
    for i, span in enumerate(spans):
        if span.error:
            while i >= 0 and i not in kept:  # stop where another error's path already joined
                kept.add(i)
                i = tree.parent[i]
    return hidden - kept
