"""What a span says about itself: the one-line failure, the root cause of a
trace's failure, and the workload version it ran in."""

from __future__ import annotations

from dashboard.traces.details import Tag, details_of
from dashboard.traces.failure import root_cause, span_failure
from dashboard.traces.tree import build_tree
from dashboard.traces.versions import version_lookup
from queries.envoy import RESPONSE_FLAG_MEANINGS, node_pod, response_flags
from queries.traces.jaeger_v1 import parse_trace
from tests.support.jaeger import bookinfo_trace, circuit_open_trace


def test_the_refused_call_says_its_cause_in_one_line() -> None:
    tree = build_tree(parse_trace(circuit_open_trace()))
    cause = root_cause(tree)
    assert tree.span_ids[cause] == "3b4c5d6e7f809102"
    failure = span_failure(details_of(tree, cause).tags, tree.span(cause).error)
    assert failure.line == (
        "HTTP 503 · UO: upstream overflow: a circuit breaker is full, the caller's sidecar shed the request"
        " · upstream outbound|9080||ratings.default.svc.cluster.local"
    )
    # Above it, the callers answered 200: nothing failed in them, but the failure below is found.
    root = tree.roots[0]
    assert span_failure(details_of(tree, root).tags, False) is None
    assert root_cause(tree, under=root) == cause
    assert root_cause(tree, under=cause) is None
    assert root_cause(build_tree(parse_trace(bookinfo_trace()))) is None


def test_failure_lines_for_grpc_flags_and_bare_errors() -> None:
    assert span_failure([Tag("grpc.status_code", "14")], False).line == "gRPC 14 UNAVAILABLE"
    assert span_failure([Tag("rpc.grpc.status_code", 0, "int64")], False) is None
    assert span_failure([Tag("http.status_code", 404, "int64")], False).line == "HTTP 404"
    assert span_failure([Tag("http.status_code", "200")], False) is None
    assert span_failure([Tag("response_flags", "-")], False) is None
    both = span_failure([Tag("response_flags", "UH,URX"), Tag("http.status_code", "503")], True)
    assert both.line.startswith("HTTP 503 · UH: no healthy upstream") and "URX: retry or connect" in both.line
    odd = span_failure([Tag("response_flags", "ZZ")], False)
    assert odd.line == "flag ZZ"
    assert span_failure([Tag("error", True, "bool")], True).line == "failed (its tags do not say how)"
    otel = span_failure([Tag("otel.status_code", "ERROR"), Tag("otel.status_description", "db down")], True)
    assert otel.line == "db down"


def test_every_flag_the_topology_judges_has_a_meaning() -> None:
    assert {"UH", "UO", "URX", "UF", "NR", "UT", "DC"} <= set(RESPONSE_FLAG_MEANINGS)
    assert (
        response_flags(" UO,URX ") == ["UO", "URX"]
        and response_flags("-") == []
        and response_flags(None) == []
    )


def test_versions_from_istio_tags_and_app_spans_inherit_them() -> None:
    tree = build_tree(parse_trace(bookinfo_trace()))
    lookup = version_lookup(tree)
    reviews = lookup(tree.index_of("1f2e3d4c5b6a7988"))
    assert (reviews.version, reviews.pod, reviews.label) == ("v2", "reviews-v2-7d79d5bd5d-8zwnp", "v2")
    gateway = lookup(tree.index_of("a3ce929d0e0e4736"))
    assert gateway.version == "latest" and gateway.pod == "istio-ingressgateway-6bd9f7cb9-7tqkp"
    assert node_pod("router~10.0.0.1~gw-1.istio-system~istio-system.svc.cluster.local") == "gw-1"
    assert node_pod("not a node id") is None and node_pod(None) is None
