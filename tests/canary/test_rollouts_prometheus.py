"""`meshwatch canary` on a real Prometheus for an HTTPRoute-driven canary
and releases driven by rollout controllers (Argo Rollouts through the
Gateway API plugin, Flagger alone), with their YAML as kubectl prints it.

bookinfo: productpage-v1 -> reviews-stable -> reviews-v1 7/s, -> reviews-canary -> reviews-v2 3/s
          productpage-v1 -> ratings-v1 9/s, -> ratings-v2 1/s (an HTTPRoute on Service ratings)
test:     frontend-v1 -> podinfo-primary -> podinfo-primary 8/s, -> podinfo-canary -> podinfo 2/s
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dashboard.app.cli import main
from tests.canary.test_routes_and_controllers import argo_rollout, flagger, http_route
from tests.support.istio import request_labels, sidecar_scrape, workload
from tests.support.prometheus import END, Counter, prometheus_holding

pytestmark = pytest.mark.prometheus

BOOKINFO, TEST = "bookinfo", "test"
HOPS = [
    ("productpage-v1", BOOKINFO, "reviews-stable", "reviews-v1", 7),
    ("productpage-v1", BOOKINFO, "reviews-canary", "reviews-v2", 3),
    ("productpage-v1", BOOKINFO, "ratings-v1", "ratings-v1", 9),
    ("productpage-v1", BOOKINFO, "ratings-v2", "ratings-v2", 1),
    ("frontend-v1", TEST, "podinfo-primary", "podinfo-primary", 8),
    ("frontend-v1", TEST, "podinfo-canary", "podinfo", 2),
]


def series() -> list[Counter]:
    found = []
    for caller, namespace, service, callee, rps in HOPS:
        source, destination = workload(caller, namespace), workload(callee, namespace)
        for reporter, scraped in (("source", source), ("destination", destination)):
            labels = request_labels(
                reporter, source, service, namespace, destination, scrape=sidecar_scrape(scraped)
            )
            found.append(Counter("istio_requests_total", labels, rate=rps))
    return found


def in_namespace(manifest: dict, namespace: str) -> dict:
    return {**manifest, "metadata": {**manifest["metadata"], "namespace": namespace}}


prometheus = prometheus_holding("rollouts", series)


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory) -> str:
    directory = tmp_path_factory.mktemp("routes")
    status = {
        "phase": "Paused",
        "currentStepIndex": 3,
        "stableRS": "6f8c9d7b5",
        "currentPodHash": "7d4b8f6c9",
        "canary": {"weights": {"canary": {"weight": 30}, "stable": {"weight": 70}}},
    }
    manifests = {
        "reviews-route": in_namespace(http_route(("reviews-stable", 70), ("reviews-canary", 30)), BOOKINFO),
        "reviews-rollout": in_namespace(argo_rollout(status), BOOKINFO),
        "ratings-route": in_namespace(
            http_route(("ratings-v1", 90), ("ratings-v2", 10), parent="ratings", name="ratings"), BOOKINFO
        ),
        "podinfo-canary": in_namespace(flagger("Progressing", 20), TEST),
    }
    for name, manifest in manifests.items():
        (Path(directory) / f"{name}.json").write_text(json.dumps(manifest))
    return str(directory)


@pytest.fixture(scope="module")
def document(prometheus, config_dir) -> dict:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(
            ["canary", "--prometheus", prometheus.url, "--istio-config", config_dir, "--at", str(END)]
        )
    assert code == 0
    return {(s["service"], s["namespace"]): s for s in json.loads(out.getvalue())["services"]}


def figures(entry: dict) -> dict:
    return {v["version"]: (v["role"], v["configured_weight"], v["share"]) for v in entry["versions"]}


def test_the_releases_are_the_routes_not_their_services(document):
    assert set(document) == {("reviews", BOOKINFO), ("ratings", BOOKINFO), ("podinfo", TEST)}


def test_an_http_route_driven_canary_shows_its_weights_and_roles(document):
    ratings = document["ratings", BOOKINFO]
    assert figures(ratings) == {
        "ratings-v1": ("baseline", 0.9, 0.9),
        "ratings-v2": ("canary", 0.1, 0.1),
    }
    assert "controller" not in ratings
    # No duration histograms in this mesh: the canary cannot be judged yet.
    assert ratings["verdict"] == "hold" and "p99 of ratings-v2 unknown: cannot judge it" in ratings["reasons"]


def test_a_rollout_driven_canary_shows_the_controllers_weights_roles_and_phase(document):
    reviews = document["reviews", BOOKINFO]
    assert figures(reviews) == {
        "reviews-stable": ("baseline", 0.7, 0.7),
        "reviews-canary": ("canary", 0.3, 0.3),
    }
    assert reviews["baseline"] == "reviews-stable"
    controller = reviews["controller"]
    assert (controller["kind"], controller["phase"], controller["state"]) == ("Rollout", "Paused", "paused")
    assert (controller["step"], controller["steps"], controller["weight"]) == (3, 4, 0.3)
    assert controller["agrees"] is True
    assert any(
        r.startswith("Argo Rollouts Rollout reviews: paused (Paused) at step 3 of 4")
        for r in reviews["reasons"]
    )


def test_a_flagger_canary_alone_shows_primary_and_canary(document):
    podinfo = document["podinfo", TEST]
    assert figures(podinfo) == {
        "podinfo-primary": ("baseline", 0.8, 0.8),
        "podinfo-canary": ("canary", 0.2, 0.2),
    }
    assert podinfo["controller"]["state"] == "progressing"
    assert {v["workload"] for v in podinfo["versions"]} == {"podinfo-primary", "podinfo"}
