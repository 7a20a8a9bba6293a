"""Checks of the shape of what backends and files send (JSON, YAML), in one
style: each check returns the value it vouches for or raises `ShapeError`
naming the path of the first field that is not what it should be
(`data[0].spans: expected a list`, `spec.http[0].route[1].weight: expected
an integer`). Callers put the document's origin in front."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

OBJECT, MAPPING = "an object", "a mapping"  # JSON's word, YAML's word


class ShapeError(ValueError):
    """A field of the wrong shape: `path: problem`."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}" if path else problem)
        self.path, self.problem = path, problem


def at(path: str, key: str | int) -> str:
    """The path of a field (`a.b`) or item (`a[0]`) under `path`; a key that
    is not printable is escaped, so a message stays one line."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    key = str(key)
    if not key.isprintable():
        key = key.encode("unicode_escape").decode("ascii")
    return f"{path}.{key}" if path else key


def present(value: Any, path: str) -> Any:
    if value is None:
        raise ShapeError(path, "missing")
    return value


def mapping(value: Any, path: str, *, required: bool = False, word: str = OBJECT) -> dict[str, Any]:
    """A JSON object / YAML mapping; an absent optional one reads as empty."""
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise ShapeError(path, "missing" if value is None else f"expected {word}")
    return value


def json_object(value: Any, path: str) -> dict[str, Any]:
    """A JSON object, null not allowed."""
    if not isinstance(value, dict):
        raise ShapeError(path, f"expected {OBJECT}")
    return value


def items(value: Any, path: str) -> list[Any]:
    """A list; an absent one reads as empty."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ShapeError(path, "expected a list")
    return value


def each(value: Any, path: str, check: Callable[[Any, str], Any]) -> None:
    """An optional list (null or empty are fine) whose items pass `check`."""
    if not value:
        return
    for index, item in enumerate(items(value, path)):
        check(item, at(path, index))


def string(value: Any, path: str, *, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise ShapeError(path, "missing")
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise ShapeError(path, "expected a non-empty string" if required else "expected a string")
    return value


def count(value: Any, path: str) -> int | None:
    """A non-negative integer as YAML writes it (no booleans, no floats)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ShapeError(path, "expected an integer")
    if value < 0:
        raise ShapeError(path, "must not be negative")
    return value


def number(value: Any, path: str, low: float, high: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ShapeError(path, "expected a number")
    if not low <= value <= high:
        raise ShapeError(path, f"expected {what}")
    return float(value)


def is_integer(value: Any) -> bool:
    """A JSON integer as tracing backends send it: a number, or a string of
    digits (int64 beyond 2^53)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    return (
        isinstance(value, str) and value.strip().lstrip("-").isascii() and value.strip().lstrip("-").isdigit()
    )


def integer(
    value: Any, path: str, unit: str, *, optional: bool = False, low: int | None = 0, high: int | None = None
) -> None:
    """An integer as tracing backends send it, within [low, high] when `high` is given."""
    if value is None:
        if optional:
            return
        raise ShapeError(path, "missing")
    if not is_integer(value):
        raise ShapeError(path, f"expected an integer ({unit})")
    if high is not None and not (low if low is not None else -math.inf) <= int(value) <= high:
        shown = f"{low:,} to {high:,}" if low is not None else f"at most {high:,}"
        raise ShapeError(path, f"out of range: expected {shown} ({unit})")


def problem(check: Callable[[Any, str], Any], value: Any, where: str, what: str = "") -> str:
    """What `check` finds wrong with a value a fast, unchecked parse failed
    on (so something is): `where: problem`, or a general line naming `what`."""
    try:
        check(value, where)
    except ShapeError as error:
        return str(error)
    return f"{where or what or 'the document'} has a field of an unexpected shape"
