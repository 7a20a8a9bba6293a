"""The selection's recent past: which series a node or edge is made of, and
the figures per step that the side panel's sparklines draw."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from dashboard.mesh.histogram import histogram_quantiles
from dashboard.mesh.history import selection_history, selection_of
from queries.telemetry import SELECTION_HISTORY_COLUMNS, SeriesSelection


@pytest.mark.parametrize(
    "element, expected",
    [
        (
            {"id": "service:bookinfo:ratings"},
            SeriesSelection(
                "source",
                (("destination_service_name", "ratings"), ("destination_service_namespace", "bookinfo")),
            ),
        ),
        (
            {"id": "workload:bookinfo:reviews-v2"},
            SeriesSelection(
                "destination",
                (("destination_workload", "reviews-v2"), ("destination_workload_namespace", "bookinfo")),
            ),
        ),
        (
            {"id": "app:bookinfo:reviews"},
            SeriesSelection(
                "destination",
                (("destination_app", "reviews"), ("destination_workload_namespace", "bookinfo")),
            ),
        ),
        (
            {"id": "e", "source": "workload:bookinfo:reviews-v2", "target": "service:bookinfo:ratings"},
            SeriesSelection(
                "source",
                (
                    ("source_workload", "reviews-v2"),
                    ("source_workload_namespace", "bookinfo"),
                    ("destination_service_name", "ratings"),
                    ("destination_service_namespace", "bookinfo"),
                ),
            ),
        ),
        (
            {"id": "e", "source": "service:bookinfo:ratings", "target": "workload:bookinfo:ratings-v1"},
            SeriesSelection(
                "source",
                (
                    ("destination_service_name", "ratings"),
                    ("destination_service_namespace", "bookinfo"),
                    ("destination_workload", "ratings-v1"),
                    ("destination_workload_namespace", "bookinfo"),
                ),
            ),
        ),
        (
            # A caller without a sidecar reports nothing: its callee's sidecar does.
            {"id": "e", "source": "unknown:unknown:unknown", "target": "service:bookinfo:productpage"},
            SeriesSelection(
                "destination",
                (("destination_service_name", "productpage"), ("destination_service_namespace", "bookinfo")),
            ),
        ),
        ({"id": "e", "source": "service:a:x", "target": "service:a:y"}, None),
        ({"id": "unknown:unknown:unknown"}, None),
        ({"id": "service:bookinfo"}, None),
    ],
)
def test_each_element_selects_the_series_the_graph_reads_it_from(element, expected):
    assert selection_of(element) == expected


def rows(*items: tuple) -> pd.DataFrame:
    return pd.DataFrame(list(items), columns=SELECTION_HISTORY_COLUMNS)


def request(t: float, code: str, value: float, flags: str = "-", protocol: str = "http") -> tuple:
    return (t, "requests", code, protocol, "", flags, "", value)


def bucket(t: float, le: str, value: float) -> tuple:
    return (t, "latency", "", "", "", "", le, value)


def test_figures_per_step_with_the_graphs_error_rule_and_quantiles():
    buckets = [("10", 1.0), ("50", 3.0), ("100", 3.8), ("+Inf", 4.0)]
    frame = rows(
        request(100, "200", 9.0),
        request(100, "503", 1.0, "UH"),
        request(130, "200", 4.0),
        request(130, "404", 1.0),  # a 4xx is not an error of the edge's error ratio
        *(bucket(100, le, value) for le, value in buckets),
        *(bucket(130, le, value / 2) for le, value in buckets[:2]),
        *(bucket(130, le, value / 2) for le, value in buckets[2:]),
    )
    history = selection_history(frame, [100, 130, 160])
    assert history.times == [100, 130, 160]
    assert history.rps == [10.0, 5.0, 0.0]
    assert history.error_ratio == [pytest.approx(0.1), 0.0, None]
    p50, p99 = histogram_quantiles(
        (0.5, 0.99), [(math.inf if le == "+Inf" else float(le), v) for le, v in buckets]
    )
    assert history.p50_ms[0] == pytest.approx(p50) and history.p99_ms[0] == pytest.approx(p99)
    assert history.p50_ms[1] == pytest.approx(p50)  # the same shape at half the rate
    assert history.p50_ms[2] is None
    assert history.codes == {"200": [9.0, 4.0, 0.0], "404": [0.0, 1.0, 0.0], "503": [1.0, 0.0, 0.0]}
    assert history.flags == {"UH": [1.0, 0.0, 0.0]}


def test_grpc_errors_count_by_status_and_nothing_is_empty():
    frame = pd.DataFrame(
        [
            (100, "requests", "200", "grpc", "14", "-", "", 2.0),
            (100, "requests", "200", "grpc", "0", "-", "", 2.0),
        ],
        columns=SELECTION_HISTORY_COLUMNS,
    )
    assert selection_history(frame, [100]).error_ratio == [0.5]
    assert selection_history(rows(), [100, 130]).empty
