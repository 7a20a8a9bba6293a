"""Every meshwatch option, declared once, as a field of `Settings`.

Each option has one name, one parser, one default and one help text (the
field's metadata). The command line (`--name`), the environment
(`MESHWATCH_NAME`) and the config file (TOML, top-level `name = ...`) all map
onto these declarations here and nowhere else; precedence is flag >
environment > config file > default. `OPTIONS` is the table of them, read off
the fields. The threshold sections (`[health]`, `[circuit]`, `[canary]`) are
the domain's own dataclasses.

Values are parsed at this edge and arrive typed: a window is a `Duration`,
namespaces a tuple of DNS-1123 labels, a time unix seconds.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, Field, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dashboard.canary.thresholds import CanaryThresholds
from dashboard.mesh.circuit import CircuitThresholds
from dashboard.mesh.health import HealthThresholds
from queries.duration import Duration, prometheus_duration
from queries.errors import ConfigError

if TYPE_CHECKING:
    from dashboard.mesh.find import Expression

ENV_PREFIX = "MESHWATCH_"
THRESHOLD_SECTIONS = {"health": HealthThresholds, "circuit": CircuitThresholds, "canary": CanaryThresholds}

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# Istio's cluster ids (`global.multiCluster.clusterName`, `Kubernetes` by
# default); no `:`, which separates the parts of a node id.
_CLUSTER_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")
# A Prometheus source's name in `--prometheus NAME=URL` and `[prometheus.NAME]`.
_SOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
PROMETHEUS_PREFIX = "prometheus_"
# A rate window shorter than this holds no two scrapes of any real Prometheus.
MIN_WINDOW_SECONDS = 1.0
# The last instant a time may name: the end of year 9999 UTC, the last a date can show.
LATEST_INSTANT = 253_402_300_799.0
# Waits, periods and sizes meshwatch accepts, as (low, high): past `high` a
# timer overflows (a browser's setInterval holds 24.8 days) or nobody means it.
TIMEOUT_SECONDS = (0.0, 3600.0)
REFRESH_SECONDS = (0.0, 86_400.0)
SPEED_FACTOR = (0.0, 1000.0)
MEGABYTES = (0.0, 65_536.0)
HOURS_IN_A_YEAR = 8760.0
_TIME_HINT = "use RFC 3339 (2026-11-26T10:00:00Z) or unix seconds"


# --- parsers: text in, a typed value out, or a one-line ConfigError ---------


def window(text: str) -> Duration:
    """A PromQL range window (`30s`, `1m`, `1h30m`): the only thing pasted into a query as one."""
    duration = prometheus_duration(text)
    if duration.seconds < MIN_WINDOW_SECONDS:
        raise ConfigError(f"bad window {text!r}: a rate window needs at least 1s (e.g. 30s, 1m, 5m)")
    return duration


def _name(text: str, pattern: re.Pattern[str], longest: int, what: str, rule: str) -> str:
    """`text` stripped when it is a name of the pattern, else a ConfigError saying the rule."""
    name = text.strip()
    if len(name) > longest or not pattern.match(name):
        raise ConfigError(f"bad {what} {text!r}: {rule}")
    return name


def namespace(text: str) -> str:
    """A Kubernetes namespace name (DNS-1123 label); anything else is refused."""
    return _name(
        text,
        _DNS1123_LABEL,
        63,
        "namespace",
        "a namespace is a DNS-1123 label (lower-case letters, digits and '-', at most 63 characters)",
    )


def cluster_name(text: str) -> str:
    """An Istio cluster id as the `source_cluster`/`destination_cluster` labels carry it."""
    return _name(
        text,
        _CLUSTER_NAME,
        253,
        "cluster",
        "a cluster id is letters, digits, '.', '_' and '-' (as Istio's global.multiCluster.clusterName)",
    )


@dataclass(frozen=True)
class PrometheusEndpoint:
    """One Prometheus source: its URL, an optional name (`east=http://...`,
    or its `[prometheus.east]` table), and its own values of `prometheus_*`
    options from that table (e.g. `timeout` for `prometheus_timeout`)."""

    url: str
    name: str | None = None
    options: tuple[tuple[str, Any], ...] = ()

    def __str__(self) -> str:
        return f"{self.name}={self.url}" if self.name else self.url

    def setting(self, settings: Settings, key: str) -> Any:
        """This source's value of the option `prometheus_<key>`: its own, else the one for all."""
        return dict(self.options).get(key, getattr(settings, PROMETHEUS_PREFIX + key))


def prometheus_endpoint(text: str) -> PrometheusEndpoint:
    """`URL` or `NAME=URL`: a name is what comes before the first `=` when
    that is no part of a URL."""
    name, equals, rest = text.strip().partition("=")
    if equals and _SOURCE_NAME.match(name):
        return PrometheusEndpoint(url(rest), name)
    return PrometheusEndpoint(url(text))


def instant(text: str) -> float:
    """An evaluation time: RFC 3339 (`2026-11-26T10:00:00Z`) or unix seconds,
    from 1970 to the end of year 9999."""
    value = text.strip()
    try:
        seconds = float(value)
    except ValueError:
        seconds = _rfc3339(text)
    if not math.isfinite(seconds):
        raise ConfigError(f"bad time {text!r}: {_TIME_HINT}")
    if not 0 <= seconds <= LATEST_INSTANT:
        raise ConfigError(f"bad time {text!r}: it must lie between 1970 and the end of year 9999")
    return seconds


def _rfc3339(text: str) -> float:
    try:
        parsed = datetime.fromisoformat(text.strip().replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"bad time {text!r}: {_TIME_HINT}") from None
    if parsed.tzinfo is None:
        raise ConfigError(f"bad time {text!r}: RFC 3339 needs a zone, e.g. Z or +01:00")
    return parsed.timestamp()


def service(text: str) -> str:
    """`name` or `name.namespace`, each a DNS-1123 label."""
    name, dot, ns = text.strip().partition(".")
    try:
        return namespace(name) + (dot + namespace(ns) if dot else "")
    except ConfigError:
        raise ConfigError(
            f"bad service {text!r}: expected NAME or NAME.NAMESPACE (DNS-1123 labels)"
        ) from None


def url(text: str) -> str:
    """An http(s) base URL, credentials in its userinfo allowed (never repeated in a message)."""
    value = text.strip().rstrip("/")
    if not re.match(r"^https?://[^/\s]+", value):
        shown = "(not shown: it holds credentials)" if "@" in text else repr(text)
        raise ConfigError(f"bad URL {shown}: expected http://host:port[/path]")
    return value


def listen_address(text: str) -> tuple[str, int]:
    host, _, port = text.strip().rpartition(":")
    if not host or not port.isascii() or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"bad listen address {text!r}: expected HOST:PORT, e.g. 127.0.0.1:8050")
    return host.strip("[]"), int(port)


def base_path(text: str) -> str:
    """A URL path prefix the dashboard is served under: `/meshwatch` (or `/`)."""
    value = "/" + text.strip().strip("/")
    if not re.match(r"^(/[A-Za-z0-9._~-]+)*/?$", value):
        raise ConfigError(f"bad base path {text!r}: expected a URL path such as /meshwatch")
    return value


def regex(text: str) -> str:
    try:
        re.compile(text)
    except re.error as error:
        raise ConfigError(f"bad regular expression {text!r}: {error}") from None
    return text


def positive_number(bounds: tuple[float, float]) -> Callable[[str], float]:
    """A finite number greater than `bounds[0]` and at most `bounds[1]`."""
    low, high = bounds

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ConfigError(f"bad number {text!r}") from None
        if not math.isfinite(value) or not low < value <= high:
            raise ConfigError(f"{text!r} must be a number greater than zero and at most {high:,g}")
        return value

    return parse


def whole_number(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = text.strip()
        if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
            raise ConfigError(f"bad number {text!r}: a whole number from {low} to {high}")
        return int(value)

    return parse


def megabytes(text: str) -> float:
    """A size in MB (`64`, `0.5`); `Settings.bytes_of` turns it into bytes."""
    return positive_number(MEGABYTES)(text)


def trace_link(text: str) -> tuple[str, str]:
    """`KEY=URL`: a span tag shown as a link to URL, where `#{KEY}` (or any
    tag of the span) is replaced by the tag's value, URL-encoded; a URL that
    is just `#{KEY}` links to the value itself, when it is an http(s) URL."""
    key, sep, template = text.partition("=")
    key, template = key.strip(), template.strip()
    if not sep or not key or not template:
        raise ConfigError(f"bad trace link {text!r}: expected TAG=URL, e.g. 'http.url=#{{http.url}}'")
    whole = re.fullmatch(r"#\{[^{}]+\}", template)
    if not whole and not re.match(r"^https?://[^/#{}\s]+", template):
        raise ConfigError(f"bad trace link {text!r}: the URL must start http(s)://HOST, or be just #{{TAG}}")
    return key, template


def cidr(text: str) -> str:
    """An address block (`10.0.0.0/8`, `::1/128`) or one address; kept as text, normalised."""
    try:
        return str(ipaddress.ip_network(text.strip(), strict=False))
    except ValueError:
        raise ConfigError(
            f"bad address block {text!r}: expected a CIDR such as 10.0.0.0/8 or 127.0.0.1"
        ) from None


def header_name(text: str) -> str:
    """An HTTP header's name (RFC 9110 token)."""
    name = text.strip()
    if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
        raise ConfigError(f"bad header name {text!r}: expected a name such as X-Forwarded-User")
    return name


def redis_url(text: str) -> str:
    value = text.strip()
    if not re.match(r"^rediss?://[^/\s]*", value) and not value.startswith("unix://"):
        raise ConfigError("bad cache URL: expected redis://HOST:PORT/DB (or rediss://, unix://)")
    return value


def text_value(text: str) -> str:
    return text


def switch(text: str) -> bool:
    """An on/off option: the bare flag, or true/false (1/0, yes/no) in the
    environment, a TOML boolean in the config file."""
    value = text.strip().lower()
    if value not in ("true", "false", "1", "0", "yes", "no"):
        raise ConfigError(f"bad value {text!r}: expected true or false")
    return value in ("true", "1", "yes")


def http_method(text: str) -> str:
    """How queries go to Prometheus: POST (a form) or GET."""
    return choice("POST", "GET")(text.strip().upper())


def http_header(text: str) -> tuple[str, str]:
    """`Name: value`, sent with every request to a backend (queries.connection)."""
    from queries.connection import header

    return header(text)


def choice(*allowed: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in allowed:
            raise ConfigError(f"bad value {text!r}: choose one of {', '.join(allowed)}")
        return text

    return parse


# The two parsers below import the graph's modules, which load pandas and
# networkx: only when the option is given, so `--help` starts without them.


def graph_type(text: str) -> str:
    """A graph type (dashboard.mesh.graph_types)."""
    from dashboard.mesh.graph_types import GRAPH_TYPES

    return choice(*GRAPH_TYPES)(text.strip())


def expression(text: str) -> Expression | None:
    """A find/hide expression (dashboard.mesh.find); blank text is none."""
    from dashboard.mesh.find import ExpressionError, parse

    if not text.strip():
        return None
    try:
        return parse(text)
    except ExpressionError as error:
        raise ConfigError(f"bad expression: {error}") from None


# --- declarations ------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """One option as the command line, the environment and the config file see it."""

    name: str
    parse: Callable[[str], Any]
    default: Any
    help: str
    many: bool = False
    metavar: str | None = None
    switch: bool = False

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


def option(
    parse: Callable[[str], Any], default: Any, help: str, *, many: bool = False, metavar: str | None = None
) -> Any:
    """A `Settings` field that is an option (repeatable ones are tuples;
    `switch` ones are flags without a value)."""
    metadata = {"parse": parse, "help": help, "many": many, "metavar": metavar, "switch": parse is switch}
    return field(default=tuple(default) if many else default, metadata=metadata)


# --- a backend's connection (queries.connection), the same options for Prometheus and Jaeger ---

# `--B-<name>` for B in prometheus and jaeger, each a field of queries.connection.Connection:
# (metavar, help with `{backend}`); `insecure_skip_verify` is a switch, `header` repeatable.
CONNECTION_HELP = {
    "bearer_token_file": (
        "FILE",
        "file holding the bearer token sent to {backend}, re-read on every request (rotated tokens)",
    ),
    "basic_auth_user": ("USER", "user name for basic auth to {backend}"),
    "basic_auth_password_file": ("FILE", "file holding the basic auth password for {backend}, re-read"),
    "ca_file": ("FILE", "CA certificates (PEM) that alone are trusted for {backend}'s certificate"),
    "cert_file": ("FILE", "client certificate (PEM) for mTLS to {backend}"),
    "key_file": ("FILE", "the client certificate's key (PEM) for {backend}"),
    "insecure_skip_verify": (None, "do not verify {backend}'s TLS certificate (tests only)"),
    "header": (
        "'NAME: VALUE'",
        "'Name: value' sent with every request to {backend} (repeatable; env: comma-separated), "
        "e.g. 'X-Scope-OrgID: team-a'",
    ),
}
CONNECTION_OPTIONS = tuple(CONNECTION_HELP)


def connection_options(backend: str) -> tuple[str, ...]:
    """The option names of `backend`'s connection: `prometheus_ca_file`, ..."""
    return tuple(f"{backend}_{name}" for name in CONNECTION_OPTIONS)


def connection_option(backend: str, name: str) -> Any:
    """The `Settings` field of one connection option of `backend` (as help texts name it)."""
    metavar, text = CONNECTION_HELP[name]
    if name == "insecure_skip_verify":
        return option(switch, False, text.format(backend=backend))
    if name == "header":
        return option(http_header, (), text.format(backend=backend), many=True, metavar=metavar)
    return option(text_value, None, text.format(backend=backend), metavar=metavar)


@dataclass(frozen=True)
class Settings:
    """Resolved options for one run; `resolve()` builds it."""

    prometheus: tuple[PrometheusEndpoint, ...] = option(
        prometheus_endpoint,
        (PrometheusEndpoint("http://localhost:9090"),),
        "Prometheus base URL holding Istio metrics, optionally named NAME=URL; repeat it for one "
        "Prometheus per cluster, queried in parallel and merged (env: comma-separated)",
        many=True,
        metavar="[NAME=]URL",
    )
    prometheus_timeout: float = option(
        positive_number(TIMEOUT_SECONDS),
        10.0,
        "seconds one Prometheus answer may take in all (a deadline, not a per-read timeout)",
        metavar="SECONDS",
    )
    prometheus_method: str = option(
        http_method, "POST", "how queries go to Prometheus: POST (a form) or GET", metavar="METHOD"
    )
    prometheus_bearer_token_file: str | None = connection_option("Prometheus", "bearer_token_file")
    prometheus_basic_auth_user: str | None = connection_option("Prometheus", "basic_auth_user")
    prometheus_basic_auth_password_file: str | None = connection_option(
        "Prometheus", "basic_auth_password_file"
    )
    prometheus_ca_file: str | None = connection_option("Prometheus", "ca_file")
    prometheus_cert_file: str | None = connection_option("Prometheus", "cert_file")
    prometheus_key_file: str | None = connection_option("Prometheus", "key_file")
    prometheus_insecure_skip_verify: bool = connection_option("Prometheus", "insecure_skip_verify")
    prometheus_header: tuple[tuple[str, str], ...] = connection_option("Prometheus", "header")
    jaeger: str = option(
        url,
        "http://localhost:16686",
        "Jaeger query base URL (Istio's addon: http://tracing.istio-system/jaeger)",
        metavar="URL",
    )
    jaeger_api: str = option(
        choice("auto", "v1", "v3"),
        "auto",
        "Jaeger query API: v1 (/api/traces), v3 (OTLP JSON) or auto-detect",
    )
    jaeger_timeout: float = option(
        positive_number(TIMEOUT_SECONDS), 10.0, "seconds one Jaeger answer may take in all", metavar="SECONDS"
    )
    jaeger_bearer_token_file: str | None = connection_option("Jaeger (or Tempo)", "bearer_token_file")
    jaeger_basic_auth_user: str | None = connection_option("Jaeger (or Tempo)", "basic_auth_user")
    jaeger_basic_auth_password_file: str | None = connection_option(
        "Jaeger (or Tempo)", "basic_auth_password_file"
    )
    jaeger_ca_file: str | None = connection_option("Jaeger (or Tempo)", "ca_file")
    jaeger_cert_file: str | None = connection_option("Jaeger (or Tempo)", "cert_file")
    jaeger_key_file: str | None = connection_option("Jaeger (or Tempo)", "key_file")
    jaeger_insecure_skip_verify: bool = connection_option("Jaeger (or Tempo)", "insecure_skip_verify")
    jaeger_header: tuple[tuple[str, str], ...] = connection_option("Jaeger (or Tempo)", "header")
    tempo: str | None = option(
        url,
        None,
        "Grafana Tempo query base URL; traces come from Tempo instead of Jaeger when given",
        metavar="URL",
    )
    tempo_timeout: float = option(
        positive_number(TIMEOUT_SECONDS), 10.0, "seconds one Tempo answer may take in all", metavar="SECONDS"
    )
    namespace: tuple[str, ...] = option(
        namespace,
        (),
        "show only these namespaces and their direct neighbours (repeatable; env: comma-separated)",
        many=True,
        metavar="NS",
    )
    cluster: tuple[str, ...] = option(
        cluster_name,
        (),
        "show only these clusters (Istio's cluster ids) and their direct neighbours "
        "(repeatable; env: comma-separated)",
        many=True,
        metavar="CLUSTER",
    )
    at: float | None = option(
        instant, None, "evaluation time, RFC 3339 or unix seconds (default: now)", metavar="TIME"
    )
    # Declared before `window`: below it, `window` names that field, not the parser.
    max_window: Duration = option(
        window,
        window("1d"),
        "the longest rate window a flag, an address or an API call may ask for",
        metavar="DURATION",
    )
    window: Duration = option(
        window, window("1m"), "rate window for every figure, a Prometheus duration", metavar="DURATION"
    )
    ingress: str = option(
        regex,
        "ingressgateway|-istio$",
        "regex: workloads (name or app) drawn as ingress gateways",
        metavar="REGEX",
    )
    waypoint: str = option(
        regex,
        "(^|-)waypoint$",
        "regex: workloads (name or app) drawn as ambient mode's waypoint proxies",
        metavar="REGEX",
    )
    refresh: float = option(
        positive_number(REFRESH_SECONDS), 5.0, "seconds between dashboard refreshes", metavar="SECONDS"
    )
    listen: tuple[str, int] = option(
        listen_address,
        ("127.0.0.1", 8050),
        "address the dashboard (or simulator) listens on",
        metavar="HOST:PORT",
    )
    base_path: str = option(
        base_path, "/", "URL path prefix the dashboard is served under, e.g. /meshwatch", metavar="PATH"
    )
    istio_config: str | None = option(
        text_value,
        None,
        "directory of VirtualService/DestinationRule, HTTPRoute, Argo Rollout and Flagger Canary YAML "
        "(kubectl get vs,dr,httproutes,rollouts,canaries -o yaml), or kubernetes:[CONTEXT]",
        metavar="DIR",
    )
    speed: float = option(
        positive_number(SPEED_FACTOR), 1.0, "demo/simulator: story clock speed-up factor", metavar="FACTOR"
    )
    phase: str | None = option(
        text_value,
        None,
        "demo/simulator: play the story up to this phase and hold it (baseline, canary, "
        "load-test, ejection, recovery, takeover, retired)",
        metavar="PHASE",
    )
    file: str | None = option(
        text_value,
        None,
        "a trace file to read instead of the backend: Jaeger export, OTLP JSON or JSON Lines, "
        "Tempo JSON, Zipkin v2",
        metavar="FILE",
    )
    trace_id: str | None = option(text_value, None, "with --file: which trace of the export", metavar="ID")
    file_a: str | None = option(
        text_value,
        None,
        "trace-diff: a trace file for side A (instead of --file or the backend)",
        metavar="FILE",
    )
    file_b: str | None = option(
        text_value,
        None,
        "trace-diff: a trace file for side B (instead of --file or the backend)",
        metavar="FILE",
    )
    service: str | None = option(service, None, "only this service (name, or name.namespace)", metavar="NAME")
    graph: str = option(
        graph_type,
        "versioned",
        "graph type: versioned (a node per workload version), app (versions merged), "
        "workload (no service nodes) or service (service to service)",
        metavar="TYPE",
    )
    find: Expression | None = option(
        expression, None, "add `found`: the ids of what matches, e.g. 'circuit = open'", metavar="EXPR"
    )
    hide: Expression | None = option(
        expression,
        None,
        "leave out what matches (and the nodes it leaves alone), e.g. 'health = idle'",
        metavar="EXPR",
    )
    overview_nodes: int = option(
        whole_number(0, 1_000_000),
        300,
        "topology page: above this many nodes, open on a namespace overview, "
        "one node per namespace (0: never)",
        metavar="N",
    )
    format: str = option(
        choice("json", "dot"), "json", "snapshot output: json, or dot for Graphviz", metavar="FORMAT"
    )
    pretty: bool = option(switch, False, "trace, trace-diff: indented JSON (default: compact, written fast)")
    max_response_mb: float = option(
        megabytes,
        64.0,
        "MB the backends' answers to one refresh (or one trace search or request) may hold together",
        metavar="MB",
    )
    max_upload_mb: float = option(
        megabytes,
        64.0,
        "MB a trace file (opened in the browser, or with --file, --file-a, --file-b) may hold",
        metavar="MB",
    )
    trace_cache_mb: float = option(
        megabytes,
        512.0,
        "MB of analysed traces kept in memory, least recently used dropped first",
        metavar="MB",
    )
    max_trace_parses: int = option(
        whole_number(1, 64),
        2,
        "traces read and analysed at once; more are told to retry (each can take GBs)",
        metavar="N",
    )
    trace_link: tuple[tuple[str, str], ...] = option(
        trace_link,
        (),
        "a span tag shown as a link: TAG=URL with #{TAG} for the value (repeatable), e.g. "
        "'http.url=#{http.url}'; other tag values are never links",
        many=True,
        metavar="TAG=URL",
    )
    # --- serving: who may see the dashboard, the server, its cache and its logs (issue 10) ---
    auth: str = option(
        choice("none", "basic", "header"),
        "none",
        "who may see the dashboard: none (anyone who reaches --listen), basic (--auth-htpasswd) "
        "or header (--auth-header from a --trusted-proxy)",
        metavar="MODE",
    )
    auth_htpasswd: str | None = option(
        text_value, None, "--auth basic: htpasswd file of USER:BCRYPT-HASH lines", metavar="FILE"
    )
    auth_header: str = option(
        header_name,
        "X-Forwarded-User",
        "--auth header: the header naming the user, set by an authenticating proxy",
        metavar="NAME",
    )
    trusted_proxy: tuple[str, ...] = option(
        cidr,
        (),
        "--auth header: addresses (CIDR) whose --auth-header is believed (repeatable)",
        many=True,
        metavar="CIDR",
    )
    tls_cert_file: str | None = option(
        text_value, None, "serve HTTPS with this certificate (PEM; with --tls-key-file)", metavar="FILE"
    )
    tls_key_file: str | None = option(
        text_value, None, "the private key of --tls-cert-file (PEM)", metavar="FILE"
    )
    workers: int = option(whole_number(1, 64), 1, "server processes (gunicorn workers)", metavar="N")
    threads: int = option(
        whole_number(1, 256), 8, "threads per server process, each serving one request", metavar="N"
    )
    cache_url: str | None = option(
        redis_url,
        None,
        "Redis holding the views' cache and uploaded traces, shared by replicas (default: in-process)",
        metavar="URL",
    )
    log_format: str = option(choice("text", "json"), "text", "log lines as text or JSON objects")
    log_level: str = option(
        choice("debug", "info", "warning", "error"), "info", "the least severe log lines written"
    )
    config: str | None = option(
        text_value, None, "TOML config file (thresholds and any option above)", metavar="FILE"
    )
    health: HealthThresholds = field(default_factory=HealthThresholds)
    circuit: CircuitThresholds = field(default_factory=CircuitThresholds)
    canary: CanaryThresholds = field(default_factory=CanaryThresholds)

    def rate_window(self, text: str) -> Duration:
        """A window asked for (a flag, an address, an API argument): a rate
        window of 1 s up to --max-window."""
        duration = window(text)
        if duration.seconds > self.max_window.seconds:
            raise ConfigError(
                f"bad window {text!r}: at most {self.max_window} (--max-window); "
                "long windows read many samples"
            )
        return duration


def bytes_of(megabytes: float) -> int:
    """A size option (`--max-response-mb 64`) in bytes."""
    return round(megabytes * (1 << 20))


def _option(declared: Field) -> Option:
    meta = declared.metadata
    default = declared.default if declared.default is not MISSING else None
    return Option(
        declared.name, meta["parse"], default, meta["help"], meta["many"], meta["metavar"], meta["switch"]
    )


OPTIONS: dict[str, Option] = {f.name: _option(f) for f in fields(Settings) if "parse" in f.metadata}


def add_options(
    parser: argparse.ArgumentParser, names: Sequence[str], defaults: Mapping[str, str] | None = None
) -> None:
    """Add the named options to a sub-command's parser (no defaults: resolved
    later); `defaults` are the sub-command's own, shown in its help."""
    for name in names:
        declared = OPTIONS[name]
        default = (defaults or {}).get(name) or shown_default(declared)
        shown = f"{declared.help} [env {declared.env}; default {default}]"
        if declared.switch:
            parser.add_argument(declared.flag, dest=name, action="store_const", const="true", help=shown)
            continue
        parser.add_argument(
            declared.flag,
            dest=name,
            action="append" if declared.many else "store",
            default=None,
            metavar=declared.metavar,
            help=shown,
        )


def shown_default(declared: Option) -> str:
    """A default as help texts and README's table write it."""
    if declared.name == "listen":
        host, port = declared.default
        return f"{host}:{port}"
    if isinstance(declared.default, bool):
        return str(declared.default).lower()
    if declared.many and declared.default:
        return ",".join(str(item) for item in declared.default)
    return str(declared.default) if declared.default not in (None, ()) else "none"


def threshold_range(name: str) -> tuple[float, float, str]:
    """(low, high, what) a threshold may be, read off its name: `*_ms` are
    milliseconds, `*_h` hours (a lookback: at most a year), `min_requests_*`
    numbers of requests, all others ratios of an edge's or a version's requests."""
    if name.endswith("_ms"):
        return 0.0, math.inf, "a number of milliseconds, 0 or more"
    if name.endswith("_h"):
        return 0.0, HOURS_IN_A_YEAR, f"a number of hours, 0 to {HOURS_IN_A_YEAR:g}"
    if name.startswith("min_requests"):
        return 0.0, math.inf, "a number of requests, 0 or more"
    return 0.0, 1.0, "a ratio from 0 to 1"


def _thresholds(kind: type, table: Any, section: str, source: str) -> Any:
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: [{section}] must be a table of numbers")
    known = {f.name for f in fields(kind)}
    unknown = set(table) - known
    if unknown:
        raise ConfigError(
            f"{source}: unknown key [{section}] {sorted(unknown)[0]}; known: {', '.join(sorted(known))}"
        )
    values = {}
    for key, value in table.items():
        low, high, what = threshold_range(key)
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number or not math.isfinite(value) or not low <= value <= high:
            raise ConfigError(
                f"{source}: [{section}] values must be numbers: {key} = {_shown(value)}, expected {what}"
            )
        values[key] = float(value)
    return kind(**values)


def _shown(value: Any) -> str:
    """A config file's value in a message, short."""
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _source_tables(raw: Any, source: str) -> tuple[PrometheusEndpoint, ...] | None:
    """Prometheus sources as config-file tables: `[prometheus.NAME]` each
    with `url` and any `prometheus_*` option by its short name (`timeout`
    for `prometheus_timeout`), or one `[prometheus]` table with `url`.
    None when the file gives `prometheus` as text (or a list) instead."""
    if not isinstance(raw, dict):
        return None
    tables = {None: raw} if "url" in raw else raw
    keys = {name.removeprefix(PROMETHEUS_PREFIX) for name in OPTIONS if name.startswith(PROMETHEUS_PREFIX)}
    endpoints = []
    for name, table in tables.items():
        where = f"{source}: [prometheus{'.' + name if name else ''}]"
        if not isinstance(table, dict):
            raise ConfigError(f'{where} must be a table with url = "http://..."')
        if name is not None and not _SOURCE_NAME.match(name):
            raise ConfigError(f"{where}: a source name is letters, digits, '.', '_' and '-'")
        unknown = set(table) - keys - {"url"}
        if unknown:
            raise ConfigError(
                f"{where}: unknown key {sorted(unknown)[0]}; known: url, {', '.join(sorted(keys))}"
            )
        if "url" not in table:
            raise ConfigError(f"{where}: url is missing")
        try:
            options = tuple(
                (key, OPTIONS[PROMETHEUS_PREFIX + key].parse(str(value)))
                for key, value in table.items()
                if key != "url"
            )
            endpoints.append(PrometheusEndpoint(url(str(table["url"])), name, options))
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from None
    return tuple(endpoints)


def _distinct(endpoints: Sequence[PrometheusEndpoint], source: str) -> None:
    """Each Prometheus source once: a name or URL given twice is a mistake."""
    for what, values in (
        ("name", [e.name for e in endpoints if e.name]),
        ("URL", [e.url for e in endpoints]),
    ):
        twice = sorted({value for value in values if values.count(value) > 1})
        if twice:
            raise ConfigError(f"{source}: Prometheus source {what} {twice[0]!r} given twice")


def _read_config_file(path: str) -> dict[str, Any]:
    try:
        with Path(path).open("rb") as handle:
            return tomllib.load(handle)
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not valid TOML: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from None
    except RecursionError:
        raise ConfigError(f"config file {path} is not valid TOML: nested too deeply") from None


def _file_value(declared: Option, raw: Any, source: str) -> Any:
    """A config file's value of an option, its TOML type checked: a string or
    a number (a date-time for `at`), a list of strings for a repeatable one,
    a boolean for a switch."""
    if declared.switch and isinstance(raw, bool):
        return str(raw).lower()
    if declared.many:
        raw = [raw] if isinstance(raw, str) else raw
        if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
            return raw
        raise ConfigError(f"{source}: expected a string or a list of strings, not {_shown(raw)}")
    scalar = isinstance(raw, (str, int, float)) and not isinstance(raw, bool)
    if scalar or (declared.name == "at" and isinstance(raw, datetime)):
        return raw.isoformat() if isinstance(raw, datetime) else raw
    raise ConfigError(f"{source}: expected a string or a number, not {_shown(raw)}")


def _raw_values(
    flags: dict[str, Any],
    environ: dict[str, str] | os._Environ,
    file_values: dict[str, Any],
    config_path: str | None,
) -> dict[str, tuple[Any, str]]:
    """(raw value, where it came from) of every option given anywhere, by precedence."""
    found: dict[str, tuple[Any, str]] = {}
    for name, declared in OPTIONS.items():
        if name in flags:
            found[name] = flags[name], declared.flag
        elif declared.env in environ:
            raw = environ[declared.env]
            found[name] = (
                ([part for part in raw.split(",") if part.strip()] if declared.many else raw),
                declared.env,
            )
        elif name in file_values:
            source = f"{config_path}: {name}"
            found[name] = _file_value(declared, file_values[name], source), source
    return found


def resolve(
    flags: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
    defaults: Mapping[str, str] | None = None,
) -> Settings:
    """Merge flags, environment and config file onto the declared defaults
    (or a sub-command's own `defaults`, given as text)."""
    flags = {k: v for k, v in (flags or {}).items() if k in OPTIONS and v is not None}
    environ = os.environ if environ is None else environ
    config_path = flags.get("config") or environ.get(OPTIONS["config"].env)
    file_values = _read_config_file(config_path) if config_path else {}
    sections = {key: file_values.pop(key) for key in THRESHOLD_SECTIONS if key in file_values}
    tables = _source_tables(file_values.get("prometheus"), str(config_path))
    if tables is not None:
        del file_values["prometheus"]
    unknown = set(file_values) - set(OPTIONS)
    if unknown:
        raise ConfigError(f"{config_path}: unknown option {sorted(unknown)[0]}")

    found = _raw_values(flags, environ, file_values, config_path)
    for name, text in (defaults or {}).items():
        found.setdefault(name, ([text] if OPTIONS[name].many else text, "default"))
    values: dict[str, Any] = {}
    for name, (raw, source) in found.items():
        declared = OPTIONS[name]
        try:
            if declared.many:
                values[name] = tuple(
                    declared.parse(str(item)) for item in ([raw] if isinstance(raw, str) else raw)
                )
            else:
                values[name] = declared.parse(str(raw))
        except ConfigError as error:
            raise ConfigError(f"{source}: {error}") from None
    if tables is not None and "prometheus" not in values:
        values["prometheus"] = tables
    if "prometheus" in values:
        _distinct(values["prometheus"], found.get("prometheus", (None, f"{config_path}: [prometheus]"))[1])
    for key, kind in THRESHOLD_SECTIONS.items():
        values[key] = _thresholds(kind, sections.get(key, {}), key, str(config_path))
    settings = Settings(**values)
    if settings.window.seconds > settings.max_window.seconds:
        raise ConfigError(f"--window {settings.window} is longer than --max-window {settings.max_window}")
    return settings


# The windows a page's picker offers; a window given in the address joins them.
WINDOW_CHOICES = ("30s", "1m", "5m", "15m", "1h")


def window_choices(chosen: str) -> list[str]:
    """The picker's windows, shortest first, with the one chosen among them
    (last, when it is not a window at all: the page then says why)."""
    durations = {window(text) for text in WINDOW_CHOICES}
    try:
        durations.add(window(chosen))
    except ConfigError:
        return [str(d) for d in sorted(durations, key=lambda d: d.seconds)] + [chosen]
    return [str(d) for d in sorted(durations, key=lambda d: (d.seconds, d.text))]
