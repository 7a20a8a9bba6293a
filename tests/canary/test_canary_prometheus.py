"""The canary view against a real Prometheus holding an hour of a rollout:
reviews v1 100 % -> v1/v2 50/50 -> v2 100 %, then v1 retired."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboard.app import create_app
from dashboard.app.cli import main
from dashboard.app.config import resolve
from dashboard.app.refresh import release_view
from dashboard.app.services import Services
from dashboard.canary.document import canary_document
from dashboard.canary.observation import HISTORY_SECONDS, HISTORY_STEP_SECONDS
from dashboard.canary.verdict import COMPLETE, PROMOTE
from dashboard.canary.versions import RETIRED
from queries.errors import SourceError
from queries.istio.load import load_directory
from queries.prometheus import PrometheusSource
from tests.support.frames import MINUTE, labels
from tests.support.prometheus import (
    END,
    Histogram,
    PrometheusServer,
    openmetrics,
    sample_times,
    start_prometheus,
)

pytestmark = pytest.mark.prometheus

SPAN, STEP = 3600.0, 15.0
SPLIT_AT, TAKE_OVER_AT, RETIRED_AT = END - 2400, END - 1200, END - 600
TOTAL_RPS = 4.0


def v1_rate(t: float) -> float:
    return TOTAL_RPS if t < SPLIT_AT else TOTAL_RPS / 2 if t < TAKE_OVER_AT else 0.0


def v2_rate(t: float) -> float:
    return 0.0 if t < SPLIT_AT else TOTAL_RPS / 2 if t < TAKE_OVER_AT else TOTAL_RPS


def counter_lines(series: dict[str, str], rate, times: list[float], until: float = END) -> list[str]:
    """Samples of a counter whose rate changes over time; none after `until` (workload deleted)."""
    text = ",".join(f'{k}="{v}"' for k, v in series.items())
    lines, value = [], 0.0
    for previous, t in zip([times[0], *times], times):
        value += rate(previous) * (t - previous)
        if t <= until:
            lines.append(f"istio_requests_total{{{text}}} {value:.3f} {t:.3f}")
    return lines


def rollout_openmetrics() -> str:
    times = sample_times(END, SPAN, STEP)
    lines = ["# TYPE istio_requests counter"]
    for reporter in ("source", "destination"):
        for version, rate in (("v1", v1_rate), ("v2", v2_rate)):
            series = labels("productpage-v1", "reviews", f"reviews-{version}", reporter=reporter)
            lines += counter_lines(series, rate, times, RETIRED_AT if version == "v1" else END)
    latency_labels = lambda callee: {
        k: v
        for k, v in labels("productpage-v1", "reviews", callee).items()  # noqa: E731
        if k
        in (
            "reporter",
            "source_workload",
            "source_workload_namespace",
            "destination_service_name",
            "destination_service_namespace",
            "destination_workload",
            "destination_workload_namespace",
        )
    }
    histograms = openmetrics(
        [
            Histogram(
                "istio_request_duration_milliseconds", latency_labels("reviews-v1"), 2.0, [8, 20, 40, 90]
            ),
            Histogram(
                "istio_request_duration_milliseconds", latency_labels("reviews-v2"), 2.0, [8, 20, 40, 90]
            ),
        ],
        end=END,
        span=SPAN,
        step=STEP,
    )
    return "\n".join(lines) + "\n" + histograms


def istio_dir(root: Path, v1: int, v2: int) -> str:
    directory = root / f"istio-{v1}-{v2}"
    directory.mkdir()
    (directory / "reviews.yaml").write_text(
        textwrap.dedent(f"""\
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {{name: reviews, namespace: default}}
        spec:
          hosts: [reviews.default.svc.cluster.local]
          http:
          - route:
            - {{destination: {{host: reviews, subset: v1}}, weight: {v1}}}
            - {{destination: {{host: reviews, subset: v2}}, weight: {v2}}}
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {{name: reviews, namespace: default}}
        spec:
          host: reviews
          subsets: [{{name: v1, labels: {{version: v1}}}}, {{name: v2, labels: {{version: v2}}}}]
        """)
    )
    return str(directory)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory) -> Iterator[PrometheusServer]:
    with start_prometheus(
        tmp_path_factory.mktemp("canary-prometheus"), openmetrics_text=rollout_openmetrics()
    ) as server:
        yield server


def test_range_query_shows_the_rollout_steps(prometheus: PrometheusServer) -> None:
    history = PrometheusSource(prometheus.url).version_traffic(
        END - HISTORY_SECONDS, END, HISTORY_STEP_SECONDS, MINUTE
    )
    assert set(history["destination_workload"]) == {"reviews-v1", "reviews-v2"}
    by_time = history.pivot_table(
        index="time", columns="destination_canonical_revision", values="rps", aggfunc="sum"
    ).fillna(0)
    for t, expect_v1, expect_v2 in ((END - 3000, 4.0, 0.0), (END - 1800, 2.0, 2.0), (END - 300, 0.0, 4.0)):
        row = by_time.loc[t] if t in by_time.index else None
        assert row is not None, f"no sample at {t}"
        assert row.get("v1", 0.0) == pytest.approx(expect_v1, rel=0.05)
        assert row.get("v2", 0.0) == pytest.approx(expect_v2, rel=0.05)


def test_fifty_fifty_phase_matches_the_config(prometheus: PrometheusServer, tmp_path: Path) -> None:
    settings = resolve({}, environ={})
    [release] = release_view(
        PrometheusSource(prometheus.url),
        load_directory(istio_dir(tmp_path, 50, 50)),
        settings,
        at=END - 1800,
        window=MINUTE,
    )
    assert [(v.version, v.share, v.configured_weight) for v in release.versions] == [
        ("v1", pytest.approx(0.5, abs=0.02), 0.5),
        ("v2", pytest.approx(0.5, abs=0.02), 0.5),
    ]
    assert release.baseline == "v1" and release.verdict == PROMOTE
    assert release.versions[1].p99_ms == pytest.approx(90, abs=15)


def test_after_retirement_cli_and_api_print_the_same_document(
    prometheus: PrometheusServer, tmp_path: Path, capsys
) -> None:
    directory = istio_dir(tmp_path, 0, 100)
    assert (
        main(["canary", "--prometheus", prometheus.url, "--istio-config", directory, "--at", f"{END:.0f}"])
        == 0
    )
    printed = json.loads(capsys.readouterr().out)
    [service] = printed["services"]
    assert service["verdict"] == COMPLETE and service["baseline"] == "v1"
    v1, v2 = service["versions"]
    assert v1 == {
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
    assert (v2["share"], v2["configured_weight"], v2["success_ratio"]) == (1.0, 1.0, 1.0)
    assert v2["rps"] == pytest.approx(4.0, rel=0.05)
    assert any(r.startswith("v1 retired") for r in service["reasons"])

    settings = resolve({"prometheus": prometheus.url, "istio_config": directory}, environ={})
    app = create_app(settings, Services(telemetry=PrometheusSource(prometheus.url), clock=lambda: END))
    response = app.server.test_client().get("/api/canary")
    assert response.status_code == 200 and response.get_json() == printed
    direct = release_view(PrometheusSource(prometheus.url), load_directory(directory), settings, END, MINUTE)
    assert canary_document(direct) == printed and direct[0].versions[0].state == RETIRED


def test_cli_reports_bad_istio_config_and_unknown_service(
    prometheus: PrometheusServer, tmp_path: Path, capsys
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "reviews-vs.yaml").write_text(
        "kind: VirtualService\nmetadata: {name: reviews}\nspec:\n  http:\n  - route:\n    - destination: {host: reviews}\n      weight: half\n"
    )
    assert (
        main(["canary", "--prometheus", prometheus.url, "--istio-config", str(broken), "--at", f"{END:.0f}"])
        == 2
    )
    assert (
        capsys.readouterr().err.strip()
        == f"meshwatch: {broken}/reviews-vs.yaml: spec.http[0].route[0].weight: expected an integer"
    )
    assert main(["canary", "--prometheus", prometheus.url, "--service", "nosuch", "--at", f"{END:.0f}"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("meshwatch: no such versioned service 'nosuch'")
    assert captured.err.count("\n") == 1


def test_range_query_filters_namespaces_and_reports_failures(prometheus: PrometheusServer) -> None:
    empty = PrometheusSource(prometheus.url).version_traffic(END - 600, END, 30, MINUTE, ["prod"])
    assert empty.empty and list(empty.columns) == [
        "time",
        "destination_service_name",
        "destination_service_namespace",
        "destination_workload",
        "destination_canonical_revision",
        "rps",
    ]
    with pytest.raises(SourceError, match=r"refused the query: HTTP 400"):
        PrometheusSource(prometheus.url).version_traffic(END, END - 600, 30, MINUTE)  # end before start
    with pytest.raises(SourceError, match=r"^cannot reach Prometheus at http://127\.0\.0\.1:1"):
        PrometheusSource("http://127.0.0.1:1", timeout=2).version_traffic(END - 600, END, 30, MINUTE)
