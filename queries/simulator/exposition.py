"""`/metrics` of the simulated mesh in Prometheus text exposition format 0.0.4.

A real Prometheus scrapes each pod and its kubernetes-pods job attaches the
pod's labels (`namespace`, `pod`, `app`, `version`, Istio's canonical
labels). Here one target stands for every pod, so those labels are written
on the series themselves. Like Envoy's merged Istio endpoint, families carry
a `# TYPE` line and no help text.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable

from queries.simulator.bookinfo import WORKLOADS
from queries.simulator.metrics import HISTOGRAM, Registry, SeriesKey

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def pod_labels(workload_name: str) -> dict[str, str]:
    """The labels Prometheus' kubernetes-pods scrape puts on a pod's series."""
    workload = WORKLOADS[workload_name]
    labels = {
        "namespace": workload.namespace,
        "pod": workload.pod,
        "app": workload.app,
        "service_istio_io_canonical_name": workload.app,
        "service_istio_io_canonical_revision": workload.version,
    }
    if workload.version_label:
        labels["version"] = workload.version
    return labels


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if value.is_integer() else repr(value)


def sample_line(key: SeriesKey, value: float, pod: Callable[[str], dict[str, str]]) -> str:
    labels = {**dict(key.labels), **pod(key.pod)}
    text = ",".join(f'{name}="{_escape(text)}"' for name, text in labels.items())
    return f"{key.metric}{{{text}}} {_number(value)}"


def _histogram_order(key: SeriesKey) -> tuple:
    """Within a histogram family: per label set, buckets by bound, then sum, count."""
    labels = tuple(item for item in key.labels if item[0] != "le")
    le = dict(key.labels).get("le")
    bound = float(le.replace("+Inf", "inf")) if le else math.inf
    suffix = 0 if key.metric.endswith("_bucket") else 1 if key.metric.endswith("_sum") else 2
    return (key.pod, labels, suffix, bound)


def exposition(
    registry: Registry, present: Callable[[str], bool], pod: Callable[[str], dict[str, str]]
) -> str:
    """Every series of the pods that are running, grouped by family."""
    families: dict[str, list[int]] = defaultdict(list)
    for index, key in enumerate(registry.keys):
        if present(key.pod):
            families[key.family].append(index)
    lines: list[str] = []
    for family in sorted(families):
        kind = registry.types[family]
        lines.append(f"# TYPE {family} {kind}")
        indexes = families[family]
        if kind == HISTOGRAM:
            indexes = sorted(indexes, key=lambda i: _histogram_order(registry.keys[i]))
        lines.extend(sample_line(registry.keys[i], registry.values[i], pod) for i in indexes)
    return "\n".join(lines) + "\n"
