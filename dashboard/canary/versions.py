"""The words for versions of a service: their states and roles in a release,
and their natural order."""

from __future__ import annotations

import re

# States: serving (traffic now), idle (workload known, no traffic now),
# missing (a route sends it traffic but no workload answers), retired (gone
# from traffic and config), absent (named by config only), mirror (receives
# mirrored copies).
SERVING, IDLE, MISSING, RETIRED, ABSENT, MIRROR = "serving", "idle", "missing", "retired", "absent", "mirror"
# Roles, as the canary document gives them: the version compared against,
# the versions judged, versions gone from traffic and config, and mirror
# targets (judged on their mirrored copies, outside the split).
BASELINE, CANARY = "baseline", "canary"
ROLES = (BASELINE, CANARY, RETIRED, MIRROR)
# Istio suffixes the Host of mirrored requests.
SHADOW_SUFFIX = "-shadow"


def version_sort_key(label: str | None) -> tuple:
    """Natural order of version labels: v2 before v10."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", label or "") if part
    )


def service_key(service: str, service_namespace: str, namespace: str) -> str:
    """The version key of a Service that is a version of a release in
    `namespace` (a release split between Services): its name, qualified by
    its namespace when that is another."""
    return service if service_namespace == namespace else f"{service}.{service_namespace}"
