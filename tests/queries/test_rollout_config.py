"""Gateway API HTTPRoutes, Argo Rollouts and Flagger Canaries read from YAML
(as `kubectl get -o yaml` prints them) and from the Kubernetes API (a fake
API server answering the official client), through the one parser."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from queries.errors import ConfigError, SourceError
from queries.istio.load import load, load_directory
from queries.istio.records import RouteDestination
from tests.support.kubernetes import ISTIO_V1, FakeKubernetesAPI

HTTP_ROUTE = """\
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: reviews, namespace: bookinfo}
spec:
  parentRefs:
  - {name: bookinfo-gateway, sectionName: http}
  rules:
  - matches:
    - headers: [{name: end-user, value: jason}]
    backendRefs: [{name: reviews-canary, port: 9080}]
  - matches: [{path: {type: PathPrefix, value: /}}]
    backendRefs:
    - {name: reviews-stable, port: 9080, weight: 70}
    - {name: reviews-canary, port: 9080, weight: 30}
    filters:
    - type: RequestMirror
      requestMirror: {backendRef: {name: reviews-shadow, port: 9080}, percent: 5}
"""

GAMMA_ROUTE = """\
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ratings, namespace: bookinfo}
spec:
  parentRefs: [{group: "", kind: Service, name: ratings, port: 9080}]
  rules:
  - backendRefs:
    - {name: ratings-v1, port: 9080, weight: 90}
    - {name: ratings-v2, port: 9080}
"""

ROLLOUT = """\
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: reviews, namespace: bookinfo}
spec:
  replicas: 4
  selector: {matchLabels: {app: reviews}}
  strategy:
    canary:
      stableService: reviews-stable
      canaryService: reviews-canary
      trafficRouting:
        plugins:
          argoproj-labs/gatewayAPI: {httpRoute: reviews, namespace: bookinfo}
      steps:
      - setWeight: 10
      - pause: {}
      - setWeight: 30
      - pause: {duration: 10m}
      - setWeight: 60
      - pause: {}
status:
  phase: Paused
  message: CanaryPauseStep
  currentStepIndex: 3
  stableRS: 6f8c9d7b5
  currentPodHash: 7d4b8f6c9
  pauseConditions: [{reason: CanaryPauseStep, startTime: "2024-01-01T00:05:00Z"}]
  canary:
    weights:
      canary: {weight: 30, serviceName: reviews-canary, podTemplateHash: 7d4b8f6c9}
      stable: {weight: 70, serviceName: reviews-stable, podTemplateHash: 6f8c9d7b5}
"""

ISTIO_ROLLOUT = """\
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: details, namespace: bookinfo}
spec:
  strategy:
    canary:
      trafficRouting:
        istio:
          virtualService: {name: details, routes: [primary]}
          destinationRule: {name: details, canarySubsetName: canary, stableSubsetName: stable}
      steps: [{setWeight: 20}, {pause: {}}]
status: {phase: Progressing, currentStepIndex: 0, abort: true}
"""

FLAGGER_CANARY = """\
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: podinfo, namespace: test}
spec:
  provider: istio
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  service: {port: 9898}
  analysis: {interval: 1m, threshold: 5, maxWeight: 50, stepWeight: 10}
status:
  phase: Progressing
  canaryWeight: 20
  failedChecks: 1
  conditions:
  - {type: Promoted, status: Unknown, reason: Progressing, message: "New revision detected, progressing canary analysis."}
"""

KRUISE_ROLLOUT = """\
apiVersion: rollouts.kruise.io/v1beta1
kind: Rollout
metadata: {name: reviews, namespace: bookinfo}
spec: {workloadRef: {apiVersion: apps/v1, kind: Deployment, name: reviews}}
"""


def write(directory: Path, **files: str) -> str:
    directory.mkdir(exist_ok=True)
    for name, text in files.items():
        (directory / f"{name}.yaml").write_text(text)
    return str(directory)


def test_http_route_rules_backend_refs_and_parents(tmp_path: Path) -> None:
    config = load_directory(write(tmp_path / "cfg", route=HTTP_ROUTE, gamma=GAMMA_ROUTE))
    routes = {route.name: route for route in config.http_routes}
    reviews = routes["reviews"]
    assert reviews.parents == (("Gateway", "bookinfo-gateway", "bookinfo"),)
    assert reviews.rules[0].matches == ('header end-user Exact "jason"',)
    catch_all = reviews.rules[1]
    assert catch_all.matches == ()  # `PathPrefix /` takes every request
    assert catch_all.destinations == (
        RouteDestination("reviews-stable", "bookinfo", None, 70),
        RouteDestination("reviews-canary", "bookinfo", None, 30),
    )
    assert [(m.service, m.percent) for m in catch_all.mirrors] == [("reviews-shadow", 5.0)]
    ratings = routes["ratings"]
    assert ratings.parent_services() == [("ratings", "bookinfo")]
    # A backendRef without a weight weighs 1.
    assert [(d.service, d.weight) for d in ratings.rules[0].destinations] == [
        ("ratings-v1", 90),
        ("ratings-v2", 1),
    ]
    assert [f for _, f in ratings.rules[0].fractions()] == pytest.approx([90 / 91, 1 / 91])


def test_argo_rollout_spec_and_status(tmp_path: Path) -> None:
    config = load_directory(write(tmp_path / "cfg", rollout=ROLLOUT, istio=ISTIO_ROLLOUT))
    rollouts = {r.name: r for r in config.rollouts}
    reviews = rollouts["reviews"]
    assert (reviews.stable, reviews.canary, reviews.http_routes) == (
        "reviews-stable",
        "reviews-canary",
        ("reviews",),
    )
    assert reviews.step_weights == (10, None, 30, None, 60, None)
    assert (reviews.phase, reviews.step_index, reviews.weight, reviews.aborted) == ("Paused", 3, 30, False)
    assert (reviews.stable_hash, reviews.current_hash) == ("6f8c9d7b5", "7d4b8f6c9")
    details = rollouts["details"]
    assert (details.stable_subset, details.canary_subset) == ("stable", "canary")
    assert details.virtual_services == ("details",)
    assert details.aborted is True and details.weight is None


def test_flagger_canary_spec_and_status(tmp_path: Path) -> None:
    [canary] = load_directory(write(tmp_path / "cfg", canary=FLAGGER_CANARY)).flagger_canaries
    assert (canary.target, canary.service, canary.primary, canary.canary) == (
        "podinfo",
        "podinfo",
        "podinfo-primary",
        "podinfo-canary",
    )
    assert (canary.phase, canary.weight, canary.failed_checks) == ("Progressing", 20, 1)
    assert canary.message == "New revision detected, progressing canary analysis."


def test_another_projects_rollout_kind_is_not_read(tmp_path: Path) -> None:
    assert load_directory(write(tmp_path / "cfg", kruise=KRUISE_ROLLOUT)).rollouts == ()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            HTTP_ROUTE.replace("weight: 70", "weight: -1"),
            "spec.rules[1].backendRefs[0].weight: must not be negative",
        ),
        (
            HTTP_ROUTE.replace("weight: 70", "weight: 0").replace("weight: 30", "weight: 0"),
            "spec.rules[1].backendRefs: weights sum to 0",
        ),
        (
            HTTP_ROUTE.replace("- {name: reviews-stable,", "- {namex: reviews-stable,"),
            "backendRefs[0].name: missing",
        ),
        (
            ROLLOUT.replace("setWeight: 30", "setWeight: 130"),
            "spec.strategy.canary.steps[2].setWeight: expected a percentage",
        ),
        (
            ROLLOUT.replace("currentStepIndex: 3", "currentStepIndex: three"),
            "status.currentStepIndex: expected an integer",
        ),
        (FLAGGER_CANARY.replace("name: podinfo}", "kind: Deployment}"), "spec.targetRef.name: missing"),
    ],
)
def test_bad_objects_name_the_file_and_field(tmp_path: Path, text: str, problem: str) -> None:
    directory = write(tmp_path / "cfg", bad=text)
    with pytest.raises(ConfigError) as raised:
        load_directory(directory)
    message = str(raised.value)
    assert message.startswith(f"{directory}/bad.yaml: ") and problem in message, message
    assert "\n" not in message


def listings() -> dict:
    return {
        (*ISTIO_V1, "virtualservices"): [],
        (*ISTIO_V1, "destinationrules"): [],
        ("gateway.networking.k8s.io", "v1", "httproutes"): [yaml.safe_load(HTTP_ROUTE)],
        ("argoproj.io", "v1alpha1", "rollouts"): [yaml.safe_load(ROLLOUT)],
        ("flagger.app", "v1beta1", "canaries"): [yaml.safe_load(FLAGGER_CANARY)],
    }


@pytest.fixture
def kubeconfig(tmp_path, monkeypatch):
    def point_at(api: FakeKubernetesAPI) -> None:
        monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
        monkeypatch.setenv("KUBECONFIG", str(api.kubeconfig(tmp_path / "kubeconfig")))

    return point_at


def test_the_kubernetes_api_lists_routes_and_controllers(kubeconfig) -> None:
    objects = listings()
    # The API's items carry no kind; the loader gives them the listed kind.
    for items in objects.values():
        for item in items:
            item.pop("kind", None)
    with FakeKubernetesAPI(objects) as api:
        kubeconfig(api)
        config = load("kubernetes:")
    assert [r.name for r in config.http_routes] == ["reviews"]
    assert [(r.name, r.weight) for r in config.rollouts] == [("reviews", 30)]
    assert [(c.name, c.weight) for c in config.flagger_canaries] == [("podinfo", 20)]
    assert "/apis/gateway.networking.k8s.io/v1/httproutes" in api.paths


def test_controllers_the_cluster_lacks_or_hides_are_left_out(kubeconfig) -> None:
    objects = {key: items for key, items in listings().items() if key[2] != "canaries"}
    with FakeKubernetesAPI(objects, refused={("argoproj.io", "rollouts"): 403}) as api:
        kubeconfig(api)
        config = load("kubernetes:")
    assert config.rollouts == () and config.flagger_canaries == ()
    assert [r.name for r in config.http_routes] == ["reviews"]


def test_older_gateway_api_versions_are_read(kubeconfig) -> None:
    objects = {key: items for key, items in listings().items() if key[2] != "httproutes"}
    objects["gateway.networking.k8s.io", "v1beta1", "httproutes"] = [
        yaml.safe_load(GAMMA_ROUTE.replace("/v1\n", "/v1beta1\n"))
    ]
    with FakeKubernetesAPI(objects) as api:
        kubeconfig(api)
        assert [r.name for r in load("kubernetes:").http_routes] == ["ratings"]


def test_istio_objects_refused_are_one_line(kubeconfig) -> None:
    with FakeKubernetesAPI(listings(), refused={("networking.istio.io", "virtualservices"): 403}) as api:
        kubeconfig(api)
        with pytest.raises(SourceError) as raised:
            load("kubernetes:")
    assert "listing virtualservices failed: HTTP 403" in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_bad_object_from_the_api_names_it(kubeconfig) -> None:
    objects = listings()
    broken = yaml.safe_load(ROLLOUT)
    broken["spec"]["strategy"]["canary"]["steps"] = "ten percent"
    objects["argoproj.io", "v1alpha1", "rollouts"] = [broken]
    with FakeKubernetesAPI(objects) as api:
        kubeconfig(api)
        with pytest.raises(
            ConfigError, match=r"Rollout bookinfo/reviews: spec.strategy.canary.steps: expected a list"
        ):
            load("kubernetes:")


def test_yaml_from_kubectl_get_list(tmp_path: Path) -> None:
    listed = {"apiVersion": "v1", "kind": "List", "items": [yaml.safe_load(t) for t in (HTTP_ROUTE, ROLLOUT)]}
    directory = write(tmp_path / "cfg", listed=textwrap.dedent(yaml.safe_dump(listed)))
    config = load_directory(directory)
    assert len(config.http_routes) == 1 and len(config.rollouts) == 1
