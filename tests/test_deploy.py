"""The in-cluster deployment, read as data: deploy/kubernetes (a kustomization)
and the Dockerfile hold the properties README promises."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboard.app.config import OPTIONS, resolve

ROOT = Path(__file__).resolve().parents[1]
KUSTOMIZE = ROOT / "deploy" / "kubernetes"
DOCKERFILE = ROOT / "Dockerfile"


def kustomization() -> dict[str, Any]:
    return yaml.safe_load((KUSTOMIZE / "kustomization.yaml").read_text())


def manifests() -> list[dict[str, Any]]:
    documents = []
    for resource in kustomization()["resources"]:
        documents += [doc for doc in yaml.safe_load_all((KUSTOMIZE / resource).read_text()) if doc]
    return documents


def one(kind: str) -> dict[str, Any]:
    (found,) = [doc for doc in manifests() if doc["kind"] == kind]
    return found


def container() -> dict[str, Any]:
    (only,) = one("Deployment")["spec"]["template"]["spec"]["containers"]
    return only


def test_the_kustomization_lists_every_manifest_and_each_exists():
    listed = set(kustomization()["resources"])
    on_disk = {path.name for path in KUSTOMIZE.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk
    kinds = sorted(doc["kind"] for doc in manifests())
    assert kinds == sorted(
        [
            "ClusterRole",
            "ClusterRoleBinding",
            "ConfigMap",
            "Deployment",
            "Namespace",
            "Service",
            "ServiceAccount",
        ]
    )
    namespace = kustomization()["namespace"]
    for doc in manifests():
        if doc["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
            assert doc["metadata"]["namespace"] == namespace, doc["kind"]


def test_the_probes_are_healthz_and_readyz_on_the_served_port():
    served = container()
    port = served["ports"][0]
    assert port["name"] == "http" and port["containerPort"] == 8050
    assert served["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert served["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}


def test_the_pod_runs_as_non_root_on_a_read_only_root_filesystem():
    pod = one("Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] > 0
    security = container()["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    # Writable scratch only where the server writes (gunicorn's heartbeats go to /dev/shm).
    mounts = {mount["mountPath"] for mount in container()["volumeMounts"]}
    assert mounts == {"/tmp", "/dev/shm"}
    assert all("emptyDir" in volume for volume in pod["volumes"])


def test_resources_are_requested_and_limited():
    resources = container()["resources"]
    for kind in ("requests", "limits"):
        assert set(resources[kind]) == {"cpu", "memory"}, kind


def test_the_cluster_role_only_reads_routing_config():
    rules = one("ClusterRole")["rules"]
    granted = {
        (group, resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    expected = {
        (group, resource, verb)
        for group, resources in {
            "networking.istio.io": ("virtualservices", "destinationrules"),
            "gateway.networking.k8s.io": ("httproutes",),
        }.items()
        for resource in resources
        for verb in ("get", "list", "watch")
    }
    assert granted == expected
    assert all(set(rule) == {"apiGroups", "resources", "verbs"} for rule in rules)


def test_the_binding_gives_the_role_to_the_pods_service_account():
    binding, account = one("ClusterRoleBinding"), one("ServiceAccount")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": one("ClusterRole")["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": account["metadata"]["name"],
            "namespace": kustomization()["namespace"],
        }
    ]
    assert one("Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == account["metadata"]["name"]


def test_the_service_reaches_the_pods():
    deployment, service = one("Deployment"), one("Service")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"


def test_the_config_names_istios_in_cluster_backends_and_only_known_options():
    config = one("ConfigMap")
    assert container()["envFrom"] == [{"configMapRef": {"name": config["metadata"]["name"]}}]
    data = config["data"]
    known = {declared.env for declared in OPTIONS.values()}
    assert set(data) <= known, set(data) - known
    settings = resolve({}, data)  # every value reads as meshwatch reads it
    [prometheus] = settings.prometheus  # one Prometheus: Istio's
    assert re.match(r"^http://prometheus\.istio-system(\.svc(\.cluster\.local)?)?:9090$", prometheus.url)
    assert re.match(
        r"^http://tracing\.istio-system(\.svc(\.cluster\.local)?)?(:80)?/jaeger$", settings.jaeger
    )
    assert settings.istio_config == "kubernetes:"
    assert settings.listen == ("0.0.0.0", 8050)


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_the_image_is_slim_python_non_root_and_serves_with_gunicorn():
    instructions = dockerfile_instructions()
    bases = [arg for word, arg in instructions if word == "FROM"]
    assert bases and all(re.match(r"^python:3\.\d+-slim\b", base) for base in bases)
    final = instructions[max(i for i, (word, _) in enumerate(instructions) if word == "FROM") :]
    (user,) = [arg for word, arg in final if word == "USER"]
    assert user.split(":")[0] not in ("root", "0")
    # The last stage's USER comes before its entry point, so the server never runs as root.
    words = [word for word, _ in final]
    assert words.index("USER") < words.index("ENTRYPOINT")
    (entry,) = [arg for word, arg in final if word == "ENTRYPOINT"]
    assert yaml.safe_load(entry) == ["meshwatch", "serve"]  # gunicorn, embedded (dashboard/app/server.py)
    environment = " ".join(arg for word, arg in final if word == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in environment
    assert ("EXPOSE", "8050") in final


@pytest.mark.parametrize("path", ["deploy/kubernetes", "Dockerfile"])
def test_readme_tells_how_to_use_it(path):
    assert path in (ROOT / "README.md").read_text()
