"""A real Prometheus for tests and benchmarks.

- `openmetrics(series)` (or `write_openmetrics(series, path)` for big
  meshes) writes OpenMetrics text of counters, gauges and histograms
  sampled every `step` seconds over `span` seconds ending at a fixed past
  instant (`END`, 2024-01-01T00:10:00Z), ready for
  `promtool tsdb create-blocks-from openmetrics`.
- `start_prometheus(tmp_path, openmetrics_text=..., scrape_targets=[...])`
  backfills that text and/or scrapes live targets, starts
  `/usr/bin/prometheus` on a free loopback port and waits until it is ready.
  Query backfilled data at an explicit time (`at=END`); for scraped data,
  `server.wait_for(promql)` polls until the first samples are in.
- `CountingProxy(url)` forwards HTTP to Prometheus and counts the queries
  that went through it (for "queries per refresh"); `FaultyProxy(url)`
  goes wrong on demand (dead, slow, 5xx, HTML, truncated, huge, NaN).

Series are described by the names Prometheus stores: `istio_requests_total`
is a counter (OpenMetrics family `istio_requests`), while Envoy's counters
such as `envoy_cluster_upstream_rq_pending_overflow` lack `_total` and are
written as type `unknown` (OpenMetrics only lets counters' samples end in
`_total`); rate()/increase() work on either.

    with start_prometheus(tmp_path, openmetrics_text=openmetrics([
        Counter("istio_requests_total", {"reporter": "source"}, rate=2.0),
    ])) as prometheus:
        prometheus.query("sum(rate(istio_requests_total[1m]))", at=END)
"""

from __future__ import annotations

import json
import math
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"

END = 1_704_067_800.0  # 2024-01-01T00:10:00Z
SPAN = 600.0
STEP = 15.0
# Envoy's default duration buckets, in milliseconds, as Istio exports them.
ISTIO_BUCKETS = (
    0.5,
    1,
    5,
    10,
    25,
    50,
    100,
    250,
    500,
    1000,
    2500,
    5000,
    10000,
    30000,
    60000,
    300000,
    600000,
    1800000,
    3600000,
)


@dataclass(frozen=True)
class Counter:
    """A counter that rises by `rate` per second from `start` (a flat,
    present series when `rate` is 0). `name` as Prometheus stores it."""

    name: str
    labels: Mapping[str, str]
    rate: float
    start: float = 0.0


@dataclass(frozen=True)
class Gauge:
    name: str
    labels: Mapping[str, str]
    value: float


@dataclass(frozen=True)
class Histogram:
    """`rate` observations per second distributed like `observations`
    (each value an equal share). `name` is the family, e.g.
    `istio_request_duration_milliseconds`."""

    name: str
    labels: Mapping[str, str]
    rate: float
    observations: Sequence[float]
    buckets: Sequence[float] = field(default=ISTIO_BUCKETS)


Series = Counter | Gauge | Histogram


def sample_times(end: float = END, span: float = SPAN, step: float = STEP) -> list[float]:
    """Sample instants from `end - span` to `end`, both included."""
    count = int(round(span / step))
    return [end - span + i * step for i in range(count + 1)]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(labels: Mapping[str, str], extra: Mapping[str, str] | None = None) -> str:
    pairs = {**labels, **(extra or {})}
    if not pairs:
        return ""
    return "{" + ",".join(f'{name}="{_escape(str(value))}"' for name, value in pairs.items()) + "}"


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _family(series: Series) -> tuple[str, str]:
    """(OpenMetrics family name, type) of a series."""
    if isinstance(series, Histogram):
        return series.name, "histogram"
    if isinstance(series, Gauge):
        return series.name, "gauge"
    if series.name.endswith("_total"):
        return series.name[: -len("_total")], "counter"
    return series.name, "unknown"


def _lines(series: Series, times: Sequence[float]) -> Iterator[str]:
    """The sample lines of one series, in time order."""
    first = times[0]
    if isinstance(series, Counter):
        labels = _labels(series.labels)
        for t in times:
            yield f"{series.name}{labels} {_number(series.start + series.rate * (t - first))} {t:.3f}"
    elif isinstance(series, Gauge):
        labels = _labels(series.labels)
        for t in times:
            yield f"{series.name}{labels} {_number(series.value)} {t:.3f}"
    else:
        observations = list(series.observations)
        if not observations:
            raise ValueError(f"histogram {series.name}{dict(series.labels)} has no observations")
        bounds = [*sorted(series.buckets), math.inf]
        shares = [sum(1 for o in observations if o <= bound) / len(observations) for bound in bounds]
        mean = sum(observations) / len(observations)
        for t in times:
            count = series.rate * (t - first)
            for bound, share in zip(bounds, shares):
                le = "+Inf" if math.isinf(bound) else f"{bound:g}"
                yield f"{series.name}_bucket{_labels(series.labels, {'le': le})} {_number(count * share)} {t:.3f}"
            yield f"{series.name}_count{_labels(series.labels)} {_number(count)} {t:.3f}"
            yield f"{series.name}_sum{_labels(series.labels)} {_number(count * mean)} {t:.3f}"


def _grouped(series: Iterable[Series]) -> dict[str, tuple[str, list[Series]]]:
    """Series by OpenMetrics family (first-seen order): {family: (type, series)}."""
    families: dict[str, tuple[str, list[Series]]] = {}
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    for one in series:
        family, kind = _family(one)
        key = (one.name, tuple(sorted((k, str(v)) for k, v in one.labels.items())))
        if key in seen:
            raise ValueError(f"series {one.name}{dict(one.labels)} given twice")
        seen.add(key)
        known_kind, members = families.setdefault(family, (kind, []))
        if known_kind != kind:
            raise ValueError(f"metric family {family} given as both {known_kind} and {kind}")
        members.append(one)
    return families


def openmetrics_lines(
    series: Iterable[Series], *, end: float = END, span: float = SPAN, step: float = STEP
) -> Iterator[str]:
    """The lines (without newlines) of `openmetrics(series, ...)`."""
    times = sample_times(end, span, step)
    for family, (kind, members) in _grouped(series).items():
        yield f"# TYPE {family} {kind}"
        for one in members:
            yield from _lines(one, times)
    yield "# EOF"


def openmetrics(series: Iterable[Series], *, end: float = END, span: float = SPAN, step: float = STEP) -> str:
    """OpenMetrics text of the series, sampled at `sample_times(end, span, step)`.

    Families stay contiguous (in first-seen order), each series' samples in
    time order, ending with `# EOF`. Raises ValueError on a label set given
    twice or a name used with two types."""
    return "".join(line + "\n" for line in openmetrics_lines(series, end=end, span=span, step=step))


def write_openmetrics(
    series: Iterable[Series], path: Path | str, *, end: float = END, span: float = SPAN, step: float = STEP
) -> Path:
    """`openmetrics(...)` streamed to a file, for meshes too big to hold as one string."""
    path = Path(path)
    with path.open("w") as handle:
        for line in openmetrics_lines(series, end=end, span=span, step=step):
            handle.write(line)
            handle.write("\n")
    return path


class PrometheusError(RuntimeError):
    """Prometheus or promtool failed; the message carries the log tail."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _config(scrape_targets: Sequence[str], scrape_interval: str, query_log: Path | None = None) -> str:
    text = f"global:\n  scrape_interval: {scrape_interval}\n  scrape_timeout: {scrape_interval}\n"
    if query_log is not None:
        # Prometheus' own record of every query it evaluates, one JSON object a line.
        text += f'  query_log_file: "{query_log}"\n'
    if scrape_targets:
        targets = ", ".join(f'"{target}"' for target in scrape_targets)
        # honor_labels: the target's own labels (e.g. a simulator's
        # `namespace`) win over the ones Prometheus attaches.
        text += (
            "scrape_configs:\n  - job_name: meshwatch-test\n    honor_labels: true\n"
            f"    static_configs:\n      - targets: [{targets}]\n"
        )
    return text


def backfill(openmetrics_file: Path, data_dir: Path) -> None:
    """Write blocks for an OpenMetrics file into a Prometheus data directory."""
    data_dir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", str(openmetrics_file), str(data_dir)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        output = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
        raise PrometheusError(f"promtool could not backfill {openmetrics_file}:\n{output}")


class PrometheusServer:
    """A running Prometheus; stop it with `.stop()` or use it as a context manager."""

    def __init__(self, process: subprocess.Popen, url: str, log: Path, query_log: Path | None = None) -> None:
        self.process, self.url, self.log, self.query_log = process, url, log, query_log

    def logged_queries(self, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Every query Prometheus evaluated so far, from its query log
        (`start_prometheus(..., query_log=True)`): `{"params": {"query",
        "start", "end", "step"}, ...}` each. A marker query is sent first and
        read back, so every query before it is in the file; the marker is left out."""
        if self.query_log is None:
            raise PrometheusError("started without query_log=True")
        marker = f"vector({time.monotonic_ns()}) # meshwatch query-log marker"
        self.query(marker, at=END)
        deadline = time.monotonic() + timeout
        while True:
            lines = [json.loads(line) for line in self.query_log.read_text().splitlines() if line.strip()]
            if any(entry["params"]["query"] == marker for entry in lines):
                return [entry for entry in lines if "query-log marker" not in entry["params"]["query"]]
            if time.monotonic() > deadline:
                raise PrometheusError(f"the marker query never reached {self.query_log}")
            time.sleep(0.05)  # poll interval: Prometheus appends to the file as it answers

    def query(self, promql: str, at: float = END, timeout: float = 30.0) -> list[dict[str, Any]]:
        """The `result` of an instant query; raises PrometheusError unless it succeeded."""
        response = requests.get(
            f"{self.url}/api/v1/query", params={"query": promql, "time": f"{at:.3f}"}, timeout=timeout
        )
        body = response.json()
        if response.status_code != 200 or body.get("status") != "success":
            raise PrometheusError(f"query failed ({response.status_code}): {body.get('error')}: {promql}")
        return body["data"]["result"]

    def wait_for(self, promql: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Poll an instant query at the current time until it returns series
        (scraped data arrives after the first scrapes); raises PrometheusError
        after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(promql, at=time.time())
            if result:
                return result
            if time.monotonic() > deadline:
                raise PrometheusError(
                    f"no series for {promql} after {timeout:g}s; log tail:\n{_tail(self.log)}"
                )
            time.sleep(0.2)  # poll interval, not a wait for readiness

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def __enter__(self) -> PrometheusServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_prometheus(
    tmp_path: Path | str,
    *,
    openmetrics_text: str | None = None,
    openmetrics_file: Path | str | None = None,
    scrape_targets: Sequence[str] | None = None,
    scrape_interval: str = "1s",
    ready_timeout: float = 60.0,
    query_log: bool = False,
) -> PrometheusServer:
    """Backfill `openmetrics_text` and/or `openmetrics_file` (if any),
    scrape `scrape_targets` (if any, e.g. ["127.0.0.1:9101"], every
    `scrape_interval`) and start Prometheus on a free loopback port with 100
    years of retention; with `query_log`, Prometheus logs every query it
    evaluates (`server.logged_queries()`).

    Returns once `/-/ready` answers 200; raises PrometheusError with the log
    tail if it exits or is not ready within `ready_timeout` seconds."""
    root = Path(tmp_path)
    root.mkdir(parents=True, exist_ok=True)
    data = root / "prometheus-data"
    if openmetrics_text is not None:
        text_file = root / "backfill.om"
        text_file.write_text(openmetrics_text)
        backfill(text_file, data)
    if openmetrics_file is not None:
        backfill(Path(openmetrics_file), data)
    data.mkdir(exist_ok=True)
    config = root / "prometheus.yml"
    query_file = root / "queries.log" if query_log else None
    config.write_text(_config(scrape_targets or (), scrape_interval, query_file))
    log = root / "prometheus.log"
    for _ in range(3):  # another process may take the free port before Prometheus binds it
        port = _free_port()
        with log.open("w") as handle:
            process = subprocess.Popen(
                [
                    PROMETHEUS,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={data}",
                    "--storage.tsdb.retention.time=100y",
                    f"--web.listen-address=127.0.0.1:{port}",
                ],
                stdout=handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        server = PrometheusServer(process, f"http://127.0.0.1:{port}", log, query_file)
        try:
            if _wait_ready(server, ready_timeout):
                return server
        except BaseException:  # e.g. Ctrl-C while waiting: leave no Prometheus behind
            server.stop()
            raise
        server.stop()
        if "address already in use" not in log.read_text(errors="replace"):
            break
    raise PrometheusError(f"Prometheus did not become ready at {server.url}; log tail:\n{_tail(log)}")


def _wait_ready(server: PrometheusServer, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        try:
            if requests.get(f"{server.url}/-/ready", timeout=2).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.05)  # poll interval of the readiness check, not a wait for readiness
    return False


class CountingProxy:
    """An HTTP proxy in front of Prometheus that counts the query requests
    (`/api/v1/query*`) passing through; use `.url` in place of Prometheus'.
    `answer` says what goes back: Prometheus' own answer here."""

    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.paths: list[str] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                with proxy._lock:
                    proxy.paths.append(self.path)
                try:
                    proxy.answer(self, body)
                except OSError:
                    pass  # the client hung up: what a refused or late answer expects

            do_GET = do_POST = _forward

            def log_message(self, *args: object) -> None:
                pass

        self._handler = Handler
        self._server = self._listen(0)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def _listen(self, port: int) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer(("127.0.0.1", port), self._handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def upstream(self, handler: BaseHTTPRequestHandler, body: bytes | None) -> requests.Response:
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in ("host", "content-length")}
        return requests.request(
            handler.command, self.target + handler.path, data=body, headers=headers, timeout=60
        )

    def answer(self, handler: BaseHTTPRequestHandler, body: bytes | None) -> None:
        upstream = self.upstream(handler, body)
        send(handler, upstream.status_code, upstream.content, upstream.headers.get("Content-Type"))

    @property
    def queries(self) -> int:
        with self._lock:
            return sum(1 for path in self.paths if path.startswith("/api/v1/query"))

    def reset(self) -> None:
        with self._lock:
            self.paths.clear()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> CountingProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def send(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    content_type: str | None = "application/json",
    length: int | None = None,
) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type or "application/json")
    handler.send_header("Content-Length", str(len(body) if length is None else length))
    handler.end_headers()
    handler.wfile.write(body)


# The ways a Prometheus (or what stands in front of it) goes wrong, for FaultyProxy.
FAULTS = ("dead", "slow", "5xx", "html", "truncated", "huge", "nan")


class FaultyProxy(CountingProxy):
    """A CountingProxy that goes wrong on demand: `fault` is None (forward),
    or one of FAULTS:
    - dead: nothing listens on its port (connection refused);
    - slow: Prometheus' answer, `delay` seconds late;
    - 5xx: Prometheus' own error JSON with HTTP 503;
    - html: a login page with HTTP 200;
    - truncated: a body cut short of its Content-Length;
    - huge: an endless body (1 MB chunks, no Content-Length) until the client hangs up;
    - nan: Prometheus' answer with the values of every series about `nan_service` set to NaN.
    """

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.fault: str | None = None
        self.delay = 0.0
        self.nan_service = "details"
        self._released = threading.Event()

    def set_fault(self, fault: str | None, delay: float = 0.0) -> None:
        if fault == "dead" and self.fault != "dead":
            self.stop()
        elif self.fault == "dead" and fault != "dead":
            self._server = self._listen(self.port)
        self.fault, self.delay = fault, delay
        self._released.set()
        self._released = threading.Event()

    def answer(self, handler: BaseHTTPRequestHandler, body: bytes | None) -> None:
        fault, released = self.fault, self._released
        if fault == "slow":
            released.wait(self.delay)
        if fault == "5xx":
            error = {"status": "error", "errorType": "unavailable", "error": "TSDB not ready"}
            send(handler, 503, json.dumps(error).encode())
        elif fault == "html":
            send(handler, 200, b"<html><body><h1>Please log in</h1></body></html>", "text/html")
        elif fault == "truncated":
            send(handler, 200, b'{"status": "succ', length=4096)
            handler.close_connection = True
        elif fault == "huge":
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.end_headers()
            chunk = b" " * (1 << 20)
            for _ in range(1024):
                handler.wfile.write(chunk)
        elif fault == "nan":
            upstream = self.upstream(handler, body).json()
            for series in (upstream.get("data") or {}).get("result") or []:
                if self.nan_service in series.get("metric", {}).values() and "value" in series:
                    series["value"][1] = "NaN"
            send(handler, 200, json.dumps(upstream).encode())
        else:
            super().answer(handler, body)


def prometheus_holding(name: str, series: Callable[[], Iterable[Any]]) -> Any:
    """A module-scoped fixture: one real Prometheus holding `series()`, backfilled.

    prometheus = prometheus_holding("ambient", series)
    """

    @pytest.fixture(scope="module")
    def prometheus(tmp_path_factory: Any) -> Iterator[PrometheusServer]:
        with start_prometheus(
            tmp_path_factory.mktemp(name), openmetrics_text=openmetrics(series())
        ) as server:
            yield server

    return prometheus
