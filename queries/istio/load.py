"""Where Istio routing config is read from, each way into the one parser:

- a directory of YAML/JSON files (`--istio-config DIR`): multi-document YAML
  and `kind: List` documents (what `kubectl get vs,dr -o yaml` prints) are
  both read; other kinds (Deployments, Services...) are skipped;
- manifests already in memory (plain dicts, e.g. the demo's current phase);
- the Kubernetes API (`--istio-config kubernetes:` or `kubernetes:CONTEXT`),
  through the optional `kubernetes` package (`pip install 'meshwatch[kubernetes]'`),
  in-cluster config first, then the kubeconfig. Istio's VirtualServices and
  DestinationRules must list; Gateway API HTTPRoutes, Argo Rollouts and
  Flagger Canaries are read when their CRDs are installed and the account
  may list them (a 404 or 403 for those leaves them out).
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from queries.errors import ConfigError, SourceError
from queries.http import MB, failure_reason, read_stream, response_budget
from queries.istio.parse import parse_documents
from queries.istio.records import (
    ARGO_GROUP,
    DESTINATION_RULE,
    FLAGGER_CANARY,
    FLAGGER_GROUP,
    GATEWAY_API_GROUP,
    HTTP_ROUTE,
    ROLLOUT,
    VIRTUAL_SERVICE,
    IstioConfig,
)
from queries.istio.yaml_bounds import YamlTooComplex, load_all

KUBERNETES = "kubernetes:"
CONFIG_SUFFIXES = (".yaml", ".yml", ".json")
KUBERNETES_TIMEOUT_S = 10.0
# What the listings of one read may hold together, unless told otherwise (--max-response-mb).
KUBERNETES_MAX_BYTES = 64 * MB
ADVICE = "raise --max-response-mb, or use --istio-config DIR"
# A config directory larger than this is not routing config (kubectl's
# listing of 3,000 VirtualServices is ~5 MB).
MAX_CONFIG_BYTES = 64 << 20
# What identifies a directory's files as read: (path, modification time in ns, size) each.
Stamp = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class Listed:
    """A kind listed from the API: its group, versions newest first, plural,
    and whether the config cannot do without it."""

    group: str
    versions: tuple[str, ...]
    plural: str
    kind: str
    required: bool = False


# Istio's API group: v1 since Istio 1.22, v1beta1 before it.
LISTED = (
    Listed("networking.istio.io", ("v1", "v1beta1"), "virtualservices", VIRTUAL_SERVICE, required=True),
    Listed("networking.istio.io", ("v1", "v1beta1"), "destinationrules", DESTINATION_RULE, required=True),
    Listed(GATEWAY_API_GROUP, ("v1", "v1beta1"), "httproutes", HTTP_ROUTE),
    Listed(ARGO_GROUP, ("v1alpha1",), "rollouts", ROLLOUT),
    Listed(FLAGGER_GROUP, ("v1beta1",), "canaries", FLAGGER_CANARY),
)
# Answers for an optional kind that mean "not here": no CRD, or not ours to list.
ABSENT_STATUSES = (403, 404)


def from_manifests(manifests: Any, origin: str = "manifests") -> IstioConfig:
    """Records from manifests in memory: a list of dicts, one dict (maybe a
    `kind: List`), or a (manifests, origin) pair as `Services.istio_objects` gives."""
    if isinstance(manifests, tuple) and len(manifests) == 2 and isinstance(manifests[1], str):
        manifests, origin = manifests
    if isinstance(manifests, dict):
        manifests = [manifests]
    if not isinstance(manifests, (list, tuple)):
        raise ConfigError(f"{origin}: expected a list of Kubernetes objects")
    documents = [(f"{origin}[{i}]" if len(manifests) > 1 else origin, m) for i, m in enumerate(manifests)]
    return parse_documents(documents, origin)


def _file_documents(path: Path) -> list[tuple[str, Any]]:
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{shown}: cannot read: {error.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{shown}: not UTF-8 text") from None
    try:
        documents = load_all(text)  # JSON is YAML too
    except YamlTooComplex as error:
        raise ConfigError(f"{shown}: not read: {error}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{shown}: {where}not valid YAML ({problem})") from None
    present = [d for d in documents if d is not None]
    if len(present) == 1:
        return [(shown, present[0])]
    return [(f"{shown} (document {i + 1})", d) for i, d in enumerate(documents) if d is not None]


def config_files(directory: str) -> list[Path]:
    """The YAML/JSON files under the directory, sorted, hidden ones skipped."""
    root = Path(directory)
    if not root.is_dir():
        raise ConfigError(f"--istio-config {directory}: not a directory")
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix.lower() in CONFIG_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def stamp(files: list[Path]) -> Stamp:
    """The files as they are now, to tell whether any changed since read."""
    found = []
    for path in files:
        try:
            status = path.stat()
        except OSError:
            continue  # gone since listed: the next read says so
        found.append((str(path), status.st_mtime_ns, status.st_size))
    return tuple(found)


def load_directory(directory: str, files: list[Path] | None = None) -> IstioConfig:
    """Every YAML/JSON file under the directory (`config_files`), at most
    MAX_CONFIG_BYTES together."""
    files = config_files(directory) if files is None else files
    size = sum(entry[2] for entry in stamp(files))
    if size > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"--istio-config {directory}: {size >> 20} MB of YAML, more than the "
            f"{MAX_CONFIG_BYTES >> 20} MB meshwatch reads as routing config"
        )
    documents = [doc for path in files for doc in _file_documents(path)]
    return parse_documents(documents, directory)


def kubernetes_configured() -> bool:
    """True when the optional client is installed and a cluster config is at hand."""
    if importlib.util.find_spec("kubernetes") is None:
        return False
    kubeconfig = os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) or any(
        Path(p).is_file() for p in kubeconfig.split(os.pathsep) if p
    )


def load_kubernetes(context: str | None = None, max_bytes: int = KUBERNETES_MAX_BYTES) -> IstioConfig:
    """The routing objects of every namespace, from the API (see LISTED):
    the listings together at most `max_bytes`, each read within
    KUBERNETES_TIMEOUT_S in all."""
    try:
        from kubernetes import client, config
        from kubernetes.client.exceptions import ApiException
        from kubernetes.config.config_exception import ConfigException
    except ImportError:
        raise ConfigError(
            "reading Istio config from the Kubernetes API needs the optional client: "
            "pip install 'meshwatch[kubernetes]' (or use --istio-config DIR)"
        ) from None
    try:
        config.load_incluster_config()
        where = "in-cluster Kubernetes API"
    except ConfigException:
        try:
            # KUBECONFIG as it is now: the client reads it once, when imported.
            config.load_kube_config(config_file=os.environ.get("KUBECONFIG") or None, context=context or None)
            where = f"Kubernetes API ({context or 'current context'})"
        except (ConfigException, OSError, ValueError) as error:
            raise ConfigError(f"no usable Kubernetes config: {str(error).splitlines()[0]}") from None
    api = client.CustomObjectsApi()
    documents: list[tuple[str, Any]] = []
    with response_budget(max_bytes):
        for listed in LISTED:
            documents += _listing(api, listed, where, ApiException, max_bytes)
    return parse_documents(documents, where)


def _listing(
    api: Any, listed: Listed, where: str, api_exception: type[Exception], max_bytes: int
) -> list[tuple[str, Any]]:
    """The objects of one kind, from the first of its API versions the server serves."""
    plural = listed.plural
    for version in listed.versions:
        try:
            response = api.list_cluster_custom_object(
                listed.group, version, plural, _request_timeout=KUBERNETES_TIMEOUT_S, _preload_content=False
            )
        except api_exception as error:
            if error.status == 404 or (not listed.required and error.status in ABSENT_STATUSES):
                continue  # an older API version, or a CRD not installed (or not ours to list)
            raise SourceError(
                f"{where}: listing {plural} failed: HTTP {error.status} {error.reason}"
            ) from None
        except Exception as error:  # urllib3 raises many kinds for a dead API server
            raise SourceError(f"{where}: cannot list {plural}: {failure_reason(error)}") from None
        body = read_stream(response, f"{where}: listing {plural}", KUBERNETES_TIMEOUT_S, max_bytes, ADVICE)
        try:
            listing = json.loads(body)
            items = listing.get("items") or []
            if not isinstance(items, list):
                raise TypeError("items is a list")
        except (ValueError, RecursionError, AttributeError, TypeError):
            raise SourceError(f"{where}: listing {plural}: not a Kubernetes list") from None
        documents = []
        for item in items:
            if isinstance(item, dict):
                item.setdefault("kind", listed.kind)
                item.setdefault("apiVersion", f"{listed.group}/{version}")
                meta = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
                documents.append((f"{where}: {listed.kind} {meta.get('namespace')}/{meta.get('name')}", item))
        return documents
    return []


def load(spec: str, max_bytes: int = KUBERNETES_MAX_BYTES) -> IstioConfig:
    """`--istio-config`: a directory, or `kubernetes:[CONTEXT]` for the API
    (its answers at most `max_bytes` together)."""
    if spec.startswith(KUBERNETES):
        return load_kubernetes(spec[len(KUBERNETES) :] or None, max_bytes)
    return load_directory(spec)
