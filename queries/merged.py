"""Several telemetry sources as one: a mesh with one Prometheus per cluster.

Every source answers each refresh at once (in parallel threads, so a refresh
waits for the slowest source, not for their sum), and their frames are put
together. A series two sources both hold (the same labels: two Prometheus
scraping the same proxy, an HA pair, a global Prometheus beside a
cluster's) is the same series, so it is counted once (the larger value),
never added. Each hop's series then come from its first reporter across
all the sources, as within one (queries.telemetry.first_reporter): a
request from one cluster to another is reported by the caller's proxy to
the caller's Prometheus and by the server's to the server's, and is counted
once, from the caller's. Any source failing fails the refresh with its own one-line
reason (the view then stays as last drawn, marked stale): a mesh drawn from
some clusters only would show the others' traffic as gone.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from dataclasses import fields
from typing import TypeVar

import pandas as pd

from queries.duration import Duration
from queries.telemetry import (
    IGNORED,
    WARNINGS,
    EarlyReport,
    MeshTelemetry,
    SeriesSelection,
    TelemetrySource,
    first_reporter,
)

T = TypeVar("T")
# The value column of each MeshTelemetry frame; every other column is a label.
VALUE_COLUMNS = ("rps", "rate", "bytes_per_s", "value")
# The frames whose series are counted, each hop from one reporter.
COUNTED_FRAMES = ("requests", "latency", "tcp")
# MeshTelemetry's fields that are no frame: the refresh's own, and the counts of left-out series.
NOT_FRAMES = ("at", "window", IGNORED, WARNINGS, "pending")


def merge_ignored(counts: Sequence[Mapping[str, int]]) -> dict[str, int]:
    """The series each source left out, by problem, added up."""
    total: Counter[str] = Counter()
    for count in counts:
        total.update(count)
    return dict(total)


def merge_frames(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """The frames' rows together; rows with the same labels (every column but
    the value and, for history, `time` as a label too) are one series: the
    largest value stands."""
    present = [frame for frame in frames if not frame.empty]
    if len(present) <= 1:
        return present[0] if present else frames[0]
    merged = pd.concat(present, ignore_index=True)
    values = [column for column in merged.columns if column in VALUE_COLUMNS]
    labels = [column for column in merged.columns if column not in VALUE_COLUMNS]
    if not labels:
        return merged
    return merged.groupby(labels, dropna=False, sort=False, as_index=False)[values].max()[merged.columns]


def merged_telemetry(parts: Sequence[MeshTelemetry], at: float, window: Duration) -> MeshTelemetry:
    """Several sources' telemetry of one refresh as one: frames merged,
    each hop from its first reporter, left-out series and warnings together,
    pending what any of them still lacks."""
    frames = {
        f.name: merge_frames([getattr(part, f.name) for part in parts])
        for f in fields(MeshTelemetry)
        if f.name not in NOT_FRAMES
    }
    for counted in COUNTED_FRAMES:
        frames[counted] = first_reporter(frames[counted])
    return MeshTelemetry(
        at=at,
        window=window,
        **frames,
        ignored=merge_ignored([part.ignored for part in parts]),
        warnings=tuple(dict.fromkeys(warning for part in parts for warning in part.warnings)),
        pending=tuple(dict.fromkeys(name for part in parts for name in part.pending)),
    )


class MergedSource:
    """A TelemetrySource over several: each refresh asks them all at once."""

    name = "Prometheus"

    def __init__(self, sources: Sequence[TelemetrySource]) -> None:
        if not sources:
            raise ValueError("MergedSource needs at least one source")
        self.sources = tuple(sources)
        self.queries_per_refresh = sum(source.queries_per_refresh for source in self.sources)

    def _each(self, ask: Callable[[TelemetrySource], T]) -> list[T]:
        # Each in a copy of this context: a response budget open here holds for them all.
        with ThreadPoolExecutor(max_workers=len(self.sources)) as pool:
            pending = [pool.submit(copy_context().run, ask, source) for source in self.sources]
            return [future.result() for future in pending]

    def mesh(
        self,
        at: float,
        window: Duration,
        namespaces: Sequence[str] = (),
        early: EarlyReport | None = None,
    ) -> MeshTelemetry:
        """Every source's telemetry merged; `early` is told their early
        reports merged once every source has reported one."""
        reports: dict[int, MeshTelemetry] = {}
        lock = threading.Lock()

        def reported(source: TelemetrySource, part: MeshTelemetry) -> None:
            with lock:
                reports[id(source)] = part
                parts = [reports[id(s)] for s in self.sources] if len(reports) == len(self.sources) else None
            if parts is not None and early is not None:
                early(merged_telemetry(parts, at, window))

        parts = self._each(
            lambda source: source.mesh(
                at, window, namespaces, None if early is None else lambda part: reported(source, part)
            )
        )
        return merged_telemetry(parts, at, window)

    def check(self) -> None:
        self._each(lambda source: source.check())

    def version_traffic(
        self, start: float, end: float, step: float, window: Duration, namespaces: Sequence[str] = ()
    ) -> pd.DataFrame:
        return self._range(lambda source: source.version_traffic(start, end, step, window, namespaces))

    def selection_history(
        self, selection: SeriesSelection, start: float, end: float, step: float, window: Duration
    ) -> pd.DataFrame:
        """Each source's rows for the selection, merged as a refresh's are (a
        series two sources hold counts once)."""
        return self._range(lambda source: source.selection_history(selection, start, end, step, window))

    def _range(self, ask: Callable[[TelemetrySource], pd.DataFrame]) -> pd.DataFrame:
        """A range query of every source, merged; their left-out series and warnings together."""
        parts = self._each(ask)
        merged = merge_frames(parts)
        merged.attrs[IGNORED] = merge_ignored([part.attrs.get(IGNORED, {}) for part in parts])
        merged.attrs[WARNINGS] = list(
            dict.fromkeys(w for part in parts for w in part.attrs.get(WARNINGS, []))
        )
        return merged
