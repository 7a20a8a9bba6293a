"""Istio routing config: VirtualServices and DestinationRules as plain records.

Three ways in, one parser:
- a directory of YAML/JSON files (`--istio-config DIR`): multi-document YAML
  and `kind: List` documents (what `kubectl get vs,dr -o yaml` prints) are
  both read; other kinds (Deployments, Services...) are skipped;
- manifests already in memory (plain dicts, e.g. the demo's current phase);
- the Kubernetes API (`--istio-config kubernetes:` or `kubernetes:CONTEXT`),
  through the optional `kubernetes` package (`pip install 'meshwatch[kubernetes]'`),
  in-cluster config first, then the kubeconfig.

Bad or partial config raises ConfigError naming the file and the field, e.g.
`istio/reviews-vs.yaml: spec.http[0].route[1].weight: expected an integer`.

Hosts resolve as Istio does for mesh services: a short name (`reviews`)
against the object's namespace; `reviews.default`, `reviews.default.svc` and
`reviews.default.svc.cluster.local` name the service `reviews` in `default`.
Wildcards and external names are not mesh services and are left out.
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import yaml

from queries.telemetry import ConfigError, SourceError

VIRTUAL_SERVICE, DESTINATION_RULE = "VirtualService", "DestinationRule"
KUBERNETES = "kubernetes:"
CONFIG_SUFFIXES = (".yaml", ".yml", ".json")
# Istio's API group; v1 since Istio 1.22, v1beta1 before it.
ISTIO_GROUP, ISTIO_VERSIONS = "networking.istio.io", ("v1", "v1beta1")
KUBERNETES_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class RouteDestination:
    """One weighted destination of a route; `weight` as written (Istio's int)."""

    service: str
    namespace: str
    subset: str | None
    weight: int | None


@dataclass(frozen=True)
class Mirror:
    """A shadow copy of a route's requests (`mirror` + `mirrorPercentage`, or `mirrors`)."""

    service: str
    namespace: str
    subset: str | None
    percent: float


@dataclass(frozen=True)
class Route:
    """One `spec.http[i]` (or tcp/tls) route, in evaluation order.

    `matches` describes the match blocks in words; empty means the route
    takes every request that reaches it (the catch-all)."""

    path: str
    matches: tuple[str, ...]
    destinations: tuple[RouteDestination, ...]
    mirrors: tuple[Mirror, ...] = ()

    def fractions(self) -> list[tuple[RouteDestination, float]]:
        """Each destination's share, weight / sum of weights; a lone
        destination takes everything whatever its weight (Istio's rule)."""
        if len(self.destinations) == 1:
            return [(self.destinations[0], 1.0)]
        total = sum(d.weight or 0 for d in self.destinations)
        return [(d, (d.weight or 0) / total) for d in self.destinations]


@dataclass(frozen=True)
class VirtualService:
    name: str
    namespace: str
    origin: str
    hosts: tuple[tuple[str, str], ...]
    routes: tuple[Route, ...]
    mesh: bool = True  # False when bound only to gateways (not sidecar traffic)


@dataclass(frozen=True)
class DestinationRule:
    name: str
    namespace: str
    origin: str
    service: str
    service_namespace: str
    subsets: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]

    def labels_of(self, subset: str) -> dict[str, str] | None:
        return next((dict(labels) for name, labels in self.subsets if name == subset), None)


@dataclass(frozen=True)
class IstioConfig:
    """The routing objects known, and where they were read from."""

    virtual_services: tuple[VirtualService, ...] = ()
    destination_rules: tuple[DestinationRule, ...] = ()
    origin: str = ""

    def virtual_services_for(self, service: str, namespace: str) -> list[VirtualService]:
        """The VirtualServices routing sidecar traffic for the service, in order."""
        return [vs for vs in self.virtual_services if vs.mesh and (service, namespace) in vs.hosts]

    def destination_rule_for(self, service: str, namespace: str) -> DestinationRule | None:
        return next((dr for dr in self.destination_rules
                     if (dr.service, dr.service_namespace) == (service, namespace)), None)

    def services(self) -> set[tuple[str, str]]:
        """Every (service, namespace) a VirtualService routes or a DestinationRule subsets."""
        named = {host for vs in self.virtual_services if vs.mesh for host in vs.hosts}
        return named | {(dr.service, dr.service_namespace) for dr in self.destination_rules if dr.subsets}


def resolve_host(host: str, namespace: str) -> tuple[str, str] | None:
    """(service, namespace) of a mesh host name, or None for wildcards and external names."""
    name = host.strip().lower().rstrip(".")
    if not name or "*" in name:
        return None
    parts = name.split(".")
    if len(parts) == 1:
        return parts[0], namespace
    if len(parts) == 2 or parts[2] == "svc":
        return parts[0], parts[1]
    return None


# --- reading values with messages that name the file and field -------------

@dataclass(frozen=True)
class _Where:
    origin: str
    prefix: str = ""

    def error(self, path: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.origin}: {self.prefix}{path}: {problem}")


def _mapping(where: _Where, value: Any, path: str, required: bool = False) -> dict[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise where.error(path, "missing" if value is None else "expected a mapping")
    return value


def _list(where: _Where, value: Any, path: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise where.error(path, "expected a list")
    return value


def _string(where: _Where, value: Any, path: str, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise where.error(path, "missing")
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise where.error(path, "expected a non-empty string" if required else "expected a string")
    return value


def _integer(where: _Where, value: Any, path: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise where.error(path, "expected an integer")
    if value < 0:
        raise where.error(path, "must not be negative")
    return value


def _percent(where: _Where, value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise where.error(path, "expected a number")
    if not 0 <= value <= 100:
        raise where.error(path, "expected a percentage between 0 and 100")
    return float(value)


# --- VirtualService ---------------------------------------------------------

def _describe_match(where: _Where, block: Any, path: str) -> str:
    """A match block in an SRE's words: `header end-user exact "jason" and uri prefix "/v2"`."""
    block = _mapping(where, block, path, required=True)
    words: list[str] = []
    for key, value in block.items():
        if key in ("name", "ignoreUriCase"):
            continue
        if key in ("headers", "queryParams", "withoutHeaders"):
            noun = {"headers": "header", "queryParams": "query", "withoutHeaders": "without header"}[key]
            for name, condition in _mapping(where, value, f"{path}.{key}").items():
                words.append(f"{noun} {name} {_describe_condition(condition)}")
        elif key == "sourceLabels":
            labels = _mapping(where, value, f"{path}.{key}")
            words.append("source " + ",".join(f"{k}={v}" for k, v in labels.items()))
        elif isinstance(value, dict):
            words.append(f"{key} {_describe_condition(value)}")
        else:
            words.append(f"{key} {value}")
    return " and ".join(words) or "any request"


def _describe_condition(condition: Any) -> str:
    if isinstance(condition, dict) and condition:
        kind, value = next(iter(condition.items()))
        return f"{kind} {json.dumps(value)}"
    return "present"


def _destination(where: _Where, value: Any, path: str, namespace: str) -> tuple[str, str, str | None]:
    destination = _mapping(where, value, path, required=True)
    host = _string(where, destination.get("host"), f"{path}.host", required=True)
    subset = _string(where, destination.get("subset"), f"{path}.subset")
    resolved = resolve_host(host, namespace)
    if resolved is None:  # an external or wildcard host keeps its name; it never matches a mesh service
        resolved = (host, "")
    return resolved[0], resolved[1], subset


def _mirrors(where: _Where, route: dict[str, Any], path: str, namespace: str) -> list[Mirror]:
    mirrors = []
    if route.get("mirror") is not None:
        service, ns, subset = _destination(where, route["mirror"], f"{path}.mirror", namespace)
        percent = 100.0
        if route.get("mirrorPercentage") is not None:
            holder = _mapping(where, route["mirrorPercentage"], f"{path}.mirrorPercentage")
            percent = _percent(where, holder.get("value", 0), f"{path}.mirrorPercentage.value")
        elif route.get("mirrorPercent") is not None:  # deprecated integer form
            percent = _percent(where, _integer(where, route["mirrorPercent"], f"{path}.mirrorPercent"), f"{path}.mirrorPercent")
        mirrors.append(Mirror(service, ns, subset, percent))
    for j, item in enumerate(_list(where, route.get("mirrors"), f"{path}.mirrors")):
        item_path = f"{path}.mirrors[{j}]"
        item = _mapping(where, item, item_path, required=True)
        service, ns, subset = _destination(where, item.get("destination"), f"{item_path}.destination", namespace)
        percentage = _mapping(where, item.get("percentage"), f"{item_path}.percentage")
        percent = _percent(where, percentage.get("value", 100), f"{item_path}.percentage.value")
        mirrors.append(Mirror(service, ns, subset, percent))
    return mirrors


def _route(where: _Where, value: Any, path: str, namespace: str) -> Route:
    route = _mapping(where, value, path, required=True)
    matches = tuple(_describe_match(where, block, f"{path}.match[{j}]")
                    for j, block in enumerate(_list(where, route.get("match"), f"{path}.match")))
    destinations = []
    for j, item in enumerate(_list(where, route.get("route"), f"{path}.route")):
        item_path = f"{path}.route[{j}]"
        item = _mapping(where, item, item_path, required=True)
        service, ns, subset = _destination(where, item.get("destination"), f"{item_path}.destination", namespace)
        destinations.append(RouteDestination(service, ns, subset, _integer(where, item.get("weight"), f"{item_path}.weight")))
    if len(destinations) > 1 and sum(d.weight or 0 for d in destinations) == 0:
        raise where.error(f"{path}.route", "weights sum to 0: no destination would get traffic")
    return Route(path=path, matches=matches, destinations=tuple(destinations),
                 mirrors=tuple(_mirrors(where, route, path, namespace)))


def _virtual_service(where: _Where, obj: dict[str, Any], name: str, namespace: str) -> VirtualService:
    spec = _mapping(where, obj.get("spec"), "spec", required=True)
    hosts = []
    for i, host in enumerate(_list(where, spec.get("hosts"), "spec.hosts")):
        resolved = resolve_host(_string(where, host, f"spec.hosts[{i}]", required=True), namespace)
        if resolved:
            hosts.append(resolved)
    gateways = [_string(where, g, f"spec.gateways[{i}]", required=True)
                for i, g in enumerate(_list(where, spec.get("gateways"), "spec.gateways"))]
    routes = []
    # Istio applies a service's HTTP routes, else its TCP, else its TLS ones.
    for protocol in ("http", "tcp", "tls"):
        items = _list(where, spec.get(protocol), f"spec.{protocol}")
        routes = [_route(where, item, f"spec.{protocol}[{i}]", namespace) for i, item in enumerate(items)]
        if routes:
            break
    return VirtualService(name=name, namespace=namespace, origin=where.origin, hosts=tuple(hosts),
                          routes=tuple(routes), mesh=not gateways or "mesh" in gateways)


# --- DestinationRule --------------------------------------------------------

def _destination_rule(where: _Where, obj: dict[str, Any], name: str, namespace: str) -> DestinationRule:
    spec = _mapping(where, obj.get("spec"), "spec", required=True)
    host = _string(where, spec.get("host"), "spec.host", required=True)
    service, service_namespace = resolve_host(host, namespace) or (host, "")
    subsets = []
    for i, item in enumerate(_list(where, spec.get("subsets"), "spec.subsets")):
        item = _mapping(where, item, f"spec.subsets[{i}]", required=True)
        subset = _string(where, item.get("name"), f"spec.subsets[{i}].name", required=True)
        labels = _mapping(where, item.get("labels"), f"spec.subsets[{i}].labels")
        for key, value in labels.items():
            _string(where, value, f"spec.subsets[{i}].labels.{key}", required=True)
        subsets.append((subset, tuple(sorted(labels.items()))))
    return DestinationRule(name=name, namespace=namespace, origin=where.origin, service=service,
                           service_namespace=service_namespace, subsets=tuple(subsets))


# --- documents -> records ---------------------------------------------------

def _objects(where: _Where, document: Any) -> Iterator[tuple[_Where, dict[str, Any]]]:
    """The Kubernetes objects of one document, `kind: List` unrolled."""
    if document is None:
        return
    if not isinstance(document, dict):
        field_path = where.prefix.rstrip(".")
        raise ConfigError(f"{where.origin}: {field_path + ': ' if field_path else ''}expected a Kubernetes object (a mapping)")
    kind = document.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and "items" in document:
        for i, item in enumerate(_list(where, document.get("items"), "items")):
            yield from _objects(_Where(where.origin, f"{where.prefix}items[{i}]."), item)
    elif kind in (VIRTUAL_SERVICE, DESTINATION_RULE):
        yield where, document


def parse_documents(documents: Iterable[tuple[str, Any]], origin: str = "") -> IstioConfig:
    """Records from (origin, document) pairs: the one parser every way in uses."""
    virtual_services, destination_rules = [], []
    for document_origin, document in documents:
        for where, obj in _objects(_Where(document_origin), document):
            metadata = _mapping(where, obj.get("metadata"), "metadata", required=True)
            name = _string(where, metadata.get("name"), "metadata.name", required=True)
            namespace = _string(where, metadata.get("namespace"), "metadata.namespace") or "default"
            if obj["kind"] == VIRTUAL_SERVICE:
                virtual_services.append(_virtual_service(where, obj, name, namespace))
            else:
                destination_rules.append(_destination_rule(where, obj, name, namespace))
    return IstioConfig(tuple(virtual_services), tuple(destination_rules), origin)


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
        documents = list(yaml.safe_load_all(text))  # JSON is YAML too
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{shown}: {where}not valid YAML ({problem})") from None
    present = [d for d in documents if d is not None]
    if len(present) == 1:
        return [(shown, present[0])]
    return [(f"{shown} (document {i + 1})", d) for i, d in enumerate(documents) if d is not None]


def load_directory(directory: str) -> IstioConfig:
    """Every YAML/JSON file under the directory (sorted, hidden files skipped)."""
    root = Path(directory)
    if not root.is_dir():
        raise ConfigError(f"--istio-config {directory}: not a directory")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in CONFIG_SUFFIXES
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    documents = [doc for path in files for doc in _file_documents(path)]
    return parse_documents(documents, directory)


def kubernetes_configured() -> bool:
    """True when the optional client is installed and a cluster config is at hand."""
    if importlib.util.find_spec("kubernetes") is None:
        return False
    kubeconfig = os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) or any(
        Path(p).is_file() for p in kubeconfig.split(os.pathsep) if p)


def load_kubernetes(context: str | None = None) -> IstioConfig:
    """VirtualServices and DestinationRules of every namespace, from the API."""
    try:
        from kubernetes import client, config
        from kubernetes.client.exceptions import ApiException
        from kubernetes.config.config_exception import ConfigException
    except ImportError:
        raise ConfigError("reading Istio config from the Kubernetes API needs the optional client: "
                          "pip install 'meshwatch[kubernetes]' (or use --istio-config DIR)") from None
    try:
        config.load_incluster_config()
        where = "in-cluster Kubernetes API"
    except ConfigException:
        try:
            config.load_kube_config(context=context or None)
            where = f"Kubernetes API ({context or 'current context'})"
        except (ConfigException, OSError, ValueError) as error:
            raise ConfigError(f"no usable Kubernetes config: {str(error).splitlines()[0]}") from None
    api = client.CustomObjectsApi()
    documents: list[tuple[str, Any]] = []
    for plural, kind in (("virtualservices", VIRTUAL_SERVICE), ("destinationrules", DESTINATION_RULE)):
        for version in ISTIO_VERSIONS:
            try:
                listing = api.list_cluster_custom_object(ISTIO_GROUP, version, plural,
                                                         _request_timeout=KUBERNETES_TIMEOUT_S)
            except ApiException as error:
                if error.status == 404:
                    continue  # this Istio serves an older API version
                raise SourceError(f"{where}: listing {plural} failed: HTTP {error.status} {error.reason}") from None
            except Exception as error:  # urllib3 raises many kinds for a dead API server
                raise SourceError(f"{where}: cannot list {plural}: {str(error).splitlines()[0][:200]}") from None
            for item in listing.get("items", []):
                item.setdefault("kind", kind)
                meta = item.get("metadata") or {}
                documents.append((f"{where}: {kind} {meta.get('namespace')}/{meta.get('name')}", item))
            break
    return parse_documents(documents, where)


def load(spec: str) -> IstioConfig:
    """`--istio-config`: a directory, or `kubernetes:[CONTEXT]` for the API."""
    if spec.startswith(KUBERNETES):
        return load_kubernetes(spec[len(KUBERNETES):] or None)
    return load_directory(spec)
