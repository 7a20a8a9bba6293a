"""The thresholds a canary is judged by (Flagger's defaults), settable in
the config file's [canary] section."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CanaryThresholds:
    """Flagger's defaults for judging a canary over the window; overridable
    in the config file's [canary] section."""

    min_success_ratio: float = 0.99
    max_p99_ms: float = 500.0
    max_share_deviation: float = 0.05
    # The split is compared over this many requests to the service...
    min_requests_for_deviation: float = 100.0
    # ...and a canary's success ratio and p99 are judged over this many of its own.
    min_requests_for_verdict: float = 50.0
    # A split deviation counts only when the exact binomial test on the
    # window's requests makes it this unlikely to be noise (two-sided).
    deviation_p_value: float = 0.001
    # The baseline is the version serving longest within this lookback.
    baseline_lookback_h: float = 24.0
