"""The simulated proxies' metrics: counters, gauges and histograms, their
scrape history, and PromQL's `rate`/`increase` over it.

Every exposed sample is one series (a histogram is its `_bucket{le}`, `_sum`
and `_count` series), keyed by metric name and labels. Each series belongs
to the pod that reports it: when that pod is gone, the series vanishes from
scrapes, as it does from a real Prometheus.

`History` keeps one row of every series' value per scrape, for as long as
the longest window needs, and answers what Prometheus 2.x answers for
`rate(x[w])`, `increase(x[w])` and an instant selector at a time.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# Envoy's default duration-histogram bounds (ms), as Istio exports them.
DURATION_BUCKETS = (
    0.5,
    1,
    5,
    10,
    25,
    50,
    100,
    250,
    500,
    1000,
    2500,
    5000,
    10000,
    30000,
    60000,
    300000,
    600000,
    1800000,
    3600000,
)
COUNTER, GAUGE, HISTOGRAM = "counter", "gauge", "histogram"
# Prometheus' lookback for an instant selector.
LOOKBACK_SECONDS = 300.0

Labels = tuple[tuple[str, str], ...]


def bucket_label(bound: float) -> str:
    """`le` as Envoy writes it (`0.5`, `25`, `3600000`, `+Inf`)."""
    return "+Inf" if math.isinf(bound) else f"{bound:.32g}"


@dataclass(frozen=True)
class SeriesKey:
    metric: str
    labels: Labels
    family: str
    pod: str

    def label_dict(self) -> dict[str, str]:
        return dict(self.labels)


class Registry:
    """Current values of every series ever written."""

    def __init__(self) -> None:
        self.keys: list[SeriesKey] = []
        self.values: list[float] = []
        self.types: dict[str, str] = {}
        self._index: dict[tuple[str, Labels, str], int] = {}
        self._histograms: dict[tuple[str, Labels, str], tuple[list[int], int, int]] = {}
        self._by_pod: dict[str, list[int]] = {}

    def _series(self, metric: str, labels: Labels, family: str, kind: str, pod: str) -> int:
        key = (metric, labels, pod)
        index = self._index.get(key)
        if index is None:
            index = self._index[key] = len(self.keys)
            self.keys.append(SeriesKey(metric, labels, family, pod))
            self.values.append(0.0)
            self.types[family] = kind
            self._by_pod.setdefault(pod, []).append(index)
        return index

    def inc(self, metric: str, labels: Labels, pod: str, amount: float = 1.0) -> None:
        self.values[self._series(metric, labels, metric, COUNTER, pod)] += amount

    def set(self, metric: str, labels: Labels, pod: str, value: float, kind: str = GAUGE) -> None:
        self.values[self._series(metric, labels, metric, kind, pod)] = value

    def observe(self, family: str, labels: Labels, pod: str, value: float) -> None:
        """One histogram observation: cumulative buckets, sum and count."""
        key = (family, labels, pod)
        if key not in self._histograms:
            buckets = [
                self._series(
                    f"{family}_bucket", (*labels, ("le", bucket_label(bound))), family, HISTOGRAM, pod
                )
                for bound in (*DURATION_BUCKETS, math.inf)
            ]
            self._histograms[key] = (
                buckets,
                self._series(f"{family}_sum", labels, family, HISTOGRAM, pod),
                self._series(f"{family}_count", labels, family, HISTOGRAM, pod),
            )
        buckets, total, count = self._histograms[key]
        for index in buckets[bisect.bisect_left(DURATION_BUCKETS, value) :]:
            self.values[index] += 1
        self.values[total] += value
        self.values[count] += 1

    def live(self, present: Callable[[str], bool]) -> np.ndarray:
        """Current values; NaN for series whose reporting pod is not running."""
        values = np.array(self.values, dtype="float64")
        for pod, indexes in self._by_pod.items():
            if not present(pod):
                values[indexes] = np.nan
        return values


@dataclass(frozen=True)
class Evaluation:
    """Every series at one instant over one window, as PromQL sees them."""

    keys: list[SeriesKey]
    rate: np.ndarray
    increase: np.ndarray
    instant: np.ndarray


class History:
    """Scraped rows of every series, kept for `retention` seconds."""

    def __init__(self, retention: float) -> None:
        self.retention = retention
        self.times: deque[float] = deque()
        self.rows: deque[np.ndarray] = deque()

    def record(self, at: float, row: np.ndarray) -> None:
        self.times.append(at)
        self.rows.append(row)
        while self.times and self.times[0] < at - self.retention:
            self.times.popleft()
            self.rows.popleft()

    def matrix(self, start: float, end: float, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Scrape times within [start, end] and their rows (NaN where a
        series did not exist yet), as Prometheus 2.x selects a range."""
        times = list(self.times)
        lo, hi = bisect.bisect_left(times, start), bisect.bisect_right(times, end)
        matrix = np.full((hi - lo, width), np.nan)
        for row_index, position in enumerate(range(lo, hi)):
            row = self.rows[position]
            matrix[row_index, : len(row)] = row
        return np.array(times[lo:hi]), matrix

    def increase(self, end: float, window: float, width: int, per_second: bool) -> np.ndarray:
        """PromQL's extrapolated `increase` (or `rate`) of every series over
        (end - window, end]; NaN where a series has fewer than two samples."""
        start = end - window
        times, matrix = self.matrix(start, end, width)
        return extrapolated_delta(times, matrix, start, end, per_second)

    def evaluate(self, keys: list[SeriesKey], at: float, window: float) -> Evaluation:
        width = len(keys)
        return Evaluation(
            keys,
            self.increase(at, window, width, per_second=True),
            self.increase(at, window, width, per_second=False),
            self.instant(at, width),
        )

    def instant(self, at: float, width: int) -> np.ndarray:
        """Each series' latest sample at or before `at` (NaN if stale or absent)."""
        times, matrix = self.matrix(at - LOOKBACK_SECONDS, at, width)
        if not len(times):
            return np.full(width, np.nan)
        return matrix[-1]


def extrapolated_delta(
    times: np.ndarray, matrix: np.ndarray, start: float, end: float, per_second: bool
) -> np.ndarray:
    """Prometheus' extrapolatedRate for counters, one column per series."""
    width = matrix.shape[1]
    result = np.full(width, np.nan)
    if matrix.shape[0] < 2:
        return result
    valid = ~np.isnan(matrix)
    count = valid.sum(axis=0)
    columns = np.nonzero(count >= 2)[0]
    if not len(columns):
        return result
    first = valid[:, columns].argmax(axis=0)
    last = matrix.shape[0] - 1 - valid[::-1, columns].argmax(axis=0)
    first_value, last_value = matrix[first, columns], matrix[last, columns]
    first_time, last_time = times[first], times[last]
    delta = last_value - first_value
    sampled = last_time - first_time
    average_step = sampled / (count[columns] - 1)
    to_start = first_time - start
    to_end = end - last_time
    with np.errstate(divide="ignore", invalid="ignore"):
        to_zero = np.where((delta > 0) & (first_value >= 0), sampled * first_value / delta, np.inf)
    to_start = np.minimum(to_start, to_zero)
    threshold = average_step * 1.1
    to_start = np.where(to_start >= threshold, average_step / 2, to_start)
    to_end = np.where(to_end >= threshold, average_step / 2, to_end)
    factor = (sampled + to_start + to_end) / sampled
    values = delta * factor
    if per_second:
        values = values / (end - start)
    result[columns] = values
    return result
