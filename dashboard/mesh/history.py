"""The selected node's or edge's recent past, for the side panel's
sparklines: which series it is made of (a `SeriesSelection` the telemetry
source turns into one range query), and what that query's rows say over
time: rps, error ratio, p50 and p99, and for an edge its response codes and
Envoy flags.

The error rule and the quantiles are the graph's own (appenders.outcomes,
histogram.histogram_quantiles), so a sparkline's last point and the panel's
figure agree."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from dashboard.mesh.appenders import outcomes
from dashboard.mesh.histogram import histogram_quantiles
from queries.telemetry import SeriesSelection

# Which end of a request each element kind stands for, as Istio labels it.
_DESTINATION = {
    "service": ("destination_service_name", "destination_service_namespace"),
    "workload": ("destination_workload", "destination_workload_namespace"),
    "app": ("destination_app", "destination_workload_namespace"),
}
_SOURCE = {
    "workload": ("source_workload", "source_workload_namespace"),
    "app": ("source_app", "source_workload_namespace"),
}


def _end(node_id: str) -> tuple[str, str, str] | None:
    """(kind, namespace, name) of a node id: `workload:ns:name`, `service:ns:name`,
    `app:ns:app`; None for what Istio's labels cannot single out (unknown callers)."""
    parts = node_id.split(":")
    if len(parts) != 3 or parts[0] not in _DESTINATION:
        return None
    return parts[0], parts[1], parts[2]


def selection_of(element: Mapping[str, Any]) -> SeriesSelection | None:
    """The series behind a node's inbound traffic or an edge's requests.

    A service's inbound requests as their callers' sidecars report them
    (refused requests, 503 UH/UO, included); a workload's as its own sidecar
    reports them (callers without a sidecar included); an edge as the graph
    reads it: the caller's sidecar, or the callee's for a caller without one.
    None where the labels cannot single it out (a service calling a service)."""
    if "source" in element and "target" in element:
        return _edge_selection(element["source"], element["target"])
    end = _end(str(element.get("id", "")))
    if end is None:
        return None
    kind, namespace, name = end
    reporter = "source" if kind == "service" else "destination"
    name_label, namespace_label = _DESTINATION[kind]
    return SeriesSelection(reporter, ((name_label, name), (namespace_label, namespace)))


def _edge_selection(source: str, target: str) -> SeriesSelection | None:
    callee = _end(target)
    if callee is None:
        return None
    caller = _end(source)
    labels: list[tuple[str, str]] = []
    if caller is not None and caller[0] == "service":
        if callee[0] == "service":
            return None  # the service graph's edges: no label names the calling service
        # service -> workload: the requests that service delivered to it.
        labels += [("destination_service_name", caller[2]), ("destination_service_namespace", caller[1])]
    elif caller is not None:
        labels += [(_SOURCE[caller[0]][0], caller[2]), (_SOURCE[caller[0]][1], caller[1])]
    name_label, namespace_label = _DESTINATION[callee[0]]
    labels += [(name_label, callee[2]), (namespace_label, callee[1])]
    return SeriesSelection("destination" if caller is None else "source", tuple(labels))


@dataclass(frozen=True)
class SelectionHistory:
    """Figures per step; None where there was nothing to measure."""

    times: list[float] = field(default_factory=list)
    rps: list[float] = field(default_factory=list)
    error_ratio: list[float | None] = field(default_factory=list)
    p50_ms: list[float | None] = field(default_factory=list)
    p99_ms: list[float | None] = field(default_factory=list)
    # rps per response code, and per Envoy response flag ("-" left out), per step.
    codes: dict[str, list[float]] = field(default_factory=dict)
    flags: dict[str, list[float]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.times


def selection_history(rows: pd.DataFrame, times: Sequence[float]) -> SelectionHistory:
    """The range query's rows (queries.telemetry.SELECTION_HISTORY_COLUMNS)
    as figures at each of `times`."""
    if rows.empty:
        return SelectionHistory()
    requests = rows[rows["series"] == "requests"]
    latency = rows[rows["series"] == "latency"]
    index = pd.Index(sorted(times), name="time")
    rps = requests.groupby("time")["value"].sum().reindex(index, fill_value=0.0)
    errors = (
        requests[outcomes(requests)["error"].to_numpy()].groupby("time")["value"].sum()
        if not requests.empty
        else pd.Series(dtype="float64")
    ).reindex(index, fill_value=0.0)
    error_ratio = [e / r if r > 0 else None for e, r in zip(errors, rps)]
    quantiles = {t: _quantiles(group) for t, group in latency.groupby("time")}
    none = (None, None)
    return SelectionHistory(
        times=[float(t) for t in index],
        rps=[float(v) for v in rps],
        error_ratio=error_ratio,
        p50_ms=[quantiles.get(t, none)[0] for t in index],
        p99_ms=[quantiles.get(t, none)[1] for t in index],
        codes=_per_label(requests, "response_code", index),
        flags=_per_label(requests[requests["response_flags"].fillna("-") != "-"], "response_flags", index),
    )


def _quantiles(buckets: pd.DataFrame) -> tuple[float | None, float | None]:
    summed = buckets.groupby("le")["value"].sum()
    pairs = [(float(bound), float(count)) for bound, count in summed.items()]
    p50, p99 = histogram_quantiles((0.5, 0.99), pairs)
    return p50, p99


def _per_label(rows: pd.DataFrame, label: str, index: pd.Index) -> dict[str, list[float]]:
    if rows.empty:
        return {}
    table = rows.pivot_table(index="time", columns=label, values="value", aggfunc="sum").reindex(index)
    return {str(name): [float(v) for v in table[name].fillna(0.0)] for name in sorted(table.columns)}
