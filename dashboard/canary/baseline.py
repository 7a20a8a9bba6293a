"""Which version a release's canaries are compared against."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from dashboard.canary.observation import VersionFigures
from dashboard.canary.versions import ABSENT, MIRROR, version_sort_key


def choose_baseline(rows: Iterable[VersionFigures], history: pd.DataFrame) -> tuple[str | None, str]:
    """(baseline version key, why) — see the module docstring."""
    candidates = {r.key for r in rows if r.state not in (MIRROR, ABSENT)}
    if not candidates:
        return None, ""
    split = history[
        (~history["shadow"].astype(bool)) & (history["rps"] > 0) & history["version"].isin(candidates)
    ]
    if not split.empty:
        first = split[split["time"] == split["time"].min()]
        busiest = first.groupby("version")["rps"].sum()
        top = sorted(busiest[busiest == busiest.max()].index, key=version_sort_key)[0]
        return str(top), "it carried the traffic at the start of the last hour"
    return sorted(candidates, key=version_sort_key)[0], "the lowest version label (no history yet)"
