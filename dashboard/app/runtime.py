"""What one running dashboard holds: its settings, its data sources (and
how they last answered), its trace cache, the canary baseline's lookback,
the refreshes in flight, the views' cache and its viewers' polls. The
pages' layouts and the API find it on the Flask app that
serves the request; callbacks are given it when they are registered."""

from __future__ import annotations

from dataclasses import dataclass, field

import flask

from dashboard.app.backends import Backends
from dashboard.app.config import Settings
from dashboard.app.drawn import DrawnViews
from dashboard.app.flight import Flights
from dashboard.app.metrics import Polls, watch_polls
from dashboard.app.refresh import Lookback, longest_refresh
from dashboard.app.services import Services
from dashboard.app.trace_cache import SharedUploads, TraceCache
from dashboard.app.view_cache import MemoryStore, Store, ViewCache
from dashboard.format import clock_text, dated_clock_text, duration_words, utc_stamp

EXTENSION = "meshwatch"


@dataclass
class Runtime:
    settings: Settings
    services: Services
    traces: TraceCache
    flights: Flights = field(default_factory=Flights)
    drawn: DrawnViews = field(default_factory=DrawnViews)
    backends: Backends = field(default_factory=Backends)
    # The views' cache: this process's memory, or Redis with --cache-url.
    store: Store = field(default_factory=MemoryStore)
    # Uploaded trace files shared with the other replicas (with --cache-url).
    uploads: SharedUploads | None = None
    lookback: Lookback = field(init=False)
    views: ViewCache = field(init=False)
    polls: Polls = field(init=False)

    def __post_init__(self) -> None:
        self.lookback = Lookback(self.services.telemetry, self.settings.canary.baseline_lookback_h)
        longest = longest_refresh(self.settings)
        self.views = ViewCache(self.store, self.flights, self.settings.refresh, longest, self.backends)
        self.polls = Polls(self.settings.refresh)
        watch_polls(self.polls)

    def install(self, server: flask.Flask) -> None:
        server.extensions[EXTENSION] = self

    def clock_words(self, at: float, dated: bool = False) -> str:
        """A time on the pages, by the one clock of the view: the demo's
        story clock, labelled as such; `dated` gives its day too."""
        shown = dated_clock_text(at) if dated else clock_text(at)
        return shown + (" story time" if self.services.mode == "demo" else "")

    def as_of_text(self, at: float, now: float, how: str) -> str:
        """The banner over a view of the past: which moment, how long ago, and how it is shown."""
        return f"◷ AS OF {utc_stamp(at)} ({self.clock_words(at)}), {duration_words(now - at)} ago · {how}"

    def stale_text(self, last_good: float | None, error: Exception) -> str:
        """The banner over a view whose refresh failed: since when it is stale, and why."""
        since = f"stale since {self.clock_words(last_good)}" if last_good else "no data yet"
        return f"{since} — {error}"


def current() -> Runtime:
    """The dashboard serving the request in hand."""
    return flask.current_app.extensions[EXTENSION]
