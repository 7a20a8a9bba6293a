"""Health of edges and nodes, by Kiali's rules.

Each kind of failure has a tolerance (Kiali's defaults): a ratio of the
requests of its protocol at or above `failing` fails, at or above `degraded`
degrades, and a `degraded` of 0 means any such request degrades. HTTP
requests are judged by their HTTP code (5xx, 4xx), gRPC requests by their
gRPC status (1–16), both by "no response" (code 0). An edge's health is the
worst state any tolerance reaches; a node's comes from all the requests into
it, summed (not from its worst edge).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields

IDLE, HEALTHY, DEGRADED, FAILING = "idle", "healthy", "degraded", "failing"


@dataclass(frozen=True)
class HealthThresholds:
    """Kiali's defaults; ratios of the requests of the protocol in the window.
    Overridable in the config file's [health] section."""

    http_5xx_degraded: float = 0.0
    http_5xx_failing: float = 0.10
    http_4xx_degraded: float = 0.10
    http_4xx_failing: float = 0.20
    grpc_degraded: float = 0.0
    grpc_failing: float = 0.10
    no_response_degraded: float = 0.0
    no_response_failing: float = 0.10


# A node nobody calls (an ingress gateway, an unknown caller) has no inbound
# view of its health.
NO_HEALTH = "none"
# Worse health sorts later.
SEVERITY = {NO_HEALTH: -1, IDLE: 0, HEALTHY: 1, DEGRADED: 2, FAILING: 3}


@dataclass(frozen=True)
class RequestCounts:
    """Request rates in the window by protocol and kind of outcome; they add
    up across edges (a node's inbound counts are the sum of its edges')."""

    http: float = 0.0
    http_5xx: float = 0.0
    http_4xx: float = 0.0
    http_no_response: float = 0.0
    grpc: float = 0.0
    grpc_error: float = 0.0
    grpc_no_response: float = 0.0

    @property
    def total(self) -> float:
        return self.http + self.grpc

    def __add__(self, other: RequestCounts) -> RequestCounts:
        return RequestCounts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


def tolerance(ratio: float, degraded: float, failing: float) -> str:
    """Kiali's threshold check for one kind of failure."""
    if ratio <= 0:
        return HEALTHY
    if failing > 0 and ratio >= failing:
        return FAILING
    return DEGRADED if ratio >= degraded else HEALTHY


def _share(part: float, whole: float) -> float:
    return part / whole if whole > 0 else 0.0


def request_health(counts: RequestCounts, thresholds: HealthThresholds) -> str:
    """`idle` without requests; else the worst state any tolerance reaches."""
    if counts.total <= 0:
        return IDLE
    t = thresholds
    return worst(
        [
            tolerance(_share(counts.http_5xx, counts.http), t.http_5xx_degraded, t.http_5xx_failing),
            tolerance(_share(counts.http_4xx, counts.http), t.http_4xx_degraded, t.http_4xx_failing),
            tolerance(_share(counts.grpc_error, counts.grpc), t.grpc_degraded, t.grpc_failing),
            tolerance(
                _share(counts.http_no_response, counts.http), t.no_response_degraded, t.no_response_failing
            ),
            tolerance(
                _share(counts.grpc_no_response, counts.grpc), t.no_response_degraded, t.no_response_failing
            ),
        ]
    )


def worst(states: Iterable[str]) -> str:
    """The worst of several health states; `none` for no states at all."""
    return max(states, key=SEVERITY.__getitem__, default=NO_HEALTH)
