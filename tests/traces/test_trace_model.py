"""Tree, self time and critical path rules on hand-built traces (Jaeger UI's shapes)."""

from __future__ import annotations

import random
from typing import Any

from dashboard.traces.details import details_of
from dashboard.traces.find import find_spans
from dashboard.traces.hops import Hop, trace_hops
from dashboard.traces.proxy import redundant_proxy_spans
from dashboard.traces.summary import service_totals, summarise
from dashboard.traces.tree import build_tree
from dashboard.traces.waterfall import Collapse, initial_collapse, waterfall_rows
from queries.traces.jaeger_v1 import parse_trace as parse_v1_trace
from queries.traces.otlp import parse_traces as parse_otlp
from tests.support.jaeger import bookinfo_trace, circuit_open_trace, to_otlp


def make_trace(*spans: tuple[Any, ...], warnings: Any = None) -> Any:
    """spans: (id, refs, start, duration[, service[, tags]]); refs is a parent id,
    None, or a list of (refType, id)."""
    raw = []
    for span in spans:
        span_id, refs, start, duration = span[:4]
        service = span[4] if len(span) > 4 else "svc"
        tags = span[5] if len(span) > 5 else []
        if isinstance(refs, str):
            refs = [("CHILD_OF", refs)]
        raw.append(
            {
                "traceID": "t1",
                "spanID": span_id,
                "operationName": f"op-{span_id}",
                "references": [{"refType": kind, "traceID": "t1", "spanID": ref} for kind, ref in refs or []],
                "startTime": 1_000_000 + start,
                "duration": duration,
                "tags": tags,
                "logs": [],
                "processID": service,
                "warnings": None,
            }
        )
    processes = {
        s[4] if len(s) > 4 else "svc": {"serviceName": s[4] if len(s) > 4 else "svc", "tags": []}
        for s in spans
    }
    return build_tree(
        parse_v1_trace({"traceID": "t1", "spans": raw, "processes": processes, "warnings": warnings})
    )


def by_id(tree: Any, values: list[int]) -> dict[str, int]:
    return {tree.span_ids[i]: values[i] for i in range(len(values))}


def test_sequential_children_critical_path_and_self_time() -> None:
    tree = make_trace(("a", None, 0, 100), ("c", "a", 50, 40), ("b", "a", 10, 30))
    assert [tree.span_ids[i] for i in tree.order] == ["a", "b", "c"]
    assert by_id(tree, tree.critical_us) == {"a": 30, "b": 30, "c": 40}
    assert by_id(tree, tree.self_us) == {"a": 30, "b": 30, "c": 40}
    assert sorted((tree.span_ids[s], a - 1_000_000, b - 1_000_000) for s, a, b in tree.critical_sections) == [
        ("a", 0, 10),
        ("a", 40, 50),
        ("a", 90, 100),
        ("b", 10, 40),
        ("c", 50, 90),
    ]


def test_overlapping_children_only_the_last_finishing_one_is_critical() -> None:
    tree = make_trace(("a", None, 0, 100), ("b", "a", 10, 50), ("c", "a", 20, 60))
    assert by_id(tree, tree.critical_us) == {"a": 40, "b": 0, "c": 60}
    assert by_id(tree, tree.self_us)["a"] == 30  # 100 minus the union [10, 80]


def test_child_ending_exactly_where_the_next_starts_is_not_before_it() -> None:
    # Jaeger's rule takes children that finished strictly before the point.
    tree = make_trace(("a", None, 0, 100), ("b", "a", 10, 40), ("c", "a", 50, 40))
    assert by_id(tree, tree.critical_us) == {"a": 60, "b": 0, "c": 40}


def test_overflowing_child_is_clipped_and_outside_child_dropped() -> None:
    tree = make_trace(
        ("a", None, 0, 100), ("b", "a", 50, 100), ("c", "a", 120, 30), ("d", "a", -40, 20), ("e", "b", 90, 30)
    )
    critical = by_id(tree, tree.critical_us)
    assert critical == {"a": 50, "b": 40, "c": 0, "d": 0, "e": 10}
    assert sum(critical.values()) == 100
    assert by_id(tree, tree.self_us)["a"] == 50  # b clipped to [50, 100], c and d outside


def test_follows_from_children_are_on_the_critical_path_like_child_of() -> None:
    # Jaeger UI's current rule: the reference type does not matter, only the tree.
    tree = make_trace(
        ("a", None, 0, 100), ("b", "a", 10, 20), ("c", [("FOLLOWS_FROM", "a")], 40, 50), ("d", "c", 45, 10)
    )
    assert [tree.span_ids[i] for i in tree.order] == ["a", "b", "c", "d"]
    assert tree.depth[tree.index_of("d")] == 2
    assert by_id(tree, tree.critical_us) == {"a": 30, "b": 20, "c": 40, "d": 10}
    assert by_id(tree, tree.self_us)["a"] == 30


def kind(value: str) -> list[dict[str, Any]]:
    return [{"key": "span.kind", "type": "string", "value": value}]


def test_only_a_consumer_under_a_producer_is_off_the_critical_path() -> None:
    # A messaging hand-off: the consumer (and what it does) does not hold up the producer's caller.
    tree = make_trace(
        ("a", None, 0, 100, "svc", kind("server")),
        ("p", "a", 10, 20, "svc", kind("PRODUCER")),
        ("c", "p", 25, 70, "worker", kind("Consumer")),
        ("w", "c", 30, 60, "worker"),
    )
    assert by_id(tree, tree.critical_us) == {"a": 80, "p": 20, "c": 0, "w": 0}
    # Producer and consumer spans elsewhere block like any other span.
    tree = make_trace(
        ("a", None, 0, 100, "svc", kind("server")),
        ("p", "a", 10, 50, "svc", kind("producer")),
        ("c", "a", 70, 20, "svc", kind("consumer")),
        ("x", "p", 20, 30, "svc", kind("client")),
    )
    assert by_id(tree, tree.critical_us) == {"a": 30, "p": 20, "c": 20, "x": 30}
    # An unknown kind is internal, which blocks.
    tree = make_trace(("p", None, 0, 100, "svc", kind("producer")), ("c", "p", 10, 50, "svc", kind("queue")))
    assert by_id(tree, tree.critical_us) == {"p": 50, "c": 50}


def test_span_kind_compares_case_insensitively() -> None:
    tree = make_trace(("a", None, 0, 10, "svc", kind("SERVER")), ("b", "a", 1, 5, "svc", kind("Client")))
    assert [tree.span(i).kind for i in tree.order] == ["server", "client"]


def test_a_path_under_an_orphan_root_is_its_own() -> None:
    # Jaeger UI knows only the trace's roots; meshwatch gives a detached subtree its own path.
    tree = make_trace(
        ("a", None, 0, 100),
        ("x", [("FOLLOWS_FROM", "missing")], 20, 50),
        ("y", "x", 30, 10),
        ("p", "x", 45, 20, "svc", kind("producer")),
        ("c", "p", 50, 40, "svc", kind("consumer")),
    )
    assert by_id(tree, tree.critical_us) == {"a": 100, "x": 20, "y": 10, "p": 20, "c": 0}


def test_parent_is_the_first_reference_present_in_the_trace() -> None:
    tree = make_trace(("a", None, 0, 100), ("b", [("CHILD_OF", "gone"), ("FOLLOWS_FROM", "a")], 10, 10))
    assert tree.parent[tree.index_of("b")] == tree.index_of("a")
    assert tree.warnings == []


def test_orphans_become_extra_roots_with_a_warning() -> None:
    tree = make_trace(
        ("a", None, 0, 100),
        ("x", "missing", 20, 30),
        ("y", "x", 25, 10),
        ("b", "a", 5, 10),
        warnings=["clock skew adjustment disabled"],
    )
    assert [tree.span_ids[i] for i in tree.roots] == ["a", "x"]
    assert [(tree.span_ids[i], tree.depth[i]) for i in tree.order] == [("a", 0), ("b", 1), ("x", 0), ("y", 1)]
    assert tree.warnings == [
        "clock skew adjustment disabled",
        "1 span has a missing parent; the trace may be incomplete",
    ]
    assert by_id(tree, tree.critical_us) == {"a": 90, "b": 10, "x": 20, "y": 10}
    assert details_of(tree, tree.index_of("x")).warnings == [
        "parent span is not in this trace; shown as a root"
    ]
    several = make_trace(
        ("a", None, 0, 100), ("x", "gone", 20, 30), ("y", "gone", 25, 10), ("z", "lost", 30, 5)
    )
    assert several.warnings == ["3 spans have missing parents; the trace may be incomplete"]


def test_a_span_referencing_itself_is_a_root_said_so() -> None:
    tree = make_trace(("a", None, 0, 100), ("s", "s", 20, 30), ("t", "s", 25, 10))
    assert [tree.span_ids[i] for i in tree.roots] == ["a", "s"]
    assert tree.warnings == ["span s references itself; shown as a root"]
    assert details_of(tree, tree.index_of("s")).warnings == ["this span references itself; shown as a root"]
    two = make_trace(("a", None, 0, 100), ("s", "s", 20, 30), ("u", "u", 25, 10))
    assert two.warnings == ["2 spans reference themselves (s, u); shown as roots"]


def test_duplicate_span_ids_are_kept_suffixed_and_flagged() -> None:
    tree = make_trace(("a", None, 0, 100), ("b", "a", 10, 20), ("b", "a", 40, 20), ("c", "b", 12, 5))
    assert sorted(tree.span_ids) == ["a", "b", "b_1", "c"]
    assert tree.span_ids[min(tree.duplicates)] == "b_1"
    assert tree.parent[tree.index_of("c")] == tree.index_of("b")
    assert tree.warnings == ["span id b is used by 2 spans; the copies are shown as b_1"]
    assert details_of(tree, tree.index_of("b_1")).warnings == ["duplicate span id b; shown as b_1"]


def test_reference_loops_are_cut_not_followed_forever() -> None:
    tree = make_trace(("a", "b", 0, 50), ("b", "a", 10, 20))
    assert [tree.span_ids[i] for i in tree.order] == ["a", "b"]
    assert tree.warnings == ["spans a, b reference each other in a loop; a is shown as a root"]
    assert details_of(tree, tree.index_of("a")).warnings == [
        "this span's references form a loop; shown as a root"
    ]


def test_a_loop_is_cut_inside_the_loop_not_at_a_span_hanging_under_it() -> None:
    # d hangs under the loop b -> c -> b and starts first: the loop is cut at b, d keeps its parent.
    tree = make_trace(("r", None, 0, 100), ("d", "c", 1, 5), ("b", "c", 10, 50), ("c", "b", 20, 30))
    assert [tree.span_ids[i] for i in tree.roots] == ["r", "b"]
    assert tree.parent[tree.index_of("d")] == tree.index_of("c")
    assert tree.warnings == ["spans b, c reference each other in a loop; b is shown as a root"]


def test_critical_time_sums_to_root_duration_on_random_trees() -> None:
    rng = random.Random(7)
    for _ in range(200):
        spans = [("s0", None, 0, 1000)]
        for k in range(1, rng.randint(2, 40)):
            parent = f"s{rng.randrange(k)}"
            start = rng.randint(-200, 1100)
            spans.append((f"s{k}", parent, start, rng.randint(0, 600)))
        tree = make_trace(*spans)
        assert sum(tree.critical_us) == 1000
        assert all(0 <= tree.self_us[i] <= tree.span(i).duration_us for i in range(len(spans)))
        sections = sorted((a, b) for _, a, b in tree.critical_sections)
        assert all(x[1] == y[0] for x, y in zip(sections, sections[1:]))  # they tile the root


def test_errors_from_tags_status_codes_and_grpc() -> None:
    def tag(key: str, value: Any, kind: str = "string") -> dict[str, Any]:
        return {"key": key, "type": kind, "value": value}

    tree = make_trace(
        ("a", None, 0, 100, "svc", [tag("error", True, "bool")]),
        ("b", "a", 1, 5, "svc", [tag("http.status_code", "503")]),
        ("c", "a", 2, 5, "svc", [tag("http.status_code", 404, "int64")]),
        ("d", "a", 3, 5, "svc", [tag("grpc.status_code", "14")]),
        ("e", "a", 4, 5, "svc", [tag("rpc.grpc.status_code", 0, "int64")]),
        ("f", "a", 5, 5, "svc", [tag("error", "false")]),
    )
    assert {tree.span_ids[i] for i in range(6) if tree.span(i).error} == {"a", "b", "d"}


def test_istio_trace_hops_totals_and_hidden_proxy_halves() -> None:
    tree = build_tree(parse_v1_trace(bookinfo_trace()))
    assert [(hop.caller, hop.callee) for hop in trace_hops(tree)] == [
        ("istio-ingressgateway.istio-system", "productpage.default"),
        ("productpage.default", "details.default"),
        ("productpage.default", "reviews.default"),
        ("reviews.default", "ratings.default"),
    ]
    hidden = redundant_proxy_spans(tree)
    rows = waterfall_rows(tree, hidden=hidden)
    assert [(tree.span(r.span).service, r.depth) for r in rows] == [
        ("istio-ingressgateway.istio-system", 0),
        ("productpage.default", 1),
        ("details.default", 2),
        ("reviews.default", 2),
        ("ratings.default", 3),
    ]
    totals = {t.service: t for t in service_totals(tree)}
    assert sum(t.critical_us for t in totals.values()) == tree.duration_us == 48_000
    assert totals["ratings.default"].critical_us == 27_000
    assert sum(t.self_us for t in totals.values()) == 48_000  # nothing overlaps in this trace


def test_hops_carry_versions_and_the_call_refused_by_the_callers_sidecar() -> None:
    ok = build_tree(parse_v1_trace(bookinfo_trace()))
    assert trace_hops(ok) == [
        Hop("istio-ingressgateway.istio-system", "latest", "productpage.default", "v1", False),
        Hop("productpage.default", "v1", "details.default", "v1", False),
        Hop("productpage.default", "v1", "reviews.default", "v2", False),
        Hop("reviews.default", "v2", "ratings.default", "v1", False),
    ]
    # reviews-v3's sidecar refused the call (503 UO): only its client span exists; upstream_cluster names ratings.
    refused = [
        Hop("productpage.default", "v1", "reviews.default", "v3", False),
        Hop("reviews.default", "v3", "ratings.default", None, True),
    ]
    assert trace_hops(build_tree(parse_v1_trace(circuit_open_trace()))) == refused
    assert trace_hops(build_tree(parse_otlp(to_otlp([circuit_open_trace()]))[0])) == refused
    assert [
        (hop.caller, hop.callee) for hop in trace_hops(build_tree(parse_v1_trace(circuit_open_trace())))
    ] == [("productpage.default", "reviews.default"), ("reviews.default", "ratings.default")]


def test_hop_versions_errors_and_clusters_follow_the_rules() -> None:
    def envoy(kind: str, revision: str | None, cluster: str, status: str = "200") -> list[dict[str, Any]]:
        tags = [
            {"key": "component", "type": "string", "value": "proxy"},
            {"key": "span.kind", "type": "string", "value": kind},
            {"key": "upstream_cluster", "type": "string", "value": cluster},
            {"key": "http.status_code", "type": "string", "value": status},
        ]
        if revision:
            tags.append({"key": "istio.canonical_revision", "type": "string", "value": revision})
        return tags

    app = [{"key": "span.kind", "type": "string", "value": "server"}]
    tree = make_trace(
        ("in", None, 0, 100, "web.shop", envoy("server", "v7", "inbound|80||")),
        ("app", "in", 1, 98, "web.shop", app),  # no Istio tags: its sidecar's version
        (
            "out",
            "app",
            2,
            50,
            "web.shop",
            envoy("client", None, "outbound|80||cart.shop.svc.cluster.local", "500"),
        ),
        (
            "cart",
            "out",
            3,
            40,
            "cart.shop",
            envoy("server", "v2", "inbound|80||"),
        ),  # returned 200: the client failed
        (
            "uh",
            "app",
            60,
            1,
            "web.shop",
            envoy("client", None, "outbound|9080|v1|pay.billing.svc.cluster.local", "503"),
        ),
        (
            "uh2",
            "app",
            62,
            1,
            "web.shop",
            envoy("client", None, "outbound|9080|v1|pay.billing.svc.cluster.local", "503"),
        ),
        ("ext", "app", 70, 5, "web.shop", envoy("client", None, "outbound|443||api.example.com")),
        ("pass", "app", 80, 5, "web.shop", envoy("client", None, "PassthroughCluster")),
    )
    assert trace_hops(tree) == [
        Hop("web.shop", "v7", "cart.shop", "v2", True),
        Hop("web.shop", "v7", "pay.billing", None, True),
    ]
    # The same hop called twice, once failing: one hop, failed.
    again = make_trace(
        ("a", None, 0, 100, "a.ns", envoy("client", "v1", "outbound|80||b.ns.svc.cluster.local")),
        ("b1", "a", 1, 10, "b.ns", envoy("server", "v1", "inbound|80||")),
        ("b2", "a", 20, 10, "b.ns", envoy("server", "v1", "inbound|80||", "503")),
    )
    assert trace_hops(again) == [Hop("a.ns", "v1", "b.ns", "v1", True)]


def test_hiding_proxy_spans_never_hides_an_error_or_its_way_to_the_root() -> None:
    tree = build_tree(parse_v1_trace(circuit_open_trace()))
    failed = tree.index_of("3b4c5d6e7f809102")
    assert redundant_proxy_spans(tree) == set()  # every span is on the refused call's path
    assert failed in {row.span for row in waterfall_rows(tree, hidden=redundant_proxy_spans(tree))}
    ok = build_tree(parse_v1_trace(bookinfo_trace()))
    ratings_server = ok.index_of("e2f30415263748a9")
    ok.trace.spans[ratings_server].error = True
    hidden = redundant_proxy_spans(ok)
    assert not hidden & ({ratings_server} | set(ok.ancestors(ratings_server)))
    assert {ok.span_ids[i] for i in hidden} == {"53995c3f42cd8ad8"}  # productpage's client half to details


def test_find_matches_service_operation_and_tags() -> None:
    tree = build_tree(parse_v1_trace(circuit_open_trace()))
    assert [tree.span_ids[i] for i in sorted(find_spans(tree, "response_flags=UO"))] == ["3b4c5d6e7f809102"]
    assert len(find_spans(tree, "REVIEWS")) == 3
    assert len(find_spans(tree, "reviews 503")) == 1
    assert find_spans(tree, "  ") == set()
    rows = waterfall_rows(tree, only=find_spans(tree, "UO"))
    assert [tree.span_ids[r.span] for r in rows] == [
        "b7ad6b7169203331",
        "c1d2e3f405162738",
        "2a3b4c5d6e7f8091",
        "3b4c5d6e7f809102",
    ]  # the match and its ancestors


def test_summary_names_the_trace_by_its_root() -> None:
    summary = summarise(parse_v1_trace(circuit_open_trace()))
    assert (summary.service, summary.span_count, summary.error_count, summary.duration_us) == (
        "productpage.default",
        4,
        1,
        20_000,
    )
    assert summary.services == [("productpage.default", 2), ("reviews.default", 2)]


def test_collapse_folds_subtrees_and_large_traces_start_collapsed() -> None:
    spans = (
        [("r", None, 0, 10_000)]
        + [(f"c{k}", "r", k * 10, 5) for k in range(30)]
        + [(f"g{k}", f"c{k % 30}", k * 10, 1) for k in range(300)]
    )
    tree = make_trace(*spans)
    assert len(waterfall_rows(tree)) == 331
    collapse = initial_collapse(tree, max_rows=100)
    rows = waterfall_rows(tree, collapse)
    assert len(rows) == 31 and rows[1].folded == 10
    c3 = tree.index_of("c3")
    opened = waterfall_rows(tree, collapse.toggled(tree, c3))
    assert len(opened) == 41
    g33 = tree.index_of("g33")
    assert g33 in {r.span for r in waterfall_rows(tree, collapse.revealing(tree, g33))}
    root = tree.index_of("r")
    assert [r.folded for r in waterfall_rows(tree, Collapse().toggled(tree, root))] == [330]
