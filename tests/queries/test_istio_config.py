"""Reading VirtualServices and DestinationRules: files, manifests, bad input."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from queries.errors import ConfigError, SourceError
from queries.istio import load as istio_config
from queries.istio.load import from_manifests, load, load_directory
from queries.istio.records import resolve_host

REVIEWS_DR = """
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
"""

KUBECTL_LIST = """
apiVersion: v1
kind: List
items:
- apiVersion: networking.istio.io/v1
  kind: VirtualService
  metadata: {name: reviews, namespace: default}
  spec:
    hosts: [reviews.default.svc.cluster.local]
    http:
    - route:
      - destination: {host: reviews, subset: v1}
        weight: 80
      - destination: {host: reviews.default.svc.cluster.local, subset: v2}
        weight: 20
- apiVersion: networking.istio.io/v1
  kind: DestinationRule
  metadata: {name: ratings, namespace: shop}
  spec:
    host: ratings
    subsets: [{name: stable, labels: {version: v1}}]
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: reviews-v1}
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_kubectl_list_and_multi_document_files_are_read(tmp_path: Path) -> None:
    write(tmp_path, "all.yaml", KUBECTL_LIST)
    write(
        tmp_path,
        "nested/dr.yml",
        REVIEWS_DR
        + "---\n"
        + REVIEWS_DR.replace("name: reviews, namespace: default", "name: other, namespace: prod"),
    )
    write(tmp_path, ".hidden/ignored.yaml", "not: [valid")
    config = load_directory(str(tmp_path))
    [vs] = config.virtual_services
    assert (vs.name, vs.namespace, vs.hosts) == ("reviews", "default", (("reviews", "default"),))
    [route] = vs.routes
    assert [(d.service, d.namespace, d.subset, f) for d, f in route.fractions()] == [
        ("reviews", "default", "v1", 0.8),
        ("reviews", "default", "v2", 0.2),
    ]
    assert [(dr.service, dr.service_namespace) for dr in config.destination_rules] == [
        ("ratings", "shop"),
        ("reviews", "default"),
        ("reviews", "prod"),
    ]
    assert config.destination_rule_for("ratings", "shop").labels_of("stable") == {"version": "v1"}


def test_manifests_in_memory_use_the_same_parser() -> None:
    import yaml

    from_files = from_manifests(list(yaml.safe_load_all(KUBECTL_LIST)))
    pair = from_manifests(([yaml.safe_load(REVIEWS_DR)], "demo phase canary"))
    assert from_files.virtual_services[0].routes[0].destinations[1].weight == 20
    assert pair.origin == "demo phase canary" and pair.destination_rules[0].subsets[0][0] == "v1"


@pytest.mark.parametrize(
    "host, expected",
    [
        ("reviews", ("reviews", "shop")),
        ("reviews.default", ("reviews", "default")),
        ("reviews.default.svc", ("reviews", "default")),
        ("Reviews.default.svc.cluster.local", ("reviews", "default")),
        ("reviews.default.svc.corp.example", ("reviews", "default")),
        ("*", None),
        ("*.example.com", None),
        ("bookinfo.example.com", None),
    ],
)
def test_hosts_resolve_against_the_object_namespace(host: str, expected) -> None:
    assert resolve_host(host, "shop") == expected


def test_mirrors_matches_and_lone_destination() -> None:
    config = from_manifests(
        [
            {
                "kind": "VirtualService",
                "metadata": {"name": "reviews"},
                "spec": {
                    "hosts": ["reviews"],
                    "http": [
                        {
                            "match": [
                                {"headers": {"end-user": {"exact": "jason"}}},
                                {"uri": {"prefix": "/beta"}},
                            ],
                            "route": [{"destination": {"host": "reviews", "subset": "v2"}}],
                        },
                        {
                            "route": [{"destination": {"host": "reviews", "subset": "v1"}, "weight": 30}],
                            "mirror": {"host": "reviews", "subset": "v3"},
                            "mirrorPercentage": {"value": 12.5},
                        },
                    ],
                },
            }
        ]
    )
    content, default = config.virtual_services[0].routes
    assert content.matches == ('header end-user exact "jason"', 'uri prefix "/beta"')
    assert default.matches == () and default.fractions()[0][1] == 1.0  # a lone destination takes all
    assert [(m.subset, m.percent) for m in default.mirrors] == [("v3", 12.5)]
    assert config.virtual_services[0].namespace == "default"


def test_gateway_only_virtual_services_do_not_route_sidecars() -> None:
    config = from_manifests(
        [
            {
                "kind": "VirtualService",
                "metadata": {"name": "gw", "namespace": "default"},
                "spec": {
                    "hosts": ["productpage"],
                    "gateways": ["bookinfo-gateway"],
                    "http": [{"route": [{"destination": {"host": "productpage"}}]}],
                },
            }
        ]
    )
    assert config.virtual_services_for("productpage", "default") == []


@pytest.mark.parametrize(
    "body, message",
    [
        (
            """
     kind: VirtualService
     metadata: {name: reviews}
     spec:
       hosts: [reviews]
       http:
       - route:
         - destination: {host: reviews, subset: v1}
           weight: 50
         - destination: {host: reviews, subset: v2}
           weight: fifty
     """,
            "istio/reviews-vs.yaml: spec.http[0].route[1].weight: expected an integer",
        ),
        (
            """
     kind: VirtualService
     metadata: {name: reviews}
     spec:
       hosts: [reviews]
       http:
       - route:
         - destination: {subset: v1}
     """,
            "istio/reviews-vs.yaml: spec.http[0].route[0].destination.host: missing",
        ),
        (
            """
     kind: VirtualService
     metadata: {name: reviews}
     """,
            "istio/reviews-vs.yaml: spec: missing",
        ),
        (
            """
     kind: VirtualService
     spec: {hosts: [reviews]}
     """,
            "istio/reviews-vs.yaml: metadata: missing",
        ),
        (
            """
     kind: VirtualService
     metadata: {name: reviews}
     spec:
       hosts: [reviews]
       http:
       - route:
         - destination: {host: reviews, subset: v1}
           weight: 0
         - destination: {host: reviews, subset: v2}
     """,
            "istio/reviews-vs.yaml: spec.http[0].route: weights sum to 0",
        ),
        (
            """
     kind: VirtualService
     metadata: {name: reviews}
     spec:
       hosts: [reviews]
       http:
       - route: [{destination: {host: reviews, subset: v1}}]
         mirror: {host: reviews, subset: v2}
         mirrorPercentage: {value: 150}
     """,
            "istio/reviews-vs.yaml: spec.http[0].mirrorPercentage.value: expected a percentage between 0 and 100",
        ),
        (
            """
     kind: DestinationRule
     metadata: {name: reviews}
     spec:
       host: reviews
       subsets:
       - name: v1
         labels: {version: 1}
     """,
            "istio/reviews-vs.yaml: spec.subsets[0].labels.version: expected a non-empty string",
        ),
        (
            """
     kind: VirtualService
     metadata: {name: reviews}
     spec:
       hosts: reviews
     """,
            "istio/reviews-vs.yaml: spec.hosts: expected a list",
        ),
        (
            """
     kind: VirtualService
     metadata: {name: reviews
     """,
            "istio/reviews-vs.yaml: line 4, column 1: not valid YAML",
        ),
        ("- just\n- a list\n", "istio/reviews-vs.yaml: expected a Kubernetes object (a mapping)"),
    ],
)
def test_bad_or_partial_yaml_names_the_file_and_field(
    tmp_path: Path, monkeypatch, body: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "istio/reviews-vs.yaml", body)
    with pytest.raises(ConfigError) as error:
        load("istio")
    assert str(error.value).startswith(message), str(error.value)


def test_errors_inside_lists_and_documents_say_where(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "istio/all.yaml", KUBECTL_LIST.replace("weight: 20", "weight: 20.5"))
    with pytest.raises(
        ConfigError,
        match=r"^istio/all\.yaml: items\[0\]\.spec\.http\[0\]\.route\[1\]\.weight: expected an integer$",
    ):
        load("istio")
    write(
        tmp_path,
        "istio/all.yaml",
        REVIEWS_DR + "---\n" + "kind: DestinationRule\nmetadata: {name: x}\nspec: {}\n",
    )
    with pytest.raises(ConfigError, match=r"^istio/all\.yaml \(document 2\): spec\.host: missing$"):
        load("istio")


def test_missing_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a directory"):
        load(str(tmp_path / "nowhere"))


def test_kubernetes_without_the_extra_says_how_to_install_it(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "kubernetes", None)  # as if the optional package were absent
    with pytest.raises(ConfigError, match=r"pip install 'meshwatch\[kubernetes\]'"):
        load("kubernetes:")
    assert istio_config.kubernetes_configured() is False


# The 607-byte billion-laughs file of the fault-injection run: 9 ** 9 strings once expanded.
ALIAS_BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{name}: &{name} [{','.join(['*' + previous] * 9)}]\n" for previous, name in zip("abcdefgh", "bcdefghi")
)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (ALIAS_BOMB, "more than 2,000,000 nodes once its aliases are expanded"),
        ("a: " + "[" * 200 + "]" * 200 + "\n", "nested more than 64 deep"),
        ("x: " + "{a: " * 500 + "1" + "}" * 500 + "\n", "nested more than 64 deep"),
        ("a: &loop [1, *loop]\n", "alias *loop refers to a node that contains it"),
    ],
)
def test_hostile_yaml_is_refused_in_one_line(tmp_path: Path, text: str, words: str) -> None:
    assert len(ALIAS_BOMB) < 700
    (tmp_path / "bomb.yaml").write_text(text)
    with pytest.raises(ConfigError) as refused:
        load_directory(str(tmp_path))
    message = str(refused.value)
    assert words in message and "bomb.yaml" in message and "\n" not in message


@pytest.fixture
def kubernetes_api(tmp_path: Path, monkeypatch) -> Any:
    from tests.support.kubernetes import FakeKubernetesAPI

    api = FakeKubernetesAPI()
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(api.kubeconfig(tmp_path / "kubeconfig")))
    yield api
    api.stop()


def test_the_kubernetes_api_is_read_within_a_cap_and_a_deadline(kubernetes_api: Any, monkeypatch) -> None:
    import yaml

    kubernetes_api.objects["networking.istio.io", "v1", "virtualservices"] = [
        yaml.safe_load(KUBECTL_LIST)["items"][0]
    ]
    [vs] = load("kubernetes:").virtual_services
    assert (vs.name, vs.namespace) == ("reviews", "default")
    kubernetes_api.body = b'{"items": [' + b" " * (2 << 20) + b"]}"
    with pytest.raises(
        SourceError, match=r"listing virtualservices: response over 1 MB: raise --max-response-mb"
    ):
        load("kubernetes:", max_bytes=1 << 20)
    kubernetes_api.body = b'{"items": []}' * 40
    kubernetes_api.drip = 0.05
    monkeypatch.setattr(istio_config, "KUBERNETES_TIMEOUT_S", 0.5)
    with pytest.raises(SourceError, match=r"listing virtualservices did not answer within 0.5s"):
        load("kubernetes:")
