"""A Prometheus that is down, slow, erroring or talking nonsense, and bad
input: `meshwatch snapshot` prints one clear line and exits 1 (source
failed) or 2 (bad input), never a traceback; PrometheusSource raises
SourceError with a one-line message.

The fake Prometheus is a local http.server in a thread whose answer each
test sets."""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from dashboard.app.cli import main
from queries.errors import SourceError
from queries.prometheus import PrometheusSource
from tests.support.frames import labels
from tests.support.gates import self_signed

MESHWATCH = (
    shutil.which("meshwatch", path=str(Path(sys.executable).parent))
    or shutil.which("meshwatch")
    or "meshwatch"
)
AT = "1704067800"


@dataclass
class Answer:
    """What the fake sends: `delay` before the headers, then the body at
    once, or a byte every `drip` seconds; `reset` drops the connection after
    the headers."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    delay: float = 0.0
    content_length: int | None = None
    drip: float = 0.0
    reset: bool = False


class FakePrometheus:
    """Answers every request with `self.answer` and records the paths asked
    (over TLS with `tls`, an ssl.SSLContext holding its certificate)."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.answer = Answer()
        self.paths: list[str] = []
        self.released = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.paths.append(self.path)
                # A POST's form is read before answering: closing on unread bytes resets the connection.
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                answer = fake.answer
                if answer.delay:
                    fake.released.wait(answer.delay)
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", answer.content_type)
                    length = answer.content_length if answer.content_length is not None else len(answer.body)
                    self.send_header("Content-Length", str(length))
                    self.end_headers()
                    if answer.reset:
                        self.connection.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
                        self.connection.close()
                        return
                    if not answer.drip:
                        self.wfile.write(answer.body)
                    for index in range(len(answer.body) if answer.drip else 0):
                        self.wfile.write(answer.body[index : index + 1])
                        self.wfile.flush()
                        if fake.released.wait(answer.drip):
                            return
                except OSError:
                    pass  # the client gave up waiting: exactly what the slow case wants

            do_POST = do_GET

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def fake_server():
    server = FakePrometheus()
    yield server
    server.stop()


@pytest.fixture
def fake(fake_server):
    fake_server.answer = Answer()
    fake_server.paths.clear()
    return fake_server


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in list(os.environ):
        if name.startswith("MESHWATCH_"):
            monkeypatch.delenv(name)


def snapshot(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["snapshot", "--at", AT, *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line(stderr: str, *fragments: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("meshwatch: ")
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def vector(*values: object) -> bytes:
    result = [{"metric": {"reporter": "source"}, "value": [1704067800, value]} for value in values]
    return json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}}).encode()


def error_json(error_type: str, error: str) -> bytes:
    return json.dumps({"status": "error", "errorType": error_type, "error": error}).encode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


FAILURES = {
    "server error": (
        Answer(500, error_json("internal", "query processing would load too many samples")),
        ["HTTP 500", "too many samples"],
    ),
    "bad request": (
        Answer(400, error_json("bad_data", 'parse error: unexpected "}"')),
        ["HTTP 400", "bad_data", "parse error"],
    ),
    "proxy page": (
        Answer(502, b"<html><body><h1>502 Bad Gateway</h1>\n</body></html>", "text/html"),
        ["HTTP 502", "Bad Gateway"],
    ),
    "not json": (Answer(200, b"<html>login required</html>", "text/html"), ["not Prometheus API JSON"]),
    "empty body": (Answer(200, b""), ["not Prometheus API JSON"]),
    "other json": (Answer(200, b'{"hello": "world"}'), ["not Prometheus API JSON"]),
    "json list": (Answer(200, b"[1, 2, 3]"), ["not Prometheus API JSON"]),
    "matrix": (
        Answer(
            200,
            json.dumps(
                {
                    "status": "success",
                    "data": {
                        "resultType": "matrix",
                        "result": [{"metric": {}, "values": [[1704067800, "1"]]}],
                    },
                }
            ).encode(),
        ),
        ["not an instant vector"],
    ),
    "result not a list": (
        Answer(200, b'{"status": "success", "data": {"resultType": "vector", "result": "x"}}'),
        ["not an instant vector"],
    ),
    "metric not an object": (
        Answer(
            200,
            json.dumps(
                {
                    "status": "success",
                    "data": {
                        "resultType": "vector",
                        "result": [{"metric": "reporter=source", "value": [1704067800, "1"]}],
                    },
                }
            ).encode(),
        ),
        ["not an instant vector"],
    ),
    "word for a number": (Answer(200, vector("abc")), ["not numbers"]),
    "missing value": (
        Answer(
            200,
            json.dumps(
                {
                    "status": "success",
                    "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1704067800]}]},
                }
            ).encode(),
        ),
        ["not numbers"],
    ),
    "null value": (Answer(200, vector(None)), ["not numbers"]),
    "huge body": (
        Answer(200, b"{}", content_length=300 * 1024 * 1024),
        ["response over 64 MB: narrow the namespaces or the window"],
    ),
}


@pytest.mark.parametrize("case", FAILURES)
def test_bad_answers_end_in_one_line_and_exit_1(fake, capsys, case):
    fake.answer, fragments = FAILURES[case]
    code, out, err = snapshot(capsys, "--prometheus", fake.url)
    assert code == 1
    assert out == ""
    assert_one_line(err, fake.url, *fragments)


@pytest.mark.parametrize("case", FAILURES)
def test_source_raises_a_one_line_source_error(fake, case):
    fake.answer, fragments = FAILURES[case]
    with pytest.raises(SourceError) as raised:
        PrometheusSource(fake.url, timeout=5).mesh(1704067800.0, "1m")
    message = str(raised.value)
    assert "\n" not in message and fake.url in message
    assert all(fragment in message for fragment in fragments), message


def test_unreachable_prometheus(capsys):
    url = f"http://127.0.0.1:{free_port()}"
    code, out, err = snapshot(capsys, "--prometheus", url)
    assert code == 1 and out == ""
    assert_one_line(err, "cannot reach Prometheus", url, "refused")


def test_slow_prometheus_times_out(fake, capsys):
    fake.answer = Answer(200, vector("1"), delay=10)
    code, out, err = snapshot(capsys, "--prometheus", fake.url, "--prometheus-timeout", "0.3")
    assert code == 1 and out == ""
    assert_one_line(err, fake.url, "did not answer within 0.3s")


@pytest.mark.parametrize(
    ("answer", "fragment"),
    [
        (None, "cannot reach Prometheus"),
        (Answer(200, b"garbage"), "not Prometheus API JSON"),
    ],
)
def test_real_process_prints_no_traceback(fake, answer, fragment):
    url = fake.url if answer else f"http://127.0.0.1:{free_port()}"
    if answer:
        fake.answer = answer
    done = subprocess.run(
        [MESHWATCH, "snapshot", "--prometheus", url, "--at", AT], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert_one_line(done.stderr, fragment)


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (["--namespace", 'x"}) or vector(1)'], "bad namespace"),
        (["--namespace", "bookinfo", "--namespace", "shop|.*"], "bad namespace"),
        (["--namespace", "Bookinfo"], "bad namespace"),
        (["--namespace", "a" * 64], "bad namespace"),
        (["--window", "5x"], "bad duration"),
        (["--window", "0m"], "bad duration"),
        (["--window", "1m]) or vector(1"], "bad duration"),
        (["--at", "yesterday"], "bad time"),
        (["--at", "2024-01-01T00:10:00"], "zone"),
        (["--prometheus", "localhost:9090"], "bad URL"),
        (["--prometheus-timeout", "0"], "greater than zero"),
    ],
)
def test_bad_input_exits_2_before_any_query(fake, capsys, flags, fragment):
    code = main(["snapshot", "--prometheus", fake.url, "--at", AT, *flags])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert_one_line(captured.err, fragment)
    assert fake.paths == []


def test_namespace_injection_from_the_environment_is_refused(fake, capsys, monkeypatch):
    monkeypatch.setenv("MESHWATCH_NAMESPACE", 'bookinfo,x"}) or vector(1)')
    code, out, err = snapshot(capsys, "--prometheus", fake.url)
    assert code == 2
    assert_one_line(err, "MESHWATCH_NAMESPACE", "bad namespace")
    assert fake.paths == []


def test_a_good_answer_after_faults_works(fake, capsys):
    """The fake itself is sound: an empty vector is an empty graph, exit 0."""
    fake.answer = Answer(200, vector())
    code, out, err = snapshot(capsys, "--prometheus", fake.url)
    assert code == 0, err
    assert json.loads(out)["nodes"] == []
    assert (
        len([p for p in fake.paths if p.startswith("/api/v1/query")]) == PrometheusSource.queries_per_refresh
    )


def test_a_dripping_body_cannot_outlive_the_timeout(fake, capsys):
    """A byte every 0.2 s never trips a per-read timeout of 1 s; the deadline stops it."""
    fake.answer = Answer(200, vector("1") * 10, drip=0.2)
    started = time.monotonic()
    code, out, err = snapshot(capsys, "--prometheus", fake.url, "--prometheus-timeout", "1")
    assert time.monotonic() - started < 3
    assert code == 1 and out == ""
    assert_one_line(err, "did not answer within 1s")


def test_the_response_budget_is_for_the_whole_refresh(fake, capsys):
    """Four answers of 0.4 MB each pass a 1 MB cap one by one, not together."""
    fake.answer = Answer(200, vector(*["1"] * 6000))
    assert 0.3 * 2**20 < len(fake.answer.body) < 0.5 * 2**20
    code, out, err = snapshot(capsys, "--prometheus", fake.url, "--max-response-mb", "1")
    assert code == 1
    assert_one_line(err, "response over 1 MB: narrow the namespaces or the window")
    code, out, err = snapshot(capsys, "--prometheus", fake.url, "--max-response-mb", "2")
    assert code == 0, err


def test_prometheus_own_error_text_comes_through_on_any_status(fake, capsys):
    fake.answer = Answer(200, error_json("execution", "query timed out in expression evaluation"))
    code, out, err = snapshot(capsys, "--prometheus", fake.url)
    assert code == 1
    assert_one_line(err, "refused the query", "execution: query timed out in expression evaluation")


def test_a_reset_names_the_reason_and_no_query(fake, capsys):
    fake.answer = Answer(200, vector("1"), reset=True)
    code, out, err = snapshot(capsys, "--prometheus", fake.url)
    assert code == 1
    line = assert_one_line(err, "Connection reset by peer")
    assert "query" not in line.replace("refused the query", "") and "istio_requests_total" not in line


def test_credentials_in_the_url_never_reach_a_message(fake, capsys):
    fake.answer = Answer(500, error_json("internal", "boom"))
    url = fake.url.replace("http://", "http://admin:hunter2@") + "/prom?token=secret"
    code, out, err = snapshot(capsys, "--prometheus", url)
    assert code == 1
    line = assert_one_line(err, "boom", fake.url.replace("http://", "http://***@") + "/prom")
    assert "hunter2" not in line and "admin" not in line and "secret" not in line


@pytest.fixture
def tls_prometheus(tmp_path):
    """A Prometheus answering over TLS with a self-signed certificate."""
    cert, key = self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = FakePrometheus(tls=context)
    server.answer = Answer(200, vector())
    yield server
    server.stop()


def test_a_failed_tls_check_gives_the_certificates_reason(tls_prometheus, capsys):
    code, out, err = snapshot(capsys, "--prometheus", tls_prometheus.url)
    assert code == 1
    assert_one_line(err, "cannot reach Prometheus", "TLS certificate not accepted: self-signed certificate")


def series_vector(*series: tuple[dict[str, str], str]) -> bytes:
    result = [{"metric": metric, "value": [1704067800, value]} for metric, value in series]
    return json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}}).encode()


def strict_json(text: str) -> object:
    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} in the JSON output")

    return json.loads(text, parse_constant=refuse)


def test_bad_numbers_are_named_never_drawn_as_no_traffic(fake, capsys):
    """NaN, +Inf and negative rates are left out and counted; the edge they
    were on is not drawn idle, and the JSON holds no NaN or Infinity."""
    fake.answer = Answer(
        200,
        series_vector(
            (labels("productpage-v1", "details", "details-v1"), "2"),
            (labels("productpage-v1", "reviews", "reviews-v1"), "NaN"),
            (labels("productpage-v1", "reviews", "reviews-v2"), "NaN"),
            (labels("reviews-v2", "ratings", "ratings-v1"), "+Inf"),
            (labels("reviews-v1", "ratings", "ratings-v1"), "-3"),
        ),
    )
    code, out, err = snapshot(capsys, "--prometheus", fake.url)
    assert code == 0, err
    document = strict_json(out)
    # The fake gives all four queries of the refresh the same answer, and each counts its own.
    assert document["warnings"] == [
        "8 series with NaN values ignored",
        "4 series with infinite values ignored",
        "4 series with negative values ignored",
    ]
    assert "series with NaN values ignored" in err
    assert {edge["health"] for edge in document["edges"]} == {"healthy"}
    assert not [edge for edge in document["edges"] if "reviews" in edge["id"] or "ratings" in edge["id"]]
