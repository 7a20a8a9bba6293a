"""Which workload version a span ran in, from the tags Istio's proxies add:
`istio.canonical_revision` (the version) and `node_id` (the proxy's pod). An
application span carries neither: the proxy span above it, of the same
service, says them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dashboard.traces.tree import TraceTree
from queries.envoy import node_pod
from queries.traces.details import tag_text

REVISION_TAG = "istio.canonical_revision"
NODE_ID_TAG = "node_id"
ISTIO_TAGS = (REVISION_TAG, NODE_ID_TAG)


@dataclass(frozen=True)
class SpanVersion:
    """`version` is the canonical revision (`v2`), `pod` the proxy's pod; either may be unknown."""

    version: str | None
    pod: str | None

    @property
    def label(self) -> str | None:
        """What a chip shows: the version, else the pod."""
        return self.version or self.pod


UNKNOWN = SpanVersion(None, None)


def version_lookup(tree: TraceTree) -> Callable[[int], SpanVersion]:
    """A span's version, reading tags only for the spans asked about (and
    the same-service ancestors they inherit from); remembered per span."""
    spans, parent, dialect = tree.trace.spans, tree.parent, tree.trace.dialect
    known: dict[int, SpanVersion] = {}

    def own(index: int) -> SpanVersion | None:
        tags = {key: value for key, value in tag_text(spans[index], dialect) if key in ISTIO_TAGS}
        if not tags:
            return None
        return SpanVersion(tags.get(REVISION_TAG) or None, node_pod(tags.get(NODE_ID_TAG)))

    def lookup(index: int) -> SpanVersion:
        chain: list[int] = []
        while index not in known:
            chain.append(index)
            found = own(index)
            up = parent[index]
            if found is not None or up < 0 or spans[up].service != spans[index].service:
                break
            index = up
        else:
            found = known[index]
        for i in chain:
            known[i] = found or UNKNOWN
        return found or UNKNOWN

    return lookup
