"""The verdict on each canary and on the service (rules in
`dashboard.canary.release`'s docstring), with its reasons in words."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial

from dashboard.canary.observation import Call, VersionFigures
from dashboard.canary.path import PathCall
from dashboard.canary.routing import Routing
from dashboard.canary.statistics import binomial_two_sided_p
from dashboard.canary.thresholds import CanaryThresholds
from dashboard.canary.versions import ABSENT, CANARY, IDLE, MIRROR, MISSING, RETIRED, SERVING
from dashboard.format import percent
from dashboard.mesh.circuit import OPEN
from queries.duration import Duration
from queries.envoy import NO_HEALTHY_UPSTREAM

PROMOTE, HOLD, ROLL_BACK, NO_DATA = "promote", "hold", "roll back", "no data"
# The rollout is over: the canary alone serves, the baseline is drained or retired.
COMPLETE = "complete"


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
    # The canary failed a check or a call on its path fails (not merely too
    # little data): a completed rollout does not outrank this.
    failing: bool = False


def _delta(canary: float | None, baseline: float | None) -> float | None:
    return None if canary is None or baseline is None else canary - baseline


def deltas(canary: VersionFigures, baseline: VersionFigures | None) -> Deltas:
    if baseline is None:
        return Deltas(None, None, None, None)
    return Deltas(
        *(
            _delta(getattr(canary, a), getattr(baseline, a))
            for a in ("rps", "success_ratio", "p50_ms", "p99_ms")
        )
    )


def _failures(row: VersionFigures, thresholds: CanaryThresholds) -> dict[str, str]:
    """Failed checks by name, each in words."""
    failed = {}
    if row.success_ratio is not None and row.success_ratio < thresholds.min_success_ratio:
        failed["success"] = (
            f"success {percent(row.success_ratio, 1)} is below {percent(thresholds.min_success_ratio, 1)}"
        )
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
        cause = (
            "circuit open; "
            + target
            + (
                " cut off by outlier detection"
                if dict(call.flags).get(NO_HEALTHY_UPSTREAM)
                else ": every host ejected by outlier detection"
            )
        )
        how = f"{how}: {cause}" if how else cause
    fail = "are cut off" if call.error_ratio is None else f"fail {percent(call.error_ratio)}"
    text = f"{name}'s calls to {target} {fail}" + (f" ({how})" if how else "")
    if baseline is not None:
        seen = next(
            (c for c in baseline.calls if (c.service, c.namespace) == (call.service, call.namespace)), None
        )
        text += (
            f"; baseline {baseline.label} does not call {target}"
            if seen is None or not seen.rps
            else f"; baseline {baseline.label}'s calls to it fail {percent(seen.error_ratio)}"
        )
    return text


def path_failures(
    canary: VersionFigures,
    baseline: VersionFigures | None,
    path: Sequence[PathCall],
    thresholds: CanaryThresholds,
    namespace: str,
) -> list[str]:
    """Words for every failing call on the canary's path: its own (compared
    with the baseline's calls to the same service) and those of the
    workloads its requests reach. Promoting would put every request there,
    however well the canary itself answers."""
    words = []
    for step in path:
        if not call_fails(step.call, thresholds):
            continue
        if step.depth == 0:
            words.append(_call_words(canary.label, step.call, namespace, baseline))
        else:
            words.append(f"on {canary.label}'s path, " + _call_words(step.caller, step.call, namespace, None))
    return list(dict.fromkeys(words))


def judge(
    canary: VersionFigures,
    baseline: VersionFigures | None,
    deviations: Sequence[str],
    thresholds: CanaryThresholds,
    window: Duration,
    broken_calls: Sequence[str] = (),
    service_requests: float = 0.0,
) -> Judgement:
    """The verdict on one canary against the baseline (rules in
    dashboard.canary.release's docstring)."""
    name = canary.label
    change = deltas(canary, baseline)

    def verdict(decision: str, *reasons: str, failing: bool = False) -> Judgement:
        return Judgement(
            name,
            decision,
            tuple(dict.fromkeys((*reasons, *broken_calls))),
            change,
            failing or bool(broken_calls),
        )

    if canary.state == MISSING:
        return verdict(ROLL_BACK, missing_words(canary))
    if not canary.rps:
        standby = (
            "" if canary.configured_weight is None else f" (configured {percent(canary.configured_weight)})"
        )
        return verdict(NO_DATA, f"{name} received no requests in the last {window}{standby}")
    requests = canary.rps * window.seconds
    # Whether there is enough to judge is read off the volume the split
    # promises while the split holds: the count itself wobbles around it.
    expected = (
        service_requests * canary.configured_weight
        if canary.configured_weight is not None and not canary.deviates
        else 0.0
    )
    sample = f"{requests:.0f} requests" + (
        f" ({expected:.0f} expected at the configured {percent(canary.configured_weight)})"
        if expected > requests
        else ""
    )
    if max(requests, expected) < thresholds.min_requests_for_verdict:
        return verdict(
            HOLD,
            f"only {sample} reached {name} in the last {window}; "
            f"{thresholds.min_requests_for_verdict:.0f} are needed to judge it "
            "(a longer window gathers more)",
            *broken_calls,
            *deviations,
        )
    unknown = [
        what
        for what, value in (("success ratio", canary.success_ratio), ("p99", canary.p99_ms))
        if value is None
    ]
    if unknown:
        return verdict(HOLD, f"{' and '.join(unknown)} of {name} unknown: cannot judge it")
    failed = _failures(canary, thresholds)
    if failed:
        return _failed(canary, baseline, failed, thresholds, window, partial(verdict, failing=True))
    if broken_calls or deviations:
        return verdict(HOLD, *broken_calls, *deviations)
    return verdict(
        PROMOTE,
        f"{name} passes: success {percent(canary.success_ratio, 1)} ≥ "
        f"{percent(thresholds.min_success_ratio, 1)}, p99 {canary.p99_ms:.0f} ms ≤ "
        f"{thresholds.max_p99_ms:.0f} ms over {sample} in {window}",
    )


def _failed(
    canary: VersionFigures,
    baseline: VersionFigures | None,
    failed: dict[str, str],
    thresholds: CanaryThresholds,
    window: Duration,
    verdict: Callable[..., Judgement],
) -> Judgement:
    """A canary failing a threshold: roll back, unless the baseline fails it
    too (the cause is likely shared) or there is nothing to roll back to."""
    name, base = canary.label, baseline.label if baseline else None
    base_failed = (
        _failures(baseline, thresholds)
        if baseline and (baseline.rps or 0) * window.seconds >= thresholds.min_requests_for_verdict
        else {}
    )
    own = [text for check, text in failed.items() if check not in base_failed]
    if not own:
        return verdict(
            HOLD,
            *(
                f"{name} {text}, but baseline {base} fails it too: "
                "the cause is probably shared (a dependency), not the canary"
                for text in failed.values()
            ),
        )
    if baseline is None or baseline.state == RETIRED:
        return verdict(
            HOLD,
            *(f"{name} {text}" for text in own),
            f"no baseline to roll back to{f' ({base} is retired)' if base else ''}",
        )
    figures = {"success": percent(baseline.success_ratio, 1), "p99": f"{baseline.p99_ms or 0:.0f} ms"}
    return verdict(
        ROLL_BACK,
        *(
            f"{name} {text} (baseline {base}: {figures[check]})"
            for check, text in failed.items()
            if check not in base_failed
        ),
    )


def combine(verdicts: Sequence[str]) -> str:
    """The service's verdict: the most cautious of its canaries'."""
    if not verdicts or all(v == NO_DATA for v in verdicts):
        return NO_DATA
    if ROLL_BACK in verdicts:
        return ROLL_BACK
    if HOLD in verdicts or NO_DATA in verdicts:
        return HOLD
    return PROMOTE


def deviations(
    rows: Sequence[VersionFigures],
    routing: Routing | None,
    requests: float,
    thresholds: CanaryThresholds,
    window: Duration,
) -> tuple[list[str], set[str]]:
    """Words and version keys of split versions whose observed share strays
    from the configured weight both by more than the allowed points and by
    more than noise explains (exact binomial test on the window's requests)."""
    if (
        not routing
        or not routing.weights
        or routing.content_routes
        or requests < thresholds.min_requests_for_deviation
    ):
        return [], set()
    total = round(requests)
    words, keys = [], set()
    for row in rows:
        if row.configured_weight is None or row.state in (MIRROR, RETIRED, ABSENT):
            continue
        observed = row.share or 0.0
        if abs(observed - row.configured_weight) <= thresholds.max_share_deviation:
            continue
        p_value = binomial_two_sided_p(round(observed * total), total, row.configured_weight)
        if p_value < thresholds.deviation_p_value:
            keys.add(row.key)
            words.append(
                f"split differs from config: {row.label} gets {percent(observed)} of requests, "
                f"configured {percent(row.configured_weight)} ({requests:.0f} requests in {window}; "
                f"p = {p_value:.1g} that noise explains it)"
            )
    return words, keys


def missing_words(row: VersionFigures) -> str:
    return (
        f"route sends {percent(row.configured_weight)} to {row.label} but no {row.label} workload "
        "answers: those requests fail"
    )


def rollout_complete(
    rows: Iterable[VersionFigures], baseline: VersionFigures | None
) -> VersionFigures | None:
    """The canary that took over: the only version serving, 100 % of the
    split observed and configured (or no weights configured), with the
    baseline drained or retired (not cut off by an open circuit). A baseline
    alone at 100 % is no rollout."""
    live = [r for r in rows if r.state == SERVING and r.role != MIRROR]
    if baseline is None or baseline.state not in (RETIRED, IDLE) or baseline.cut_off or len(live) != 1:
        return None
    [only] = live
    taken = (only.share or 0.0) >= 1.0 and (only.configured_weight is None or only.configured_weight >= 1.0)
    return only if only.role == CANARY and taken else None
