"""`meshwatch simulate` as a real process, for a real Prometheus to scrape."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(
    process: subprocess.Popen,
    address: str,
    log: Path,
    name: str,
    timeout: float = 60,
    scheme: str = "http",
    verify: str | bool = True,
) -> None:
    """Until the process answers `/healthz` at `address` (over `scheme`, the
    certificate checked against `verify`); AssertionError with its log when it does not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{scheme}://{address}/healthz", timeout=2, verify=verify).ok:
                return
        except requests.ConnectionError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.1)  # poll interval
    process.kill()
    raise AssertionError(f"{name} did not come up: {log.read_text()}")


def start_simulator(log: Path) -> tuple[subprocess.Popen, str, float]:
    """`meshwatch simulate` holding the ejection; returns it, its address and its clock's start."""
    address = f"127.0.0.1:{free_port()}"
    handle = log.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "dashboard.app.cli", "simulate", "--listen", address, "--phase", "ejection"],
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    # It prints its clock before it serves: once it answers, the line is there.
    wait_healthy(process, address, log, "meshwatch simulate")
    return process, address, float(re.search(r"clock starts at (\d+\.\d+)", log.read_text()).group(1))
