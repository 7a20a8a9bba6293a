"""Find and hide expressions (dashboard.mesh.find) over a snapshot document
built from hand-made telemetry: each field, the operators, and/or, what hide
takes with it, the one-line errors, and properties on arbitrary text."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.app.config import resolve
from dashboard.mesh.build import build_graph
from dashboard.mesh.find import (
    FIELDS,
    MAX_DEPTH,
    MAX_LENGTH,
    ExpressionError,
    apply,
    find,
    hidden,
    hide,
    parse,
)
from dashboard.mesh.snapshot import snapshot_document
from tests.support.frames import labels, latency_rows, telemetry

PAY = {"ns": "payments"}


def mesh_document() -> dict[str, Any]:
    """default: productpage-v1 -> reviews (v1 1 rps, v2 1 rps, slow v1);
    reviews-v2 -> ratings cut off (4 rps 503 UH, circuit open);
    payments: checkout-v1 -> payments -> payments-v1 gRPC, 10 % UNAVAILABLE,
    plain text; checkout-v1 -> ledger TCP; default's productpage-v1 -> payments."""
    grpc = {"request_protocol": "grpc", "grpc_response_status": "0"}
    return snapshot_document(
        build_graph(
            telemetry(
                requests=[
                    (labels("productpage-v1", "reviews", "reviews-v1"), 1.0),
                    (labels("productpage-v1", "reviews", "reviews-v2"), 1.0),
                    (labels("reviews-v2", "ratings", response_code="503", response_flags="UH"), 4.0),
                    (labels("checkout-v1", "payments", "payments-v1", **grpc, **PAY), 18.0),
                    (
                        labels(
                            "checkout-v1",
                            "payments",
                            "payments-v1",
                            **{**grpc, "grpc_response_status": "14"},
                            **PAY,
                        ),
                        2.0,
                    ),
                    (labels("productpage-v1", "payments", "payments-v1", caller_ns="default", **PAY), 0.5),
                ],
                latency=[
                    *latency_rows(labels("productpage-v1", "reviews", "reviews-v1"), [300, 800, 900]),
                    *latency_rows(labels("productpage-v1", "reviews", "reviews-v2"), [20, 30]),
                ],
                tcp=[
                    (labels("checkout-v1", "ledger", "ledger-v1", request_protocol="tcp", **PAY), 900.0),
                ],
                security=[
                    (labels("productpage-v1", "reviews", "reviews-v1", reporter="destination"), 1.0),
                    (labels("productpage-v1", "reviews", "reviews-v2", reporter="destination"), 1.0),
                    (
                        labels(
                            "checkout-v1",
                            "payments",
                            "payments-v1",
                            reporter="destination",
                            connection_security_policy="none",
                            **PAY,
                        ),
                        20.0,
                    ),
                ],
            ),
            resolve({}, {}),
        )
    )


DOCUMENT = mesh_document()
W, S = "workload:default:", "service:default:"
WP, SP = "workload:payments:", "service:payments:"
OPEN_EDGE = f"{W}reviews-v2->{S}ratings"


def found(text: str) -> list[str]:
    return find(DOCUMENT, parse(text))


def test_the_fixture_is_what_the_tests_assume():
    edges = {e["id"]: e for e in DOCUMENT["edges"]}
    assert edges[OPEN_EDGE]["circuit"] == "open"
    assert edges[f"{WP}checkout-v1->{SP}payments"]["error_ratio"] == pytest.approx(0.1)
    assert edges[f"{WP}checkout-v1->{SP}payments"]["mtls"] is False
    assert edges[f"{W}productpage-v1->{S}reviews"]["mtls"] is True
    assert edges[f"{WP}checkout-v1->{SP}ledger"]["rps"] is None


def test_circuit_open_finds_the_cut_off_edge_only():
    assert found("circuit = open") == [OPEN_EDGE]


def test_traffic_figures_are_the_edges():
    assert found("rps > 10") == [f"{SP}payments->{WP}payments-v1", f"{WP}checkout-v1->{SP}payments"]
    assert (
        found("error > 5%")
        == found("error > 5")
        == sorted([OPEN_EDGE, f"{SP}payments->{WP}payments-v1", f"{WP}checkout-v1->{SP}payments"])
    )
    # 10 % exactly is not more than 10 %.
    assert f"{WP}checkout-v1->{SP}payments" not in found("error > 10%")
    assert f"{WP}checkout-v1->{SP}payments" in found("error >= 10%")
    slow = sorted([f"{S}reviews->{W}reviews-v1", f"{W}productpage-v1->{S}reviews"])
    assert found("p99 > 500ms") == found("p99 > 0.5s") == found("p99 > 500") == slow
    assert f"{W}productpage-v1->{S}reviews" in found("p50 >= 30ms")
    assert all(not i.startswith(("workload:", "service:")) or "->" in i for i in found("p95 > 1ms"))


def test_a_missing_figure_never_matches_whatever_the_operator():
    tcp = f"{WP}checkout-v1->{SP}ledger"
    assert tcp not in found("rps < 1") and tcp not in found("rps != 1") and tcp not in found("rps >= 0")
    assert tcp not in found("mtls = false") and tcp not in found("mtls = true")
    assert tcp in found("protocol = tcp")


def test_health_is_each_elements_own():
    failing = found("health = failing")
    assert OPEN_EDGE in failing and f"{S}ratings" in failing
    assert f"{W}reviews-v2" not in failing  # its calls fail, not the requests into it
    assert f"{W}reviews-v2" in found("health = healthy")


def test_identity_matches_nodes_and_edges_touching_them():
    payments = set(found("ns = payments"))
    assert payments == set(found("namespace = PAYMENTS"))
    nodes = {n["id"] for n in DOCUMENT["nodes"] if n["namespace"] == "payments"}
    edges = {e["id"] for e in DOCUMENT["edges"] if e["source"] in nodes or e["target"] in nodes}
    assert payments == nodes | edges
    assert f"{W}productpage-v1->{SP}payments" in payments  # only its target is in payments
    assert set(found("version = v2")) == {
        f"{W}reviews-v2",
        f"{S}reviews->{W}reviews-v2",
        OPEN_EDGE,
    }
    assert f"{S}reviews" in found("app = reviews") and f"{S}ratings->" not in " ".join(found("app = reviews"))
    assert set(found("name = ratings")) == {f"{S}ratings", OPEN_EDGE}


def test_kind_is_the_nodes_only():
    assert found("kind = service") == sorted(n["id"] for n in DOCUMENT["nodes"] if n["kind"] == "service")
    assert all("->" not in i for i in found("kind != service"))


def test_and_binds_before_or_and_parentheses_group():
    assert found("circuit = open or rps > 10 and protocol = grpc") == sorted(
        {OPEN_EDGE} | set(found("rps > 10 and protocol = grpc"))
    )
    assert found("(circuit = open or rps > 10) and protocol = grpc") == found("rps > 10 and protocol = grpc")
    assert found("CIRCUIT = Open AND Health = FAILING") == [OPEN_EDGE]


def test_not_equal_is_the_complement_where_the_field_has_a_value():
    edges = {e["id"] for e in DOCUMENT["edges"]}
    assert set(found("circuit != open")) == edges - {OPEN_EDGE}


@pytest.mark.parametrize(
    "text, message",
    [
        ("rps > ", "expected a number after 'rps >', found the end at column 7"),
        ("rps >", "expected a number after 'rps >', found the end at column 6"),
        ("rps > fast", "expected a number after 'rps >', found 'fast' at column 7"),
        ("rsp > 1", "unknown field 'rsp'"),
        ("health > ok", "'health' compares with = or != only, not '>' at column 8"),
        (
            "health = grand",
            "'health' is one of healthy, degraded, failing, idle, none, not 'grand' at column 10",
        ),
        ("p99 > 5h", "'p99' takes 'ms' or 's', not 'h' at column 7"),
        ("rps > 5%", "'rps' takes no unit, not '%' at column 7"),
        ("error > 5ms", "'error' takes '%', not 'ms' at column 9"),
        ("(rps > 1", "expected ')' to close the '(' of column 1, found the end at column 9"),
        ("rps > 1)", "')' without '(' at column 8"),
        ("rps > 1 circuit = open", "expected 'and', 'or' or the end, found 'circuit' at column 9"),
        ("rps 1", "expected =, !=, <, <=, >, >= after 'rps', found '1' at column 5"),
        ("", "expected a condition such as 'rps > 10', found the end at column 1"),
        ("rps > 1 and", "expected a condition such as 'rps > 10', found the end at column 12"),
        ("ns = <b>", "expected a value after 'ns =', found '<' at column 6"),
        ("app = revi\u00e9ws", "unexpected character '\u00e9' at column 11"),
        ("rps > 1\n or #", "unexpected character '#' at column 13"),
        ("x" * (MAX_LENGTH + 1), f"an expression is at most {MAX_LENGTH} characters"),
        (
            "(" * (MAX_DEPTH + 1) + "rps > 1" + ")" * (MAX_DEPTH + 1),
            f"more than {MAX_DEPTH} parentheses deep",
        ),
    ],
)
def test_a_bad_expression_says_what_and_where_in_one_line(text, message):
    with pytest.raises(ExpressionError) as raised:
        parse(text)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value) and str(raised.value).endswith(f"at column {raised.value.column}")


def test_hide_takes_a_nodes_edges_and_leaves_no_dangling_node():
    document = hide(DOCUMENT, parse("name = reviews"))
    ids = {n["id"] for n in document["nodes"]}
    assert f"{S}reviews" not in ids
    assert all(f"{S}reviews" not in (e["source"], e["target"]) for e in document["edges"])
    # reviews-v1 hung only on the hidden service: gone with it; productpage-v1 still calls payments.
    assert f"{W}reviews-v1" not in ids and f"{W}productpage-v1" in ids
    assert document["at"] == DOCUMENT["at"] and document["window"] == DOCUMENT["window"]


def test_hiding_edges_removes_the_nodes_left_without_one():
    document = hide(DOCUMENT, parse("protocol = tcp"))
    assert f"{SP}ledger" not in {n["id"] for n in document["nodes"]}
    assert f"{WP}checkout-v1" in {n["id"] for n in document["nodes"]}
    assert hidden(DOCUMENT, parse("protocol = tcp")) == {
        f"{WP}checkout-v1->{SP}ledger",
        f"{SP}ledger->{WP}ledger-v1",
        f"{SP}ledger",
        f"{WP}ledger-v1",
    }


def test_apply_hides_first_then_adds_found():
    document = apply(DOCUMENT, parse("ns = default"), parse("protocol = grpc or ns = payments"))
    assert document["found"] == sorted(
        [n["id"] for n in document["nodes"]] + [e["id"] for e in document["edges"]]
    )
    assert all(n["namespace"] == "default" for n in document["nodes"])
    assert "found" not in apply(DOCUMENT, None, parse("rps > 1"))
    assert apply(DOCUMENT, None, None) == DOCUMENT


# ---- properties ----------------------------------------------------------------

WORDS = [
    *FIELDS,
    "and",
    "or",
    "AND",
    "Or",
    "open",
    "failing",
    "true",
    "tcp",
    "service",
    "10",
    "5%",
    "500ms",
    "0.5s",
    "1.",
    ".5",
    "v2",
    "reviews",
    "h",
    "x%y",
]
PIECES = st.sampled_from([*WORDS, "=", "!=", "<", "<=", ">", ">=", "(", ")", "==", "!", "<>"])
NEAR_MISSES = st.lists(PIECES, max_size=12).map(" ".join)
TEXT = st.one_of(st.text(max_size=60), NEAR_MISSES)


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_no_exception_escapes_but_the_modules_own(text):
    try:
        expression = parse(text)
    except ExpressionError as error:
        assert "\n" not in str(error) and 1 <= error.column <= len(text) + 1
        return
    find(DOCUMENT, expression)
    hide(DOCUMENT, expression)


CONDITIONS = st.sampled_from(
    [
        "rps > 1",
        "rps <= 0.5",
        "error > 5%",
        "p99 > 500ms",
        "p50 < 40ms",
        "health = failing",
        "health != healthy",
        "circuit = open",
        "protocol = tcp",
        "mtls = false",
        "ns = payments",
        "app != reviews",
        "version = v2",
        "kind = service",
        "name = ratings",
    ]
)


@st.composite
def expressions(draw, depth: int = 3) -> str:
    if depth == 0 or draw(st.booleans()):
        return draw(CONDITIONS)
    left, right = draw(expressions(depth - 1)), draw(expressions(depth - 1))
    return f"({left}) {draw(st.sampled_from(['and', 'or']))} ({right})"


@settings(max_examples=200, deadline=None)
@given(expressions(), expressions())
def test_or_is_the_union_and_and_the_intersection(left, right):
    a, b = set(found(left)), set(found(right))
    assert set(found(f"({left}) or ({right})")) == a | b
    assert set(found(f"({left}) and ({right})")) == a & b


@settings(max_examples=200, deadline=None)
@given(expressions())
def test_an_expression_reads_back_from_its_printed_form(text):
    expression = parse(text)
    assert parse(str(expression)) == expression


@settings(max_examples=200, deadline=None)
@given(expressions())
def test_hide_leaves_a_consistent_document_without_what_find_matches(text):
    expression = parse(text)
    document = hide(DOCUMENT, expression)
    ids = {n["id"] for n in document["nodes"]}
    assert all(e["source"] in ids and e["target"] in ids for e in document["edges"])
    kept = ids | {e["id"] for e in document["edges"]}
    assert not kept & set(find(DOCUMENT, expression))
    assert kept | hidden(DOCUMENT, expression) == {n["id"] for n in DOCUMENT["nodes"]} | {
        e["id"] for e in DOCUMENT["edges"]
    }
