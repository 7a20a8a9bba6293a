"""The latency answer's left-out buckets are put back per series: only
above the highest bucket the series sent, whatever other layouts the mesh
has; and a deeply nested answer is one line, not a traceback."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from dashboard.mesh.histogram import histogram_quantiles
from queries.errors import SourceError
from queries.http import Reply
from queries.prometheus import instant_result
from queries.telemetry import BOUNDS_VIEW, VIEW_LABEL, full_buckets

QUANTILES = (0.5, 0.95, 0.99)


def frame(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    """(series, le, rate) rows; a series "" is a bounds row."""
    return pd.DataFrame(
        {
            "source_workload": pd.array([series for series, _, _ in rows], dtype="string"),
            VIEW_LABEL: pd.array(
                [BOUNDS_VIEW if not series else "" for series, _, _ in rows], dtype="string"
            ),
            "le": pd.array([le for _, le, _ in rows], dtype="string"),
            "rate": [rate for _, _, rate in rows],
        }
    )


def histogram(whole: pd.DataFrame, series: str) -> list[tuple[float, float]]:
    rows = whole[whole["source_workload"] == series]
    return sorted(zip((float(le) for le in rows["le"]), rows["rate"]))


def test_a_series_gets_back_only_the_full_buckets_above_what_it_sent() -> None:
    # a: its own layout 5, 10, 25 (+Inf); sent 5 and 10, its 25 left out as full.
    # b: another layout with 3 and 7, the mesh's bounds listing them all.
    sent = frame(
        [("a", "5", 3.0), ("a", "10", 8.0), ("a", "+Inf", 10.0)]
        + [("b", "3", 1.0), ("b", "7", 2.0), ("b", "+Inf", 4.0)]
        + [("", le, 1.0) for le in ("3", "5", "7", "10", "25")]
    )
    whole = full_buckets(sent)
    assert VIEW_LABEL not in whole
    assert histogram(whole, "a") == [(5.0, 3.0), (10.0, 8.0), (25.0, 10.0), (math.inf, 10.0)]
    expected = histogram_quantiles(QUANTILES, [(5.0, 3.0), (10.0, 8.0), (25.0, 10.0), (math.inf, 10.0)])
    assert histogram_quantiles(QUANTILES, histogram(whole, "a")) == expected
    # b's 3 and 7 were sent; every bound above them is full.
    assert histogram(whole, "b") == [(3.0, 1.0), (7.0, 2.0), (10.0, 4.0), (25.0, 4.0), (math.inf, 4.0)]


def test_a_series_that_sent_only_its_total_has_every_bound_full() -> None:
    whole = full_buckets(frame([("a", "+Inf", 2.0), ("", "1", 1.0), ("", "1.0", 1.0), ("", "5", 1.0)]))
    assert histogram(whole, "a") == [(1.0, 2.0), (5.0, 2.0), (math.inf, 2.0)]  # "1" and "1.0" are one bound


def test_an_answer_nested_past_the_parsers_depth_is_one_line() -> None:
    body = b'{"status": "success", "data": {"result": []}, "extra": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(SourceError) as error:
        instant_result(Reply(200, "application/json", body), "Prometheus at http://p:9090")
    assert "\n" not in str(error.value)
