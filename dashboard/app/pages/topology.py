"""The live topology page (`/`, also `/topology`).

The address is the view: `?namespace=a&namespace=b&window=5m&refresh=10&idle=1`
(and `trace=ID` for a trace's path) reproduce it, and changing a control
writes it back. Polling state lives in the browser's stores (positions,
open-circuit times, last good refresh, the selection), so any worker can
answer any poll. A failed refresh leaves the drawn graph alone and raises the
stale banner; the next good one clears it. The side panel follows the
selected node or edge with every refresh. The view is fitted once, on the
first graph; after that only the Fit button moves it.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dash
import flask
import networkx as nx
from dash import ALL, ClientsideFunction, Dash, Input, Output, State, ctx, html, no_update, set_props

from dashboard.app import config, timeline
from dashboard.app.config import window_choices
from dashboard.app.flight import InFlight
from dashboard.app.refresh import (
    SPARKLINE_MINUTES,
    longest_refresh,
    poll_wait,
    routing_config,
    slow_text,
)
from dashboard.app.runtime import Runtime, current
from dashboard.app.timeline import Timeline
from dashboard.app.view_cache import aligned
from dashboard.app.views import (
    drawn_moment,
    graph_view,
    history_view,
    live_moment,
    releases_view,
)
from dashboard.mesh.build import missing_clusters, missing_namespaces
from dashboard.mesh.find import apply as find_and_hide
from dashboard.mesh.graph import NAMESPACE_KIND
from dashboard.mesh.graph_types import VERSIONED, Overview
from dashboard.mesh.history import selection_of
from dashboard.mesh.snapshot import snapshot_document
from layouts.canary import service_summary
from layouts.links import page_href
from layouts.text import visible
from layouts.topology import graph as view
from layouts.topology import page as topology_page
from layouts.topology.panel import edge_details, gone, node_details
from layouts.topology.patch import graph_patch
from layouts.topology.sparklines import sparklines
from queries.duration import Duration
from queries.errors import ConfigError, SourceError

# The tag Istio's proxies put each span's workload version in.
VERSION_TAG = "istio.canonical_revision"


def _listed(value: Any) -> list[str]:
    """A query parameter given once, several times, or not at all."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _last(value: Any) -> str | None:
    values = _listed(value)
    return values[-1] if values else None


def _refresh_seconds(value: str | None, default: float) -> tuple[float, str | None]:
    """`?refresh=10` (0 pauses); a bad one keeps the configured interval, and says why."""
    if value is None:
        return default, None
    if value.strip() in ("0", "0.0"):
        return 0.0, None
    try:
        return config.positive_number(config.REFRESH_SECONDS)(value), None
    except ConfigError as error:
        return default, f"refresh: {error}; refreshing every {default:g} s"


def _flag(value: Any) -> bool:
    return _last(value) in ("1", "true", "yes", "on")


def _rotation_seconds(value: str | None) -> float:
    """`?rotate=30s`: how long each namespace stays on a wall; 0 when absent or bad."""
    if not value:
        return 0.0
    try:
        return max(5.0, config.window(value).seconds)
    except ConfigError:
        return 0.0


def layout(
    namespace: Any = None,
    window: Any = None,
    trace: Any = None,
    refresh: Any = None,
    idle: Any = None,
    kiosk: Any = None,
    rotate: Any = None,
    at: Any = None,
    graph: Any = None,
    boxes: Any = None,
    find: Any = None,
    hide: Any = None,
    cluster: Any = None,
    **_: Any,
) -> html.Div:
    """The page as the address asks for it. A bad namespace, window or graph
    type is drawn as given: the first refresh refuses it in the banner, saying
    why (a bad find or hide expression, beside its box).
    `?rotate=30s&namespace=a&namespace=b` shows a, then b, each for 30 s."""
    runtime = current()
    settings = runtime.settings
    asked = address_view(settings, namespace, window, rotate)
    refresh_s, refresh_problem = _refresh_seconds(_last(refresh), settings.refresh)
    if not _last(at):
        # Reached without a page load too: a link from another page.
        begin_first_graph_of(runtime, asked, _last(graph), _listed(cluster))
    return topology_page.page(
        sorted(asked.namespaces),
        asked.shown,
        window_choices(asked.window),
        asked.window,
        refresh_s,
        settings.health,
        _last(trace),
        show_idle=_flag(idle),
        kiosk=_flag(kiosk),
        rotate=asked.rotation,
        rotate_s=asked.rotate_s,
        timeline=_address_timeline(_last(at)),
        graph_type=_last(graph) or VERSIONED,
        boxed=_last(boxes) not in ("0", "false", "no", "off"),
        find=_last(find) or "",
        hide=_last(hide) or "",
        clusters=_listed(cluster) or list(settings.cluster),
        address_problems=[visible(refresh_problem)] if refresh_problem else [],
        view_id=uuid.uuid4().hex,  # this page load's drawing (dashboard.app.drawn)
    )


@dataclass(frozen=True)
class AddressView:
    """The namespaces and window the address asks for (else the configured
    ones), the namespaces shown first, and a rotating wall's namespaces and
    seconds each (none: no rotation)."""

    namespaces: list[str]
    shown: list[str]
    window: str
    rotation: list[str]
    rotate_s: float


def address_view(settings: config.Settings, namespace: Any, window: Any, rotate: Any) -> AddressView:
    namespaces = _listed(namespace) or list(settings.namespace)
    rotate_s = _rotation_seconds(_last(rotate))
    rotation = namespaces if rotate_s and len(namespaces) > 1 else []
    return AddressView(
        namespaces, rotation[:1] or namespaces, _last(window) or str(settings.window), rotation, rotate_s
    )


# Page loads whose first graph is being begun at once; past this many, the
# page's first poll begins it (a burst of loads still costs one refresh).
FIRST_GRAPHS_AT_ONCE = 4
_first_graphs = threading.BoundedSemaphore(FIRST_GRAPHS_AT_ONCE)


def begin_first_graph_of(
    runtime: Runtime, asked: AddressView, graph_type: str | None, clusters: list[str]
) -> None:
    """Begin, in the background, the live graph the page's first poll asks
    for (asked_graph, as that poll will read the address), so that the poll
    joins it: the page's scripts take a second or more before they ask.
    A bad address and failures are the poll's to say."""
    if not _first_graphs.acquire(blocking=False):
        return
    shape = GraphShape(graph_type or VERSIONED, clusters=tuple(clusters or runtime.settings.cluster))

    def draw() -> None:
        try:
            asked_graph(
                runtime,
                asked.shown,
                asked.window,
                None,
                shape,
                None,
                reshaped=False,
                first=True,
                lacking=False,
                counted=False,
            )
        except (SourceError, ConfigError):
            pass
        finally:
            _first_graphs.release()

    threading.Thread(target=draw, name="meshwatch-first-graph", daemon=True).start()


def _address_timeline(text: str | None) -> dict:
    """`?at=` as the page's timeline; a bad time waits for the first refresh to say why."""
    if not text:
        return Timeline().stored()
    try:
        return timeline.fixed(config.instant(text)).stored()
    except ConfigError:
        return {"mode": timeline.FIXED, "at": None, "bad": text}


def trace_overlay(runtime: Runtime, trace_id: str | None) -> tuple[list[list[Any]], str]:
    """The service hops of a trace to overlay, and a line saying what is shown."""
    if not trace_id:
        return [], ""
    if runtime.services.traces is None:
        return [], visible(
            f"Cannot show trace {trace_id}: no Jaeger or Tempo configured (--jaeger URL, --tempo URL)"
        )
    from dashboard.traces.hops import trace_hops

    try:
        hops = trace_hops(runtime.traces.load(trace_id))
    except SourceError as error:
        return [], visible(f"Cannot show trace {trace_id}: {error}")
    failed = [hop for hop in hops if hop.error]
    note = f"Showing the path of trace {trace_id} ({len(hops)} hops) in blue"
    if failed:
        note += "; failed: " + ", ".join(f"{hop.caller} → {hop.callee}" for hop in failed) + " (red)"
    hops_drawn = [[hop.caller, hop.caller_version, hop.callee, hop.callee_version, hop.error] for hop in hops]
    return hops_drawn, visible(note)


@dataclass(frozen=True)
class GraphShape:
    """What graph the page draws: its type, find and hide expressions (as
    typed), whether nodes sit in namespace boxes, and the clusters it keeps
    (as the address gives them; none: all)."""

    graph_type: str = VERSIONED
    find: str = ""
    hide: str = ""
    boxed: bool = True
    # The namespaces opened in a big mesh's overview.
    expanded: tuple[str, ...] = ()
    clusters: tuple[str, ...] = ()


@dataclass
class TopologyView:
    """What one refresh puts on screen; `elements` None keeps the drawn graph
    (and `details` None the side panel)."""

    elements: list[dict] | None
    banner: str | None
    banner_kind: str
    status: str
    positions: dict[str, Any]
    circuits: dict[str, float]
    last_good: float | None
    namespaces: list[str] = field(default_factory=list)
    details: list | None = None
    # The wall screen's line: what is shown, as of when.
    clock: str = ""
    # Not live: what the "as of" banner says; the moment shown, now, and
    # since when there is data (the slider's range).
    asof: str | None = None
    at: float | None = None
    now: float | None = None
    since: float | None = None
    # Why the find or hide box's expression cannot be read ("" when it can).
    find_error: str = ""
    hide_error: str = ""
    # A namespace overview is drawn, or namespaces of one are open.
    overview: bool = False
    # What the graph drawn lacks (MeshTelemetry.pending): asked for again soon.
    pending: list[str] = field(default_factory=list)


def selection_details(elements: list[dict], selected: Mapping[str, Any] | None, now: float) -> list | None:
    """The side panel for the selection, from the elements just built: the
    same figures the graph shows, or a note that it has gone."""
    if not selected:
        return None
    data = next((e["data"] for e in elements if e["data"].get("id") == selected.get("id")), None)
    if data is None:
        return gone(selected.get("title") or selected.get("id", ""))
    if selected.get("group") == "edge":
        return edge_details(data, now, traces_link(data))
    return node_details(data, traces_link(data))


def overview_of(settings: config.Settings, expanded: Sequence[str]) -> Overview | None:
    """The namespace overview a graph folds into, the `expanded` namespaces
    open (none when --overview-nodes is 0)."""
    return Overview(settings.overview_nodes, frozenset(expanded)) if settings.overview_nodes else None


@dataclass(frozen=True)
class AskedGraph:
    """The graph a poll asks for (or how long its refresh has been out), and
    what it was asked of: the moment, the clock's now, the namespaces and
    clusters (checked) and the rate window."""

    graph: nx.DiGraph | InFlight
    at: float
    now: float
    namespaces: list[str]
    clusters: list[str]
    rate_window: Duration


def asked_graph(
    runtime: Runtime,
    namespaces: list[str],
    window: str,
    moment: Mapping[str, Any] | None,
    shape: GraphShape,
    wait: float | None,
    reshaped: bool,
    first: bool,
    lacking: bool,
    counted: bool = True,
) -> AskedGraph:
    """The graph of the shape asked for at the moment the timeline shows
    (a poll's, `counted` among the viewers' polls): `reshaped`, a click
    that reshapes the live graph shown, drawn from its queries until the
    present's are in (views.drawn_moment); `first`, nothing drawn yet;
    `lacking`, the graph drawn lacks its latency (early_report_wait).
    SourceError or ConfigError say why there is none."""
    settings = runtime.settings
    shown_at = timeline.from_store(moment)
    if isinstance(moment, Mapping) and moment.get("bad"):
        config.instant(str(moment["bad"]))  # says why the address's time is no time
    namespaces = [config.namespace(ns) for ns in namespaces]
    clusters = [config.cluster_name(cluster) for cluster in shape.clusters]
    rate_window = settings.rate_window(window)
    graph_type = config.graph_type(shape.graph_type)
    overview = overview_of(settings, shape.expanded)
    now = runtime.services.clock()
    if not shown_at.live:
        at = shown_at.moment(now, time.time())
    else:
        at = live_moment(runtime) if counted else aligned(now, settings.refresh)
        if reshaped:
            at = drawn_moment(runtime, at, rate_window, namespaces)
    wait = longest_refresh(settings) if wait is None else wait
    graph = graph_view(
        runtime,
        at,
        rate_window,
        namespaces,
        graph_type,
        wait,
        shown_at.live,
        clusters,
        overview,
        part_wait=early_report_wait(first, lacking, reshaped, wait),
    )
    return AskedGraph(graph, at, now, namespaces, clusters, rate_window)


def refresh_topology(
    runtime: Runtime,
    namespaces: list[str],
    window: str,
    show_idle: bool,
    positions: dict,
    circuits: dict,
    last_good: float | None,
    known_namespaces: list[str],
    hops: list[list[str]] = (),
    selected: Mapping[str, Any] | None = None,
    moment: Mapping[str, Any] | None = None,
    shape: GraphShape = GraphShape(),
    wait: float | None = None,
    reshaped: bool = False,
    pending: Sequence[str] = (),
) -> TopologyView:
    """One poll: query, build the graph of the shape asked for at the moment
    the timeline shows, find and hide in it, and lay it out where it was
    before. The refresh is the view's one in flight; after `wait` seconds
    (default: the whole refresh) the poll leaves the graph as drawn and says
    so. `reshaped`: the poll is a click that reshapes the live graph shown
    (a namespace opened or folded), drawn from its queries until the
    present's are in (views.drawn_moment). `pending`: what the graph drawn
    lacks. A first paint, and a click on a graph that lacks something, are
    drawn of the refresh's early report (rates, errors, health, circuits)
    as soon as it is in; a poll of a graph that lacks something takes that
    report after its wait, and the whole graph once it is in."""
    services = runtime.services
    stale = TopologyView(None, None, "stale", "", positions, circuits, last_good, known_namespaces)
    shown_at = timeline.from_store(moment)
    find, find_error = _expression("find", shape.find)
    hide, hide_error = _expression("hide", shape.hide)
    stale.find_error, stale.hide_error = find_error, hide_error
    try:
        asked = asked_graph(
            runtime, namespaces, window, moment, shape, wait, reshaped, last_good is None, bool(pending)
        )
    except (SourceError, ConfigError) as error:
        stale.banner = runtime.stale_text(last_good, error)
        return stale
    graph, at, now, rate_window = asked.graph, asked.at, asked.now, asked.rate_window
    namespaces, clusters = asked.namespaces, asked.clusters
    if isinstance(graph, InFlight):
        stale.banner = slow_text(services.telemetry.name, graph.elapsed)
        return stale
    since = data_since(runtime, now)
    whole = snapshot_document(graph)
    document = find_and_hide(whole, find, hide)
    placed = view.place(document["nodes"], document["edges"], positions)
    positions = {**positions, **{k: list(v) for k, v in placed.items()}}
    circuits = track_open_circuits(whole, circuits, at)
    seen = {node["namespace"] for node in whole["nodes"] if node["namespace"] != "unknown"}
    missing = missing_namespaces(graph, namespaces)
    notes = list(whole["warnings"])
    if missing:
        notes.append(
            "No Istio telemetry in the window for namespace " + ", ".join(repr(ns) for ns in missing)
        )
    silent = missing_clusters(graph, clusters)
    if silent:
        notes.append("No Istio telemetry in the window for cluster " + ", ".join(repr(c) for c in silent))
    notes += empty_view_notes(runtime, shown_at, at, now, rate_window, whole, document, bool(missing))
    banner = "; ".join(notes) or None
    elements = view.elements(document, positions, show_idle, circuits, hops, shape.boxed)
    opened = sum(1 for edge in whole["edges"] if edge["circuit"] == "open")
    clock = (
        f"{', '.join(namespaces) or 'all namespaces'}"
        + (f" in cluster {', '.join(clusters)}" if clusters else "")
        + f" · as of {runtime.clock_words(at)} "
        f"· window {rate_window}" + (f" · {opened} circuit{'s' if opened > 1 else ''} OPEN" if opened else "")
    )
    asof = as_of_words(runtime, shown_at, at, now)
    return TopologyView(
        clock=(f"AS OF {runtime.clock_words(at)} (not live) · " + clock) if asof else clock,
        asof=asof,
        at=at,
        now=now,
        since=since,
        elements=elements,
        banner=banner,
        banner_kind="info",
        status=status_line(runtime, at, rate_window, whole, document, show_idle, graph.graph["pending"]),
        positions=positions,
        circuits=circuits,
        last_good=at,
        namespaces=sorted(seen | set(known_namespaces) | set(namespaces)),
        details=selection_details(elements, selected, at),
        find_error=find_error,
        hide_error=hide_error,
        overview=bool(shape.expanded) or any(node["kind"] == NAMESPACE_KIND for node in whole["nodes"]),
        pending=list(graph.graph["pending"]),
    )


def early_report_wait(first: bool, lacking: bool, reshaped: bool, wait: float) -> float | None:
    """How long a poll waits for the whole refresh before it draws the early
    report (graph_view's part_wait): not at all for a first paint or a click
    on a graph that lacks its latency, its whole wait for another poll of
    such a graph; a graph drawn whole is never drawn again without (None)."""
    if first or (lacking and reshaped):
        return 0.0
    return wait if lacking else None


def status_line(
    runtime: Runtime,
    at: float,
    rate_window: Any,
    whole: Mapping[str, Any],
    shown: Mapping[str, Any],
    show_idle: bool,
    pending: Sequence[str] = (),
) -> str:
    """What the graph holds: its size, what is hidden and found, what is
    still loading, and its cost."""
    edges = [e for e in shown["edges"] if show_idle or e["health"] != "idle"]
    hidden = len(whole["nodes"]) - len(shown["nodes"]) + len(whole["edges"]) - len(shown["edges"])
    found = shown.get("found")
    folded = sum(1 for node in shown["nodes"] if node["kind"] == NAMESPACE_KIND)
    return (
        f"updated {runtime.clock_words(at)} · {len(shown['nodes'])} nodes · {len(edges)} edges"
        f" ({len(shown['edges']) - len(edges)} idle hidden) · window {rate_window}"
        + (f" · {hidden} hidden by the hide expression" if hidden else "")
        + (f" · {len(found)} found" if found is not None else "")
        + (f" · {folded} namespaces folded: click one to open it" if folded else "")
        + (f" · {' and '.join(pending)} loading" if pending else "")
        + f" · {runtime.services.telemetry.queries_per_refresh or 'simulated, no'} PromQL queries"
    )


def _expression(kind: str, text: str) -> tuple[Any, str]:
    """A find or hide box's expression, or why it cannot be read (shown beside the box)."""
    try:
        return config.expression(text or ""), ""
    except ConfigError as error:
        return None, f"{kind}: {error}"


def empty_view_notes(
    runtime: Runtime,
    shown: Timeline,
    at: float,
    now: float,
    rate_window: Any,
    whole: Mapping[str, Any],
    drawn: Mapping[str, Any],
    missing: bool,
) -> list[str]:
    """Why the view shows less than asked: a time after now (shown as now),
    no telemetry at all in the window, or a hide expression hiding it all."""
    notes = []
    if shown.mode == timeline.FIXED and shown.at is not None and shown.at > now + 1:
        notes.append(f"{runtime.clock_words(shown.at, dated=True)} is in the future: showing now instead")
    if not whole["nodes"] and not missing:
        notes.append(
            f"No Istio telemetry in the {rate_window} window ending "
            f"{runtime.clock_words(at, dated=True)}: nothing to draw at that time"
        )
    elif whole["nodes"] and not drawn["nodes"]:
        notes.append("The hide expression hides every node: clear it to see the mesh")
    return notes


def as_of_words(runtime: Runtime, shown: Timeline, at: float, now: float) -> str | None:
    """The banner over a view that is not live; none once it shows the
    present (a replay that has caught up is live)."""
    if shown.live or at >= now:
        return None
    how = f"replay at {shown.speed:g}×" if shown.mode == timeline.REPLAY else "a fixed time"
    return runtime.as_of_text(at, now, f"{how} · not live: press Live for now")


def data_since(runtime: Runtime, now: float) -> float:
    """How far back the time slider reaches: the earliest traffic in the
    baseline lookback (its coarse steps), at most that lookback."""
    start = now - runtime.lookback.seconds
    try:
        traffic = runtime.lookback.traffic(now)
    except SourceError:
        return start
    busy = traffic[traffic["rps"] > 0] if not traffic.empty else traffic
    return max(start, float(busy["time"].min())) if not busy.empty else start


SLIDER_MARK_STEPS = (300, 900, 1800, 3600, 7200, 10800, 21600, 43200)
SLIDER_MARKS = 6


@dataclass(frozen=True)
class SliderRange:
    start: float
    end: float
    at: float
    marks: dict


def slider_range(runtime: Runtime, view: TopologyView) -> SliderRange:
    """The time slider: from the first data to now, at the moment shown,
    marked on round clock times, at most a handful of them so they stay readable."""
    start, end = view.since or view.now, view.now
    every = next((s for s in SLIDER_MARK_STEPS if (end - start) / s <= SLIDER_MARKS), SLIDER_MARK_STEPS[-1])
    first = (int(start // every) + 1) * every
    marks = {t: {"label": runtime.clock_words(t).split(" ")[0][:5]} for t in range(first, int(end), every)}
    return SliderRange(start, end, view.at, marks)


def travelled(
    runtime: Runtime,
    trigger: Any,
    shown: Timeline,
    window: str | None,
    slider: float | None,
    slider_shown: float | None,
) -> dict:
    """The timeline after one of the time bar's controls; `slider_shown` is
    where the last refresh put the slider (not a move of the operator's)."""
    now = runtime.services.clock()
    at = shown.moment(now, time.time())
    try:
        step = config.window(window or str(runtime.settings.window)).seconds
    except ConfigError:
        step = runtime.settings.window.seconds
    if trigger == "topology-live":
        return Timeline().stored()
    if trigger in ("topology-step-back", "topology-step-forward"):
        moved = at + (step if trigger == "topology-step-forward" else -step)
        # Within half a window of now is now: stepping forward ends live.
        return Timeline().stored() if moved >= now - step / 2 else timeline.fixed(moved).stored()
    if trigger == "topology-slider" and slider is not None:
        if slider_shown is not None and abs(slider - slider_shown) < 1:
            return no_update
        return timeline.fixed(float(slider)).stored()
    if isinstance(trigger, Mapping) and trigger.get("type") == "topology-replay":
        start = at if not shown.live else max(data_since(runtime, now), now - 1800)
        return timeline.replay(start, time.time(), float(trigger["speed"])).stored()
    return no_update


def track_open_circuits(
    document: Mapping[str, Any], since: Mapping[str, float], now: float
) -> dict[str, float]:
    """When each currently open circuit was first seen open (closed ones drop out)."""
    return {edge["id"]: since.get(edge["id"], now) for edge in document["edges"] if edge["circuit"] == "open"}


def traces_link(data: Mapping[str, Any]) -> str | None:
    """The traces page, searching the Jaeger service whose spans show this
    node or edge, and that version's spans when it has one; for an edge with
    errors, its failed requests first."""
    if data.get("kind") in ("unknown", NAMESPACE_KIND):
        return None
    tags = []
    if data.get("traces_version") and data["traces_version"] != "latest":
        tags.append(f"{VERSION_TAG}={data['traces_version']}")
    if data.get("error_ratio") and "source" in data:
        tags.append("error=true")
    return page_href("/traces", {"service": data["traces_service"], "tags": " ".join(tags) or None})


def register(app: Dash, runtime: Runtime) -> None:
    dash.register_page(__name__, path="/", title="meshwatch · topology", layout=layout)
    dash.register_page(f"{__name__}.alias", path="/topology", title="meshwatch · topology", layout=layout)
    services, settings = runtime.services, runtime.settings
    prefix = settings.base_path.rstrip("/")
    addresses = {prefix + "/", prefix + "/topology"}

    @app.server.before_request
    def begin_at_load() -> None:
        """The page's address asked for (after access control): its first
        graph is begun before the page's scripts load and ask for it."""
        request = flask.request
        if request.method == "GET" and request.path in addresses and not request.args.get("at"):
            args = request.args
            asked = address_view(
                settings, args.getlist("namespace"), args.getlist("window"), args.getlist("rotate")
            )
            begin_first_graph_of(runtime, asked, _last(args.getlist("graph")), args.getlist("cluster"))

    @app.callback(
        Output("topology-patch", "data"),
        Output("topology-banner", "children"),
        Output("topology-banner", "hidden"),
        Output("topology-banner", "className"),
        Output("topology-body", "className"),
        Output("topology-status", "children"),
        Output("topology-positions", "data"),
        Output("topology-circuits", "data"),
        Output("topology-last-good", "data"),
        Output("topology-namespaces", "options"),
        Output("topology-details", "children"),
        Output("topology-clock", "children"),
        Output("topology-asof", "children"),
        Output("topology-asof", "hidden"),
        Output("topology-slider", "min"),
        Output("topology-slider", "max"),
        Output("topology-slider", "value"),
        Output("topology-slider", "marks"),
        Output("topology-slider-shown", "data"),
        Output("topology-find-error", "children"),
        Output("topology-hide-error", "children"),
        Output("topology-fold", "hidden"),
        Output("topology-pending", "data"),
        Output("topology-follow-up", "max_intervals"),
        Input("topology-tick", "n_intervals"),
        Input("topology-follow-up", "n_intervals"),
        Input("topology-namespaces", "value"),
        Input("topology-window", "value"),
        Input("topology-show-idle", "value"),
        Input("topology-trace-hops", "data"),
        Input("topology-time", "data"),
        Input("topology-graph-type", "value"),
        Input("topology-find", "value"),
        Input("topology-hide", "value"),
        Input("topology-boxes", "value"),
        Input("topology-relayout", "n_clicks"),
        Input("topology-expanded", "data"),
        State("topology-positions", "data"),
        State("topology-circuits", "data"),
        State("topology-last-good", "data"),
        State("topology-namespaces", "options"),
        State("topology-selected", "data"),
        State("topology-tick", "interval"),
        State("topology-tick", "disabled"),
        State("topology-clusters", "data"),
        State("topology-address-problems", "data"),
        State("topology-view", "data"),
        State("topology-drawn", "children"),
        State("topology-pending", "data"),
    )
    def refresh(
        _tick,
        follow_ups,
        namespaces,
        window,
        show_idle,
        hops,
        moment,
        graph_type,
        find,
        hide,
        boxes,
        _relayout,
        expanded,
        positions,
        circuits,
        last_good,
        options,
        selected,
        interval,
        paused,
        clusters,
        address_problems,
        view_id,
        applied,
        pending,
    ):
        # A new graph type or a re-layout asked for lays the graph out afresh.
        afresh = ctx.triggered_id in ("topology-graph-type", "topology-relayout")
        shape = GraphShape(
            graph_type or VERSIONED,
            find or "",
            hide or "",
            "boxes" in (boxes or []),
            tuple(expanded or ()),
            tuple(clusters or ()),
        )
        result = refresh_topology(
            runtime,
            namespaces or [],
            window or str(settings.window),
            "idle" in (show_idle or []),
            {} if afresh else positions or {},
            circuits or {},
            last_good,
            [o if isinstance(o, str) else o["value"] for o in options or []],
            hops or [],
            selected,
            moment,
            shape,
            poll_wait(settings, interval, not paused),
            reshaped=ctx.triggered_id == "topology-expanded",
            pending=pending or [],
        )
        drawn = result.elements is not None
        slider = slider_range(runtime, result) if drawn else None
        banner = "; ".join([*(address_problems or []), *([result.banner] if result.banner else [])])
        # Fitted on the first graph, when laid out afresh, when boxes come or
        # go, and when the namespaces shown change (a rotating wall).
        refit = (
            last_good is None
            or afresh
            or ctx.triggered_id in ("topology-namespaces", "topology-boxes", "topology-expanded")
        )
        return (
            patch_for(view_id, applied, result.elements, refit, last_good is None or afresh)
            if drawn
            else no_update,
            banner,
            not banner,
            f"mw-banner mw-banner-{result.banner_kind}",
            "mw-topology-body"
            + (" mw-graph-stale" if result.banner_kind == "stale" and result.banner else ""),
            result.status if drawn else no_update,
            # Sent down only when a node was placed or moved: the browser has the rest.
            result.positions if result.positions != positions else no_update,
            result.circuits,
            result.last_good,
            [{"label": visible(ns), "value": ns} for ns in result.namespaces],
            result.details if result.details is not None else no_update,
            result.clock if drawn else no_update,
            result.asof or "",
            not result.asof,
            *((slider.start, slider.end, slider.at, slider.marks, slider.at) if slider else (no_update,) * 5),
            visible(result.find_error),
            visible(result.hide_error),
            not result.overview,
            result.pending if drawn else no_update,
            # One more poll soon, for what the graph drawn lacks.
            (follow_ups or 0) + 1 if drawn and result.pending else no_update,
        )

    def patch_for(view_id: str | None, applied: Any, elements: list[dict], refit: bool, afresh: bool) -> dict:
        """What the browser needs to draw `elements`: all of them when it is
        laid out afresh or its drawing is unknown, else what changed (also
        when it is then fitted: a namespace opened at 5,000 workloads keeps
        the overview's few hundred other elements, and the browser styles
        only what is new)."""
        drawing = None if afresh else runtime.drawn.get(view_id, applied)
        patch, drawn = graph_patch(drawing.elements if drawing else None, elements)
        patch["sequence"] = runtime.drawn.put(view_id, drawn)
        patch["fit"] = refit
        return patch

    # The moment is set, not an output: the refresh moves the slider, and an
    # output here would close a loop (slider -> moment -> refresh -> slider)
    # that Dash refuses, and with one more callback on the page stalls on.
    @app.callback(
        Input("topology-step-back", "n_clicks"),
        Input("topology-step-forward", "n_clicks"),
        Input("topology-slider", "value"),
        Input({"type": "topology-replay", "speed": ALL}, "n_clicks"),
        Input("topology-live", "n_clicks"),
        State("topology-time", "data"),
        State("topology-window", "value"),
        State("topology-slider-shown", "data"),
        prevent_initial_call=True,
    )
    def travel(_back, _forward, slider, _replays, _live, moment, window, slider_shown):
        """Move the moment shown: a window back or forward, to where the
        slider was dropped, a replay from the moment shown, or back to live."""
        shown = timeline.from_store(moment)
        moved = travelled(runtime, ctx.triggered_id, shown, window, slider, slider_shown)
        if moved is not no_update:
            set_props("topology-time", {"data": moved})

    @app.callback(
        Output("topology-namespaces", "value"),
        Input("topology-rotate", "n_intervals"),
        State("topology-rotation", "data"),
        prevent_initial_call=True,
    )
    def rotate(turns, rotation):
        """The next namespace of a rotating wall."""
        return [rotation[(turns or 0) % len(rotation)]] if rotation else no_update

    @app.callback(
        Output("topology-trace-hops", "data"),
        Output("topology-trace-note", "children"),
        Input("topology-trace", "data"),
    )
    def overlay_trace(trace_id):
        return trace_overlay(runtime, trace_id)

    @app.callback(
        Output("topology-tick", "interval"),
        Output("topology-tick", "disabled"),
        Output("topology-paused", "children"),
        Input("topology-refresh", "value"),
    )
    def set_refresh(seconds):
        seconds = float(seconds or 0)
        return int(seconds * 1000) or 5000, seconds <= 0, "⏸ paused: not refreshing" if seconds <= 0 else ""

    @app.callback(
        Output("topology-warmed", "children"),
        Input("topology-hovered", "data"),
        State("topology-namespaces", "value"),
        State("topology-window", "value"),
        State("topology-time", "data"),
        State("topology-graph-type", "value"),
        State("topology-clusters", "data"),
        State("topology-pending", "data"),
        State("topology-tick", "interval"),
        State("topology-tick", "disabled"),
        prevent_initial_call=True,
    )
    def warm(expanded, namespaces, window, moment, graph_type, clusters, pending, interval, paused):
        """A pointer resting on a folded namespace: the graph a click there
        draws is built meanwhile, into the view cache, where the click's
        refresh finds it (or joins its build). Failures are the click's to say."""
        shape = GraphShape(
            graph_type or VERSIONED, expanded=tuple(expanded or ()), clusters=tuple(clusters or ())
        )
        try:
            asked_graph(
                runtime,
                namespaces or [],
                window or str(settings.window),
                moment,
                shape,
                poll_wait(settings, interval, not paused),
                reshaped=True,
                first=False,
                lacking=bool(pending),
                counted=False,
            )
        except (SourceError, ConfigError):
            pass
        return no_update

    # A tap selects the node, in the page; a folded namespace's opens it instead
    # (openNamespaces), and asks the server nothing the click's refresh must wait for.
    app.clientside_callback(
        "function (node) { return window.dash_clientside.meshwatch.tappedNode("
        f"node, {json.dumps(NAMESPACE_KIND)}); }}",
        Output("topology-tapped", "data"),
        Input("topology-graph", "tapNodeData"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output("topology-selected", "data"),
        Output("topology-details", "children", allow_duplicate=True),
        Output("topology-release", "children"),
        Input("topology-tapped", "data"),
        Input("topology-graph", "tapEdgeData"),
        State("topology-window", "value"),
        prevent_initial_call=True,
    )
    def select(node, edge, window):
        """A tap selects a node or an edge: its facts now (the refresh keeps
        them current), and beside a versioned service its release state."""
        tapped_edge = bool(ctx.triggered and ctx.triggered[0]["prop_id"].endswith("tapEdgeData"))
        if tapped_edge and edge:
            title = f"{edge.get('source_label', edge['source'])} → {edge.get('target_label', edge['target'])}"
            return (
                {
                    "group": "edge",
                    "id": edge["id"],
                    "title": title,
                    "source": edge["source"],
                    "target": edge["target"],
                },
                edge_details(edge, services.clock(), traces_link(edge)),
                [],
            )
        if node:
            return (
                {"group": "node", "id": node["id"], "title": node["name"]},
                node_details(node, traces_link(node)),
                release_beside(node, window or str(settings.window)),
            )
        return no_update, no_update, no_update

    @app.callback(
        Output("topology-sparklines", "children"),
        Input("topology-selected", "data"),
        Input("topology-slider-shown", "data"),
        State("topology-window", "value"),
    )
    def draw_sparklines(selected, shown_at, window):
        """The selection's last half hour up to the moment shown, a step of
        the series at a time (so every viewer of one moment asks one query)."""
        selection = selection_of(selected) if selected else None
        if selection is None:
            return []
        end = float(shown_at or services.clock())
        try:
            rate_window = settings.rate_window(window or str(settings.window))
            history = history_view(runtime, selection, end, rate_window, longest_refresh(settings))
        except SourceError as error:
            return [html.P(f"History unavailable: {error}", className="mw-hint")]
        if isinstance(history, InFlight):
            return [html.P(slow_text(services.telemetry.name, history.elapsed), className="mw-hint")]
        return sparklines(history, SPARKLINE_MINUTES, selected.get("group") == "edge")

    # In the page, not on the server: a click on a folded namespace asks for its
    # graph from Cytoscape's tap itself (through the server, then through Dash's
    # tapNodeData, it took two tenths of the half second it has).
    app.clientside_callback(
        "function (graph, fold) { return window.dash_clientside.meshwatch.openNamespaces("
        f"graph, fold, {json.dumps(NAMESPACE_KIND)}); }}",
        Output("topology-expanded", "data"),
        Input("topology-graph", "id"),
        Input("topology-fold", "n_clicks"),
    )

    def release_beside(node: dict, window: str) -> list:
        """The canary state of a versioned service, beside its node."""
        if node["kind"] != "service":
            return []
        service = f"{node['name']}.{node['namespace']}"
        try:
            rate_window = settings.rate_window(window)
            routing = routing_config(settings, services)
            releases = releases_view(
                runtime,
                live_moment(runtime),
                rate_window,
                (),
                service,
                routing,
                longest_refresh(settings),
                True,
            )
        except (SourceError, ConfigError) as error:
            return [html.P(f"Release state unavailable: {error}", className="mw-hint")]
        if isinstance(releases, InFlight):
            return [html.P(slow_text(services.telemetry.name, releases.elapsed), className="mw-hint")]
        return [service_summary(release) for release in releases if len(release.versions) > 1]

    app.clientside_callback(
        ClientsideFunction("meshwatch", "openLegend"),
        Output("topology-legend", "open"),
        Input("topology-legend", "id"),
    )
    app.clientside_callback(
        ClientsideFunction("meshwatch", "showTimeBar"),
        Output("topology-timebar", "hidden"),
        Input("topology-time-open", "n_clicks"),
        Input("topology-time", "data"),
        State("topology-timebar", "hidden"),
    )
    app.clientside_callback(
        ClientsideFunction("meshwatch", "declutterGraph"),
        Output("topology-decluttered", "children"),
        Input("topology-drawn", "children"),
    )
    app.clientside_callback(
        ClientsideFunction("meshwatch", "drawPatch"),
        Output("topology-drawn", "children"),
        Input("topology-patch", "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction("meshwatch", "fitGraph"),
        Output("topology-fitted", "children"),
        Input("topology-fit", "n_clicks"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction("meshwatch", "topologyAddress"),
        Output("topology-url-sync", "children"),
        Input("topology-namespaces", "value"),
        Input("topology-window", "value"),
        Input("topology-refresh", "value"),
        Input("topology-show-idle", "value"),
        Input("topology-time", "data"),
        Input("topology-graph-type", "value"),
        Input("topology-boxes", "value"),
        Input("topology-find", "value"),
        Input("topology-hide", "value"),
        State("topology-trace", "data"),
        State("topology-clusters", "data"),
    )
    app.clientside_callback(
        ClientsideFunction("meshwatch", "exportGraph"),
        Output("topology-graph", "generateImage"),
        Input("topology-export-png", "n_clicks"),
        Input("topology-export-svg", "n_clicks"),
        prevent_initial_call=True,
    )
