"""Small hand-made meshes as telemetry sources, for page and API tests."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from queries.duration import Duration
from queries.errors import SourceError
from queries.telemetry import (
    EARLY_PENDING,
    SELECTION_HISTORY_COLUMNS,
    VERSION_TRAFFIC_COLUMNS,
    EarlyReport,
    MeshTelemetry,
    SeriesSelection,
    empty_frame,
)
from tests.support.frames import labels, latency_rows, telemetry


def bookinfo_ejection() -> MeshTelemetry:
    """Bookinfo during the story's ejection: reviews-v2 -> ratings cut off (UH)."""
    ingress = dict(caller_ns="istio-system")
    return telemetry(
        requests=[
            (labels("istio-ingressgateway", "productpage", "productpage-v1", **ingress), 2.0),
            (labels("productpage-v1", "details", "details-v1"), 2.0),
            (labels("productpage-v1", "reviews", "reviews-v1"), 1.0),
            (labels("productpage-v1", "reviews", "reviews-v2"), 1.0),
            (labels("reviews-v2", "ratings", response_code="503", response_flags="UH"), 4.0),
            (labels("reviews-v2", "ratings", "ratings-v1"), 0.0),
            (labels("reviews-v3", "ratings", "ratings-v1"), 0.0),
        ],
        latency=latency_rows(labels("productpage-v1", "reviews", "reviews-v1"), [5, 12, 40, 90]),
    )


def with_calls(mesh: MeshTelemetry, *calls: tuple[dict[str, str], float]) -> MeshTelemetry:
    """The same telemetry with more request series."""
    extra = telemetry(requests=list(calls)).requests
    return dataclasses.replace(mesh, requests=pd.concat([mesh.requests, extra], ignore_index=True))


def without_latency(mesh: MeshTelemetry) -> MeshTelemetry:
    """The telemetry as a refresh's early report has it: all but its latency."""
    return dataclasses.replace(mesh, latency=mesh.latency.iloc[:0], pending=EARLY_PENDING)


@dataclass
class ScriptedSource:
    """The one fake telemetry source: answers with the given telemetry (and
    split history), or raises while `failure` is set; `calls` records each
    mesh refresh as (at, window text, namespaces)."""

    mesh_telemetry: MeshTelemetry
    history: pd.DataFrame | None = None
    failure: str | None = None
    queries_per_refresh: int = 4
    name: str = "Prometheus"
    calls: list[tuple[float, str, tuple[str, ...]]] = field(default_factory=list)
    # What every selection's history answers, `time` counted back from the query's end (0: its last point).
    selection_rows: pd.DataFrame | None = None
    selections: list[SeriesSelection] = field(default_factory=list)
    # Given, each refresh reports its telemetry early without latency (as
    # Prometheus does), then answers whole once this is set.
    latency_held: threading.Event | None = None

    def mesh(
        self,
        at: float,
        window: Duration,
        namespaces: Sequence[str] = (),
        early: EarlyReport | None = None,
    ) -> MeshTelemetry:
        self.calls.append((at, str(window), tuple(namespaces)))
        if self.failure:
            raise SourceError(self.failure)
        if self.latency_held is not None:
            if early is not None:
                early(without_latency(self.mesh_telemetry))
            self.latency_held.wait(30)
        return self.mesh_telemetry

    def check(self) -> None:
        if self.failure:
            raise SourceError(self.failure)

    def version_traffic(
        self, start: float, end: float, step: float, window: Duration, namespaces: Sequence[str] = ()
    ) -> pd.DataFrame:
        if self.failure:
            raise SourceError(self.failure)
        if self.history is not None:
            return self.history
        return empty_frame(VERSION_TRAFFIC_COLUMNS[1:-1], "rps").assign(time=pd.Series(dtype="float64"))

    def selection_history(
        self, selection: SeriesSelection, start: float, end: float, step: float, window: Duration
    ) -> pd.DataFrame:
        if self.failure:
            raise SourceError(self.failure)
        self.selections.append(selection)
        if self.selection_rows is not None:
            return self.selection_rows.assign(time=self.selection_rows["time"] + end)
        return pd.DataFrame(columns=SELECTION_HISTORY_COLUMNS)
