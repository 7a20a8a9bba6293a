"""The Istio traffic configuration the simulated mesh obeys.

A host's weighted route (`WeightedRoute`, a VirtualService's one HTTP route)
chooses a subset per request; its `SubsetPolicy` (a DestinationRule's subsets,
connection pool and outlier detection) shapes each caller's Envoy clusters
(see `queries.simulator.envoy`). `manifests` renders them as
`kubectl get vs,dr -o yaml` items (networking.istio.io/v1beta1).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

API_VERSION = "networking.istio.io/v1beta1"
# Istio's "unset" for connection-pool limits.
UNLIMITED = 2**32 - 1


@dataclass(frozen=True)
class ConnectionPool:
    """`trafficPolicy.connectionPool`: tcp.maxConnections, http.http1MaxPendingRequests."""

    max_connections: int = UNLIMITED
    http1_max_pending_requests: int = UNLIMITED


@dataclass(frozen=True)
class OutlierDetection:
    """`trafficPolicy.outlierDetection`, Istio's defaults unless set."""

    consecutive_5xx_errors: int = 5
    interval: float = 10.0
    base_ejection_time: float = 30.0
    max_ejection_percent: float = 10.0


@dataclass(frozen=True)
class SubsetPolicy:
    """A DestinationRule's subsets, connection pool and outlier detection for one host."""

    host: str
    subsets: tuple[str, ...]
    connection_pool: ConnectionPool | None = None
    outlier_detection: OutlierDetection | None = None


@dataclass(frozen=True)
class WeightedRoute:
    """A VirtualService's one weighted HTTP route for a host: (subset, weight) pairs."""

    host: str
    route: tuple[tuple[str, int], ...]


def choose_subset(route: WeightedRoute, rng: random.Random) -> str:
    """A subset with probability weight / sum(weights), as Envoy's weighted clusters."""
    total = sum(weight for _, weight in route.route)
    point = rng.uniform(0, total)
    for subset, weight in route.route:
        point -= weight
        if point <= 0 and weight > 0:
            return subset
    return next(subset for subset, weight in reversed(route.route) if weight > 0)


def _seconds(value: float) -> str:
    return f"{value:g}s"


def _metadata(name: str, namespace: str) -> dict[str, Any]:
    return {"name": name, "namespace": namespace}


def virtual_service_manifest(route: WeightedRoute, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "VirtualService",
        "metadata": _metadata(route.host, namespace),
        "spec": {
            "hosts": [route.host],
            "http": [
                {
                    "route": [
                        {"destination": {"host": route.host, "subset": subset}, "weight": weight}
                        for subset, weight in route.route
                    ]
                }
            ],
        },
    }


def destination_rule_manifest(rule: SubsetPolicy, namespace: str) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "host": rule.host,
        "subsets": [{"name": subset, "labels": {"version": subset}} for subset in rule.subsets],
    }
    policy: dict[str, Any] = {}
    if rule.connection_pool:
        policy["connectionPool"] = {
            "tcp": {"maxConnections": rule.connection_pool.max_connections},
            "http": {"http1MaxPendingRequests": rule.connection_pool.http1_max_pending_requests},
        }
    if rule.outlier_detection:
        detection = rule.outlier_detection
        policy["outlierDetection"] = {
            "consecutive5xxErrors": detection.consecutive_5xx_errors,
            "interval": _seconds(detection.interval),
            "baseEjectionTime": _seconds(detection.base_ejection_time),
            "maxEjectionPercent": int(detection.max_ejection_percent),
        }
    if policy:
        spec["trafficPolicy"] = policy
    return {
        "apiVersion": API_VERSION,
        "kind": "DestinationRule",
        "metadata": _metadata(rule.host, namespace),
        "spec": spec,
    }


def manifests(
    routes: tuple[WeightedRoute, ...], policies: tuple[SubsetPolicy, ...], namespace: str
) -> list[dict[str, Any]]:
    """The VirtualServices then DestinationRules, as `kubectl get vs,dr -o yaml` items."""
    return [virtual_service_manifest(route, namespace) for route in routes] + [
        destination_rule_manifest(policy, namespace) for policy in policies
    ]


def fqdn(host: str, namespace: str) -> str:
    """The service's cluster-local name, as Istio's `destination_service` label."""
    return f"{host}.{namespace}.svc.cluster.local"
