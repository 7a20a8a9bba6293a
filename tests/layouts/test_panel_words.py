"""The side panel's circuit words follow the edge's own figures."""

from __future__ import annotations

from layouts.topology.panel import circuit_words


def edge(circuit: str, **flags: float) -> dict:
    return {"circuit": circuit, "rps": 4.0, "flags": flags}


def test_an_open_circuit_names_the_refused_requests_only_where_the_edge_counts_them() -> None:
    assert circuit_words(edge("open", UH=3.0)) == (
        "Circuit OPEN: every host of the destination is ejected by outlier detection; "
        "75 % of these requests get 503 UH."
    )
    # The workload graph's edge to an ejected workload: no refused request reaches it.
    assert "503 UH" in circuit_words(edge("open")) and "counts none of them" in circuit_words(edge("open"))


def test_a_tripping_breaker_says_shedding_only_with_shed_requests() -> None:
    assert circuit_words(edge("tripping", UO=1.0)) == (
        "The caller's circuit breaker is shedding 25 % of these requests (503 UO)."
    )
    assert "none shed on this edge" in circuit_words(edge("tripping"))
    assert circuit_words(edge("closed")) is None
