"""Istio's Bookinfo sample as the simulated mesh runs it: workloads, pods,
what each one calls, and how long each spends on a request of its own.

Service times are log-normal (median, sigma) in seconds and cover the
application only; sidecar and network time is added per hop by
`queries.simulator.envoy`. The figures are of the order Bookinfo shows on a
small cluster (productpage renders a Python template; ratings is a tiny
Node.js handler).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

NAMESPACE = "bookinfo"
GATEWAY_NAMESPACE = "istio-system"
PORT = 9080
TRUST_DOMAIN = "cluster.local"


def draw(rng: random.Random, spec: tuple[float, float]) -> float:
    """A log-normal time in seconds from (median, sigma)."""
    median, sigma = spec
    return rng.lognormvariate(0.0, sigma) * median


@dataclass(frozen=True)
class Call:
    """A request an application makes while serving one of its own."""

    service: str
    path: str


@dataclass(frozen=True)
class Workload:
    name: str
    app: str
    version: str
    namespace: str
    service_account: str
    pod: str
    ip: str
    path: str
    service_time: tuple[float, float]
    calls: tuple[Call, ...] = ()
    # Gateways carry no `version` pod label: Istio reports `unknown` for it.
    version_label: bool = True

    @property
    def pod_version(self) -> str:
        return self.version if self.version_label else "unknown"

    @property
    def principal(self) -> str:
        return f"spiffe://{TRUST_DOMAIN}/ns/{self.namespace}/sa/{self.service_account}"

    @property
    def tracing_service(self) -> str:
        """The service name Istio's proxies report to the tracer: `app.namespace`."""
        return f"{self.app}.{self.namespace}"

    def app_time(self, rng: random.Random) -> float:
        return draw(rng, self.service_time)


GATEWAY = Workload(
    name="istio-ingressgateway",
    app="istio-ingressgateway",
    version="latest",
    namespace=GATEWAY_NAMESPACE,
    service_account="istio-ingressgateway-service-account",
    pod="istio-ingressgateway-7d7bd4f8b9-lk2rx",
    ip="10.244.0.12",
    path="/productpage",
    service_time=(0.0002, 0.2),
    calls=(Call("productpage", "/productpage"),),
    version_label=False,
)

WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in [
        GATEWAY,
        Workload(
            "productpage-v1",
            "productpage",
            "v1",
            NAMESPACE,
            "bookinfo-productpage",
            "productpage-v1-65576bb7bf-4xw7q",
            "10.244.1.21",
            "/productpage",
            (0.012, 0.35),
            (Call("details", "/details/0"), Call("reviews", "/reviews/0")),
        ),
        Workload(
            "details-v1",
            "details",
            "v1",
            NAMESPACE,
            "bookinfo-details",
            "details-v1-5f4d584748-hp2cm",
            "10.244.1.22",
            "/details/0",
            (0.0018, 0.3),
        ),
        Workload(
            "reviews-v1",
            "reviews",
            "v1",
            NAMESPACE,
            "bookinfo-reviews",
            "reviews-v1-64d9d9b5c6-sn8vq",
            "10.244.2.31",
            "/reviews/0",
            (0.0045, 0.3),
        ),
        Workload(
            "reviews-v2",
            "reviews",
            "v2",
            NAMESPACE,
            "bookinfo-reviews",
            "reviews-v2-7b8c7f8d9c-q6kvd",
            "10.244.2.32",
            "/reviews/0",
            (0.0055, 0.3),
            (Call("ratings", "/ratings/0"),),
        ),
        Workload(
            "reviews-v3",
            "reviews",
            "v3",
            NAMESPACE,
            "bookinfo-reviews",
            "reviews-v3-84779c7bbc-9ztzx",
            "10.244.2.33",
            "/reviews/0",
            (0.0055, 0.3),
            (Call("ratings", "/ratings/0"),),
        ),
        Workload(
            "ratings-v1",
            "ratings",
            "v1",
            NAMESPACE,
            "bookinfo-ratings",
            "ratings-v1-7dc98c7588-kp8sd",
            "10.244.3.41",
            "/ratings/0",
            (0.0015, 0.35),
        ),
    ]
}

SERVICES = ("productpage", "details", "reviews", "ratings")


def workloads_of(service: str, version: str, deployed: frozenset[str]) -> list[Workload]:
    """The deployed pods behind a service subset (label version=<subset>)."""
    return [
        w
        for w in WORKLOADS.values()
        if w.name in deployed
        and w.app == service
        and w.namespace == NAMESPACE
        and (not version or w.version == version)
    ]
