"""Quantiles of many histograms at once agree with PromQL's rule for one
(dashboard.mesh.histogram), and the latency appender's grid keeps a
histogram's own bounds when a mesh mixes bucket layouts."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.mesh.appenders import QUANTILES, BucketGrid
from dashboard.mesh.histogram import histogram_quantiles, quantile_grid

BOUNDS = np.array([0.0, 0.5, 1, 5, 10, 25, 50, 100, 250, math.inf])
counts = st.lists(st.floats(0, 1e6), min_size=len(BOUNDS), max_size=len(BOUNDS))
quantiles = st.lists(st.sampled_from([0.0, 0.01, 0.5, 0.95, 0.99, 1.0]), min_size=1, max_size=3)


def _same(left: float | None, right: float) -> bool:
    return math.isnan(right) if left is None else math.isclose(left, right, rel_tol=1e-12, abs_tol=1e-12)


@settings(max_examples=300, deadline=None)
@given(st.lists(counts, min_size=1, max_size=8), quantiles, st.booleans())
def test_the_grid_gives_each_histogram_what_histogram_quantiles_gives_it(rows, qs, from_zero) -> None:
    bounds = BOUNDS if from_zero else BOUNDS[1:]
    grid = np.array([row[-len(bounds) :] for row in rows])
    values = quantile_grid(qs, bounds, grid)
    for row, figures in zip(grid.tolist(), values.tolist()):
        expected = histogram_quantiles(qs, list(zip(bounds.tolist(), row)))
        assert all(_same(e, v) for e, v in zip(expected, figures)), (row, expected, figures)


def test_no_infinite_bound_or_no_requests_is_no_quantile() -> None:
    assert np.isnan(quantile_grid((0.5,), np.array([1.0, 5.0]), np.array([[1.0, 2.0]]))).all()
    assert np.isnan(quantile_grid((0.5,), BOUNDS, np.zeros((1, len(BOUNDS))))).all()


def test_a_histogram_lacking_bounds_is_figured_from_its_own() -> None:
    bounds = np.array([1.0, 5.0, 10.0, math.inf])
    counts = np.array([[2.0, 4.0, 4.0, 4.0], [0.0, 2.0, 0.0, 4.0]])
    present = np.array([[True, True, True, True], [False, True, False, True]])
    figures = BucketGrid(bounds, counts, present).quantiles()
    assert figures[0] == tuple(histogram_quantiles(QUANTILES, list(zip(bounds.tolist(), counts[0].tolist()))))
    assert figures[1] == tuple(histogram_quantiles(QUANTILES, [(5.0, 2.0), (math.inf, 4.0)]))
