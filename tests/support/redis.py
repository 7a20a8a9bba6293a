"""A real Redis for tests: Debian's redis-server on a free loopback port,
in memory only (no snapshots, no append-only file)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import redis

from tests.support.simulator import free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisServer:
    def __init__(self, process: subprocess.Popen, port: int) -> None:
        self.process, self.port = process, port
        self.url = f"redis://127.0.0.1:{port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def start_redis(root: Path, password: str | None = None, timeout: float = 30.0) -> RedisServer:
    """redis-server on a free port, returned once it answers PING."""
    port = free_port()
    arguments = [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    arguments += ["--dir", str(root)] + (["--requirepass", password] if password else [])
    log = (root / "redis.log").open("w")
    process = subprocess.Popen(arguments, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = RedisServer(process, port)
    client = redis.Redis(host="127.0.0.1", port=port, password=password, socket_connect_timeout=1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if client.ping():
                return server
        except redis.RedisError:
            time.sleep(0.05)  # poll interval of the readiness check
    server.stop()
    raise AssertionError(f"redis-server did not answer: {(root / 'redis.log').read_text()}")
