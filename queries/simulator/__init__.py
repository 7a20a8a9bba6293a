"""The simulated Bookinfo mesh: a faithful Istio telemetry and trace source
for `meshwatch demo`, `meshwatch simulate`, tests and benchmarks.

Modules, one concern each:
- kernel: the discrete-event clock and processes;
- bookinfo: workloads, pods, calls and service times;
- istio: the VirtualService / DestinationRule config and its manifests;
- envoy: a caller's outbound cluster (connection pool, outlier detection);
- fortio: the load client's commands and results;
- story: the phases of the Bookinfo canary and circuit-breaking story;
- mesh: requests hop by hop, what the proxies count and trace;
- metrics: series, scrape history, PromQL rate/increase over it;
- source: the TelemetrySource over that history;
- exposition: `/metrics` in Prometheus text format;
- traces, jaeger_api: Jaeger-shaped traces and Jaeger's query API v1;
- simulation: `Simulation`, which ties them to a clock;
- server: `meshwatch simulate`'s HTTP server.
"""

from queries.simulator.simulation import PhaseInfo, Simulation
from queries.simulator.story import PHASE_NAMES

__all__ = ["PHASE_NAMES", "PhaseInfo", "Simulation"]
