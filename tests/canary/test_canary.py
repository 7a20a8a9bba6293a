"""Canary analysis rules on hand-made graphs, history and Istio config."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from dashboard.app.config import resolve
from dashboard.canary.document import canary_document
from dashboard.canary.release import analyze
from dashboard.canary.routing import service_routing
from dashboard.canary.thresholds import CanaryThresholds
from dashboard.canary.verdict import COMPLETE, HOLD, NO_DATA, PROMOTE, ROLL_BACK
from dashboard.canary.versions import MIRROR, RETIRED
from dashboard.mesh.build import build_graph
from queries.istio.load import from_manifests
from queries.telemetry import VERSION_TRAFFIC_COLUMNS
from tests.support.frames import MINUTE, labels, latency_rows, telemetry

AT = 1_700_000_000.0
SETTINGS = resolve({}, environ={})
FAST_MS, SLOW_MS = [5, 10, 20, 40], [100, 300, 900, 2000]


def mesh(*versions: tuple[str, float, float, list[float]], service: str = "reviews"):
    """A graph of productpage -> service -> one workload per (version, rps, error share, latencies)."""
    requests, latency = [], []
    for version, rps, errors, observations in versions:
        callee = f"{service.removesuffix('-shadow')}-{version}"
        series = labels("productpage-v1", service, callee)
        requests.append((series, rps * (1 - errors)))
        if errors:
            requests.append(({**series, "response_code": "503"}, rps * errors))
        if rps:
            latency += latency_rows(series, observations, rps)
    return build_graph(telemetry(requests=requests, latency=latency, at=AT), SETTINGS)


def vs(*routes: dict[str, Any], host: str = "reviews") -> dict[str, Any]:
    return {
        "kind": "VirtualService",
        "metadata": {"name": host, "namespace": "default"},
        "spec": {"hosts": [host], "http": list(routes)},
    }


def weighted(**weights: int) -> dict[str, Any]:
    return {
        "route": [{"destination": {"host": "reviews", "subset": v}, "weight": w} for v, w in weights.items()]
    }


def subsets(*names: str) -> dict[str, Any]:
    return {
        "kind": "DestinationRule",
        "metadata": {"name": "reviews", "namespace": "default"},
        "spec": {
            "host": "reviews.default.svc.cluster.local",
            "subsets": [{"name": n, "labels": {"version": n}} for n in names],
        },
    }


def history(*steps: tuple[float, dict[str, float]], service: str = "reviews") -> pd.DataFrame:
    """One row per (time offset before AT, version: rps)."""
    rows = [
        [AT - ago, service, "default", f"{service.removesuffix('-shadow')}-{v}", v, rps]
        for ago, split in steps
        for v, rps in split.items()
    ]
    return pd.DataFrame(rows, columns=VERSION_TRAFFIC_COLUMNS)


def run(graph, config=(), past=None, thresholds: CanaryThresholds = SETTINGS.canary, **kwargs):
    """The analysis, with the hour's history standing in for the baseline lookback too."""
    kwargs.setdefault("lookback", past)
    return analyze(
        graph, past, from_manifests(list(config)) if config else None, thresholds, MINUTE, **kwargs
    )


def one(releases):
    assert len(releases) == 1, [r.service for r in releases]
    return releases[0]


def by_version(release):
    return {v.version: v for v in release.versions}


def test_healthy_fifty_fifty_canary_is_promoted_and_matches_the_schema() -> None:
    release = one(
        run(
            mesh(("v1", 5, 0, FAST_MS), ("v2", 5, 0, FAST_MS)),
            [vs(weighted(v1=50, v2=50)), subsets("v1", "v2")],
        )
    )
    assert release.verdict == PROMOTE and release.baseline == "v1"
    assert any(r.startswith("v2 passes: success 100.0 %") for r in release.reasons)
    document = canary_document([release])
    [entry] = document["services"]
    assert list(entry) == ["service", "namespace", "versions", "verdict", "reasons", "baseline"]
    assert entry["baseline"] == "v1" and entry["versions"][0]["role"] == "baseline"
    assert entry["versions"][1] == {
        "workload": "reviews-v2",
        "version": "v2",
        "share": 0.5,
        "configured_weight": 0.5,
        "rps": 5.0,
        "success_ratio": 1.0,
        "p50_ms": pytest.approx(10, abs=5),
        "p99_ms": pytest.approx(40, abs=10),
        "role": "canary",
    }
    assert [j.deltas.rps for j in release.judgements] == [0.0]


def test_split_deviating_by_more_than_five_points_holds_once_enough_requests() -> None:
    config = [vs(weighted(v1=50, v2=50)), subsets("v1", "v2")]
    busy = one(run(mesh(("v1", 7, 0, FAST_MS), ("v2", 3, 0, FAST_MS)), config))  # 600 requests, 70/30
    assert busy.verdict == HOLD
    assert any(
        r.startswith(
            "split differs from config: v1 gets 70 % of requests, configured 50 % (600 requests in 1m; p = "
        )
        for r in busy.reasons
    )
    assert [v.deviates for v in busy.versions] == [True, True]
    # 54/46 is within 5 points; 70/30 over only 60 requests is not enough to tell
    close = one(run(mesh(("v1", 5.4, 0, FAST_MS), ("v2", 4.6, 0, FAST_MS)), config))
    quiet = one(run(mesh(("v1", 0.7, 0, FAST_MS), ("v2", 0.3, 0, FAST_MS)), config))
    assert close.verdict == PROMOTE and not any(v.deviates for v in close.versions)
    assert not any(v.deviates for v in quiet.versions)
    assert (
        quiet.verdict == HOLD
        and (
            "only 18 requests (30 expected at the configured 50 %) reached v2 in the last 1m; "
            "50 are needed to judge it (a longer window gathers more)"
        )
        in quiet.reasons
    )


def test_the_verdict_floor_is_separate_from_the_split_floor() -> None:
    """60 requests to v2 are enough to judge it (50), not to compare a 70/30 split (100 to the service)."""
    config = [vs(weighted(v1=50, v2=50)), subsets("v1", "v2")]
    judged = one(run(mesh(("v1", 1, 0, FAST_MS), ("v2", 1, 0, FAST_MS)), config))  # 60 requests each
    assert judged.verdict == PROMOTE
    assert any(
        r.startswith("v2 passes: success 100.0 % ≥ 99.0 %, p99 ") and r.endswith(" over 60 requests in 1m")
        for r in judged.reasons
    )
    # 138 requests at 61/39: 11 points off, but as likely as not noise (p = 0.01)
    noisy = one(run(mesh(("v1", 1.4, 0, FAST_MS), ("v2", 0.9, 0, FAST_MS)), config))
    assert noisy.verdict == PROMOTE and not any(v.deviates for v in noisy.versions)
    skewed = one(run(mesh(("v1", 1.6, 0, FAST_MS), ("v2", 0.4, 0, FAST_MS)), config))  # 120 requests, 80/20
    assert skewed.verdict == HOLD and any(r.startswith("split differs from config") for r in skewed.reasons)
    small = one(run(mesh(("v1", 0.6, 0, FAST_MS), ("v2", 0.9, 0.1, FAST_MS)), config))  # 54 failing 10 %
    assert small.verdict == ROLL_BACK
    stricter = CanaryThresholds(min_requests_for_verdict=200)
    assert (
        one(run(mesh(("v1", 1, 0, FAST_MS), ("v2", 1, 0, FAST_MS)), config, thresholds=stricter)).verdict
        == HOLD
    )


def test_the_verdict_floor_is_read_from_the_config_file(tmp_path) -> None:
    path = tmp_path / "meshwatch.toml"
    path.write_text("[canary]\nmin_requests_for_verdict = 20\n")
    assert resolve({"config": str(path)}, environ={}).canary.min_requests_for_verdict == 20
    assert (
        SETTINGS.canary.min_requests_for_verdict == 50 and SETTINGS.canary.min_requests_for_deviation == 100
    )


@pytest.mark.parametrize(
    "canary, baseline, verdict, words",
    [
        (
            (0.05, FAST_MS),
            (0.0, FAST_MS),
            ROLL_BACK,
            "v2 success 95.0 % is below 99.0 % (baseline v1: 100.0 %)",
        ),
        ((0.0, SLOW_MS), (0.0, FAST_MS), ROLL_BACK, "v2 p99 "),
        ((0.05, FAST_MS), (0.04, FAST_MS), HOLD, "but baseline v1 fails it too"),
    ],
)
def test_thresholds_roll_back_only_what_the_baseline_passes(canary, baseline, verdict, words) -> None:
    release = one(
        run(mesh(("v1", 5, *baseline), ("v2", 5, *canary)), [vs(weighted(v1=50, v2=50)), subsets("v1", "v2")])
    )
    assert release.verdict == verdict
    assert any(words in reason for reason in release.reasons), release.reasons


def test_thresholds_come_from_settings() -> None:
    lenient = CanaryThresholds(min_success_ratio=0.9, max_p99_ms=5000)
    release = one(
        run(
            mesh(("v1", 5, 0, FAST_MS), ("v2", 5, 0.05, SLOW_MS)),
            [vs(weighted(v1=50, v2=50))],
            thresholds=lenient,
        )
    )
    assert release.verdict == PROMOTE


def with_calls(graph, *calls: tuple[str, str, float, str, str]):
    """Add outbound calls (caller workload, service, rps, response code, flags) to a graph."""
    requests = [
        (
            labels(
                caller,
                service,
                "unknown" if flags == "UH" else f"{service}-v1",
                response_code=code,
                response_flags=flags,
            ),
            rps,
        )
        for caller, service, rps, code, flags in calls
    ]
    extra = build_graph(telemetry(requests=requests, at=AT), SETTINGS)
    graph.add_nodes_from(n for n in extra.nodes(data=True) if n[0] not in graph)
    graph.add_edges_from(extra.edges(data=True))
    return graph


def test_a_canary_whose_calls_fail_where_the_baseline_does_not_is_held() -> None:
    """The demo's ejection: v2 answers 100 % (it hides the missing ratings) but its calls to ratings are cut off."""
    config = [vs(weighted(v1=50, v2=50)), subsets("v1", "v2")]
    graph = with_calls(
        mesh(("v1", 5, 0, FAST_MS), ("v2", 5, 0, FAST_MS)),
        ("reviews-v2", "ratings", 5, "503", "UH"),
        ("reviews-v1", "details", 5, "200", "-"),
    )
    release = one(run(graph, config))
    assert release.verdict == HOLD
    assert release.reasons[0] == (
        "v2's calls to ratings fail 100 % (503 UH: circuit open; ratings cut off by "
        "outlier detection); baseline v1 does not call ratings"
    )
    v2 = by_version(release)["v2"]
    assert [(c.service, c.circuit, c.error_ratio) for c in v2.failing_calls] == [("ratings", "open", 1.0)]
    assert by_version(release)["v1"].failing_calls == ()
    # errors above 1 - min_success_ratio hold too, circuit closed; the baseline's figures are quoted
    flaky = with_calls(
        mesh(("v1", 5, 0, FAST_MS), ("v2", 5, 0, FAST_MS)),
        ("reviews-v2", "ratings", 4.5, "200", "-"),
        ("reviews-v2", "ratings", 0.5, "500", "-"),
        ("reviews-v1", "ratings", 5, "200", "-"),
    )
    assert one(run(flaky, config)).reasons[0] == (
        "v2's calls to ratings fail 10 % (500); baseline v1's calls to it fail 0 %"
    )


def test_a_dependency_failing_for_the_baseline_too_still_holds_the_canary() -> None:
    """Never promote into an outage: promotion would put every request on the broken call."""
    config = [vs(weighted(v1=50, v2=50)), subsets("v1", "v2")]
    graph = with_calls(
        mesh(("v1", 5, 0, FAST_MS), ("v2", 5, 0, FAST_MS)),
        ("reviews-v2", "ratings", 5, "503", "UH"),
        ("reviews-v1", "ratings", 5, "503", "UH"),
    )
    release = one(run(graph, config))
    assert release.verdict == HOLD
    assert (
        "v2's calls to ratings fail 100 % (503 UH: circuit open; ratings cut off by outlier detection); "
        "baseline v1's calls to it fail 100 %"
    ) in release.reasons
    assert [len(v.failing_calls) for v in release.versions] == [1, 1]  # shown on both rows


def test_failing_calls_are_listed_beside_a_small_sample() -> None:
    graph = with_calls(
        mesh(("v1", 5, 0, FAST_MS), ("v2", 0.5, 0, FAST_MS)), ("reviews-v2", "ratings", 0.5, "503", "UH")
    )
    release = one(run(graph, [vs(weighted(v1=50, v2=50)), subsets("v1", "v2")]))
    assert release.verdict == HOLD and release.reasons[0].startswith("only 30 requests reached v2")
    assert release.reasons[1].startswith("v2's calls to ratings fail 100 %")


def test_blue_green_standby_without_traffic_is_no_data_never_healthy() -> None:
    graph = mesh(("v1", 5, 0, FAST_MS), ("v2", 0, 0, FAST_MS))
    release = one(run(graph, [vs(weighted(v1=100, v2=0)), subsets("v1", "v2")]))
    assert release.verdict == NO_DATA
    assert "v2 received no requests in the last 1m (configured 0 %)" in release.reasons
    assert "blue-green switch: 100 % to v1, v2 on standby at 0 %" in release.reasons
    assert [(v.share, v.configured_weight) for v in release.versions] == [(1.0, 1.0), (0.0, 0.0)]


def test_take_over_then_retirement() -> None:
    past = history((3000, {"v1": 4.0}), (1500, {"v1": 2.0, "v2": 2.0}), (60, {"v2": 4.0}))
    config = [vs(weighted(v1=0, v2=100)), subsets("v1", "v2")]
    taken = one(run(mesh(("v1", 0, 0, FAST_MS), ("v2", 4, 0, FAST_MS)), config, past))
    assert taken.baseline == "v1" and taken.verdict == COMPLETE and taken.completed == "v2"
    assert [(v.version, v.share, v.configured_weight) for v in taken.versions] == [
        ("v1", 0.0, 0.0),
        ("v2", 1.0, 1.0),
    ]
    assert "v1 is drained (configured 0 %, no requests): it can be retired" in taken.reasons
    assert (
        taken.reasons[0] == "rollout complete: v2 serves 100 % of the requests to reviews (configured 100 %)"
    )
    assert [(v.version, v.role) for v in taken.versions] == [("v1", "baseline"), ("v2", "canary")]

    retired = one(run(mesh(("v2", 4, 0, FAST_MS)), [vs(weighted(v2=100)), subsets("v2")], past))
    versions = by_version(retired)
    assert versions["v1"].state == RETIRED and versions["v1"].workload == "reviews-v1"
    assert canary_document([retired])["services"][0]["versions"][0] == {
        "workload": "reviews-v1",
        "version": "v1",
        "share": None,
        "configured_weight": None,
        "rps": None,
        "success_ratio": None,
        "p50_ms": None,
        "p99_ms": None,
        "role": "retired",
    }
    assert retired.verdict == COMPLETE and retired.baseline == "v1" and retired.completed == "v2"
    assert by_version(retired)["v1"].role == "retired" and by_version(retired)["v2"].role == "canary"
    assert (
        retired.reasons[0]
        == "rollout complete: v2 serves 100 % of the requests to reviews (configured 100 %)"
    )
    assert any(
        r.startswith("v1 retired: no requests, and no route or subset names it any more (last request ")
        for r in retired.reasons
    )
    # callers' sidecars still export flat counters for the deleted v1: an idle edge, same verdict
    lingering = one(
        run(mesh(("v1", 0, 0, FAST_MS), ("v2", 4, 0, FAST_MS)), [vs(weighted(v2=100)), subsets("v2")], past)
    )
    assert canary_document([lingering]) == canary_document([retired])
    assert list(retired.history["version"].unique()) == ["v1", "v2"]


def test_a_failing_canary_with_its_baseline_retired_holds() -> None:
    past = history((3000, {"v1": 4.0}), (60, {"v2": 4.0}))
    release = one(run(mesh(("v2", 4, 0.2, FAST_MS)), [], past))
    assert release.verdict == HOLD
    assert "no baseline to roll back to (v1 is retired)" in release.reasons
    # the rollout is complete, but it does not outrank the failure
    assert release.reasons[0] == "v2 success 80.0 % is below 99.0 %"
    assert "rollout complete: v2 serves 100 % of the requests to reviews" in release.reasons


def test_a_baseline_alone_at_100_is_not_a_completed_rollout() -> None:
    release = one(
        run(
            mesh(("v1", 5, 0, FAST_MS), ("v2", 0, 0, FAST_MS)),
            [vs(weighted(v1=100, v2=0)), subsets("v1", "v2")],
        )
    )
    assert not any(r.startswith("rollout complete") for r in release.reasons)
    assert [v.role for v in release.versions] == ["baseline", "canary"]


def test_mirror_target_is_shown_as_mirroring_not_as_a_split() -> None:
    graph = mesh(("v1", 5, 0, FAST_MS))
    shadow = mesh(("v3", 2.5, 0, FAST_MS), service="reviews-shadow")
    graph.add_nodes_from(shadow.nodes(data=True))
    graph.add_edges_from(shadow.edges(data=True))
    mirror = {
        **weighted(v1=100),
        "mirror": {"host": "reviews", "subset": "v3"},
        "mirrorPercentage": {"value": 50},
    }
    release = one(run(graph, [vs(mirror), subsets("v1", "v3")]))
    versions = by_version(release)
    assert (versions["v1"].share, versions["v1"].configured_weight) == (1.0, 1.0)
    assert (
        versions["v3"].state,
        versions["v3"].share,
        versions["v3"].configured_weight,
        versions["v3"].rps,
    ) == (MIRROR, None, 0.0, 2.5)
    assert any(r.startswith("mirroring 50 % of requests to v3") for r in release.reasons)
    assert release.verdict == PROMOTE and release.judgements[0].version == "v3"


def test_mirror_seen_only_by_the_server_side_takes_its_rate_from_history() -> None:
    mirror = {**weighted(v1=100), "mirror": {"host": "reviews", "subset": "v3"}}
    past = history((0, {"v3": 3.0}), service="reviews-shadow")
    release = one(run(mesh(("v1", 5, 0, FAST_MS)), [vs(mirror), subsets("v1", "v3")], past))
    v3 = by_version(release)["v3"]
    assert (v3.state, v3.share, v3.rps) == (MIRROR, None, 3.0)
    assert (
        release.verdict == HOLD and "success ratio and p99 of v3 unknown: cannot judge it" in release.reasons
    )


def test_content_based_routes_are_shown_as_such_not_compared_as_weights() -> None:
    jason = {
        "match": [{"headers": {"end-user": {"exact": "jason"}}}],
        "route": [{"destination": {"host": "reviews", "subset": "v2"}}],
    }
    release = one(
        run(
            mesh(("v1", 8, 0, FAST_MS), ("v2", 2, 0, FAST_MS)),
            [vs(jason, weighted(v1=100)), subsets("v1", "v2")],
        )
    )
    assert release.routing.strategy == "content"
    assert 'routed by request content: header end-user exact "jason" -> v2' in release.reasons
    assert not any(v.deviates for v in release.versions) and release.verdict == PROMOTE


def test_a_route_to_a_version_nobody_serves_is_missing() -> None:
    release = one(run(mesh(("v1", 5, 0, FAST_MS)), [vs(weighted(v1=50, v3=50)), subsets("v1", "v3")]))
    v3 = by_version(release)["v3"]
    assert (v3.state, v3.share, v3.configured_weight) == ("missing", 0.0, 0.5)
    assert release.verdict == ROLL_BACK
    assert release.reasons[0] == "route sends 50 % to v3 but no v3 workload answers: those requests fail"


def test_subsets_resolve_through_destination_rule_labels() -> None:
    config = from_manifests(
        [
            vs(weighted(stable=90, canary=10)),
            {
                "kind": "DestinationRule",
                "metadata": {"name": "reviews"},
                "spec": {
                    "host": "reviews",
                    "subsets": [
                        {"name": "stable", "labels": {"version": "v1"}},
                        {"name": "canary", "labels": {"version": "v2"}},
                    ],
                },
            },
        ]
    )
    assert service_routing(config, "reviews", "default").weights == {"v1": 0.9, "v2": 0.1}
    missing = service_routing(from_manifests([vs(weighted(v1=90, v2=10))]), "reviews", "default")
    assert missing.weights == {"v1": 0.9, "v2": 0.1}
    assert any("is defined by no DestinationRule" in note for note in missing.notes)


def test_which_services_appear() -> None:
    graph = mesh(("v1", 5, 0, FAST_MS), ("v2", 5, 0, FAST_MS))
    single = mesh(("v1", 3, 0, FAST_MS), service="details")
    graph.add_nodes_from(single.nodes(data=True))
    graph.add_edges_from(single.edges(data=True))
    assert [r.service for r in run(graph)] == ["reviews"]
    asked = one(run(graph, service="details.default"))
    assert (
        asked.verdict == NO_DATA and "only one version (v1) of details: no canary to judge" in asked.reasons
    )
    assert run(graph, service="reviews", namespaces=["prod"]) == []
    # baseline without history: the lowest version label, v2 before v10
    three = one(run(mesh(("v10", 5, 0, FAST_MS), ("v2", 5, 0, FAST_MS))))
    assert three.baseline == "v2" and [v.version for v in three.versions] == ["v2", "v10"]


def test_the_baseline_is_the_version_serving_longest_not_the_busiest_an_hour_ago() -> None:
    config = [vs(weighted(v1=20, v2=80)), subsets("v1", "v2")]
    graph = mesh(("v1", 1, 0, FAST_MS), ("v2", 4, 0, FAST_MS))
    # v2 carried most of the traffic an hour ago, but v1 has served since 22 h ago.
    lookback = history(
        (22 * 3600, {"v1": 4.0}), (20 * 3600, {"v1": 3.0, "v2": 1.0}), (3600, {"v1": 1.0, "v2": 4.0})
    )
    release = one(run(graph, config, history((3600, {"v1": 1.0, "v2": 4.0})), lookback=lookback))
    assert release.baseline == "v1"
    assert any(r.startswith("baseline v1: serving longest (first request by ") for r in release.reasons)
    assert [(v.version, v.role) for v in release.versions] == [("v1", "baseline"), ("v2", "canary")]
    # First seen together (both since the lookback began): the lowest version, in natural order.
    together = history((86000, {"v2": 1.0, "v10": 1.0}))
    tie = one(run(mesh(("v2", 2, 0, FAST_MS), ("v10", 2, 0, FAST_MS)), [], together, lookback=together))
    assert tie.baseline == "v2"


def test_ordinary_sampling_noise_never_flags_the_split() -> None:
    import random

    rng = random.Random(4)
    config = [vs(weighted(v1=50, v2=50)), subsets("v1", "v2")]
    flagged = 0
    for _ in range(40):
        v2 = sum(rng.random() < 0.5 for _ in range(120))  # a 1m window of the demo's 2 requests/s
        release = one(run(mesh(("v1", (120 - v2) / 60, 0, FAST_MS), ("v2", v2 / 60, 0, FAST_MS)), config))
        flagged += any(v.deviates for v in release.versions)
    assert flagged == 0


def test_a_broken_call_further_down_the_canary_path_blocks_promotion() -> None:
    config = [vs(weighted(v1=50, v2=50)), subsets("v1", "v2")]
    graph = with_calls(
        mesh(("v1", 5, 0, FAST_MS), ("v2", 5, 0, FAST_MS)),
        ("reviews-v2", "ratings", 5, "200", "-"),
        ("ratings-v1", "mongodb", 2, "503", "UF"),
        ("ratings-v1", "mongodb", 3, "200", "-"),
    )
    release = one(run(graph, config))
    v2 = next(j for j in release.judgements if j.version == "v2")
    assert v2.verdict == HOLD and release.verdict == HOLD
    assert "on v2's path, ratings-v1's calls to mongodb fail 40 % (503 UF)" in v2.reasons


def test_a_baseline_cut_off_by_an_open_circuit_is_not_drained_nor_a_finished_rollout() -> None:
    past = history((3000, {"v1": 4.0}), (1500, {"v1": 2.0, "v2": 2.0}), (60, {"v2": 4.0}))
    config = [vs(weighted(v1=0, v2=100)), subsets("v1", "v2")]
    graph = mesh(("v1", 0, 0, FAST_MS), ("v2", 4, 0, FAST_MS))
    graph.edges["workload:default:productpage-v1", "service:default:reviews"]["edge"].circuit = "open"
    cut = one(run(graph, config, past))
    assert by_version(cut)["v1"].cut_off and not by_version(cut)["v2"].cut_off
    assert cut.verdict != COMPLETE and cut.completed is None
    assert not any("can be retired" in reason for reason in cut.reasons)
    assert any("cut off, not drained; do not retire it" in reason for reason in cut.reasons)
