"""Canary analysis: observed split against configured weights, and a verdict.

Pure functions over the service graph (dashboard.mesh.build.build_graph), the
version-traffic history (TelemetrySource.version_traffic: the last hour for
the split, and a coarse lookback for when each version first served) and the
Istio routing records (queries.istio.records). No I/O.

Which services are analysed: those with more than one version receiving
traffic now, or with more than one version in the last hour's history, or
whose VirtualService routes to (or mirrors) more than one version, and the
releases a route or a rollout controller splits between Services
(dashboard.canary.routing: HTTPRoute backendRefs, a VirtualService over
several hosts, `reviews-stable`/`reviews-canary`): their Services are the
versions, and are not analysed as releases of their own. A service asked
for by name is always analysed. A `<name>-shadow` service (mirrored
requests) is folded into `<name>` as its mirror target.

A rollout controller (dashboard.canary.controller: Argo Rollouts, Flagger)
that drives the release names its baseline (the stable or primary) and its
canary, and the weight it has set is the configured weight (a route's
weights that differ from it are noted); the controller's phase is kept
beside the verdict, with a reason when they disagree.

Per version (one row per version label; workloads sharing a label are merged):
- `share`: fraction (0..1) of the service's delivered requests now, from the
  service -> workload edges; null for versions outside the split (retired,
  not deployed, mirror targets: mirrored copies are not part of the split);
- `configured_weight`: fraction (0..1) the catch-all route (VirtualService
  or HTTPRoute) gives the version (weight / sum of weights), or the weight a
  rollout controller has set; 0 for a live version the routes leave out;
  null when nothing routes the service by version, and for retired versions;
- `rps`, `success_ratio` (1 - error ratio), `p50_ms`, `p99_ms` over the window;
- `role`: baseline, canary, retired or mirror.

States: serving (traffic now), idle (workload known, no traffic now), missing
(a route sends it traffic but no workload answers), retired (seen in the last
hour or as an idle edge, but no traffic now and neither a route nor a
DestinationRule subset names it any more; callers' sidecars keep exporting
flat counters for a deleted workload, so an idle edge alone proves nothing),
absent (named by config only), mirror (receives mirrored copies).

Baseline: see dashboard.canary.baseline (the version serving longest; never
swaps mid-rollout). Every other live version is a canary, including mirror
targets (judged on their mirrored traffic).

Verdict per canary, first rule that applies:
0. roll back: a route sends the canary traffic but no workload of it answers;
1. no data: the canary received no requests in the window (never "healthy");
2. hold: fewer than `min_requests_for_verdict` requests to judge it by (the
   configured share of the service's requests while the split holds, else
   what it received), or a figure needed for a check is unknown;
3. roll back: the canary fails a threshold (success < min_success_ratio,
   p99 > max_p99_ms) that the baseline does not fail; hold instead when the
   baseline fails it too (the cause is likely shared) or is retired
   (nothing to roll back to);
4. hold: a call on the canary's path fails (circuit open, or an error ratio
   above 1 - min_success_ratio): its own calls, or those of the workloads
   its requests reach. A canary that hides a broken dependency still answers
   100 %, yet promoting it puts every request on the broken path; hold, not
   roll back, since the fault may be the dependency's (e.g. ejected by
   outlier detection), which a roll back would only hide;
5. hold: the observed split deviates from the configured weights by more
   than `max_share_deviation` and significantly (exact binomial test,
   p < `deviation_p_value`) over at least `min_requests_for_deviation`
   requests to the service (not compared when routes match on request
   content, since matched requests bypass the weights);
6. promote: every check passes with enough requests.
Failing calls are listed among the reasons of any verdict.
The service's verdict is "complete" once the rollout is (the canary alone
serves 100 %, observed and configured, the baseline drained or retired);
else the most cautious of its canaries' (roll back > hold > promote; a mix
of promote and no data holds); a service with no canary is "no data".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import networkx as nx
import pandas as pd

from dashboard.canary.baseline import choose_baseline, first_requests
from dashboard.canary.controller import Controller, controlled_weights, disagreement, release_controller
from dashboard.canary.observation import (
    HISTORY_STEP_SECONDS,
    VersionFigures,
    circuit_open_into,
    edge_rows,
    history_rows,
    observed_services,
    observed_versions,
    service_history,
    split_history,
)
from dashboard.canary.path import calls_on_path
from dashboard.canary.routing import (
    Routing,
    describe_routing,
    release_splits,
    service_routing,
    strategy_of,
    subset_versions,
)
from dashboard.canary.thresholds import CanaryThresholds
from dashboard.canary.verdict import (
    COMPLETE,
    Judgement,
    call_fails,
    combine,
    deviations,
    judge,
    missing_words,
    path_failures,
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
    # The version a completed rollout moved every request onto.
    completed: str | None = None
    # The rollout controller driving the release, and why it disagrees with the verdict.
    controller: Controller | None = None
    disagreement: str | None = None

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
    if row.cut_off:
        return (
            f"{row.label} gets no requests because its callers' circuit is OPEN (outlier detection "
            "ejected its hosts): it is cut off, not drained; do not retire it"
        )
    if row.state == IDLE and row.role == BASELINE:
        configured = "" if row.configured_weight is None else f"configured {percent(row.configured_weight)}, "
        return f"{row.label} is drained ({configured}no requests): it can be retired"
    return None


def retired(idle: bool, version: str, routing: Routing | None, named: set[str]) -> bool:
    """An idle version the routing config no longer names: callers' sidecars
    keep exporting flat counters for a deleted workload, so an idle edge alone
    proves nothing."""
    return idle and routing is not None and routing.weights is not None and version not in named


def named_versions(
    routing: Routing | None, config: IstioConfig | None, service: str, namespace: str
) -> set[str]:
    """The versions the routing config still names: routes, mirrors, subsets."""
    return (
        set((routing.weights or {}) if routing else {})
        | set(routing.mirrors if routing else {})
        | subset_versions(config, service, namespace)
    )


def retired_workloads(graph: nx.DiGraph, config: IstioConfig | None) -> set[str]:
    """Workload nodes of versions gone from traffic and config, for the topology to mark."""
    found: set[str] = set()
    for node_id, data in graph.nodes(data=True):
        node = data["node"]
        if node.kind != SERVICE:
            continue
        routing = service_routing(config, node.name, node.namespace)
        named = named_versions(routing, config, node.name, node.namespace)
        for target in graph.successors(node_id):
            edge, workload = graph.edges[node_id, target]["edge"], graph.nodes[target]["node"]
            idle = not (edge.rps or 0) > 0 and not (edge.bytes_per_s or 0) > 0
            if retired(idle, workload.version or workload.name, routing, named):
                found.add(target)
    return found


def _version_rows(
    graph: nx.DiGraph,
    past: pd.DataFrame,
    routing: Routing | None,
    config: IstioConfig | None,
    service: str,
    namespace: str,
) -> dict[str, VersionFigures]:
    """Every version of the service with its state and configured weight."""
    mirrored = set(routing.mirrors) if routing else set()
    weights = (routing.weights or {}) if routing else {}
    if routing and routing.services:
        rows = observed_services(graph, routing.services, namespace, mirrored)
    else:
        rows = observed_versions(
            graph, service, namespace, mirrored - {v for v, f in weights.items() if f > 0}
        )
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
    named = named_versions(routing, config, service, namespace)
    for key, row in list(rows.items()):
        if retired(row.state == IDLE, key, routing, named):
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
    return rows


def _role(row: VersionFigures, baseline: str | None) -> str:
    if row.state == RETIRED:
        return RETIRED
    if row.state == MIRROR:
        return MIRROR
    return BASELINE if row.key == baseline else CANARY


def analyze_service(
    graph: nx.DiGraph,
    history: pd.DataFrame | None,
    config: IstioConfig | None,
    thresholds: CanaryThresholds,
    window: Duration,
    service: str,
    namespace: str,
    first_seen: Mapping[str, float] | None = None,
) -> ServiceRelease:
    """The release view of one service; `first_seen` (version -> unix s of
    its first request in the lookback) decides the baseline."""
    routing = service_routing(config, service, namespace)
    controller = release_controller(config, routing, service, namespace)
    routing, controller_words = _controlled(routing, controller)
    past = release_history(history, service, namespace, routing)
    rows = _version_rows(graph, past, routing, config, service, namespace)
    baseline_key, why = choose_baseline(
        rows.values(), first_seen or {}, controller.stable if controller else None
    )
    cut_off = circuit_open_into(graph, service_id(namespace, service))
    rows = {
        k: replace(r, role=_role(r, baseline_key), cut_off=cut_off and r.state == IDLE)
        for k, r in rows.items()
    }
    requests = sum((r.rps or 0.0) for r in rows.values() if r.state != MIRROR) * window.seconds
    deviation_words, deviating = deviations(list(rows.values()), routing, requests, thresholds, window)
    rows = {
        k: replace(
            r, deviates=k in deviating, failing_calls=tuple(c for c in r.calls if call_fails(c, thresholds))
        )
        for k, r in rows.items()
    }
    baseline = rows.get(baseline_key) if baseline_key else None
    canaries = [r for r in rows.values() if r.role in (CANARY, MIRROR) and r.state != ABSENT]
    judgements = [
        judge(
            r,
            baseline,
            deviation_words,
            thresholds,
            window,
            path_failures(r, baseline, calls_on_path(graph, r.nodes), thresholds, namespace),
            requests,
        )
        for r in sorted(canaries, key=lambda r: version_sort_key(r.key))
    ]
    done = rollout_complete(rows.values(), baseline)
    # A completed rollout outranks no verdict but a failure it would hide.
    complete = done is not None and not any(j.failing for j in judgements)
    verdict = COMPLETE if complete else combine([j.verdict for j in judgements])
    reasons = [text for j in judgements for text in j.reasons]
    if not judgements:
        only = baseline.label if baseline else "no version"
        reasons.append(f"only one version ({only}) of {service}: no canary to judge")
    if done:
        words = f"rollout complete: {done.label} serves 100 % of the requests to {service}" + (
            " (configured 100 %)" if done.configured_weight else ""
        )
        reasons.insert(0 if complete else len(reasons), words)
    if baseline and judgements:
        reasons.append(f"baseline {baseline.label}: {why}")
    reasons += [
        w for w in (_row_words(r) for r in sorted(rows.values(), key=lambda r: version_sort_key(r.key))) if w
    ]
    if routing:
        reasons += describe_routing(routing)
    reasons += controller_words
    disagrees = disagreement(controller, verdict, judgements) if controller else None
    if disagrees:
        reasons.insert(0, disagrees)
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
        completed=done.key if done else None,
        controller=controller,
        disagreement=disagrees,
    )


def _controlled(routing: Routing | None, controller: Controller | None) -> tuple[Routing | None, list[str]]:
    """The routing with the controller's weights as the configured ones, and
    the controller in words."""
    if controller is None or routing is None:
        return routing, []
    words = [controller_words(controller)]
    keys = [*(routing.weights or {}), *(service for service, _ in routing.services)]
    weights = controlled_weights(controller, keys)
    if weights is None:
        return routing, words
    canary = controller.canary or ""
    configured = (routing.weights or {}).get(canary)
    if configured is not None and abs(configured - weights[canary]) > 0.005:
        words.append(
            f"{routing.route} gives {canary} {percent(configured)}, {controller.label} has set "
            f"{percent(weights[canary])}: the controller's weight is the configured one"
        )
    content = routing.content_routes
    return replace(routing, weights=weights, strategy=strategy_of(weights, content)), words


def controller_words(controller: Controller) -> str:
    """E.g. `Argo Rollouts Rollout reviews: paused (Paused) at step 3 of 6, canary
    reviews-canary at 30 %, stable reviews-stable`."""
    phase = f"{controller.state} ({controller.phase})" if controller.phase else controller.state
    step = f" at step {controller.step} of {controller.steps}" if controller.steps else ""
    weight = "" if controller.weight is None else f" at {percent(controller.weight)}"
    roles = f", canary {controller.canary}{weight}, stable {controller.stable}" if controller.canary else ""
    return f"{controller.label}: {phase}{step}{roles}" + (
        f" — {controller.message}" if controller.message else ""
    )


def release_history(
    history: pd.DataFrame | None, service: str, namespace: str, routing: Routing | None
) -> pd.DataFrame:
    """The release's split over time (observation.service_history), by Service
    for a release split between Services."""
    if routing and routing.services:
        return split_history(history, routing.services, namespace)
    return service_history(history, service, namespace)


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
    splits = release_splits(config)
    for service, namespace in (config.services() if config else set()) | set(splits):
        routing = service_routing(config, service, namespace)
        named = set((routing.weights or {}) if routing else {}) | set(routing.mirrors if routing else {})
        named |= {pair[0] for pair in routing.services} if routing else set()
        if routing and (len(named) > 1 or routing.mirrors or routing.content_routes):
            found.add((service, namespace))
    # A Service that is a version of a release split between Services is no release of its own.
    versions = {
        pair
        for service, namespace in found
        if (routing := service_routing(config, service, namespace)) is not None
        for pair in routing.services
    }
    return found - versions


def analyze(
    graph: nx.DiGraph,
    history: pd.DataFrame | None,
    config: IstioConfig | None,
    thresholds: CanaryThresholds,
    window: Duration,
    service: str | None = None,
    namespaces: Sequence[str] = (),
    lookback: pd.DataFrame | None = None,
) -> list[ServiceRelease]:
    """Release views of every service with a release in play, or of the one
    named (`name` or `name.namespace`), in the namespaces when any are given.
    `lookback` is version traffic over the baseline lookback (coarse steps)."""
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
        analyze_service(
            graph,
            history,
            config,
            thresholds,
            window,
            s,
            ns,
            first_requests(release_history(lookback, s, ns, service_routing(config, s, ns))),
        )
        for s, ns in sorted(wanted, key=lambda k: (k[1], k[0]))
    ]
