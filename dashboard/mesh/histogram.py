"""Quantiles from cumulative histogram buckets, exactly as PromQL's
`histogram_quantile` computes them (linear interpolation inside a bucket)."""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

import numpy as np


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """The q-quantile of cumulative `(upper_bound, count)` buckets, or None
    when there is nothing to measure (no +Inf bucket, or no observations).

    Follows Prometheus: counts are made monotonic; a rank in the +Inf bucket
    returns the highest finite bound; the first bucket starts at 0 when its
    bound is positive."""
    return histogram_quantiles((q,), buckets)[0]


def histogram_quantiles(qs: Sequence[float], buckets: Sequence[tuple[float, float]]) -> list[float | None]:
    """`histogram_quantile` for several quantiles of the same buckets, which
    are sorted and made monotonic once."""
    if any(not 0 <= q <= 1 for q in qs):
        raise ValueError("quantile must be within [0, 1]")
    ordered = sorted(buckets)
    if len(ordered) < 2 or not math.isinf(ordered[-1][0]):
        return [None] * len(qs)
    bounds = [bound for bound, _ in ordered]
    counts: list[float] = []
    for _, count in ordered:
        counts.append(max(count, counts[-1]) if counts else count)
    if counts[-1] <= 0:
        return [None] * len(qs)
    return [_rank_value(q * counts[-1], bounds, counts) for q in qs]


def _rank_value(rank: float, bounds: list[float], counts: list[float]) -> float:
    index = bisect.bisect_left(counts, rank)
    if index == len(bounds) - 1:
        return bounds[-2]
    if index == 0 and bounds[0] <= 0:
        return bounds[0]
    start = 0.0 if index == 0 else bounds[index - 1]
    below = 0.0 if index == 0 else counts[index - 1]
    in_bucket = counts[index] - below
    if in_bucket <= 0:
        return bounds[index]
    return start + (bounds[index] - start) * ((rank - below) / in_bucket)


def quantile_grid(qs: Sequence[float], bounds: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """`histogram_quantiles` of many histograms at once: `counts` holds one
    row of cumulative counts per histogram over the same ascending `bounds`
    (every bound present). One column per quantile; NaN where
    `histogram_quantiles` says None. A mesh's thousands of edges are then a
    few array operations instead of a Python loop per edge."""
    if any(not 0 <= q <= 1 for q in qs):
        raise ValueError("quantile must be within [0, 1]")
    result = np.full((len(counts), len(qs)), np.nan)
    if len(bounds) < 2 or not math.isinf(bounds[-1]) or not len(counts):
        return result
    monotonic = np.maximum.accumulate(counts, axis=1)
    total = monotonic[:, -1]
    measured = total > 0
    monotonic, total = monotonic[measured], total[measured]
    rows = np.arange(len(total))
    last = len(bounds) - 1
    for column, q in enumerate(qs):
        rank = q * total
        index = (monotonic >= rank[:, None]).argmax(axis=1)
        upper = bounds[index]
        start = np.where(index == 0, 0.0, bounds[np.maximum(index - 1, 0)])
        below = np.where(index == 0, 0.0, monotonic[rows, np.maximum(index - 1, 0)])
        in_bucket = monotonic[rows, index] - below
        with np.errstate(divide="ignore", invalid="ignore"):
            value = start + (upper - start) * ((rank - below) / in_bucket)
        value = np.where(in_bucket <= 0, upper, value)
        value = np.where((index == 0) & (bounds[0] <= 0), bounds[0], value)
        result[measured, column] = np.where(index == last, bounds[-2], value)
    return result
