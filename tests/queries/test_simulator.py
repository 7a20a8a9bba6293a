"""The simulated Bookinfo mesh: Istio's semantics modelled, the story they
produce, and telemetry shaped exactly like Prometheus' answers."""

from __future__ import annotations

import random
import statistics

import pytest

from dashboard.app.config import resolve
from dashboard.mesh.build import build_graph
from dashboard.mesh.history import selection_history, selection_of
from dashboard.mesh.snapshot import snapshot_document
from queries.duration import Duration
from queries.duration import prometheus_duration as duration
from queries.envoy import NO_HEALTHY_UPSTREAM
from queries.errors import ConfigError, SourceError
from queries.simulator import PHASE_NAMES, Simulation
from queries.simulator.bookinfo import WORKLOADS
from queries.simulator.envoy import UpstreamCluster
from queries.simulator.fortio import LoadRun
from queries.simulator.istio import ConnectionPool, OutlierDetection
from queries.simulator.kernel import Kernel
from queries.simulator.mesh import Mesh
from queries.simulator.metrics import Registry
from queries.simulator.story import PHASES, phase_named, phase_start
from queries.simulator.traces import TraceStore
from queries.telemetry import VERSION_TRAFFIC_COLUMNS, MeshTelemetry

SETTINGS = resolve({}, environ={})
START = 1_800_000_000.0
REVIEWS_V2 = "workload:bookinfo:reviews-v2"
RATINGS = "service:bookinfo:ratings"


def story(phase: str | None = None, **options) -> Simulation:
    return Simulation(seed=1, start=START, wall_clock=lambda: 0.0, phase=phase, **options)


def at_story(simulation: Simulation, phase: str, into: float) -> float:
    return simulation.origin + phase_start(phase_named(phase)) + into


def edge(simulation: Simulation, at: float, source: str, target: str, window: Duration = duration("1m")):
    graph = build_graph(simulation.telemetry.mesh(at, window), SETTINGS)
    return graph.edges[source, target]["edge"]


def breaker_mesh(seed: int) -> tuple[Kernel, Mesh]:
    """The load-test phase's config (the story's DestinationRule on ratings), no user traffic."""
    kernel = Kernel(0.0)
    mesh = Mesh(kernel, random.Random(seed), Registry(), TraceStore(10), overflow_ejects=True)
    mesh.apply(phase_named("load-test").config)
    return kernel, mesh


def run_load(kernel: Kernel, mesh: Mesh, run: LoadRun):
    done = kernel.spawn(mesh.load_test(WORKLOADS["reviews-v2"], run))
    kernel.run_until(kernel.now + 10)
    return done.value


def ratings_cluster(mesh: Mesh) -> UpstreamCluster:
    return mesh.cluster(WORKLOADS["reviews-v2"], "ratings", "v1")


# -- phases ---------------------------------------------------------------------


def test_phases_are_the_documented_story_and_unknown_names_are_refused() -> None:
    assert PHASE_NAMES == ("baseline", "canary", "load-test", "ejection", "recovery", "takeover", "retired")
    with pytest.raises(
        ConfigError, match="unknown phase 'rollback': choose one of baseline, canary, load-test"
    ):
        Simulation(phase="rollback")


def test_a_held_phase_stays_and_the_replayed_story_moves_on() -> None:
    held = story("canary")
    held.advance(held.now + 2000)
    assert held.phase_info().name == "canary" and held.phase_info().held
    replay = story()
    assert replay.phase_name() == "baseline"
    replay.advance(at_story(replay, "load-test", 1))
    info = replay.phase_info()
    assert info.name == "load-test" and info.ends_at - info.started_at == 60.0


# -- the connection pool and outlier detection -----------------------------------


def test_load_tests_shed_503_uo_in_the_storys_ranges() -> None:
    """Story: -c 2 -n 20 shed 10 %, -c 3 -n 30 shed 26.7 %, then ratings was ejected."""
    small, large, ejected_after = [], [], {2: 0, 3: 0}
    for seed in range(30):
        kernel, mesh = breaker_mesh(seed)
        for run, shares in ((LoadRun(2, 20), small), (LoadRun(3, 30), large)):
            result = run_load(kernel, mesh, run)
            assert result.calls == run.requests
            shares.append(result.share(flag="UO"))
            ejected_after[run.concurrency] += ratings_cluster(mesh).ejections_active
            kernel.run_until(kernel.now + 400)  # any ejection is over
    assert 0.04 <= statistics.mean(small) <= 0.20
    assert 0.18 <= statistics.mean(large) <= 0.40
    assert statistics.mean(small) < statistics.mean(large)
    assert ejected_after[2] == 0, "two clients never see five overflows in a row"
    assert ejected_after[3] >= 25, (
        "three clients against one connection and one pending slot trip the ejection"
    )


def test_every_rejection_is_the_callers_503_and_counted_by_envoy() -> None:
    kernel, mesh = breaker_mesh(3)
    result = run_load(kernel, mesh, LoadRun(3, 30))
    stats = ratings_cluster(mesh).stats
    assert result.codes[503] == result.flags["UO"] + result.flags["UH"]
    assert stats.upstream_rq_pending_overflow == result.flags["UO"]
    assert stats.outlier_detection_ejections_enforced_total == 1


def test_an_ejection_lasts_base_ejection_time_and_longer_when_repeated() -> None:
    kernel, mesh = breaker_mesh(1)
    cluster = ratings_cluster(mesh)
    [host] = cluster.hosts
    kernel.run_until(10.2)
    for _ in range(5):
        cluster.report(host, 503)
    ejected_at = kernel.now
    kernel.run_until(ejected_at + 179.0)
    assert host.ejected and cluster.membership_healthy == 0
    admission = kernel.spawn(cluster.admit())
    assert admission.value.flag == NO_HEALTHY_UPSTREAM
    kernel.run_until(ejected_at + 181.0)  # un-ejected at the first 1 s interval tick after 180 s
    assert not host.ejected
    for _ in range(5):  # failing again before a healthy interval has passed
        cluster.report(host, 503)
    again = kernel.now
    kernel.run_until(again + 299.0)
    assert host.ejected, "second ejection: 2 x 180 s, capped at Envoy's max_ejection_time 300 s"
    kernel.run_until(again + 301.0)
    assert not host.ejected
    kernel.run_until(again + 320.0)  # healthy intervals decay the multiplier
    for _ in range(5):
        cluster.report(host, 503)
    third = kernel.now
    kernel.run_until(third + 181.0)
    assert not host.ejected


def test_successes_reset_the_count_and_max_ejection_percent_keeps_hosts() -> None:
    kernel = Kernel(0.0)
    cluster = UpstreamCluster(
        "outbound|9080|v1|reviews.bookinfo.svc.cluster.local",
        kernel,
        random.Random(1),
        pool=ConnectionPool(),
        detection=OutlierDetection(max_ejection_percent=30),
    )
    cluster.set_members([WORKLOADS["reviews-v1"], WORKLOADS["reviews-v2"], WORKLOADS["reviews-v3"]])
    first, second, third = cluster.hosts
    for code in (503, 503, 503, 503, 200, 503):
        cluster.report(first, code)
    assert not first.ejected
    for host in (first, second):
        for _ in range(5):
            cluster.report(host, 503)
    assert first.ejected and not second.ejected, "with one of three ejected (33 %) the 30 % cap is reached"
    admission = kernel.spawn(cluster.admit())
    assert admission.value.host in (second, third)


def test_the_pool_lets_one_request_in_flight_and_one_wait() -> None:
    kernel = Kernel(0.0)
    cluster = UpstreamCluster(
        "outbound|9080|v1|ratings.bookinfo.svc.cluster.local",
        kernel,
        random.Random(1),
        pool=ConnectionPool(1, 1),
    )
    cluster.set_members([WORKLOADS["ratings-v1"]])
    flags = [kernel.spawn(cluster.admit()) for _ in range(3)]
    assert [f.fired for f in flags] == [True, False, True]
    assert flags[0].value.flag == "-" and flags[2].value.flag == "UO"
    cluster.release()
    kernel.run_until(1.0)
    assert flags[1].fired and flags[1].value.flag == "-"


# -- the story through the graph -------------------------------------------------


def test_reviews_v2_to_ratings_is_open_while_ratings_is_ejected_and_closed_after() -> None:
    simulation = story()
    load = at_story(simulation, "load-test", 0)
    during = edge(simulation, at_story(simulation, "ejection", 90), REVIEWS_V2, RATINGS)
    assert during.circuit == "open"
    assert during.flags.get("UH", 0) > 0.5 * during.rps
    [_, _, large] = [r for r in simulation.load_results() if r.started_at >= load][:3]
    assert large.run.concurrency == 3 and large.flags["UO"] > 0
    ejected_at = large.ended_at
    after = edge(simulation, ejected_at + 180 + 65, REVIEWS_V2, RATINGS)
    assert after.circuit == "closed" and after.health == "healthy" and after.rps > 0
    still = edge(simulation, ejected_at + 170, REVIEWS_V2, RATINGS)
    assert still.circuit == "open", "ejected for baseEjectionTime: 180 s"


def test_rejections_appear_only_in_source_telemetry_with_unknown_destination_workload() -> None:
    simulation = story("ejection")
    telemetry = simulation.telemetry.mesh(simulation.now + 30, duration("5m"))
    requests = telemetry.requests
    rejected = requests[requests["response_flags"].isin(["UO", "UH"])]
    assert set(rejected["response_flags"]) == {"UO", "UH"} and (rejected["rps"] > 0).any()
    assert set(rejected["reporter"]) == {"source"}
    assert set(rejected["destination_workload"]) == {"unknown"}
    assert set(rejected["destination_service_name"]) == {"ratings"}
    text = simulation.metrics_text()
    flagged = [
        line for line in text.splitlines() if 'response_flags="UH"' in line or 'response_flags="UO"' in line
    ]
    assert flagged and all(
        'reporter="source"' in line and 'destination_workload="unknown"' in line for line in flagged
    )
    assert 'reporter="destination"' in text


def test_sidecar_to_sidecar_requests_are_mutual_tls_as_the_server_side_reports() -> None:
    simulation = story("canary")
    text = simulation.metrics_text()
    requests = [line for line in text.splitlines() if line.startswith("istio_requests_total{")]
    assert all(
        'connection_security_policy="mutual_tls"' in line
        for line in requests
        if 'reporter="destination"' in line
    )
    assert all(
        'connection_security_policy="unknown"' in line for line in requests if 'reporter="source"' in line
    )
    graph = build_graph(simulation.telemetry.mesh(simulation.now, duration("1m")), SETTINGS)
    delivered = [data["edge"] for _, _, data in graph.edges(data=True) if (data["edge"].rps or 0) > 0]
    assert delivered and all(edge.mtls is True for edge in delivered)


def test_the_canary_split_is_fifty_fifty_within_a_few_percent() -> None:
    simulation = story("canary")
    at = simulation.now + 300
    shares = {
        target: edge(simulation, at, "service:bookinfo:reviews", target, duration("5m")).share
        for target in ("workload:bookinfo:reviews-v1", "workload:bookinfo:reviews-v2")
    }
    assert all(share == pytest.approx(0.5, abs=0.05) for share in shares.values()), shares


def test_retired_v1_leaves_an_idle_edge_and_its_own_series_vanish() -> None:
    simulation = story("retired")
    retired = edge(
        simulation, simulation.now + 120, "service:bookinfo:reviews", "workload:bookinfo:reviews-v1"
    )
    assert retired.health == "idle" and retired.rps == 0
    text = simulation.metrics_text()
    assert 'destination_workload="reviews-v1"' in text and 'pod="reviews-v1' not in text


def test_cluster_stats_are_keyed_like_the_prometheus_source() -> None:
    simulation = story("ejection")
    stats = simulation.telemetry.mesh(simulation.now, duration("1m")).cluster_stats
    ratings = stats[(stats["destination_service_name"] == "ratings") & (stats["subset"] == "v1")]
    values = dict(zip(ratings["stat"], ratings["value"]))
    assert (
        values["membership_total"] == 1
        and values["membership_healthy"] == 0
        and values["ejections_active"] == 1
    )
    assert set(ratings["source_canonical_service"]) == {"reviews"} and set(
        ratings["source_canonical_revision"]
    ) == {"v2"}
    assert set(ratings["source_workload_namespace"]) == {"bookinfo"}


# -- shape, determinism, clock, memory --------------------------------------------


def test_frames_have_the_shape_of_the_prometheus_source() -> None:
    simulation = story("canary")
    telemetry = simulation.telemetry.mesh(simulation.now, duration("1m"), ["bookinfo"])
    empty = MeshTelemetry.empty(0, duration("1m"))
    for name in ("requests", "latency", "tcp", "cluster_stats"):
        assert dict(getattr(telemetry, name).dtypes) == dict(getattr(empty, name).dtypes), name
    assert not telemetry.requests.empty and simulation.telemetry.queries_per_refresh == 0
    assert set(telemetry.latency["le"]) >= {"0.5", "25", "3600000", "+Inf"}
    assert simulation.telemetry.mesh(simulation.now, duration("1m"), ["elsewhere"]).requests.empty
    traffic = simulation.telemetry.version_traffic(simulation.now - 120, simulation.now, 30, duration("1m"))
    assert list(traffic.columns) == VERSION_TRAFFIC_COLUMNS
    assert set(traffic[traffic["destination_service_name"] == "reviews"]["destination_workload"]) == {
        "reviews-v1",
        "reviews-v2",
    }
    with pytest.raises(SourceError, match="exceeded maximum resolution of 11,000 points"):
        simulation.telemetry.version_traffic(simulation.now - 86400, simulation.now, 1, duration("1m"))


def test_the_same_seed_gives_the_same_mesh() -> None:
    first, second = story("load-test"), story("load-test")
    for simulation in (first, second):
        simulation.advance(START + 200)
    assert first.metrics_text() == second.metrics_text()
    other = Simulation(seed=2, start=START, wall_clock=lambda: 0.0, phase="load-test")
    other.advance(START + 200)
    assert other.metrics_text() != first.metrics_text()


def test_the_clock_runs_at_speed_and_asking_for_later_advances_it() -> None:
    wall = [100.0]
    simulation = Simulation(seed=1, start=START, wall_clock=lambda: wall[0], speed=10)
    wall[0] += 3.0
    assert simulation.clock() == pytest.approx(START + 30.0)
    simulation.telemetry.mesh(START + 90.0, duration("1m"))
    assert simulation.now == pytest.approx(START + 90.0)
    assert simulation.clock() == pytest.approx(START + 90.0), "the clock never runs backwards"
    with pytest.raises(SourceError, match="runs at most 6h ahead"):
        simulation.advance(START + 86400.0)
    wall[0] += 10 * 3600.0  # the laptop slept: the story resumes, it does not replay 100 h
    resumed = simulation.clock()
    assert START + 90.0 < resumed <= START + 90.0 + 600.0
    wall[0] += 1.0
    assert simulation.clock() == pytest.approx(resumed + 10.0)


def test_memory_stays_bounded_over_a_long_run() -> None:
    simulation = story("load-test", retention=120.0, trace_capacity=50)
    simulation.advance(START + 400)
    series = len(simulation.registry.keys)
    simulation.advance(START + 900)
    assert len(simulation.history.rows) <= 121 and len(simulation.traces) == 50
    assert len(simulation.registry.keys) == series, "no new series once the phase's traffic has been seen"
    assert len(simulation.load_results()) <= 100


def test_istio_objects_follow_the_story() -> None:
    simulation = story()

    def reviews_route(phase: str) -> list[tuple[str, int]]:
        simulation.advance(at_story(simulation, phase, 1))
        [vs] = [
            o
            for o in simulation.istio_objects()
            if o["kind"] == "VirtualService" and o["metadata"]["name"] == "reviews"
        ]
        assert vs["apiVersion"] == "networking.istio.io/v1beta1"
        return [(r["destination"]["subset"], r["weight"]) for r in vs["spec"]["http"][0]["route"]]

    assert reviews_route("baseline") == [("v1", 100)]
    assert reviews_route("canary") == [("v1", 50), ("v2", 50)]
    assert reviews_route("takeover") == [("v1", 0), ("v2", 100)]
    assert reviews_route("retired") == [("v2", 100)]
    [ratings] = [
        o
        for o in simulation.istio_objects()
        if o["kind"] == "DestinationRule" and o["spec"]["host"] == "ratings"
    ]
    policy = ratings["spec"]["trafficPolicy"]
    assert policy["connectionPool"] == {"tcp": {"maxConnections": 1}, "http": {"http1MaxPendingRequests": 1}}
    assert policy["outlierDetection"] == {
        "consecutive5xxErrors": 5,
        "interval": "1s",
        "baseEjectionTime": "180s",
        "maxEjectionPercent": 100,
    }
    [reviews_rule] = [
        o
        for o in simulation.istio_objects()
        if o["kind"] == "DestinationRule" and o["spec"]["host"] == "reviews"
    ]
    assert [s["name"] for s in reviews_rule["spec"]["subsets"]] == ["v2"]


def test_each_phase_has_a_config_and_a_description() -> None:
    for phase in PHASES:
        assert phase.description and phase.duration > 0
        assert "istio-ingressgateway" in phase.config.deployed


def test_a_selections_history_ends_with_the_graphs_figures_at_its_last_step() -> None:
    simulation = story("ejection")
    window = duration("1m")
    end = float(int(simulation.now // 30) * 30)  # a whole step at 1.8e9 s: its last point must not be lost
    edge = {"source": "workload:bookinfo:reviews-v2", "target": "service:bookinfo:ratings"}
    times = [end - 30 * back for back in (4, 3, 2, 1, 0)]
    history = selection_history(
        simulation.telemetry.selection_history(selection_of(edge), times[0], end, 30, window), times
    )
    graph = snapshot_document(build_graph(simulation.telemetry.mesh(end, window), resolve({}, environ={})))
    drawn = next(e for e in graph["edges"] if (e["source"], e["target"]) == (edge["source"], edge["target"]))
    assert history.times == times and history.rps[-1] == pytest.approx(drawn["rps"])
    assert history.error_ratio[-1] == pytest.approx(drawn["error_ratio"])
    assert history.flags["UH"][-1] > 0
