"""What the telemetry shows of one service's versions: per version its share
of the delivered requests, rate, success and latency over the window, the
calls it makes to other services, and the split over the last hour."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import networkx as nx
import pandas as pd

from dashboard.canary.versions import CANARY, IDLE, MIRROR, RETIRED, SERVING, SHADOW_SUFFIX, service_key
from dashboard.mesh.circuit import CLOSED, OPEN, TRIPPING
from dashboard.mesh.graph import SERVICE, WORKLOAD, service_id
from queries.telemetry import UNKNOWN

# The split's history: one range query over the last hour at this step.
HISTORY_SECONDS, HISTORY_STEP_SECONDS = 3600.0, 30.0


@dataclass(frozen=True)
class Call:
    """A version's outbound requests to one service over the window (its
    workloads' workload -> service edges): what the version depends on."""

    service: str
    namespace: str
    rps: float
    errors_per_s: float
    circuit: str
    codes: tuple[tuple[str, float], ...] = ()
    flags: tuple[tuple[str, float], ...] = ()

    @property
    def error_ratio(self) -> float | None:
        return self.errors_per_s / self.rps if self.rps > 0 else None


@dataclass(frozen=True)
class VersionFigures:
    workload: str | None
    version: str | None
    share: float | None
    configured_weight: float | None
    rps: float | None
    success_ratio: float | None
    p50_ms: float | None
    p99_ms: float | None
    state: str
    # baseline, canary, mirror or retired (versions.ROLES).
    role: str = CANARY
    deviates: bool = False
    last_seen: float | None = None
    calls: tuple[Call, ...] = ()
    # The calls that fail (see call_fails), for the card.
    failing_calls: tuple[Call, ...] = ()
    # The version's workload nodes in the graph, where its path starts.
    nodes: tuple[str, ...] = ()
    # Idle because its callers' circuit to the service is open (its hosts
    # ejected by outlier detection), not because it was drained.
    cut_off: bool = False

    @property
    def key(self) -> str:
        return self.version or self.workload or UNKNOWN

    @property
    def label(self) -> str:
        return self.version or self.workload or UNKNOWN


def edge_rows(graph: nx.DiGraph, node: str) -> list[tuple[str, str | None, Any]]:
    """(workload, version, edge) of a service node's outgoing edges."""
    if node not in graph:
        return []
    rows = []
    for target in graph.successors(node):
        workload = graph.nodes[target]["node"]
        if workload.kind == WORKLOAD:
            rows.append((workload.name, workload.version, graph.edges[node, target]["edge"]))
    return rows


CIRCUIT_ORDER = (CLOSED, TRIPPING, OPEN)


def circuit_open_into(graph: nx.DiGraph, node: str) -> bool:
    """Whether a caller's circuit to the service node is open."""
    return node in graph and any(
        graph.edges[caller, node]["edge"].circuit == OPEN for caller in graph.predecessors(node)
    )


def _summed(pairs: Iterable[tuple[str, float]]) -> tuple[tuple[str, float], ...]:
    """Rates by label, summed, busiest first."""
    totals: dict[str, float] = {}
    for label, rate in pairs:
        totals[label] = totals.get(label, 0.0) + rate
    return tuple(sorted(totals.items(), key=lambda item: -item[1]))


def merge_calls(calls: Sequence[Call]) -> tuple[Call, ...]:
    """One call per service for several workloads of a version: rates add up,
    the worst circuit wins."""
    by_service: dict[tuple[str, str], list[Call]] = {}
    for call in calls:
        by_service.setdefault((call.service, call.namespace), []).append(call)
    return tuple(
        Call(
            service=s,
            namespace=ns,
            rps=sum(c.rps for c in group),
            errors_per_s=sum(c.errors_per_s for c in group),
            circuit=max((c.circuit for c in group), key=CIRCUIT_ORDER.index),
            codes=_summed(pair for c in group for pair in c.codes),
            flags=_summed(pair for c in group for pair in c.flags),
        )
        for (s, ns), group in sorted(by_service.items())
    )


def outbound_calls(graph: nx.DiGraph, workload: str) -> tuple[Call, ...]:
    """The workload's calls to services (its workload -> service edges)."""
    calls = []
    for target in graph.successors(workload):
        service, edge = graph.nodes[target]["node"], graph.edges[workload, target]["edge"]
        if service.kind != SERVICE or edge.rps is None:
            continue
        calls.append(
            Call(
                service=service.name,
                namespace=service.namespace,
                rps=edge.rps,
                errors_per_s=(edge.error_ratio or 0.0) * edge.rps,
                circuit=edge.circuit,
                codes=_summed(edge.codes.items()),
                flags=_summed(edge.flags.items()),
            )
        )
    return merge_calls(calls)


def _merge(rows: list[VersionFigures]) -> VersionFigures:
    """One row for several workloads of the same version."""
    if len(rows) == 1:
        return rows[0]
    rps = [r.rps or 0.0 for r in rows]
    total = sum(rps)

    def known(attr: str) -> list[float]:
        return [getattr(r, attr) for r in rows if getattr(r, attr) is not None]

    def weighted(attr: str) -> float | None:
        """The rate-weighted mean of a figure over the workloads that have it."""
        if total <= 0 or not known(attr):
            return None
        return sum(getattr(r, attr) * w for r, w in zip(rows, rps) if getattr(r, attr) is not None) / total

    return replace(
        rows[0],
        workload=", ".join(sorted(r.workload or "" for r in rows)),
        rps=total if any(r.rps is not None for r in rows) else None,
        share=sum(known("share")) if known("share") else None,
        success_ratio=weighted("success_ratio"),
        p50_ms=max(known("p50_ms")) if known("p50_ms") else None,
        p99_ms=max(known("p99_ms")) if known("p99_ms") else None,
        state=SERVING if total > 0 else rows[0].state,
        calls=merge_calls([call for r in rows for call in r.calls]),
        nodes=tuple(node for r in rows for node in r.nodes),
    )


def observed_versions(
    graph: nx.DiGraph, service: str, namespace: str, mirrored: set[str]
) -> dict[str, VersionFigures]:
    """Rows of the versions the graph shows behind the service (and its
    `-shadow` twin), with shares over the split versions only."""
    found: dict[str, list[VersionFigures]] = {}
    for node, shadow in (
        (service_id(namespace, service), False),
        (service_id(namespace, service + SHADOW_SUFFIX), True),
    ):
        for workload, version, edge in edge_rows(graph, node):
            success = None if edge.error_ratio is None else 1.0 - edge.error_ratio
            busy = (edge.rps or 0) > 0 or (edge.bytes_per_s or 0) > 0
            row = VersionFigures(
                workload=workload,
                version=version,
                share=edge.share,
                configured_weight=None,
                rps=edge.rps,
                success_ratio=success,
                p50_ms=edge.p50_ms,
                p99_ms=edge.p99_ms,
                state=MIRROR if shadow or (version or workload) in mirrored else (SERVING if busy else IDLE),
                calls=outbound_calls(graph, edge.target),
                nodes=(edge.target,),
            )
            found.setdefault(row.key, []).append(row)
    return _split_shares({key: _merge(group) for key, group in found.items()}, "share")


def _split_shares(rows: dict[str, VersionFigures], measure: str) -> dict[str, VersionFigures]:
    """Each row's `share`: its `measure` over the split's (mirror targets are outside it)."""
    total = sum(getattr(r, measure) or 0.0 for r in rows.values() if r.state != MIRROR)
    return {
        key: replace(
            r, share=None if r.state == MIRROR or total <= 0 else (getattr(r, measure) or 0.0) / total
        )
        for key, r in rows.items()
    }


def observed_services(
    graph: nx.DiGraph, services: Sequence[tuple[str, str]], namespace: str, mirrored: set[str]
) -> dict[str, VersionFigures]:
    """Rows of a release split between Services: one per Service (its
    workloads merged, keyed by service_key), shares over the Services'
    delivered requests."""
    rows: dict[str, VersionFigures] = {}
    for name, service_namespace in services:
        behind = observed_versions(graph, name, service_namespace, set())
        if not behind:
            continue
        key = service_key(name, service_namespace, namespace)
        merged = _merge(list(behind.values()))
        workloads = ", ".join(
            sorted({w for r in behind.values() for w in (r.workload or "").split(", ") if w})
        )
        state = MIRROR if key in mirrored else merged.state
        rows[key] = replace(merged, version=key, workload=workloads or None, state=state)
    return _split_shares(rows, "rps")


def split_history(
    history: pd.DataFrame | None, services: Sequence[tuple[str, str]], namespace: str
) -> pd.DataFrame:
    """The split over time of a release between Services: service_history
    of each, its version the Service's key."""
    parts = [
        service_history(history, name, service_namespace).assign(
            version=service_key(name, service_namespace, namespace)
        )
        for name, service_namespace in services
    ]
    present = [part for part in parts if not part.empty]
    return pd.concat(present, ignore_index=True) if present else service_history(None, "", namespace)


def service_history(history: pd.DataFrame | None, service: str, namespace: str) -> pd.DataFrame:
    """The service's split over time: columns time, version, workload, rps, shadow."""
    columns = ["time", "version", "workload", "rps", "shadow"]
    if history is None or history.empty:
        return pd.DataFrame(columns=columns)
    names = history["destination_service_name"].astype("string")
    mine = history[
        (history["destination_service_namespace"] == namespace)
        & names.isin([service, service + SHADOW_SUFFIX])
    ]
    if mine.empty:
        return pd.DataFrame(columns=columns)
    revision = mine["destination_canonical_revision"].astype("string").fillna(UNKNOWN)
    workload = mine["destination_workload"].astype("string")
    version = revision.where(revision != UNKNOWN, workload)
    times = mine["time"]
    if pd.api.types.is_datetime64_any_dtype(times):
        times = times.astype("int64") / 1e9
    return pd.DataFrame(
        {
            "time": times.astype("float64").to_numpy(),
            "version": version.to_numpy(),
            "workload": workload.to_numpy(),
            "rps": mine["rps"].astype("float64").to_numpy(),
            "shadow": (names[mine.index] != service).to_numpy(),
        }
    )


def history_rows(history: pd.DataFrame, recent: float) -> dict[str, VersionFigures]:
    """Versions that received traffic in the history, with when they last
    did; mirror targets take their rate from the last sample when it is
    recent (the server side sees mirrored requests, the graph's reporter does not)."""
    busy = history[history["rps"] > 0]
    rows = {}
    for version, group in busy.groupby("version", sort=False):
        shadow = bool(group["shadow"].all())
        last = float(group["time"].max())
        rps = float(group[group["time"] == last]["rps"].sum()) if shadow and last >= recent else None
        rows[str(version)] = VersionFigures(
            workload=str(group["workload"].iloc[-1]),
            version=str(version),
            share=None,
            configured_weight=None,
            rps=rps,
            success_ratio=None,
            p50_ms=None,
            p99_ms=None,
            state=MIRROR if shadow else RETIRED,
            last_seen=last,
        )
    return rows
