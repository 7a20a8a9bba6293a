"""Requests through the simulated mesh, hop by hop, and what the proxies
record about them.

A hop from a caller to a service: the caller's sidecar routes by the
VirtualService weights to a subset cluster, which either rejects the
request itself (503 `UH` with no healthy host, 503 `UO` on pool overflow:
only the caller's sidecar reports it, `destination_workload="unknown"`) or
sends it to a host whose sidecar hands it to the application. Both sidecars
count the request in `istio_requests_total` and the duration histogram
with Istio's full label set, and emit a span each.
"""

from __future__ import annotations

import random
import uuid
from collections import deque
from collections.abc import Generator

from queries.simulator import fortio
from queries.simulator.bookinfo import NAMESPACE, PORT, WORKLOADS, Call, Workload, draw, workloads_of
from queries.simulator.envoy import ADMITTED, LOCAL_REPLY_TIME, NETWORK_TIME, PROXY_TIME, UpstreamCluster
from queries.simulator.istio import choose_subset, fqdn
from queries.simulator.kernel import Kernel
from queries.simulator.metrics import Registry
from queries.simulator.story import MeshConfig
from queries.simulator.traces import APP, CLIENT, SERVER, Span, Trace, TraceStore

UNKNOWN = "unknown"
REQUESTS = "istio_requests_total"
DURATION = "istio_request_duration_milliseconds"
# Response body sizes (bytes) per service, for span tags.
RESPONSE_SIZE = {"productpage": 5183, "details": 178, "reviews": 358, "ratings": 48}
USER_AGENT = {"istio-ingressgateway": "curl/7.88.1", "productpage": "python-requests/2.31.0"}
FORTIO_AGENT = "fortio.org/fortio-1.60.3"
LOAD_RESULTS_KEPT = 100


def cluster_name(service: str, subset: str) -> str:
    return f"outbound|{PORT}|{subset}|{fqdn(service, NAMESPACE)}"


def request_labels(
    reporter: str, caller: Workload, service: str, callee: Workload | None, code: int, flags: str
) -> tuple[tuple[str, str], ...]:
    """Istio's standard labels of one request as one reporter sees it."""

    def side(prefix: str, workload: Workload | None) -> list[tuple[str, str]]:
        if workload is None:
            return [
                (f"{prefix}_{name}", UNKNOWN)
                for name in (
                    "workload",
                    "workload_namespace",
                    "principal",
                    "app",
                    "version",
                    "canonical_service",
                    "canonical_revision",
                    "cluster",
                )
            ]
        return [
            (f"{prefix}_workload", workload.name),
            (f"{prefix}_workload_namespace", workload.namespace),
            (f"{prefix}_principal", workload.principal),
            (f"{prefix}_app", workload.app),
            (f"{prefix}_version", workload.pod_version),
            (f"{prefix}_canonical_service", workload.app),
            (f"{prefix}_canonical_revision", workload.version),
            (f"{prefix}_cluster", "Kubernetes"),
        ]

    return tuple(
        sorted(
            [
                ("reporter", reporter),
                *side("source", caller),
                *side("destination", callee),
                ("destination_service", fqdn(service, NAMESPACE)),
                ("destination_service_name", service),
                ("destination_service_namespace", NAMESPACE),
                ("request_protocol", "http"),
                ("response_code", str(code)),
                ("grpc_response_status", ""),
                ("response_flags", flags),
                # Only the server side knows (Istio's client side says `unknown`);
                # every simulated caller, the gateway too, has a proxy speaking mTLS.
                ("connection_security_policy", "mutual_tls" if reporter == "destination" else UNKNOWN),
            ]
        )
    )


class Mesh:
    """The mesh's state: config in force, every sidecar's outbound clusters,
    the proxies' metrics and the traces."""

    def __init__(
        self,
        kernel: Kernel,
        rng: random.Random,
        registry: Registry,
        traces: TraceStore,
        overflow_ejects: bool,
    ) -> None:
        self.kernel, self.rng, self.registry, self.traces = kernel, rng, registry, traces
        self.overflow_ejects = overflow_ejects
        self.config: MeshConfig | None = None
        self.clusters: dict[tuple[str, str], UpstreamCluster] = {}
        # The most recent fortio runs, newest last (a held load test repeats for ever).
        self.load_results: deque[fortio.LoadResult] = deque(maxlen=LOAD_RESULTS_KEPT)

    # -- configuration ----------------------------------------------------
    def apply(self, config: MeshConfig) -> None:
        self.config = config
        for (_, name), cluster in self.clusters.items():
            self._configure(cluster, name)

    def deployed(self, workload_name: str) -> bool:
        return self.config is not None and workload_name in self.config.deployed

    def _configure(self, cluster: UpstreamCluster, name: str) -> None:
        _, _, subset, host = name.split("|")
        service = host.split(".")[0]
        rule = self.config.policy(service)
        had_detection = cluster.detection is not None
        cluster.configure(rule.connection_pool if rule else None, rule.outlier_detection if rule else None)
        cluster.set_members(workloads_of(service, subset, self.config.deployed))
        if cluster.detection is not None and not had_detection:
            self._tick(cluster)

    def _tick(self, cluster: UpstreamCluster) -> None:
        if cluster.detection is None:
            return
        cluster.interval_tick()
        self.kernel.schedule(self.kernel.now + cluster.detection.interval, lambda: self._tick(cluster))

    def cluster(self, caller: Workload, service: str, subset: str) -> UpstreamCluster:
        """The caller's sidecar's cluster for a service subset (created on first use)."""
        name = cluster_name(service, subset)
        key = (caller.name, name)
        if key not in self.clusters:
            self.clusters[key] = UpstreamCluster(
                name, self.kernel, self.rng, overflow_ejects=self.overflow_ejects
            )
            self._configure(self.clusters[key], name)
        return self.clusters[key]

    def outbound_clusters(self, caller: Workload) -> list[UpstreamCluster]:
        """Every outbound cluster the caller's sidecar has: one per service
        and one per DestinationRule subset (Envoy builds them whether used or not)."""
        clusters = []
        for rule in self.config.policies:
            for subset in ("", *rule.subsets):
                clusters.append(self.cluster(caller, rule.host, subset))
        return clusters

    # -- requests ---------------------------------------------------------
    def _record(
        self,
        reporter: str,
        caller: Workload,
        service: str,
        callee: Workload | None,
        code: int,
        flags: str,
        seconds: float,
    ) -> None:
        labels = request_labels(reporter, caller, service, callee, code, flags)
        pod = (caller if reporter == "source" else callee).name
        self.registry.inc(REQUESTS, labels, pod)
        self.registry.observe(DURATION, labels, pod, seconds * 1000.0)

    def _span(self, kind: str, owner: Workload, call: Call, parent: int | None, **facts) -> Span:
        return Span(
            self.rng.getrandbits(64),
            parent,
            kind,
            owner,
            call.service,
            call.path,
            NAMESPACE,
            start=self.kernel.now,
            **facts,
        )

    def _finish(self, trace: Trace, span: Span, code: int, flags: str = "-") -> None:
        span.duration = self.kernel.now - span.start
        span.code, span.flags = code, flags
        span.response_size = RESPONSE_SIZE[span.service] if code == 200 else 19
        trace.spans.append(span)

    def call(
        self, caller: Workload, call: Call, trace: Trace, parent: int | None, user_agent: str
    ) -> Generator[object, object, int]:
        """One request from a caller's app to a service; returns the HTTP code."""
        started = self.kernel.now
        yield draw(self.rng, PROXY_TIME)
        route = self.config.route(call.service)
        subset = choose_subset(route, self.rng) if route else ""
        cluster = self.cluster(caller, call.service, subset)
        client = self._span(CLIENT, caller, call, parent, subset=subset, caller=caller, user_agent=user_agent)
        client.start = started
        admission = yield from cluster.admit()
        if admission.flag != ADMITTED:
            yield draw(self.rng, LOCAL_REPLY_TIME)
            self._record("source", caller, call.service, None, 503, admission.flag, self.kernel.now - started)
            self._finish(trace, client, 503, admission.flag)
            return 503
        callee = admission.host.workload
        yield draw(self.rng, NETWORK_TIME)
        arrived = self.kernel.now
        server = self._span(SERVER, callee, call, client.span_id, caller=caller, user_agent=user_agent)
        yield draw(self.rng, PROXY_TIME)
        code = yield from self.serve(callee, call, trace, server.span_id)
        yield draw(self.rng, PROXY_TIME)
        self._record("destination", caller, call.service, callee, code, "-", self.kernel.now - arrived)
        self._finish(trace, server, code)
        yield draw(self.rng, NETWORK_TIME)
        cluster.release()
        cluster.report(admission.host, code)
        yield draw(self.rng, PROXY_TIME)
        self._record("source", caller, call.service, callee, code, "-", self.kernel.now - started)
        self._finish(trace, client, code)
        return code

    def serve(
        self, workload: Workload, call: Call, trace: Trace, parent: int
    ) -> Generator[object, object, int]:
        """The application's own work, calling its dependencies one after the
        other; Bookinfo's apps answer 200 and show an error text when a
        dependency fails (reviews without ratings shows no stars)."""
        span = self._span(APP, workload, call, parent)
        work = workload.app_time(self.rng)
        yield work / 2
        for downstream in workload.calls:
            yield from self.call(workload, downstream, trace, span.span_id, USER_AGENT.get(workload.app, ""))
        yield work / 2
        self._finish(trace, span, 200)
        return 200

    def _new_trace(self) -> Trace:
        request_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        return Trace(self.rng.getrandbits(128), request_id, self.kernel.now)

    def user_request(self) -> Generator[object, object, int]:
        """`curl http://<ingress>/productpage` through the ingress gateway."""
        gateway = WORKLOADS["istio-ingressgateway"]
        trace = self._new_trace()
        code = yield from self.call(
            gateway, gateway.calls[0], trace, None, USER_AGENT["istio-ingressgateway"]
        )
        self.traces.add(trace)
        return code

    # -- load tests -------------------------------------------------------
    def load_test(
        self, caller: Workload, run: fortio.LoadRun
    ) -> Generator[object, object, fortio.LoadResult | None]:
        """A fortio run from the caller's pod; its result is kept in `load_results`."""
        if run.skip_while_ejected:
            route = self.config.route(run.service)
            target = self.cluster(caller, run.service, route.route[0][0] if route else "")
            if target.membership_healthy == 0:
                return None
        result = fortio.LoadResult(run, started_at=self.kernel.now)
        self.load_results.append(result)
        threads = [
            self.kernel.spawn(self._fortio_thread(caller, run, calls, result)) for calls in run.shares()
        ]
        yield from threads
        result.ended_at = self.kernel.now
        return result

    def _fortio_thread(
        self, caller: Workload, run: fortio.LoadRun, calls: int, result: fortio.LoadResult
    ) -> Generator[object, object, None]:
        target = Call(run.service, run.path)
        for _ in range(calls):
            trace = self._new_trace()
            code = yield from self.call(caller, target, trace, None, FORTIO_AGENT)
            self.traces.add(trace)
            result.codes[code] += 1
            result.flags[trace.spans[-1].flags] += 1
            yield draw(self.rng, fortio.CLIENT_TURNAROUND)
