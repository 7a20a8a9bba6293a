"""Which moment a view shows: live (now), a fixed time (`?at=`), or a replay
running from a start time at 1×, 10× or 60×. Kept in the browser as a plain
dict (a dcc.Store), so any worker can answer any poll; every frame is an
ordinary refresh at that moment."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

LIVE, FIXED, REPLAY = "live", "fixed", "replay"
REPLAY_SPEEDS = (1, 10, 60)


@dataclass(frozen=True)
class Timeline:
    mode: str = LIVE
    # fixed: the moment shown; replay: the moment the replay started from.
    at: float | None = None
    # replay: the wall-clock second it started, and how fast it runs.
    wall: float | None = None
    speed: float = 1.0

    def moment(self, now: float, wall_now: float) -> float:
        """The time to show: `now` is the data's present (the demo's story
        clock), `wall_now` the wall clock; a replay never runs past now."""
        if self.mode == FIXED and self.at is not None:
            return min(self.at, now)
        if self.mode == REPLAY and self.at is not None and self.wall is not None:
            return min(now, self.at + self.speed * (wall_now - self.wall))
        return now

    @property
    def live(self) -> bool:
        return self.mode == LIVE

    def stored(self) -> dict[str, Any]:
        return asdict(self)


def from_store(data: Any) -> Timeline:
    """The timeline a page's store holds; anything unreadable is live."""
    if not isinstance(data, dict) or data.get("mode") not in (LIVE, FIXED, REPLAY):
        return Timeline()
    try:
        at = None if data.get("at") is None else float(data["at"])
        wall = None if data.get("wall") is None else float(data["wall"])
        speed = float(data.get("speed") or 1.0)
    except (TypeError, ValueError):
        return Timeline()
    return Timeline(data["mode"], at, wall, speed)


def fixed(at: float) -> Timeline:
    return Timeline(FIXED, at)


def replay(start: float, wall_now: float, speed: float) -> Timeline:
    return Timeline(REPLAY, start, wall_now, speed)
