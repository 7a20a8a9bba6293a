"""Circuit-breaker state of a caller's edge to a service.

The breaker belongs to the caller's sidecar, so the state lives on
workload -> service edges: requests it rejects locally never reach a
destination workload.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from queries.envoy import NO_HEALTHY_UPSTREAM, SHEDDING_FLAGS

CLOSED, TRIPPING, OPEN = "closed", "tripping", "open"
# A worse state sorts later.
CIRCUIT_SEVERITY = {CLOSED: 0, TRIPPING: 1, OPEN: 2}


@dataclass(frozen=True)
class CircuitThresholds:
    """When an edge's breaker counts as open: share of requests rejected
    `UH`; overridable in the config file's [circuit] section."""

    open_uh_ratio: float = 0.5


@dataclass(frozen=True)
class ClusterState:
    """Envoy stats of one outbound cluster (a destination, maybe one subset)."""

    subset: str = ""
    membership_total: float | None = None
    membership_healthy: float | None = None
    ejections_active: float | None = None
    overflow_increase: float = 0.0

    @property
    def all_hosts_ejected(self) -> bool:
        if not self.membership_total:
            return False
        if self.membership_healthy is not None and self.membership_healthy <= 0:
            return True
        return self.ejections_active is not None and self.ejections_active >= self.membership_total


@dataclass(frozen=True)
class EdgeRejections:
    """What a caller saw on its way to one service during the window."""

    rps: float
    flags: dict[str, float] = field(default_factory=dict)
    clusters: tuple[ClusterState, ...] = ()


def all_hosts_ejected(clusters: tuple[ClusterState, ...]) -> bool:
    """Every host the caller routes to is ejected.

    Istio gives a caller one cluster per DestinationRule subset next to the
    plain one; once subsets exist, traffic goes through them and the plain
    cluster stays healthy and unused, so it does not count."""
    populated = [cluster for cluster in clusters if cluster.membership_total]
    subsets = [cluster for cluster in populated if cluster.subset]
    routed = subsets or populated
    return bool(routed) and all(cluster.all_hosts_ejected for cluster in routed)


def circuit_state(edge: EdgeRejections, thresholds: CircuitThresholds) -> str:
    """`open` when the destination is cut off (most requests fail UH, or
    every host the caller routes to is ejected); `tripping` while the
    breaker sheds (UO/URX, or overflow counters rise); else `closed`."""
    cut_off = edge.rps > 0 and edge.flags.get(NO_HEALTHY_UPSTREAM, 0.0) / edge.rps >= thresholds.open_uh_ratio
    if cut_off or all_hosts_ejected(edge.clusters):
        return OPEN
    shedding = any(edge.flags.get(flag, 0.0) > 0 for flag in SHEDDING_FLAGS)
    if shedding or any(cluster.overflow_increase > 0 for cluster in edge.clusters):
        return TRIPPING
    return CLOSED


def worst_circuit(states: Iterable[str]) -> str:
    """The worst of several circuit states; `closed` for none."""
    return max(states, key=CIRCUIT_SEVERITY.__getitem__, default=CLOSED)
