"""Durations as users write them, parsed once at the edge.

- Prometheus durations (`30s`, `1m`, `1h30m`): rate windows. Only a
  `Duration` may be pasted into PromQL, and `str()` gives back its text.
- Go durations (`250ms`, `1.5s`, `1h2m`): Jaeger's duration filters,
  parsed as Go's `time.ParseDuration` does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from queries.errors import ConfigError

# Prometheus' units, largest first; each may appear once, in this order.
_PROMETHEUS_UNITS = {
    "y": 365 * 86400.0,
    "w": 7 * 86400.0,
    "d": 86400.0,
    "h": 3600.0,
    "m": 60.0,
    "s": 1.0,
    "ms": 0.001,
}
# ASCII digits only: `\d` would take `١m` (an Arabic-Indic one).
_PROMETHEUS_PART = re.compile(r"([0-9]+)(ms|[ywdhms])")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_GO_PART = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)([^0-9.]*)")


@dataclass(frozen=True)
class Duration:
    """A Prometheus duration: its text as written (what queries and
    documents carry) and its length in seconds."""

    text: str
    seconds: float

    def __str__(self) -> str:
        return self.text


def prometheus_duration(text: str) -> Duration:
    """`30s`, `1m`, `1h30m`: Prometheus' syntax, greater than zero."""
    value = str(text).strip()
    seconds, position, order = 0.0, 0, list(_PROMETHEUS_UNITS)
    last = -1
    for match in _PROMETHEUS_PART.finditer(value):
        unit_index = order.index(match.group(2))
        if match.start() != position or unit_index <= last:
            break
        seconds += int(match.group(1)) * _PROMETHEUS_UNITS[match.group(2)]
        position, last = match.end(), unit_index
    if not value or position != len(value) or seconds <= 0:
        raise ConfigError(f"bad duration {text!r}: use a number and a unit, e.g. 30s, 1m, 5m, 1h")
    return Duration(value, seconds)


def go_duration_seconds(text: str) -> float:
    """Seconds in a Go duration (`250ms`, `1.5s`, `1h2m`), as `time.ParseDuration`
    reads it; ValueError with Go's own wording otherwise."""
    body = text[1:] if text[:1] in "+-" else text
    sign = -1.0 if text.startswith("-") else 1.0
    if body == "0":
        return 0.0
    if not body:
        raise ValueError(f'time: invalid duration "{text}"')
    total, position = 0.0, 0
    for match in _GO_PART.finditer(body):
        if match.start() != position:
            break
        number, unit = match.groups()
        if not unit:
            raise ValueError(f'time: missing unit in duration "{text}"')
        if unit not in _GO_UNITS:
            raise ValueError(f'time: unknown unit "{unit}" in duration "{text}"')
        total += float(number) * _GO_UNITS[unit]
        position = match.end()
    if position != len(body):
        raise ValueError(f'time: invalid duration "{text}"')
    return sign * total
