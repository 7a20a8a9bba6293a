"""Release views as the public JSON of `meshwatch canary` and `/api/canary`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dashboard.canary.release import ServiceRelease
from dashboard.format import json_number

# Text fields as they are; every other field is a measured figure.
TEXT_FIELDS = ("workload", "version", "role")
VERSION_FIELDS = (
    "workload",
    "version",
    "share",
    "configured_weight",
    "rps",
    "success_ratio",
    "p50_ms",
    "p99_ms",
    "role",
)


def canary_document(releases: Sequence[ServiceRelease], warnings: Sequence[str] = ()) -> dict[str, Any]:
    """`{"services": [{"service", "namespace", "versions": [...], "verdict",
    "reasons", "baseline"}], "warnings": [...]}` as `meshwatch canary` prints
    it and `/api/canary` serves it; `warnings` say what the data left out."""
    return {
        "services": [
            {
                "service": r.service,
                "namespace": r.namespace,
                "versions": [
                    {
                        key: getattr(v, key) if key in TEXT_FIELDS else json_number(getattr(v, key))
                        for key in VERSION_FIELDS
                    }
                    for v in r.versions
                ],
                "verdict": r.verdict,
                "reasons": list(r.reasons),
                "baseline": r.baseline,
            }
            for r in releases
        ],
        "warnings": list(warnings),
    }
