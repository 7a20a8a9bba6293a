"""How figures read, one rule each: for people (the pages, and the reasons in
the documents) and for the JSON documents. Pure."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

MISSING = "–"


def percent(ratio: float | None, digits: int | None = 0) -> str:
    """`41 %`, `99.5 %` with `digits=1`; `digits=None` shows small ratios to
    a tenth (`3.6 %`) and the rest whole (`25 %`)."""
    if ratio is None:
        return MISSING
    if digits is None:
        digits = 1 if ratio < 0.1 else 0
    return f"{ratio * 100:.{digits}f} %"


def rate(rps: float | None) -> str:
    """`0.50 rps`, `12 rps`."""
    if rps is None:
        return MISSING
    return f"{rps:.2f} rps" if rps < 10 else f"{rps:.0f} rps"


def byte_rate(per_second: float | None) -> str:
    """`2.5 kB/s`, `1.2 MB/s`, `800 B/s`."""
    if per_second is None:
        return MISSING
    for unit, size in (("MB/s", 1e6), ("kB/s", 1e3)):
        if per_second >= size:
            return f"{per_second / size:.1f} {unit}"
    return f"{per_second:.0f} B/s"


def milliseconds(ms: float | None, digits: int = 1) -> str:
    """`12.3 ms` (a latency already in milliseconds)."""
    return MISSING if ms is None else f"{ms:.{digits}f} ms"


def duration_text(us: float) -> str:
    """A span's length from microseconds: `1.23 s`, `2.50 ms`, `212 µs`."""
    if us >= 1_000_000:
        return f"{us / 1e6:.2f} s"
    if us >= 1000:
        return f"{us / 1000:.2f} ms"
    return f"{us:.0f} µs"


def signed(value: float | None, unit: str, scale: float = 1.0, digits: int = 0) -> str:
    """A difference with its sign: `+12 ms`, `-0.5 pts`."""
    return MISSING if value is None else f"{value * scale:+.{digits}f}{unit}"


def clock_text(at: float) -> str:
    """A time of day as the pages show it."""
    return time.strftime("%H:%M:%S", time.localtime(at))


def utc_clock(at: float) -> str:
    """A time of day in UTC, labelled so: `10:00:00 UTC`."""
    return time.strftime("%H:%M:%S UTC", time.gmtime(at))


def utc_timestamp_us(us: int) -> str:
    """A span's start: `2026-11-26 10:00:00.123 UTC`."""
    return datetime.fromtimestamp(us / 1e6, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def utc_stamp(at: float) -> str:
    """A moment in full, in UTC: `2026-11-26 10:00:00 UTC`."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at))


def duration_words(seconds: float) -> str:
    """How long, roughly, for people: `45 s`, `12 min`, `3 h 20 min`, `2 d 4 h`."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 90:
        return f"{minutes:.0f} min"
    hours, rest = divmod(round(minutes), 60)
    if hours < 48:
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """`1 error`, `2 errors`, `1,204 spans`."""
    return f"{count:,} {noun if count == 1 else nouns or noun + 's'}"


def ignored_series(ignored: Mapping[str, int]) -> list[str]:
    """What the data left out, one line per problem: `12 series with NaN values ignored`."""
    return [f"{count:,} series with {problem} values ignored" for problem, count in ignored.items() if count]


def size_text(size_bytes: int) -> str:
    """`64 MB`, `12 KB`, `900 bytes`."""
    if size_bytes >= 1 << 20:
        return f"{size_bytes / (1 << 20):g} MB"
    if size_bytes >= 1 << 10:
        return f"{size_bytes / (1 << 10):.0f} KB"
    return f"{size_bytes} bytes"


# Measured figures (rates over a window, ratios, interpolated quantiles) hold
# far fewer true digits than a float prints: 0.49500000000000005 is 0.495.
JSON_DIGITS = 6


def json_number(value: Any) -> Any:
    """A measured figure as the public documents carry it: a float to
    JSON_DIGITS significant digits, or null where JSON cannot carry it (NaN,
    infinities); anything else unchanged."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    return float(f"{value:.{JSON_DIGITS}g}") if math.isfinite(value) else None


def wire_value(value: Any) -> Any:
    """A value as it came on the wire (a span tag's list or object), as the
    documents carry it: NaN and infinities, at any depth, as null (JSON has
    neither); one nested too deeply to write again, as a note saying so."""
    if not isinstance(value, (list, dict)):
        return json_number(value) if type(value) is float else value
    try:
        return json.loads(json.dumps(value), parse_constant=lambda _: None)
    except (RecursionError, TypeError, ValueError):
        return "(a value nested too deeply to show)"
