"""`meshwatch serve` as a real process: gunicorn with workers and threads,
HTTPS, access control, honest probes, its own metrics and logs."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest
import requests

from tests.support.gates import self_signed
from tests.support.simulator import free_port, wait_healthy

PASSWORD = "s3cret-pass"


def worker_pids(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[subprocess.Popen, str, Path, Path]]:
    root = tmp_path_factory.mktemp("serve")
    cert, key = self_signed(root)
    htpasswd = root / "htpasswd"
    htpasswd.write_text(f"sre:{bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()}\n")
    port = free_port()
    log = root / "serve.log"
    with log.open("w") as handle:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dashboard.app.cli",
                "serve",
                # Nothing listens there: Prometheus and Jaeger are down from the start.
                "--prometheus",
                f"http://127.0.0.1:{free_port()}",
                "--jaeger",
                f"http://127.0.0.1:{free_port()}",
                "--listen",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--threads",
                "3",
                "--tls-cert-file",
                str(cert),
                "--tls-key-file",
                str(key),
                "--auth",
                "basic",
                "--auth-htpasswd",
                str(htpasswd),
                "--log-format",
                "json",
                "--refresh",
                "1",
            ],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={"PATH": "/usr/bin:/bin"},
        )
    url = f"https://127.0.0.1:{port}"
    try:
        wait_healthy(process, f"127.0.0.1:{port}", log, "meshwatch serve", scheme="https", verify=str(cert))
        deadline = time.monotonic() + 60
        while len(worker_pids(process.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)  # poll interval: the second worker boots after the first answers
        yield process, url, cert, log
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_serve_runs_gunicorn_with_the_workers_and_threads_asked_for(served):
    process, _, _, log = served
    workers = worker_pids(process.pid)
    assert len(workers) == 2
    text = log.read_text()
    assert "Using worker: gthread" in text and "(2 workers x 3 threads)" in text
    assert f"Booting worker with pid: {workers[0]}" in text


def test_serve_speaks_https_and_asks_for_credentials_except_on_the_probes(served):
    _, url, cert, _ = served
    assert requests.get(f"{url}/healthz", verify=str(cert)).text == "OK"
    assert requests.get(f"{url}/readyz", verify=str(cert)).status_code == 200
    for path in ("/", "/api/graph", "/api/status", "/metrics", "/_dash-layout", "/canary"):
        assert requests.get(url + path, verify=str(cert)).status_code == 401, path
    assert requests.get(f"{url}/", verify=str(cert), auth=("sre", PASSWORD)).status_code == 200
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://{url.removeprefix('https://')}/healthz", timeout=5)


def test_a_backend_outage_leaves_the_replica_ready_and_status_says_why(served):
    _, url, cert, log = served
    auth = ("sre", PASSWORD)
    for _ in range(3):
        assert requests.get(f"{url}/api/graph", verify=str(cert), auth=auth).status_code == 502
    assert requests.get(f"{url}/readyz", verify=str(cert)).status_code == 200
    status = requests.get(f"{url}/api/status", verify=str(cert), auth=auth).json()
    assert set(status) == {"prometheus", "jaeger"}
    for backend in status.values():
        assert backend["up"] is False and backend["last_ok"] is None and "cannot reach" in backend["error"]
    # One line when Prometheus goes down in each worker that saw it, not one per poll.
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    downs = [line for line in lines if line.get("backend") == "prometheus" and line.get("up") is False]
    assert 1 <= len(downs) <= 2, downs
    assert downs[0]["level"] == "warning" and "Prometheus is down" in downs[0]["message"]


def test_metrics_are_served_to_who_may_see_the_dashboard(served):
    _, url, cert, _ = served
    text = requests.get(f"{url}/metrics", verify=str(cert), auth=("sre", PASSWORD)).text
    for name in ("meshwatch_backend_up", "meshwatch_viewers_polling", "meshwatch_promql_queries_total"):
        assert name in text


def test_no_auth_off_loopback_is_said_in_one_line_at_start(tmp_path):
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "dashboard.app.cli", "serve", "--listen", f"0.0.0.0:{port}"],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={"PATH": "/usr/bin:/bin"},
        )
    try:
        wait_healthy(process, f"127.0.0.1:{port}", log, "meshwatch serve")
    finally:
        process.terminate()
        process.wait(timeout=20)
    warnings = [line for line in log.read_text().splitlines() if line.startswith("meshwatch: ")]
    assert warnings == [
        f"meshwatch: --auth none on 0.0.0.0: anyone who reaches port {port} sees the dashboard"
    ]


def test_half_a_tls_pair_is_one_line_before_anything_listens(capsys, tmp_path):
    from dashboard.app.cli import main

    assert main(["serve", "--tls-cert-file", str(tmp_path / "tls.crt"), "--listen", "127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert err == "meshwatch: --tls-cert-file and --tls-key-file go together: give both, or neither\n"


def test_port_0_serves_on_the_port_the_banner_names(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "dashboard.app.cli", "serve", "--listen", "127.0.0.1:0", "--workers", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    try:
        assert process.stderr is not None
        banner = process.stderr.readline()
        address = banner.split("dashboard on http://")[1].split("/")[0]
        assert not address.endswith(":0"), banner
        log = tmp_path / "serve.log"
        log.write_text(banner)
        wait_healthy(process, address, log, "meshwatch serve")
    finally:
        process.terminate()
        process.wait(timeout=20)
