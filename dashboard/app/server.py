"""The dashboard under a production WSGI server: gunicorn, embedded.

`meshwatch serve` builds the app once, in gunicorn's master, and its
--workers fork from it with --threads each (gunicorn's gthread worker), so
the options are read and checked once and a bad one is one line before
anything listens. The server writes nothing to the root filesystem (the
workers' heartbeat goes to /dev/shm, gunicorn's control socket is off), so a
read-only root filesystem serves.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from dashboard.app.config import Settings
from dashboard.app.logs import logging_config
from queries.errors import ConfigError

# Where the workers' heartbeat files go: memory, not the (read-only) disk.
HEARTBEAT_DIR = "/dev/shm"
# Seconds a worker may go without a heartbeat before the master restarts it;
# a refresh runs on threads of its own, so this is never a refresh's length.
WORKER_TIMEOUT = 60
# Seconds a stopping worker finishes the requests it has.
GRACEFUL_TIMEOUT = 10
# Connections the kernel queues before a worker accepts them (gunicorn's default).
BACKLOG = 2048


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to --listen and listening (IPv6 when the host is an IPv6 address)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=BACKLOG)


def tls_files(settings: Settings) -> dict[str, str]:
    """gunicorn's certfile/keyfile, both or neither, each readable."""
    given = {"certfile": settings.tls_cert_file, "keyfile": settings.tls_key_file}
    if not any(given.values()):
        return {}
    if not all(given.values()):
        raise ConfigError("--tls-cert-file and --tls-key-file go together: give both, or neither")
    for flag, path in (
        ("--tls-cert-file", settings.tls_cert_file),
        ("--tls-key-file", settings.tls_key_file),
    ):
        if not os.access(path, os.R_OK) or not Path(path).is_file():
            raise ConfigError(f"cannot read {flag} {path}")
    return given


def gunicorn_options(settings: Settings, workers: int | None = None) -> dict[str, Any]:
    host, port = settings.listen
    options: dict[str, Any] = {
        "bind": [bind_address(host, port)],
        "workers": workers or settings.workers,
        "threads": settings.threads,
        "worker_class": "gthread",
        "timeout": WORKER_TIMEOUT,
        "graceful_timeout": GRACEFUL_TIMEOUT,
        "control_socket_disable": True,
        "loglevel": settings.log_level,
        "logconfig_dict": logging_config(settings),
        **tls_files(settings),
    }
    if Path(HEARTBEAT_DIR).is_dir():
        options["worker_tmp_dir"] = HEARTBEAT_DIR
    if settings.trusted_proxy:
        # X-Forwarded-Proto (https behind a proxy) only from the proxies trusted with the user.
        options["forwarded_allow_ips"] = ",".join(settings.trusted_proxy)
    return options


class Server(BaseApplication):
    """gunicorn serving one WSGI app built beforehand."""

    def __init__(self, application: Any, options: dict[str, Any]) -> None:
        self.application, self.options = application, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.application


def serve(
    wsgi: Any, settings: Settings, workers: int | None = None, listener: socket.socket | None = None
) -> None:
    """Serve until stopped (SIGTERM, SIGINT): gunicorn's master loop, on
    `listener` when given (a socket already bound and listening: port 0
    then serves on the port the system chose, the one meshwatch said)."""
    options = gunicorn_options(settings, workers)
    if listener is not None:
        listener.set_inheritable(True)
        # gunicorn owns the descriptor from here (it closes it): detached, not closed twice.
        options["bind"] = [f"fd://{listener.detach()}"]
    Server(wsgi, options).run()
