"""Hand-made telemetry for unit tests: Istio series described in a few words."""

from __future__ import annotations

import pandas as pd

from queries.duration import prometheus_duration
from queries.telemetry import (
    CLUSTER_STAT_LABELS,
    LATENCY_LABELS,
    REQUEST_LABELS,
    SECURITY_LABELS,
    TCP_LABELS,
    MeshTelemetry,
)

MINUTE = prometheus_duration("1m")
DEFAULT_BUCKETS = (
    0.5,
    1,
    5,
    10,
    25,
    50,
    100,
    250,
    500,
    1000,
    2500,
    5000,
    10000,
    30000,
    60000,
    300000,
    600000,
    1800000,
    3600000,
)


def labels(
    caller: str,
    service: str,
    callee: str = "unknown",
    *,
    ns: str = "default",
    reporter: str = "source",
    caller_ns: str | None = None,
    **extra: str,
) -> dict[str, str]:
    """Labels of one caller -> service (-> callee) series; workloads named
    `app-version`, e.g. `reviews-v2`."""

    def app_version(workload: str) -> tuple[str, str]:
        if workload == "unknown":
            return "unknown", "unknown"
        app, _, version = workload.rpartition("-")
        return (app, version) if version.startswith("v") else (workload, "latest")

    src_app, src_version = app_version(caller)
    dst_app, dst_version = app_version(callee)
    base = {
        "reporter": reporter,
        "source_workload": caller,
        "source_workload_namespace": "unknown" if caller == "unknown" else (caller_ns or ns),
        "source_canonical_service": src_app,
        "source_canonical_revision": src_version,
        "destination_service_name": service,
        "destination_service_namespace": ns,
        "destination_workload": callee,
        "destination_workload_namespace": ns if callee != "unknown" else "unknown",
        "destination_canonical_service": dst_app,
        "destination_canonical_revision": dst_version,
        "request_protocol": "http",
        "response_code": "200",
        "grpc_response_status": "",
        "response_flags": "-",
        # Only the server side knows; a caller without a sidecar speaks plain text.
        "connection_security_policy": (
            "unknown" if reporter == "source" else "none" if caller == "unknown" else "mutual_tls"
        ),
    }
    base.update(extra)
    return base


def frame(rows: list[tuple[dict[str, str], float]], columns: list[str], value: str) -> pd.DataFrame:
    data = pd.DataFrame(
        [{**{c: r.get(c, "") for c in columns}, value: v} for r, v in rows], columns=[*columns, value]
    )
    data[columns] = data[columns].astype("string")
    data[value] = data[value].astype("float64")
    return data


def latency_rows(series: dict[str, str], observations_ms: list[float], per_second: float = 1.0):
    """Cumulative bucket rates for observations spread evenly over a second."""
    rows = []
    for bound in [*DEFAULT_BUCKETS, float("inf")]:
        count = sum(1 for o in observations_ms if o <= bound) / len(observations_ms) * per_second
        le = "+Inf" if bound == float("inf") else f"{bound:g}"
        rows.append(({**series, "le": le}, count))
    return rows


def telemetry(
    requests=(), latency=(), tcp=(), stats=(), security=(), at: float = 1_700_000_000.0
) -> MeshTelemetry:
    """`security`: the destination's series of delivered requests, as
    (labels with `connection_security_policy`, rps)."""
    return MeshTelemetry(
        at=at,
        window=MINUTE,
        requests=frame(list(requests), REQUEST_LABELS, "rps"),
        latency=frame(list(latency), LATENCY_LABELS, "rate"),
        tcp=frame(list(tcp), TCP_LABELS, "bytes_per_s"),
        cluster_stats=frame(list(stats), CLUSTER_STAT_LABELS, "value"),
        security=frame(list(security), SECURITY_LABELS, "rps"),
    )
