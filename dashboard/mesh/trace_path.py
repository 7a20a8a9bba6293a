"""A trace's path on the service graph: which edges its hops went along.

Nodes and Jaeger services meet through Istio's naming: the proxies report
spans as `<canonical service>.<namespace>`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def jaeger_service(node: Mapping[str, Any]) -> str:
    """The Jaeger service of a node's spans: Istio's proxies name it
    `<canonical service>.<namespace>`; a service node goes by the canonical
    service of the workloads behind it (its name when they disagree)."""
    return f"{node.get('app') or node['name']}.{node['namespace']}"


def _names(node: Mapping[str, Any]) -> set[str]:
    """Every Jaeger name a node may go by: a call refused by the caller's
    sidecar names the Kubernetes service (from `upstream_cluster`)."""
    return {jaeger_service(node), f"{node['name']}.{node['namespace']}"}


def _version_matches(node: Mapping[str, Any], version: str | None) -> bool:
    return version is None or node.get("version") == version


def edges_on_trace(document: Mapping[str, Any], hops: Iterable[Sequence[Any]]) -> dict[str, str]:
    """The edges a trace went along, `"ok"` or `"error"` (a call on it failed).

    Each hop is (caller, caller version, callee, callee version, error) as
    dashboard.traces.hops.trace_hops gives it: the caller's workloads of that
    version -> the callee service, and that service -> the callee workloads of
    that version (none when the callee never got the call)."""
    nodes = {node["id"]: node for node in document["nodes"]}
    on_path: dict[str, str] = {}
    for caller, caller_version, callee, callee_version, error in hops:
        for edge in document["edges"]:
            source, target = nodes[edge["source"]], nodes[edge["target"]]
            if target["kind"] == "service" and source["kind"] != "service":
                along = (
                    caller == jaeger_service(source)
                    and _version_matches(source, caller_version)
                    and callee in _names(target)
                )
            elif source["kind"] == "service":
                delivered = callee_version is not None or not error
                along = (
                    delivered
                    and callee in _names(source)
                    and callee == jaeger_service(target)
                    and _version_matches(target, callee_version)
                )
            else:
                along = False
            if along and on_path.get(edge["id"]) != "error":
                on_path[edge["id"]] = "error" if error else "ok"
    return on_path
