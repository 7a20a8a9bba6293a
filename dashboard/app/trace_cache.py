"""Analysed traces kept in this process's memory.

A click, a find or a page turn on a 100k-span trace never re-fetches or
re-analyses it; uploaded files live here too. A large trace is handed out in
two steps: its structure (enough for the waterfall's rows) as soon as it is
built, while self times and the critical path are worked out in a thread of
their own (`load(..., analysed=False)`). The analysed traces belong to one
server process; with --cache-url the uploaded files also go to Redis
(`SharedUploads`), so any worker or replica can open their traces again,
read and analysed anew (parsed as JSON, as any upload: nothing executed).

Memory is bounded twice: the cache holds at most `max_bytes` of analysed
traces (reckoned from the size of their JSON; the least recently used go
first, the newest always stays), and at most `parses` traces are fetched or
read and analysed at once: each can take GBs, so one more is told to retry.
"""

from __future__ import annotations

import hashlib
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from dashboard.app import metrics
from dashboard.format import plural
from dashboard.traces.tree import TraceTree, analyse, build_tree, tree_structure
from queries.errors import SourceError, TraceNotFound
from queries.traces.export import read_text
from queries.traces.records import TraceRecord, canonical_trace_id

FETCHING, ANALYSING = "fetching", "analysing"
# Below this many spans the analysis takes a few tens of milliseconds: not worth a second step.
STAGED_SPANS = 5_000
_NOT_IN_MEMORY = (
    "is not in this server's memory: uploaded traces live in the one server process that "
    "received them (and the oldest give way to new ones); re-open the file"
)


# An analysed trace's memory against its JSON's size (records and tree: the
# RSS bench/bench_trace.py measures for a 100k-span Istio trace), and per
# span when that size is unknown.
MEMORY_PER_WIRE_BYTE = 5.5
MEMORY_PER_SPAN = 10_000


class TraceNotInMemory(SourceError):
    """Neither this process's cache nor the tracing backend has the trace."""


class ParsesBusy(SourceError):
    """As many traces as allowed are being read and analysed already."""


def tree_bytes(tree: TraceTree) -> int:
    """What an analysed trace holds in memory, reckoned."""
    wire = tree.trace.wire_bytes
    return int(wire * MEMORY_PER_WIRE_BYTE) if wire else len(tree.order) * MEMORY_PER_SPAN


@dataclass
class _Load:
    """One fetch and analysis in flight; requests for the same trace wait on
    `shaped` (the tree's structure is there) or `done` (analysed, or failed)."""

    shaped: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    stage: str = FETCHING
    spans: int | None = None
    tree: TraceTree | None = None
    error: BaseException | None = None
    parsing: bool = False  # holds one of the cache's parse slots, until analysed or failed


class TraceCache:
    """Analysed traces by id, least recently used dropped first once they
    hold more than `max_bytes` together (`tree_bytes`); `fetch` gets one it
    lacks; at most `parses` fetches or reads with their analyses at once."""

    def __init__(
        self,
        fetch: Callable[[str], TraceRecord],
        max_bytes: int = 512 << 20,
        parses: int = 2,
        analyse: Callable[[TraceTree], TraceTree] = analyse,
    ) -> None:
        self.fetch = fetch
        self.max_bytes = max_bytes
        self.parses = parses
        self.analyse = analyse
        self.staged_spans = STAGED_SPANS
        self._trees: OrderedDict[str, TraceTree] = OrderedDict()
        self._sizes: dict[str, int] = {}
        self._loading: dict[str, _Load] = {}
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(parses)

    @contextmanager
    def parsing(self) -> Iterator[None]:
        """One of the `parses` slots for reading and analysing traces, or ParsesBusy."""
        self._take_slot()
        try:
            yield
        finally:
            self._slots.release()

    def _take_slot(self) -> None:
        if not self._slots.acquire(blocking=False):
            verb = "is" if self.parses == 1 else "are"
            reading = f"{plural(self.parses, 'trace')} {verb} being read and analysed already"
            raise ParsesBusy(f"busy: {reading}; retry in a moment")

    @property
    def held_bytes(self) -> int:
        with self._lock:
            return sum(self._sizes.values())

    def _cached(self, key: str) -> TraceTree | None:
        """The tree under `key`, marked recently used; call with the lock held."""
        tree = self._trees.get(key)
        if tree is not None:
            self._trees.move_to_end(key)
        return tree

    def get(self, trace_id: str) -> TraceTree | None:
        with self._lock:
            return self._cached(canonical_trace_id(trace_id))

    def put(self, trace: TraceRecord) -> TraceTree:
        """Analyse a trace and keep it; call inside `parsing()`."""
        return self._keep(build_tree(trace))

    def _keep(self, tree: TraceTree) -> TraceTree:
        key = canonical_trace_id(tree.trace_id)
        with self._lock:
            self._trees[key] = tree
            self._trees.move_to_end(key)
            self._sizes[key] = tree_bytes(tree)
            while len(self._trees) > 1 and sum(self._sizes.values()) > self.max_bytes:
                dropped, _ = self._trees.popitem(last=False)
                del self._sizes[dropped]
        return tree

    def load(self, trace_id: str, analysed: bool = True) -> TraceTree:
        """The cached tree, or fetch and analyse it: once per trace id at a
        time, however many requests ask meanwhile (a 100k-span trace takes
        seconds, and a page asks from several callbacks at once). With
        `analysed=False` a large trace's tree may come back before its
        analysis (`tree.analysed` says), which goes on in a thread."""
        key = canonical_trace_id(trace_id)
        with self._lock:
            tree = self._cached(key)
            if tree is not None:
                metrics.CACHE_HITS.labels("traces").inc()
                return tree
            metrics.CACHE_MISSES.labels("traces").inc()
            pending = self._loading.get(key)
            leading = pending is None
            if leading:
                pending = self._loading[key] = _Load()
        if not leading:
            (pending.done if analysed else pending.shaped).wait()
            if pending.error is not None:
                raise pending.error
            assert pending.tree is not None
            return pending.tree
        try:
            self._take_slot()
            pending.parsing = True
            trace = self.fetch(trace_id)
            pending.spans, pending.stage = len(trace.spans), ANALYSING
            pending.tree = tree_structure(trace)
        except BaseException as error:
            self._finished(key, pending, error)
            raise
        pending.shaped.set()
        if analysed or len(trace.spans) < self.staged_spans:
            self._analyse(key, pending)
            if pending.error is not None:
                raise pending.error
        else:
            threading.Thread(target=self._analyse, args=(key, pending), daemon=True).start()
        return pending.tree

    def prefetch(self, trace_id: str) -> None:
        """Start loading a trace a page is about to ask for (its scripts take a
        second or two to load and ask); what goes wrong, the page's own load says."""
        if self.get(trace_id) is not None or self.progress(trace_id) is not None:
            return
        threading.Thread(target=self._prefetch, args=(trace_id,), daemon=True).start()

    def _prefetch(self, trace_id: str) -> None:
        try:
            self.load(trace_id, analysed=False)
        except Exception:  # kept on the load for whoever waits on it; the next load tries again
            return

    def _analyse(self, key: str, pending: _Load) -> None:
        assert pending.tree is not None
        try:
            self._keep(self.analyse(pending.tree))
        except BaseException as error:
            self._finished(key, pending, error)
            return
        self._finished(key, pending, None)

    def _finished(self, key: str, pending: _Load, error: BaseException | None) -> None:
        pending.error = error
        if pending.parsing:
            self._slots.release()
        with self._lock:
            del self._loading[key]
        pending.shaped.set()
        pending.done.set()

    def progress(self, trace_id: str) -> tuple[str, int | None] | None:
        """(stage, span count once known) of a load in flight, else None."""
        with self._lock:
            pending = self._loading.get(canonical_trace_id(trace_id))
            return (pending.stage, pending.spans) if pending is not None else None


def backend_fetch(backend: Any) -> Callable[[str], TraceRecord]:
    """How the cache fetches a trace it does not hold: from the tracing
    backend (Jaeger or Tempo), saying why when neither has it."""

    def fetch(trace_id: str) -> TraceRecord:
        if backend is None:
            raise TraceNotInMemory(
                f"trace {trace_id} {_NOT_IN_MEMORY} (no Jaeger or Tempo is configured to fetch it from)"
            )
        try:
            return backend.trace(trace_id)
        except TraceNotFound as error:
            raise TraceNotFound(f"{error}; if you opened it from a file, it {_NOT_IN_MEMORY}") from None

    return fetch


# An uploaded file stays in the shared cache this long after it was opened.
UPLOAD_KEEP_SECONDS = 86_400.0


class SharedUploads:
    """Uploaded trace files in the shared cache, compressed, by content, and
    which file holds each trace id: another replica reads the trace from it."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def keep(self, data: bytes, trace_ids: list[str]) -> None:
        digest = hashlib.sha256(data).hexdigest()
        self.store.put_bytes(f"file:{digest}", zlib.compress(data), UPLOAD_KEEP_SECONDS)
        for trace_id in trace_ids:
            self.store.put_bytes(
                f"upload:{canonical_trace_id(trace_id)}", digest.encode(), UPLOAD_KEEP_SECONDS
            )

    def trace(self, trace_id: str) -> TraceRecord | None:
        """The uploaded trace, read from its file again; None when no file holds it."""
        digest = self.store.get_bytes(f"upload:{canonical_trace_id(trace_id)}")
        data = self.store.get_bytes(f"file:{digest.decode()}") if digest else None
        if data is None:
            return None
        wanted = canonical_trace_id(trace_id)
        found = [t for t in read_text(zlib.decompress(data)) if canonical_trace_id(t.trace_id) == wanted]
        return found[0] if found else None


def shared_fetch(
    uploads: SharedUploads | None, fetch: Callable[[str], TraceRecord]
) -> Callable[[str], TraceRecord]:
    """`fetch`, after a look among the files uploaded to any replica."""
    if uploads is None:
        return fetch

    def fetch_shared(trace_id: str) -> TraceRecord:
        try:
            uploaded = uploads.trace(trace_id)
        except SourceError:
            uploaded = None  # the shared cache is down: the backend may still have it
        return uploaded if uploaded is not None else fetch(trace_id)

    return fetch_shared
