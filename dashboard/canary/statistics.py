"""The significance tests the canary verdict uses, so that a judgement an
operator acts on does not flip on ordinary sampling noise."""

from __future__ import annotations

import math

# scipy's tolerance for "as likely as the observed outcome" in its exact test.
_RELATIVE_TOLERANCE = 1 + 1e-7


def _log_pmf(k: int, n: int, p: float) -> float:
    if p <= 0.0:
        return 0.0 if k == 0 else -math.inf
    if p >= 1.0:
        return 0.0 if k == n else -math.inf
    return (
        math.lgamma(n + 1)
        - math.lgamma(k + 1)
        - math.lgamma(n - k + 1)
        + k * math.log(p)
        + (n - k) * math.log1p(-p)
    )


def _tail(start: int, step: int, stop: int, n: int, p: float, scale: float) -> float:
    """Sum of pmf(k)/exp(scale) from `start` towards `stop` (inclusive), stopping
    once the terms no longer matter (they fall geometrically past the mode)."""
    total, k = 0.0, start
    while (step > 0 and k <= stop) or (step < 0 and k >= stop):
        term = math.exp(_log_pmf(k, n, p) - scale)
        total += term
        if term < 1e-18 * max(total, 1e-300):
            break
        k += step
    return total


def binomial_two_sided_p(k: int, n: int, p: float) -> float:
    """The exact binomial test's two-sided p-value (scipy.stats.binomtest's
    definition): the probability, if each of `n` requests went to a version
    with probability `p`, of a count at most as likely as `k`."""
    if n <= 0:
        return 1.0
    k = min(max(k, 0), n)
    if p <= 0.0 or p >= 1.0:
        return 1.0 if (k == 0 and p <= 0.0) or (k == n and p >= 1.0) else 0.0
    observed = _log_pmf(k, n, p)
    mode = min(n, int((n + 1) * p))
    threshold = observed + math.log(_RELATIVE_TOLERANCE)

    def as_likely(j: int) -> bool:
        return _log_pmf(j, n, p) <= threshold

    if k <= mode:
        # The first count above the mode that is at most as likely as k.
        lo, hi = mode, n + 1
        while lo < hi:
            mid = (lo + hi) // 2
            if as_likely(mid):
                hi = mid
            else:
                lo = mid + 1
        low_tail = _tail(k, -1, 0, n, p, observed)
        high_tail = _tail(lo, 1, n, n, p, observed) if lo <= n else 0.0
    else:
        # The last count below the mode that is at most as likely as k.
        lo, hi = -1, mode
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if as_likely(mid):
                lo = mid
            else:
                hi = mid - 1
        high_tail = _tail(k, 1, n, n, p, observed)
        low_tail = _tail(lo, -1, 0, n, p, observed) if lo >= 0 else 0.0
    return min(1.0, math.exp(observed) * (low_tail + high_tail))
