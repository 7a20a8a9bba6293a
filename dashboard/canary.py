"""Canary analysis: observed split against configured weights, and a verdict.

Pure functions over the service graph (dashboard.topology.build_graph), the
version-traffic history (TelemetrySource.version_traffic) and the Istio
routing records (queries.istio_config). No I/O.

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

import re
import time
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Sequence

import networkx as nx
import pandas as pd

from dashboard.circuit import CLOSED, CUT_OFF_FLAG, OPEN, TRIPPING
from dashboard.graph import SERVICE, WORKLOAD, service_id
from dashboard.snapshot import json_number
from queries.istio_config import IstioConfig, Route
from queries.promql import duration_seconds
from queries.telemetry import UNKNOWN

PROMOTE, HOLD, ROLL_BACK, NO_DATA = "promote", "hold", "roll back", "no data"
SERVING, IDLE, MISSING, RETIRED, ABSENT, MIRROR = "serving", "idle", "missing", "retired", "absent", "mirror"
BASELINE, CANARY = "baseline", "canary"
SHADOW_SUFFIX = "-shadow"
# Labels a DestinationRule subset may use to select a version, most usual first.
VERSION_LABELS = ("version", "app.kubernetes.io/version", "service.istio.io/canonical-revision")
HISTORY_SECONDS, HISTORY_STEP_SECONDS = 3600.0, 30.0


@dataclass(frozen=True)
class CanaryThresholds:
    """Flagger's defaults for judging a canary over the window; overridable
    in the config file's [canary] section."""

    min_success_ratio: float = 0.99
    max_p99_ms: float = 500.0
    max_share_deviation: float = 0.05
    # The split is compared over this many requests to the service...
    min_requests_for_deviation: float = 100.0
    # ...and a canary's success ratio and p99 are judged over this many of its own.
    min_requests_for_verdict: float = 50.0


@dataclass(frozen=True)
class Routing:
    """What the VirtualService says about one service's versions.

    weights: version -> fraction of the catch-all route (None: no split by version);
    mirrors: version -> percent of requests mirrored to it;
    content_routes: matched routes in words, e.g. `header end-user exact "jason" -> v2`;
    strategy: "weighted", "blue-green", "single", "content" or "none"."""

    weights: dict[str, float] | None
    mirrors: dict[str, float]
    content_routes: tuple[str, ...]
    strategy: str
    notes: tuple[str, ...]
    origin: str


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
    # baseline, canary, mirror, or serving: the canary the rollout completed onto.
    role: str = CANARY
    deviates: bool = False
    last_seen: float | None = None
    calls: tuple[Call, ...] = ()
    # The calls that fail (see call_fails), for the card.
    failing_calls: tuple[Call, ...] = ()

    @property
    def key(self) -> str:
        return self.version or self.workload or UNKNOWN

    @property
    def label(self) -> str:
        return self.version or self.workload or UNKNOWN


@dataclass(frozen=True)
class Deltas:
    """Canary minus baseline; None where either side is unknown."""

    rps: float | None
    success_ratio: float | None
    p50_ms: float | None
    p99_ms: float | None


@dataclass(frozen=True)
class Judgement:
    version: str
    verdict: str
    reasons: tuple[str, ...]
    deltas: Deltas


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
    window: str
    requests: float
    # The split over the last hour: columns time (unix s), version, rps.
    history: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["time", "version", "rps"]))

    @property
    def id(self) -> str:
        return service_id(self.namespace, self.service)


def version_sort_key(label: str | None) -> tuple:
    """Natural order of version labels: v2 before v10."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", label or "") if part)


def percent(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f} %"


# --- configured routing -----------------------------------------------------

def subset_version(config: IstioConfig, service: str, namespace: str, subset: str) -> tuple[str, str | None]:
    """(version, problem) of a route's subset, through the DestinationRule's labels."""
    rule = config.destination_rule_for(service, namespace)
    labels = rule.labels_of(subset) if rule else None
    if labels is None:
        return subset, (f"subset {subset!r} of {service} is defined by no DestinationRule: "
                        "requests routed to it fail (503)")
    return next((labels[key] for key in VERSION_LABELS if key in labels), subset), None


def subset_versions(config: IstioConfig | None, service: str, namespace: str) -> set[str]:
    """Versions the service's DestinationRule subsets select."""
    rule = config.destination_rule_for(service, namespace) if config else None
    return {subset_version(config, service, namespace, name)[0] for name, _ in rule.subsets} if rule else set()


def _targets(config: IstioConfig, route: Route, service: str, namespace: str, notes: list[str]) -> dict[str | None, float]:
    """Fraction of the route per version of this service (None: no subset;
    other services are noted and left out)."""
    targets: dict[str | None, float] = {}
    for destination, fraction in route.fractions():
        if (destination.service, destination.namespace) != (service, namespace):
            notes.append(f"{percent(fraction)} of {service}'s requests go to another service, "
                         f"{destination.service}{'.' + destination.namespace if destination.namespace else ''}")
            continue
        version = None
        if destination.subset:
            version, problem = subset_version(config, service, namespace, destination.subset)
            if problem:
                notes.append(problem)
        targets[version] = targets.get(version, 0.0) + fraction
    return targets


def configured_routing(config: IstioConfig | None, service: str, namespace: str) -> Routing | None:
    """The routing of the first VirtualService for the service, or None."""
    virtual_services = config.virtual_services_for(service, namespace) if config else []
    if not virtual_services:
        return None
    vs = virtual_services[0]
    notes: list[str] = []
    if len(virtual_services) > 1:
        others = ", ".join(f"{v.namespace}/{v.name}" for v in virtual_services[1:])
        notes.append(f"{len(virtual_services)} VirtualServices claim {service}.{namespace}; "
                     f"using {vs.namespace}/{vs.name} ({vs.origin}), ignoring {others}")
    weights: dict[str, float] | None = None
    mirrors: dict[str, float] = {}
    content: list[str] = []
    for route in vs.routes:
        for mirror in route.mirrors:
            if (mirror.service, mirror.namespace) == (service, namespace) and mirror.subset:
                version = subset_version(config, service, namespace, mirror.subset)[0]
                mirrors[version] = max(mirrors.get(version, 0.0), mirror.percent)
            elif (mirror.service, mirror.namespace) == (service, namespace):
                notes.append(f"{route.path} mirrors to {service} without a subset")
        targets = _targets(config, route, service, namespace, notes)
        if route.matches:
            where = ", ".join(f"{v or service} {percent(f)}" if f < 1 else (v or service) for v, f in targets.items())
            content.append(f"{' or '.join(route.matches)} -> {where or 'another service'}")
            continue
        if None in targets:
            notes.append(f"{vs.name} routes {percent(targets[None])} to {service} without a subset: "
                         "it is spread over every version's pods, so no weight per version is configured")
        else:
            weights = {str(v): f for v, f in targets.items()}
        break  # routes after the catch-all are never reached
    return Routing(weights=weights, mirrors=mirrors, content_routes=tuple(content),
                   strategy=_strategy(weights, content), notes=tuple(notes), origin=vs.origin)


def _strategy(weights: dict[str, float] | None, content: Sequence[str]) -> str:
    if content:
        return "content"
    if not weights:
        return "none"
    if len(weights) == 1:
        return "single"
    if max(weights.values()) >= 1.0:
        return "blue-green"
    return "weighted"


def describe_routing(routing: Routing) -> list[str]:
    """The routing in an SRE's words, one sentence per fact."""
    words: list[str] = []
    weights = routing.weights or {}
    ordered = sorted(weights.items(), key=lambda item: version_sort_key(item[0]))
    if routing.strategy == "blue-green":
        live = next(v for v, f in ordered if f >= 1.0)
        standby = ", ".join(v for v, f in ordered if f < 1.0)
        words.append(f"blue-green switch: 100 % to {live}, {standby} on standby at 0 %")
    elif routing.strategy == "weighted":
        words.append("configured split " + " / ".join(f"{v} {percent(f)}" for v, f in ordered))
    for text in routing.content_routes:
        words.append(f"routed by request content: {text}")
    if routing.content_routes and weights:
        words.append("other requests: " + " / ".join(f"{v} {percent(f)}" for v, f in ordered)
                     + "; the observed split is not compared with these weights")
    for version, pct in sorted(routing.mirrors.items()):
        words.append(f"mirroring {pct:g} % of requests to {version} (host {SHADOW_SUFFIX[1:]}): "
                     f"its responses are discarded and it is not part of the split")
    return words + list(routing.notes)


# --- observed versions ------------------------------------------------------

def _edge_rows(graph: nx.DiGraph, node: str) -> list[tuple[str, str | None, Any]]:
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
    return tuple(Call(service=s, namespace=ns, rps=sum(c.rps for c in group),
                      errors_per_s=sum(c.errors_per_s for c in group),
                      circuit=max((c.circuit for c in group), key=CIRCUIT_ORDER.index),
                      codes=_summed(pair for c in group for pair in c.codes),
                      flags=_summed(pair for c in group for pair in c.flags))
                 for (s, ns), group in sorted(by_service.items()))


def outbound_calls(graph: nx.DiGraph, workload: str) -> tuple[Call, ...]:
    """The workload's calls to services (its workload -> service edges)."""
    calls = []
    for target in graph.successors(workload):
        service, edge = graph.nodes[target]["node"], graph.edges[workload, target]["edge"]
        if service.kind != SERVICE or edge.rps is None:
            continue
        calls.append(Call(service=service.name, namespace=service.namespace, rps=edge.rps,
                          errors_per_s=(edge.error_ratio or 0.0) * edge.rps, circuit=edge.circuit,
                          codes=_summed(edge.codes.items()), flags=_summed(edge.flags.items())))
    return merge_calls(calls)


def _merge(rows: list[VersionFigures]) -> VersionFigures:
    """One row for several workloads of the same version."""
    if len(rows) == 1:
        return rows[0]
    rps = [r.rps or 0.0 for r in rows]
    total = sum(rps)
    weighted = lambda attr: (sum(getattr(r, attr) * w for r, w in zip(rows, rps) if getattr(r, attr) is not None) / total  # noqa: E731
                             if total > 0 and any(getattr(r, attr) is not None for r in rows) else None)
    known = lambda attr: [getattr(r, attr) for r in rows if getattr(r, attr) is not None]  # noqa: E731
    return replace(rows[0], workload=", ".join(sorted(r.workload or "" for r in rows)),
                   rps=total if any(r.rps is not None for r in rows) else None,
                   share=sum(known("share")) if known("share") else None,
                   success_ratio=weighted("success_ratio"),
                   p50_ms=max(known("p50_ms")) if known("p50_ms") else None,
                   p99_ms=max(known("p99_ms")) if known("p99_ms") else None,
                   state=SERVING if total > 0 else rows[0].state,
                   calls=merge_calls([call for r in rows for call in r.calls]))


def _observed(graph: nx.DiGraph, service: str, namespace: str, mirrored: set[str]) -> dict[str, VersionFigures]:
    """Rows of the versions the graph shows behind the service (and its
    `-shadow` twin), with shares over the split versions only."""
    found: dict[str, list[VersionFigures]] = {}
    for node, shadow in ((service_id(namespace, service), False),
                         (service_id(namespace, service + SHADOW_SUFFIX), True)):
        for workload, version, edge in _edge_rows(graph, node):
            success = None if edge.error_ratio is None else 1.0 - edge.error_ratio
            busy = (edge.rps or 0) > 0 or (edge.bytes_per_s or 0) > 0
            row = VersionFigures(
                workload=workload, version=version, share=edge.share, configured_weight=None,
                rps=edge.rps, success_ratio=success, p50_ms=edge.p50_ms, p99_ms=edge.p99_ms,
                state=MIRROR if shadow or (version or workload) in mirrored else (SERVING if busy else IDLE),
                calls=outbound_calls(graph, edge.target))
            found.setdefault(row.key, []).append(row)
    rows = {key: _merge(group) for key, group in found.items()}
    split = [r for r in rows.values() if r.state != MIRROR]
    total = sum(r.share or 0.0 for r in split)
    return {key: replace(r, share=None if r.state == MIRROR or total <= 0 else (r.share or 0.0) / total)
            for key, r in rows.items()}


def _service_history(history: pd.DataFrame | None, service: str, namespace: str) -> pd.DataFrame:
    """The service's split over time: columns time, version, workload, rps, shadow."""
    columns = ["time", "version", "workload", "rps", "shadow"]
    if history is None or history.empty:
        return pd.DataFrame(columns=columns)
    names = history["destination_service_name"].astype("string")
    mine = history[(history["destination_service_namespace"] == namespace)
                   & names.isin([service, service + SHADOW_SUFFIX])]
    if mine.empty:
        return pd.DataFrame(columns=columns)
    revision = mine["destination_canonical_revision"].astype("string").fillna(UNKNOWN)
    workload = mine["destination_workload"].astype("string")
    version = revision.where(revision != UNKNOWN, workload)
    times = mine["time"]
    if pd.api.types.is_datetime64_any_dtype(times):
        times = times.astype("int64") / 1e9
    return pd.DataFrame({"time": times.astype("float64").to_numpy(), "version": version.to_numpy(),
                         "workload": workload.to_numpy(), "rps": mine["rps"].astype("float64").to_numpy(),
                         "shadow": (names[mine.index] != service).to_numpy()})


def _history_rows(history: pd.DataFrame, recent: float) -> dict[str, VersionFigures]:
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
            workload=str(group["workload"].iloc[-1]), version=str(version), share=None, configured_weight=None,
            rps=rps, success_ratio=None, p50_ms=None, p99_ms=None,
            state=MIRROR if shadow else RETIRED, last_seen=last)
    return rows


def choose_baseline(rows: Iterable[VersionFigures], history: pd.DataFrame) -> tuple[str | None, str]:
    """(baseline version key, why) — see the module docstring."""
    candidates = {r.key for r in rows if r.state not in (MIRROR, ABSENT)}
    if not candidates:
        return None, ""
    split = history[(~history["shadow"].astype(bool)) & (history["rps"] > 0) & history["version"].isin(candidates)]
    if not split.empty:
        first = split[split["time"] == split["time"].min()]
        busiest = first.groupby("version")["rps"].sum()
        top = sorted(busiest[busiest == busiest.max()].index, key=version_sort_key)[0]
        return str(top), "it carried the traffic at the start of the last hour"
    return sorted(candidates, key=version_sort_key)[0], "the lowest version label (no history yet)"


# --- judging ----------------------------------------------------------------

def _delta(canary: float | None, baseline: float | None) -> float | None:
    return None if canary is None or baseline is None else canary - baseline


def deltas(canary: VersionFigures, baseline: VersionFigures | None) -> Deltas:
    if baseline is None:
        return Deltas(None, None, None, None)
    return Deltas(*(_delta(getattr(canary, a), getattr(baseline, a)) for a in ("rps", "success_ratio", "p50_ms", "p99_ms")))


def _failures(row: VersionFigures, thresholds: CanaryThresholds) -> dict[str, str]:
    """Failed checks by name, each in words."""
    failed = {}
    if row.success_ratio is not None and row.success_ratio < thresholds.min_success_ratio:
        failed["success"] = (f"success {percent(row.success_ratio, 1)} is below "
                             f"{percent(thresholds.min_success_ratio, 1)}")
    if row.p99_ms is not None and row.p99_ms > thresholds.max_p99_ms:
        failed["p99"] = f"p99 {row.p99_ms:.0f} ms is above {thresholds.max_p99_ms:.0f} ms"
    return failed


def call_fails(call: Call, thresholds: CanaryThresholds) -> bool:
    """Calls to a service fail when their circuit is open or more of them
    fail than a canary itself may (1 - min_success_ratio)."""
    return call.circuit == OPEN or (call.error_ratio or 0.0) > 1.0 - thresholds.min_success_ratio


def _call_words(name: str, call: Call, namespace: str, baseline: VersionFigures | None) -> str:
    """E.g. `v2's calls to ratings fail 100 % (503 UH: circuit open; ratings cut
    off by outlier detection); baseline v1 does not call ratings`."""
    target = call.service if call.namespace == namespace else f"{call.service}.{call.namespace}"
    failed = [code for code, _ in call.codes if code[:1] == "5" or code in ("0", "-", "")][:1]
    how = " ".join(failed + [flag for flag, _ in call.flags][:2])
    if call.circuit == OPEN:
        cause = ("circuit open; " + target + (" cut off by outlier detection" if dict(call.flags).get(CUT_OFF_FLAG)
                                              else ": every host ejected by outlier detection"))
        how = f"{how}: {cause}" if how else cause
    fail = "are cut off" if call.error_ratio is None else f"fail {percent(call.error_ratio)}"
    text = f"{name}'s calls to {target} {fail}" + (f" ({how})" if how else "")
    if baseline is not None:
        seen = next((c for c in baseline.calls if (c.service, c.namespace) == (call.service, call.namespace)), None)
        text += (f"; baseline {baseline.label} does not call {target}" if seen is None or not seen.rps else
                 f"; baseline {baseline.label}'s calls to it fail {percent(seen.error_ratio)}")
    return text


def failing_calls(canary: VersionFigures, baseline: VersionFigures | None, thresholds: CanaryThresholds,
                  namespace: str) -> list[str]:
    """Words for the services the canary's calls fail on and the baseline's
    do not: promoting would put every request on a broken path, however well
    the canary itself answers (it may hide the failure from its callers)."""
    shared = {(c.service, c.namespace) for c in (baseline.calls if baseline else ()) if call_fails(c, thresholds)}
    return [_call_words(canary.label, call, namespace, baseline) for call in canary.calls
            if call_fails(call, thresholds) and (call.service, call.namespace) not in shared]


def judge(canary: VersionFigures, baseline: VersionFigures | None, deviations: Sequence[str],
          thresholds: CanaryThresholds, window: str, broken_calls: Sequence[str] = ()) -> Judgement:
    """The verdict on one canary against the baseline (rules in the module docstring)."""
    name = canary.label
    change = deltas(canary, baseline)

    def verdict(decision: str, *reasons: str) -> Judgement:
        return Judgement(name, decision, tuple(dict.fromkeys((*reasons, *broken_calls))), change)

    if canary.state == MISSING:
        return verdict(ROLL_BACK, _missing_words(canary))
    if not canary.rps:
        standby = "" if canary.configured_weight is None else f" (configured {percent(canary.configured_weight)})"
        return verdict(NO_DATA, f"{name} received no requests in the last {window}{standby}")
    requests = canary.rps * duration_seconds(window)
    if requests < thresholds.min_requests_for_verdict:
        return verdict(HOLD, f"only {requests:.0f} requests reached {name} in the last {window}; "
                             f"{thresholds.min_requests_for_verdict:.0f} are needed to judge it "
                             "(a longer window gathers more)")
    unknown = [what for what, value in (("success ratio", canary.success_ratio), ("p99", canary.p99_ms)) if value is None]
    if unknown:
        return verdict(HOLD, f"{' and '.join(unknown)} of {name} unknown: cannot judge it")
    failed = _failures(canary, thresholds)
    if failed:
        base = baseline.label if baseline else None
        base_failed = (_failures(baseline, thresholds) if baseline and (baseline.rps or 0) * duration_seconds(window)
                       >= thresholds.min_requests_for_verdict else {})
        own = [text for check, text in failed.items() if check not in base_failed]
        if not own:
            return verdict(HOLD, *(f"{name} {text}, but baseline {base} fails it too: "
                                   "the cause is probably shared (a dependency), not the canary" for text in failed.values()))
        if baseline is None or baseline.state == RETIRED:
            return verdict(HOLD, *(f"{name} {text}" for text in own),
                           f"no baseline to roll back to{f' ({base} is retired)' if base else ''}")
        figures = {"success": percent(baseline.success_ratio, 1), "p99": f"{baseline.p99_ms or 0:.0f} ms"}
        return verdict(ROLL_BACK, *(f"{name} {text} (baseline {base}: {figures[check]})"
                                    for check, text in failed.items() if check not in base_failed))
    if broken_calls or deviations:
        return verdict(HOLD, *broken_calls, *deviations)
    return verdict(PROMOTE, f"{name} passes: success {percent(canary.success_ratio, 1)} ≥ "
                            f"{percent(thresholds.min_success_ratio, 1)}, p99 {canary.p99_ms:.0f} ms ≤ "
                            f"{thresholds.max_p99_ms:.0f} ms over {requests:.0f} requests in {window}")


def combine(verdicts: Sequence[str]) -> str:
    """The service's verdict: the most cautious of its canaries'."""
    if not verdicts or all(v == NO_DATA for v in verdicts):
        return NO_DATA
    if ROLL_BACK in verdicts:
        return ROLL_BACK
    if HOLD in verdicts or NO_DATA in verdicts:
        return HOLD
    return PROMOTE


def _deviations(rows: Sequence[VersionFigures], routing: Routing | None, requests: float,
                thresholds: CanaryThresholds, window: str) -> tuple[list[str], set[str]]:
    """Words and version keys of split versions whose observed share strays
    from the configured weight by more than the allowed points."""
    if not routing or not routing.weights or routing.content_routes or requests < thresholds.min_requests_for_deviation:
        return [], set()
    words, keys = [], set()
    for row in rows:
        if row.configured_weight is None or row.state in (MIRROR, RETIRED, ABSENT):
            continue
        observed = row.share or 0.0
        if abs(observed - row.configured_weight) > thresholds.max_share_deviation:
            keys.add(row.key)
            words.append(f"split differs from config: {row.label} gets {percent(observed)} of requests, "
                         f"configured {percent(row.configured_weight)} ({requests:.0f} requests in {window})")
    return words, keys


def _missing_words(row: VersionFigures) -> str:
    return (f"route sends {percent(row.configured_weight)} to {row.label} but no {row.label} workload "
            "answers: those requests fail")


def _row_words(row: VersionFigures) -> str | None:
    clock = time.strftime("%H:%M:%S UTC", time.gmtime(row.last_seen)) if row.last_seen else None
    if row.state == RETIRED:
        return (f"{row.label} retired: no requests, and no route or subset names it any more"
                + (f" (last request {clock})" if clock else ""))
    if row.state == MISSING:
        return _missing_words(row)
    if row.state == ABSENT:
        return f"{row.label} is named in the config but not deployed"
    if row.state == IDLE and row.role == BASELINE:
        return f"{row.label} is drained ({'configured ' + percent(row.configured_weight) + ', ' if row.configured_weight is not None else ''}no requests): it can be retired"
    return None


def rollout_complete(rows: Iterable[VersionFigures], baseline: VersionFigures | None) -> VersionFigures | None:
    """The canary that took over: the only version serving, 100 % of the
    split observed and configured (or no weights configured), with the
    baseline drained or retired. A baseline alone at 100 % is no rollout."""
    live = [r for r in rows if r.state == SERVING and r.role != MIRROR]
    if baseline is None or baseline.state not in (RETIRED, IDLE) or len(live) != 1:
        return None
    [only] = live
    taken = (only.share or 0.0) >= 1.0 and (only.configured_weight is None or only.configured_weight >= 1.0)
    return only if only.role == CANARY and taken else None


def analyze_service(graph: nx.DiGraph, history: pd.DataFrame | None, config: IstioConfig | None,
                    thresholds: CanaryThresholds, window: str, service: str, namespace: str) -> ServiceRelease:
    """The release view of one service."""
    routing = configured_routing(config, service, namespace)
    mirrored = set(routing.mirrors) if routing else set()
    weights = (routing.weights or {}) if routing else {}
    rows = _observed(graph, service, namespace, mirrored - {v for v, f in weights.items() if f > 0})
    past = _service_history(history, service, namespace)
    recent = float(graph.graph.get("at", 0.0)) - 2 * HISTORY_STEP_SECONDS
    for key, row in _history_rows(past, recent).items():
        rows[key] = replace(rows[key], last_seen=row.last_seen) if key in rows else row
    for version in [*weights, *mirrored]:
        if version not in rows:
            rows[version] = VersionFigures(workload=None, version=version, share=None, configured_weight=None,
                                           rps=None, success_ratio=None, p50_ms=None, p99_ms=None,
                                           state=MIRROR if version in mirrored else ABSENT)
    has_split = any(r.share is not None for r in rows.values())
    # Callers' sidecars keep exporting flat counters for a deleted workload:
    # an idle version the config no longer names is retired, not drained.
    named = set(weights) | mirrored | subset_versions(config, service, namespace)
    for key, row in list(rows.items()):
        if row.state == IDLE and routing and routing.weights is not None and key not in named:
            row = replace(row, state=RETIRED, share=None, rps=None, success_ratio=None, p50_ms=None, p99_ms=None)
        if routing and routing.weights is not None and row.state not in (RETIRED, ABSENT, MIRROR):
            row = replace(row, configured_weight=weights.get(key, 0.0))
        elif row.state in (RETIRED, ABSENT) and weights.get(key, 0.0) > 0:
            row = replace(row, state=MISSING, configured_weight=weights[key], share=0.0 if has_split else None)
        elif row.state == MIRROR and routing and routing.weights is not None:
            row = replace(row, configured_weight=weights.get(key, 0.0))
        rows[key] = row
    baseline_key, why = choose_baseline(rows.values(), past)
    rows = {k: replace(r, role=BASELINE if k == baseline_key else (MIRROR if r.state == MIRROR else CANARY))
            for k, r in rows.items()}
    seconds = duration_seconds(window)
    requests = sum((r.rps or 0.0) for r in rows.values() if r.state != MIRROR) * seconds
    deviation_words, deviating = _deviations(list(rows.values()), routing, requests, thresholds, window)
    rows = {k: replace(r, deviates=k in deviating,
                       failing_calls=tuple(c for c in r.calls if call_fails(c, thresholds))) for k, r in rows.items()}
    baseline = rows.get(baseline_key) if baseline_key else None
    canaries = [r for r in rows.values() if r.role in (CANARY, MIRROR) and r.state not in (RETIRED, ABSENT)]
    judgements = [judge(r, baseline, deviation_words, thresholds, window,
                        failing_calls(r, baseline, thresholds, namespace))
                  for r in sorted(canaries, key=lambda r: version_sort_key(r.key))]
    verdict = combine([j.verdict for j in judgements])
    reasons = [text for j in judgements for text in j.reasons]
    if not judgements:
        only = baseline.label if baseline else "no version"
        reasons.append(f"only one version ({only}) of {service}: no canary to judge")
    done = rollout_complete(rows.values(), baseline)
    if done:
        rows[done.key] = replace(done, role=SERVING)
        words = (f"rollout complete: {done.label} serves 100 % of the requests to {service}"
                 + (" (configured 100 %)" if done.configured_weight else ""))
        reasons.insert(0 if verdict == PROMOTE else len(reasons), words)
    if baseline and judgements:
        reasons.append(f"baseline {baseline.label}: {why}")
    reasons += [w for w in (_row_words(r) for r in sorted(rows.values(), key=lambda r: version_sort_key(r.key))) if w]
    if routing:
        reasons += describe_routing(routing)
    split = past[~past["shadow"].astype(bool)].groupby(["time", "version"], as_index=False)["rps"].sum()
    return ServiceRelease(
        service=service, namespace=namespace,
        versions=tuple(sorted(rows.values(), key=lambda r: version_sort_key(r.key))),
        verdict=verdict, reasons=tuple(dict.fromkeys(reasons)), judgements=tuple(judgements),
        routing=routing, baseline=baseline_key, window=window, requests=requests, history=split)


def _candidates(graph: nx.DiGraph, history: pd.DataFrame | None, config: IstioConfig | None) -> set[tuple[str, str]]:
    """Services with a release in play (see the module docstring)."""
    found: set[tuple[str, str]] = set()
    for node_id, data in graph.nodes(data=True):
        node = data["node"]
        if node.kind != SERVICE:
            continue
        busy = {version or workload for workload, version, edge in _edge_rows(graph, node_id)
                if (edge.rps or 0) > 0 or (edge.bytes_per_s or 0) > 0}
        if len(busy) > 1 or (busy and node.name.endswith(SHADOW_SUFFIX)):
            found.add((node.name.removesuffix(SHADOW_SUFFIX), node.namespace))
    if history is not None and not history.empty:
        busy = history[history["rps"] > 0]
        counts = busy.groupby(["destination_service_name", "destination_service_namespace"])["destination_workload"].nunique()
        found |= {(str(s).removesuffix(SHADOW_SUFFIX), str(ns)) for (s, ns), n in counts.items()
                  if n > 1 or str(s).endswith(SHADOW_SUFFIX)}
    for service, namespace in (config.services() if config else set()):
        routing = configured_routing(config, service, namespace)
        named = set((routing.weights or {}) if routing else {}) | set(routing.mirrors if routing else {})
        if routing and (len(named) > 1 or routing.mirrors or routing.content_routes):
            found.add((service, namespace))
    return found


def analyze(graph: nx.DiGraph, history: pd.DataFrame | None, config: IstioConfig | None,
            thresholds: CanaryThresholds, window: str, service: str | None = None,
            namespaces: Sequence[str] = ()) -> list[ServiceRelease]:
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
    return [analyze_service(graph, history, config, thresholds, window, s, ns) for s, ns in sorted(wanted, key=lambda k: (k[1], k[0]))]


# --- the public JSON document -------------------------------------------------

VERSION_FIELDS = ("workload", "version", "share", "configured_weight", "rps", "success_ratio", "p50_ms", "p99_ms")


def canary_document(releases: Sequence[ServiceRelease]) -> dict[str, Any]:
    """`{"services": [{"service", "namespace", "versions": [...], "verdict", "reasons"}]}`
    as `meshwatch canary` prints it and `/api/canary` serves it."""
    return {"services": [{
        "service": r.service,
        "namespace": r.namespace,
        "versions": [{key: (getattr(v, key) if key in ("workload", "version") else json_number(getattr(v, key)))
                      for key in VERSION_FIELDS} for v in r.versions],
        "verdict": r.verdict,
        "reasons": list(r.reasons),
    } for r in releases]}
