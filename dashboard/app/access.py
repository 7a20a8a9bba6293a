"""Who may see the dashboard (--auth): every route of the Flask server
(pages, Dash's endpoints, uploads, assets, /api/*, /metrics) asks before it
answers; only the probes (/healthz, /readyz) answer anyone, so a kubelet can.

- `none`: anyone who reaches --listen (loopback by default);
- `basic`: HTTP basic auth against an htpasswd file of bcrypt entries, as
  Prometheus' web config reads it (re-read when the file changes);
- `header`: a user named in --auth-header by an authenticating proxy
  (oauth2-proxy), believed only from a --trusted-proxy address: the peer of
  the connection, never a forwarded-for header anyone can write.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import flask
from flask import Response, request

from dashboard.app.config import Settings
from queries.errors import ConfigError

# The endpoints that answer without credentials: the probes.
PROBES = frozenset({"meshwatch_api.healthz", "meshwatch_api.readyz"})
REALM = "meshwatch"
# Passwords checked once are remembered (by a hash of user and password) so
# that a page's polls do not each pay for a bcrypt round; at most this many.
REMEMBERED = 1024
BCRYPT_PREFIXES = (b"$2a$", b"$2b$", b"$2y$")


def read_htpasswd(path: str) -> dict[str, bytes]:
    """USER:HASH lines (blank lines and # comments skipped); only bcrypt hashes,
    as Prometheus accepts them. ConfigError names the line, never its hash."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or "not UTF-8 text"
        raise ConfigError(f"cannot read --auth-htpasswd {path}: {reason}") from None
    users: dict[str, bytes] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, hashed = line.partition(":")
        if not sep or not user or not hashed.encode().startswith(BCRYPT_PREFIXES):
            raise ConfigError(
                f"--auth-htpasswd {path} line {number}: expected USER:BCRYPT-HASH "
                "(htpasswd -B, or python -c 'import bcrypt; ...')"
            )
        users[user] = hashed.encode()
    if not users:
        raise ConfigError(f"--auth-htpasswd {path} holds no users")
    return users


class Htpasswd:
    """An htpasswd file's users, read again when the file changes."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp = self._stat()
        self._users = read_htpasswd(path)
        self._verified: dict[bytes, bytes] = {}

    def _stat(self) -> tuple[float, int] | None:
        try:
            status = os.stat(self.path)
        except OSError:
            return None
        return status.st_mtime, status.st_size

    def _current(self) -> dict[str, bytes]:
        stamp = self._stat()
        with self._lock:
            if stamp != self._stamp and stamp is not None:
                try:
                    self._users, self._verified = read_htpasswd(self.path), {}
                except ConfigError:
                    pass  # a file caught half-written: keep the users read last
                self._stamp = stamp
            return self._users

    def check(self, user: str, password: str) -> bool:
        hashed = self._current().get(user)
        if hashed is None:
            return False
        key = hashlib.sha256(user.encode() + b"\0" + password.encode()).digest()
        with self._lock:
            if self._verified.get(key) == hashed:
                return True
        if not bcrypt.checkpw(password.encode(), hashed):
            return False
        with self._lock:
            if len(self._verified) >= REMEMBERED:
                self._verified.clear()
            self._verified[key] = hashed
        return True


@dataclass(frozen=True)
class Access:
    """The rule one dashboard applies to each request."""

    mode: str
    htpasswd: Htpasswd | None = None
    header: str = "X-Forwarded-User"
    trusted: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network] = ()

    def user(self) -> str | None:
        """Who sends the request in hand, or None when nobody is known (or
        "anonymous" with --auth none)."""
        if self.mode == "none":
            return "anonymous"
        if self.mode == "basic":
            given = request.authorization
            if given is None or given.type != "basic" or not given.username or given.password is None:
                return None
            return given.username if self.htpasswd.check(given.username, given.password) else None
        if not self.trusted_peer(request.remote_addr):
            return None
        return request.headers.get(self.header) or None

    def trusted_peer(self, address: str | None) -> bool:
        try:
            peer = ipaddress.ip_address((address or "").split("%")[0])
        except ValueError:
            return False
        return any(peer in block for block in self.trusted)

    def refusal(self) -> Response:
        response = Response("401 Unauthorized: meshwatch needs credentials\n", 401, mimetype="text/plain")
        if self.mode == "basic":
            response.headers["WWW-Authenticate"] = f'Basic realm="{REALM}", charset="UTF-8"'
        return response


def access_of(settings: Settings) -> Access:
    """The access rule the options ask for; ConfigError when they do not add up."""
    if settings.auth == "basic":
        if not settings.auth_htpasswd:
            raise ConfigError("--auth basic needs --auth-htpasswd FILE (USER:BCRYPT-HASH lines)")
        return Access("basic", htpasswd=Htpasswd(settings.auth_htpasswd))
    if settings.auth == "header":
        if not settings.trusted_proxy:
            raise ConfigError(
                "--auth header needs --trusted-proxy CIDR: without it anyone could send "
                f"{settings.auth_header}"
            )
        blocks = tuple(ipaddress.ip_network(block) for block in settings.trusted_proxy)
        return Access("header", header=settings.auth_header, trusted=blocks)
    return Access("none")


def install(server: flask.Flask, settings: Settings) -> Access:
    """Ask every request but the probes' for its user before any view runs."""
    access = access_of(settings)

    @server.before_request
    def require_user() -> Response | None:
        if request.endpoint in PROBES or access.mode == "none":
            return None
        return access.refusal() if access.user() is None else None

    return access


def is_loopback(host: str) -> bool:
    """Whether a listen address only takes connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
