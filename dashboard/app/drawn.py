"""What each open topology view has drawn, so a poll sends it only what
changed (layouts.topology.patch). Kept per page load (the page's view id)
in this process, the least recently polled forgotten past a bound; a view
this process does not know (another worker, a restart, forgotten), or one
whose browser missed a patch, is sent the whole graph again."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

# Views remembered at once; one is its elements (about 1.7 MB at 1000 workloads).
MAX_VIEWS = 64


@dataclass
class Drawing:
    elements: dict[str, dict[str, Any]]
    # Numbers each patch sent; the browser echoes the last one it applied.
    sequence: int


@dataclass
class DrawnViews:
    max_views: int = MAX_VIEWS
    _views: OrderedDict[str, Drawing] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, view: str | None, applied: Any) -> Drawing | None:
        """The view's drawing, if the browser applied the last patch sent."""
        with self._lock:
            drawing = self._views.get(view) if view else None
            if drawing is None or str(applied) != str(drawing.sequence):
                return None
            self._views.move_to_end(view)
            return drawing

    def put(self, view: str | None, elements: dict[str, dict[str, Any]]) -> int:
        """Remember what the view will have once this patch is applied; its sequence number."""
        with self._lock:
            before = self._views.pop(view, None) if view else None
            sequence = (before.sequence + 1) if before else 1
            if view:
                self._views[view] = Drawing(elements, sequence)
                while len(self._views) > self.max_views:
                    self._views.popitem(last=False)
            return sequence
