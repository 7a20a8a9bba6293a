"""Every meshwatch option, declared once.

Each option has one name, one default and one help text. The command line
(`--name`), the environment (`MESHWATCH_NAME`) and the config file (TOML,
top-level `name = ...`) all map onto these declarations here and nowhere else;
precedence is flag > environment > config file > default.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from dashboard.canary import CanaryThresholds
from dashboard.circuit import CircuitThresholds
from dashboard.health import HealthThresholds
from queries.promql import duration_seconds
from queries.telemetry import ConfigError

ENV_PREFIX = "MESHWATCH_"

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def window(text: str) -> str:
    """A PromQL range window; validated so it is safe to paste into a query."""
    duration_seconds(text)
    return text.strip()


def namespace(text: str) -> str:
    """A Kubernetes namespace name (DNS-1123 label); anything else is refused."""
    name = text.strip()
    if len(name) > 63 or not _DNS1123_LABEL.match(name):
        raise ConfigError(
            f"bad namespace {text!r}: a namespace is a DNS-1123 label "
            "(lower-case letters, digits and '-', at most 63 characters)"
        )
    return name


def instant(text: str) -> float:
    """An evaluation time: RFC 3339 (`2026-11-26T10:00:00Z`) or unix seconds."""
    value = text.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise ConfigError(f"bad time {text!r}: use RFC 3339 (2026-11-26T10:00:00Z) or unix seconds")
        return seconds
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"bad time {text!r}: use RFC 3339 (2026-11-26T10:00:00Z) or unix seconds") from None
    if parsed.tzinfo is None:
        raise ConfigError(f"bad time {text!r}: RFC 3339 needs a zone, e.g. Z or +01:00")
    return parsed.timestamp()


def service(text: str | None) -> str | None:
    """`name` or `name.namespace`, each a DNS-1123 label; None when not given."""
    if not text:
        return None
    name, dot, ns = text.strip().partition(".")
    try:
        return namespace(name) + (dot + namespace(ns) if dot else "")
    except ConfigError:
        raise ConfigError(f"bad service {text!r}: expected NAME or NAME.NAMESPACE (DNS-1123 labels)") from None


def url(text: str) -> str:
    value = text.strip().rstrip("/")
    if not re.match(r"^https?://[^/\s]+", value):
        raise ConfigError(f"bad URL {text!r}: expected http://host:port[/path]")
    return value


def listen_address(text: str) -> tuple[str, int]:
    host, _, port = text.strip().rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"bad listen address {text!r}: expected HOST:PORT, e.g. 127.0.0.1:8050")
    return host.strip("[]"), int(port)


def regex(text: str) -> str:
    try:
        re.compile(text)
    except re.error as error:
        raise ConfigError(f"bad regular expression {text!r}: {error}") from None
    return text


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"bad number {text!r}") from None
    if value <= 0:
        raise ConfigError(f"{text!r} must be greater than zero")
    return value


def choice(*allowed: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in allowed:
            raise ConfigError(f"bad value {text!r}: choose one of {', '.join(allowed)}")
        return text

    return parse


@dataclass(frozen=True)
class Option:
    """One option: its name (snake_case), parser, default and help."""

    name: str
    parse: Callable[[str], Any]
    default: Any
    help: str
    many: bool = False
    metavar: str | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


OPTIONS: dict[str, Option] = {
    option.name: option
    for option in [
        Option("prometheus", url, "http://localhost:9090", "Prometheus base URL holding Istio metrics", metavar="URL"),
        Option("prometheus_timeout", positive_float, 10.0, "seconds to wait for one Prometheus query", metavar="SECONDS"),
        Option("jaeger", url, "http://localhost:16686", "Jaeger query base URL (Istio's addon: http://tracing.istio-system/jaeger)", metavar="URL"),
        Option("jaeger_api", choice("auto", "v1", "v3"), "auto", "Jaeger query API: v1 (/api/traces), v3 (OTLP JSON) or auto-detect"),
        Option("jaeger_timeout", positive_float, 10.0, "seconds to wait for one Jaeger request", metavar="SECONDS"),
        Option("namespace", namespace, [], "show only these namespaces and their direct neighbours (repeatable; env: comma-separated)", many=True, metavar="NS"),
        Option("at", instant, None, "evaluation time, RFC 3339 or unix seconds (default: now)", metavar="TIME"),
        Option("window", window, "1m", "rate window for every figure, a Prometheus duration", metavar="DURATION"),
        Option("ingress", regex, "ingressgateway|-istio$", "regex: workloads (name or app) drawn as ingress gateways", metavar="REGEX"),
        Option("refresh", positive_float, 5.0, "seconds between dashboard refreshes", metavar="SECONDS"),
        Option("listen", listen_address, ("127.0.0.1", 8050), "address the dashboard (or simulator) listens on", metavar="HOST:PORT"),
        Option("istio_config", str, None, "directory of VirtualService/DestinationRule YAML (kubectl get vs,dr -o yaml)", metavar="DIR"),
        Option("speed", positive_float, 1.0, "demo/simulator: story clock speed-up factor", metavar="FACTOR"),
        Option("phase", str, None, "demo/simulator: play the story up to this phase and hold it (baseline, canary, load-test, ejection, recovery, takeover, retired)", metavar="PHASE"),
        Option("config", str, None, "TOML config file (health thresholds and any option above)", metavar="FILE"),
    ]
}


@dataclass(frozen=True)
class Settings:
    """Resolved options for one run."""

    values: dict[str, Any]
    health: HealthThresholds = field(default_factory=HealthThresholds)
    circuit: CircuitThresholds = field(default_factory=CircuitThresholds)
    canary: CanaryThresholds = field(default_factory=CanaryThresholds)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None


def add_options(parser: argparse.ArgumentParser, names: list[str]) -> None:
    """Add the named options to a sub-command's parser (no defaults: resolved later)."""
    for name in names:
        option = OPTIONS[name]
        parser.add_argument(
            option.flag,
            dest=name,
            action="append" if option.many else "store",
            default=None,
            metavar=option.metavar,
            help=f"{option.help} [env {option.env}; default {_show_default(option)}]",
        )


def _show_default(option: Option) -> str:
    if option.name == "listen":
        return "%s:%d" % option.default
    return str(option.default) if option.default not in (None, []) else "none"


def _thresholds(kind: type, table: dict[str, Any], section: str, source: str) -> Any:
    known = {f.name for f in fields(kind)}
    unknown = set(table) - known
    if unknown:
        raise ConfigError(f"{source}: unknown key [{section}] {sorted(unknown)[0]}; known: {', '.join(sorted(known))}")
    try:
        return kind(**{key: float(value) for key, value in table.items()})
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: [{section}] values must be numbers") from None


def _read_config_file(path: str) -> dict[str, Any]:
    try:
        with Path(path).open("rb") as handle:
            return tomllib.load(handle)
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from None


def resolve(
    flags: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Merge flags, environment and config file onto the declared defaults."""
    flags = {k: v for k, v in (flags or {}).items() if k in OPTIONS and v is not None}
    environ = os.environ if environ is None else environ
    config_path = flags.get("config") or environ.get(OPTIONS["config"].env)
    file_values = _read_config_file(config_path) if config_path else {}
    sections = {key: file_values.pop(key) for key in ("health", "circuit", "canary") if key in file_values}

    values: dict[str, Any] = {}
    for name, option in OPTIONS.items():
        if name in flags:
            raw, source = flags[name], option.flag
        elif option.env in environ:
            raw, source = environ[option.env], option.env
            if option.many:
                raw = [part for part in raw.split(",") if part.strip()]
        elif name in file_values:
            raw, source = file_values[name], f"{config_path}: {name}"
            if option.many and isinstance(raw, str):
                raw = [raw]
        else:
            values[name] = option.default
            continue
        try:
            if option.many:
                values[name] = [option.parse(str(item)) for item in raw]
            else:
                values[name] = option.parse(str(raw))
        except ConfigError as error:
            raise ConfigError(f"{source}: {error}") from None
    unknown = set(file_values) - set(OPTIONS)
    if unknown:
        raise ConfigError(f"{config_path}: unknown option {sorted(unknown)[0]}")
    source = str(config_path)
    return Settings(
        values=values,
        health=_thresholds(HealthThresholds, sections.get("health", {}), "health", source),
        circuit=_thresholds(CircuitThresholds, sections.get("circuit", {}), "circuit", source),
        canary=_thresholds(CanaryThresholds, sections.get("canary", {}), "canary", source),
    )
