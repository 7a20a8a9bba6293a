"""Health of edges and nodes, by Kiali's rules."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

IDLE, HEALTHY, DEGRADED, FAILING = "idle", "healthy", "degraded", "failing"


@dataclass(frozen=True)
class HealthThresholds:
    """Kiali's defaults; ratios of an edge's requests in the window.
    Any 5xx above `http_5xx_degraded` degrades (strictly above, so that the
    default 0 means "any"); every other threshold is reached at or above.
    Overridable in the config file's [health] section."""

    http_5xx_degraded: float = 0.0
    http_5xx_failing: float = 0.10
    http_4xx_degraded: float = 0.10
    http_4xx_failing: float = 0.20
    grpc_failing: float = 0.10
    no_response_failing: float = 0.10


# A node nobody calls (an ingress gateway, an unknown caller) has no inbound
# view of its health.
NO_HEALTH = "none"
# Worse health sorts later.
SEVERITY = {NO_HEALTH: -1, IDLE: 0, HEALTHY: 1, DEGRADED: 2, FAILING: 3}


@dataclass(frozen=True)
class RequestCounts:
    """Request rates of one edge in the window, split by the kind of outcome."""

    total: float
    http_5xx: float = 0.0
    http_4xx: float = 0.0
    grpc_error: float = 0.0
    no_response: float = 0.0


def edge_health(counts: RequestCounts, thresholds: HealthThresholds) -> str:
    """`idle` without traffic; else the worst state any rule reaches."""
    if counts.total <= 0:
        return IDLE

    def ratio(rate: float) -> float:
        return rate / counts.total

    if (
        ratio(counts.http_5xx) >= thresholds.http_5xx_failing
        or ratio(counts.http_4xx) >= thresholds.http_4xx_failing
        or ratio(counts.grpc_error) >= thresholds.grpc_failing
        or ratio(counts.no_response) >= thresholds.no_response_failing
    ):
        return FAILING
    if (
        ratio(counts.http_5xx) > thresholds.http_5xx_degraded
        or ratio(counts.http_4xx) >= thresholds.http_4xx_degraded
    ):
        return DEGRADED
    return HEALTHY


def worst(states: Iterable[str]) -> str:
    """The worst of several health states; `none` for no states at all."""
    return max(states, key=SEVERITY.__getitem__, default=NO_HEALTH)
