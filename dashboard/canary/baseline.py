"""Which version a release's canaries are compared against: the one that has
been serving longest. Never "whoever carried the traffic an hour ago", which
swaps mid-rollout when both versions did.

1. a baseline named by a rollout controller wins;
2. else the version with the earliest first request in the lookback (24 h by
   default, from one coarse range query);
3. ties (versions first seen in the same step, or both serving since the
   lookback began) go to a Service named as the stable one by the rollout
   controllers' conventions (`-stable`, `-primary`) before others, and one
   named as the canary (`-canary`, `-preview`) last; then to the lowest
   version in natural order (v1 < v2 < v10), as does a release with no
   lookback at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from dashboard.canary.observation import VersionFigures
from dashboard.canary.versions import ABSENT, MIRROR, MISSING, version_sort_key
from dashboard.format import utc_clock

STABLE_SUFFIXES, CANARY_SUFFIXES = ("-stable", "-primary"), ("-canary", "-preview")


def _tie_order(key: str) -> tuple:
    named = 0 if key.endswith(STABLE_SUFFIXES) else 2 if key.endswith(CANARY_SUFFIXES) else 1
    return (named, version_sort_key(key))


def first_requests(history: pd.DataFrame) -> dict[str, float]:
    """When each version of a service's history (columns time, version, rps,
    shadow) first received requests; mirrored copies do not count."""
    if history.empty:
        return {}
    busy = history[(history["rps"] > 0) & ~history["shadow"].astype(bool)]
    return {str(version): float(t) for version, t in busy.groupby("version")["time"].min().items()}


def choose_baseline(
    rows: Iterable[VersionFigures], first_seen: Mapping[str, float], controller: str | None = None
) -> tuple[str | None, str]:
    """(baseline version key, why)."""
    candidates = {r.key for r in rows if r.state not in (MIRROR, ABSENT, MISSING)}
    if not candidates:
        return None, ""
    if controller in candidates:
        return controller, "named by the rollout controller"
    seen = {key: first_seen[key] for key in candidates if key in first_seen}
    if not seen:
        chosen = min(candidates, key=_tie_order)
        named = _tie_order(chosen)[0] == 0
        return (
            chosen,
            "its name marks it stable (no history yet)"
            if named
            else "the lowest version label (no history yet)",
        )
    earliest = min(seen.values())
    oldest = sorted((key for key, t in seen.items() if t == earliest), key=_tie_order)
    why = f"serving longest (first request by {utc_clock(earliest)} in the lookback)"
    if len(oldest) > 1:
        why += f"; lowest of {', '.join(oldest)}, first seen together"
    return oldest[0], why
