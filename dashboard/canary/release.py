"""Canary analysis: observed split against configured weights, and a verdict.

Pure functions over the service graph (dashboard.mesh.build.build_graph), the
version-traffic history (TelemetrySource.version_traffic) and the Istio
routing records (queries.istio.records). No I/O.

Which services are analysed: those with more than one version receiving
traffic now, or with more than one version in the last hour's history, or
whose VirtualService routes to (or mirrors) more than one version. A service
asked for by name is always analysed. A `<name>-shadow` service (mirrored
requests) is folded into `<name>` as its mirror target.

Per version (one row per version label; workloads sharing a label are merged):
- `share`: fraction (0..1) of the service's delivered requests now, from the
  service -> workload edges; null for versions outside the split (retired,
  not deployed, mirror targets: mirrored copies are not part of the split);
- `configured_weight`: fraction (0..1) the VirtualService's catch-all route
  gives the version (weight / sum of weights); 0 for a live version the
  routes leave out; null when no VirtualService routes the service by
  version, and for retired versions;
- `rps`, `success_ratio` (1 - error ratio), `p50_ms`, `p99_ms` over the window.

States: serving (traffic now), idle (workload known, no traffic now), missing
(a route sends it traffic but no workload answers), retired (seen in the last
hour or as an idle edge, but no traffic now and neither a route nor a
DestinationRule subset names it any more; callers' sidecars keep exporting
flat counters for a deleted workload, so an idle edge alone proves nothing),
absent (named by config only), mirror (receives mirrored copies).

Baseline: the version that carried the service's traffic at the start of the
last hour's history (the busiest one at the first step with traffic); without
history, the lowest version label (v1 < v2 < v10). Every other live version is
a canary, including mirror targets (judged on their mirrored traffic).

Verdict per canary, first rule that applies:
0. roll back: a route sends the canary traffic but no workload of it answers;
1. no data: the canary received no requests in the window (never "healthy");
2. hold: the canary received fewer than `min_requests_for_verdict` requests
   in the window (50 by default: enough for one failure to show against a
   99 % floor; at low traffic a longer window gives a verdict), or a figure
   needed for a check is unknown;
3. roll back: the canary fails a threshold (success < min_success_ratio,
   p99 > max_p99_ms) that the baseline does not fail; hold instead when the
   baseline fails it too (the cause is likely shared) or is retired
   (nothing to roll back to);
4. hold: the canary's calls to a service fail (circuit open, or an error
   ratio above 1 - min_success_ratio) while the baseline's calls to it do
   not (or it does not call it): a canary that hides a broken dependency
   from its callers still answers 100 %, yet promoting it puts every request
   on the broken path. Hold, not roll back: the fault may be the dependency's
   (e.g. ejected by outlier detection), which a roll back would only hide;
5. hold: the observed split deviates from the configured weights by more
   than `max_share_deviation` over at least `min_requests_for_deviation`
   requests to the service (not compared when routes match on request
   content, since matched requests bypass the weights);
6. promote: every check passes with enough requests.
Failing calls are listed among the reasons of any verdict.
The service's verdict is the most cautious of its canaries' (roll back >
hold > promote; a mix of promote and no data holds); a service with no
canary is "no data".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import networkx as nx
import pandas as pd

from dashboard.canary.baseline import choose_baseline
from dashboard.canary.observation import (
    HISTORY_STEP_SECONDS,
    VersionFigures,
    edge_rows,
    history_rows,
    observed_versions,
    service_history,
)
from dashboard.canary.routing import Routing, describe_routing, service_routing, subset_versions
from dashboard.canary.thresholds import CanaryThresholds
from dashboard.canary.verdict import (
    PROMOTE,
    Judgement,
    call_fails,
    combine,
    deviations,
    failing_calls,
    judge,
    missing_words,
    rollout_complete,
)
from dashboard.canary.versions import (
    ABSENT,
    BASELINE,
    CANARY,
    IDLE,
    MIRROR,
    MISSING,
    RETIRED,
    SERVING,
    SHADOW_SUFFIX,
    version_sort_key,
)
from dashboard.format import percent, utc_clock
from dashboard.mesh.graph import SERVICE, service_id
from queries.duration import Duration
from queries.istio.records import IstioConfig


@dataclass(frozen=True, eq=False)
class ServiceRelease:
    service: str
    namespace: str
    versions: tuple[VersionFigures, ...]
    verdict: str
    reasons: tuple[str, ...]
    judgements: tuple[Judgement, ...]
    routing: Routing | None
    baseline: str | None
    window: Duration
    requests: float
    # The split over the last hour: columns time (unix s), version, rps.
    history: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["time", "version", "rps"]))

    @property
    def id(self) -> str:
        return service_id(self.namespace, self.service)


def _row_words(row: VersionFigures) -> str | None:
    clock = utc_clock(row.last_seen) if row.last_seen else None
    if row.state == RETIRED:
        return f"{row.label} retired: no requests, and no route or subset names it any more" + (
            f" (last request {clock})" if clock else ""
        )
    if row.state == MISSING:
        return missing_words(row)
    if row.state == ABSENT:
        return f"{row.label} is named in the config but not deployed"
    if row.state == IDLE and row.role == BASELINE:
        configured = "" if row.configured_weight is None else f"configured {percent(row.configured_weight)}, "
        return f"{row.label} is drained ({configured}no requests): it can be retired"
    return None


def analyze_service(
    graph: nx.DiGraph,
    history: pd.DataFrame | None,
    config: IstioConfig | None,
    thresholds: CanaryThresholds,
    window: Duration,
    service: str,
    namespace: str,
) -> ServiceRelease:
    """The release view of one service."""
    routing = service_routing(config, service, namespace)
    mirrored = set(routing.mirrors) if routing else set()
    weights = (routing.weights or {}) if routing else {}
    rows = observed_versions(graph, service, namespace, mirrored - {v for v, f in weights.items() if f > 0})
    past = service_history(history, service, namespace)
    recent = float(graph.graph.get("at", 0.0)) - 2 * HISTORY_STEP_SECONDS
    for key, row in history_rows(past, recent).items():
        rows[key] = replace(rows[key], last_seen=row.last_seen) if key in rows else row
    for version in [*weights, *mirrored]:
        if version not in rows:
            rows[version] = VersionFigures(
                workload=None,
                version=version,
                share=None,
                configured_weight=None,
                rps=None,
                success_ratio=None,
                p50_ms=None,
                p99_ms=None,
                state=MIRROR if version in mirrored else ABSENT,
            )
    has_split = any(r.share is not None for r in rows.values())
    # Callers' sidecars keep exporting flat counters for a deleted workload:
    # an idle version the config no longer names is retired, not drained.
    named = set(weights) | mirrored | subset_versions(config, service, namespace)
    for key, row in list(rows.items()):
        if row.state == IDLE and routing and routing.weights is not None and key not in named:
            row = replace(
                row, state=RETIRED, share=None, rps=None, success_ratio=None, p50_ms=None, p99_ms=None
            )
        if routing and routing.weights is not None and row.state not in (RETIRED, ABSENT, MIRROR):
            row = replace(row, configured_weight=weights.get(key, 0.0))
        elif row.state in (RETIRED, ABSENT) and weights.get(key, 0.0) > 0:
            row = replace(
                row, state=MISSING, configured_weight=weights[key], share=0.0 if has_split else None
            )
        elif row.state == MIRROR and routing and routing.weights is not None:
            row = replace(row, configured_weight=weights.get(key, 0.0))
        rows[key] = row
    baseline_key, why = choose_baseline(rows.values(), past)
    rows = {
        k: replace(r, role=BASELINE if k == baseline_key else (MIRROR if r.state == MIRROR else CANARY))
        for k, r in rows.items()
    }
    seconds = window.seconds
    requests = sum((r.rps or 0.0) for r in rows.values() if r.state != MIRROR) * seconds
    deviation_words, deviating = deviations(list(rows.values()), routing, requests, thresholds, window)
    rows = {
        k: replace(
            r, deviates=k in deviating, failing_calls=tuple(c for c in r.calls if call_fails(c, thresholds))
        )
        for k, r in rows.items()
    }
    baseline = rows.get(baseline_key) if baseline_key else None
    canaries = [r for r in rows.values() if r.role in (CANARY, MIRROR) and r.state not in (RETIRED, ABSENT)]
    judgements = [
        judge(
            r,
            baseline,
            deviation_words,
            thresholds,
            window,
            failing_calls(r, baseline, thresholds, namespace),
        )
        for r in sorted(canaries, key=lambda r: version_sort_key(r.key))
    ]
    verdict = combine([j.verdict for j in judgements])
    reasons = [text for j in judgements for text in j.reasons]
    if not judgements:
        only = baseline.label if baseline else "no version"
        reasons.append(f"only one version ({only}) of {service}: no canary to judge")
    done = rollout_complete(rows.values(), baseline)
    if done:
        rows[done.key] = replace(done, role=SERVING)
        words = f"rollout complete: {done.label} serves 100 % of the requests to {service}" + (
            " (configured 100 %)" if done.configured_weight else ""
        )
        reasons.insert(0 if verdict == PROMOTE else len(reasons), words)
    if baseline and judgements:
        reasons.append(f"baseline {baseline.label}: {why}")
    reasons += [
        w for w in (_row_words(r) for r in sorted(rows.values(), key=lambda r: version_sort_key(r.key))) if w
    ]
    if routing:
        reasons += describe_routing(routing)
    split = past[~past["shadow"].astype(bool)].groupby(["time", "version"], as_index=False)["rps"].sum()
    return ServiceRelease(
        service=service,
        namespace=namespace,
        versions=tuple(sorted(rows.values(), key=lambda r: version_sort_key(r.key))),
        verdict=verdict,
        reasons=tuple(dict.fromkeys(reasons)),
        judgements=tuple(judgements),
        routing=routing,
        baseline=baseline_key,
        window=window,
        requests=requests,
        history=split,
    )


def _candidates(
    graph: nx.DiGraph, history: pd.DataFrame | None, config: IstioConfig | None
) -> set[tuple[str, str]]:
    """Services with a release in play (see the module docstring)."""
    found: set[tuple[str, str]] = set()
    for node_id, data in graph.nodes(data=True):
        node = data["node"]
        if node.kind != SERVICE:
            continue
        busy = {
            version or workload
            for workload, version, edge in edge_rows(graph, node_id)
            if (edge.rps or 0) > 0 or (edge.bytes_per_s or 0) > 0
        }
        if len(busy) > 1 or (busy and node.name.endswith(SHADOW_SUFFIX)):
            found.add((node.name.removesuffix(SHADOW_SUFFIX), node.namespace))
    if history is not None and not history.empty:
        busy = history[history["rps"] > 0]
        counts = busy.groupby(["destination_service_name", "destination_service_namespace"])[
            "destination_workload"
        ].nunique()
        found |= {
            (str(s).removesuffix(SHADOW_SUFFIX), str(ns))
            for (s, ns), n in counts.items()
            if n > 1 or str(s).endswith(SHADOW_SUFFIX)
        }
    for service, namespace in config.services() if config else set():
        routing = service_routing(config, service, namespace)
        named = set((routing.weights or {}) if routing else {}) | set(routing.mirrors if routing else {})
        if routing and (len(named) > 1 or routing.mirrors or routing.content_routes):
            found.add((service, namespace))
    return found


def analyze(
    graph: nx.DiGraph,
    history: pd.DataFrame | None,
    config: IstioConfig | None,
    thresholds: CanaryThresholds,
    window: Duration,
    service: str | None = None,
    namespaces: Sequence[str] = (),
) -> list[ServiceRelease]:
    """Release views of every service with a release in play, or of the one
    named (`name` or `name.namespace`), in the namespaces when any are given."""
    if service:
        name, _, namespace = service.partition(".")
        known = {(n.name, n.namespace) for _, d in graph.nodes(data=True) if (n := d["node"]).kind == SERVICE}
        known |= _candidates(graph, history, config)
        wanted = {(s, ns) for s, ns in known if s == name and (not namespace or ns == namespace)}
    else:
        wanted = _candidates(graph, history, config)
    if namespaces:
        wanted = {(s, ns) for s, ns in wanted if ns in namespaces}
    return [
        analyze_service(graph, history, config, thresholds, window, s, ns)
        for s, ns in sorted(wanted, key=lambda k: (k[1], k[0]))
    ]
