"""The exact binomial test the split deviation rests on."""

from __future__ import annotations

import math

import pytest

from dashboard.canary.statistics import binomial_two_sided_p


@pytest.mark.parametrize(
    ("k", "n", "p", "expected"),
    [
        (2, 10, 0.5, 0.109375),  # 2 * (1 + 10 + 45) / 1024
        (5, 10, 0.5, 1.0),
        (0, 10, 0.5, 2 / 1024),
        (10, 10, 0.5, 2 / 1024),
        (0, 5, 0.0, 1.0),
        (1, 5, 0.0, 0.0),
        (7, 20, 0.3, 0.6294979666766769),  # scipy.stats.binomtest(7, 20, 0.3).pvalue
        (84, 138, 0.5, 0.013273216041919205),  # a 61/39 split of 138 requests could well be noise
    ],
)
def test_p_values_match_the_exact_test(k: int, n: int, p: float, expected: float) -> None:
    assert binomial_two_sided_p(k, n, p) == pytest.approx(expected, rel=1e-6)


def test_large_samples_are_fast_and_stay_in_range() -> None:
    assert binomial_two_sided_p(50_000, 100_000, 0.5) == pytest.approx(1.0)
    tiny = binomial_two_sided_p(48_000, 100_000, 0.5)
    assert 0.0 <= tiny < 1e-30 and not math.isnan(tiny)
