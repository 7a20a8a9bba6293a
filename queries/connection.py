"""How meshwatch reaches one backend (Prometheus, Jaeger, Tempo), as
Prometheus' own `http_client_config` does: a bearer token or basic auth read
from files, a CA file, a client certificate (mTLS), `insecure_skip_verify`,
extra headers, and credentials in the URL's userinfo.

- Secret files are read on every request, surrounding whitespace trimmed
  (Prometheus' `FileSecret`): a rotated ServiceAccount token is picked up by
  the next request.
- Trust: a given CA file is the only trust (never widened by
  REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE or SSL_CERT_FILE); without one the
  certificate is still verified. requests lets REQUESTS_CA_BUNDLE override a
  `Session.verify` (psf/requests#2998, #3829), so `verify` is passed with
  every request instead (`request_options`).
- No secret leaves this module: messages name files and flags, never their
  contents, a header's value or a URL's userinfo.
"""

from __future__ import annotations

import os
import re
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import requests
import urllib3
from requests.auth import AuthBase, HTTPBasicAuth
from requests.structures import CaseInsensitiveDict

from queries.errors import ConfigError, SourceError

# Headers a --B-header may not set (Prometheus' reserved `http_headers`): the
# client's own, or credentials that have options of their own.
RESERVED_HEADERS = frozenset(
    name.lower()
    for name in (
        "Authorization",
        "Host",
        "Content-Encoding",
        "Content-Length",
        "Content-Type",
        "User-Agent",
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Www-Authenticate",
        "Accept-Encoding",
        "Transfer-Encoding",
    )
)
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # an HTTP field name (RFC 9110 token)


def header(text: str) -> tuple[str, str]:
    """`Name: value` as a (name, value) pair; a bad one is refused naming
    only the header, never its value (it may be an API key)."""
    name, colon, value = text.partition(":")
    name, value = name.strip(), value.strip()
    if not colon or not _TOKEN.match(name):
        raise ConfigError("bad header: expected 'Name: value', e.g. 'X-Scope-OrgID: team-a'")
    if name.lower() in RESERVED_HEADERS:
        raise ConfigError(f"header {name} cannot be set this way (use the auth options for credentials)")
    if any(ch in value for ch in "\r\n\0"):
        raise ConfigError(f"bad header {name}: its value holds a line break")
    return name, value


def read_secret(path: str, what: str) -> str:
    """A secret file's text, surrounding whitespace trimmed (as Prometheus reads it)."""
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "replace").strip()
    except OSError as error:
        raise SourceError(f"cannot read the {what} file {path}: {error.strerror or error}") from None


class FileAuth(AuthBase):
    """An `Authorization` header built per request from files read then:
    a bearer token, or basic auth's password (the user is given)."""

    def __init__(
        self, token_file: str | None = None, user: str | None = None, password_file: str | None = None
    ) -> None:
        self.token_file, self.user, self.password_file = token_file, user, password_file

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self.token_file:
            request.headers["Authorization"] = "Bearer " + read_secret(self.token_file, "bearer token")
        else:
            password = read_secret(self.password_file, "basic auth password") if self.password_file else ""
            request = HTTPBasicAuth(self.user or "", password)(request)
        return request


def split_userinfo(url: str) -> tuple[str, tuple[str, str] | None]:
    """The URL without its userinfo, and the (user, password) it held, decoded."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=host)), (
        unquote(parts.username or ""),
        unquote(parts.password or ""),
    )


@dataclass(frozen=True)
class Connection:
    """One backend's connection options; the field names are the option
    names after `--prometheus-` / `--jaeger-`."""

    bearer_token_file: str | None = None
    basic_auth_user: str | None = None
    basic_auth_password_file: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure_skip_verify: bool = False
    header: tuple[tuple[str, str], ...] = ()

    def check(self, flag: str, url: str) -> None:
        """ConfigError (naming `flag`, e.g. `--prometheus`) for options that
        contradict each other or files that cannot be read; never a secret."""
        userinfo = split_userinfo(url)[1]
        given = [
            what
            for what, present in (
                (f"{flag}-bearer-token-file", self.bearer_token_file),
                (f"{flag}-basic-auth-user", self.basic_auth_user is not None),
                (f"credentials in {flag}'s URL", userinfo),
            )
            if present
        ]
        if len(given) > 1:
            raise ConfigError(f"give one kind of credentials, not {' and '.join(given)}")
        if self.basic_auth_password_file and self.basic_auth_user is None:
            raise ConfigError(f"{flag}-basic-auth-password-file needs {flag}-basic-auth-user")
        if bool(self.cert_file) != bool(self.key_file):
            raise ConfigError(f"a client certificate needs both {flag}-cert-file and {flag}-key-file")
        if self.ca_file and self.insecure_skip_verify:
            raise ConfigError(f"{flag}-ca-file and {flag}-insecure-skip-verify contradict each other")
        for option, path in (
            ("bearer-token-file", self.bearer_token_file),
            ("basic-auth-password-file", self.basic_auth_password_file),
            ("ca-file", self.ca_file),
            ("cert-file", self.cert_file),
            ("key-file", self.key_file),
        ):
            if path and not (os.path.isfile(path) and os.access(path, os.R_OK)):
                raise ConfigError(f"{flag}-{option} {path}: no readable file there")
        # Certificates are read now, as Prometheus does, so a wrong file is bad input, not a failed poll.
        context = ssl.create_default_context()
        try:
            if self.ca_file:
                context.load_verify_locations(cafile=self.ca_file)
        except (ssl.SSLError, ValueError):
            raise ConfigError(f"{flag}-ca-file {self.ca_file}: not PEM certificates") from None
        try:
            if self.cert_file:
                context.load_cert_chain(self.cert_file, self.key_file)
        except (ssl.SSLError, ValueError):
            raise ConfigError(
                f"{flag}-cert-file {self.cert_file} and {flag}-key-file {self.key_file}: "
                "not a PEM certificate and its unencrypted key"
            ) from None

    def auth(self, userinfo: tuple[str, str] | None) -> AuthBase | tuple[str, str] | None:
        """What requests sends as `Authorization`: from the files, the URL's userinfo, or nothing."""
        if self.bearer_token_file or self.basic_auth_user is not None:
            return FileAuth(self.bearer_token_file, self.basic_auth_user, self.basic_auth_password_file)
        return userinfo

    @property
    def verify(self) -> bool | str:
        """requests' `verify`: the CA file, False to skip, or True (the default trust)."""
        return self.ca_file or not self.insecure_skip_verify

    def session(self, url: str) -> tuple[requests.Session, str]:
        """A session sending these credentials and headers, and the URL to
        request (its userinfo, if any, moved into the session's auth)."""
        address, userinfo = split_userinfo(url)
        session = requests.Session()
        session.auth = self.auth(userinfo)
        added: CaseInsensitiveDict[str] = CaseInsensitiveDict()
        for name, value in self.header:  # a header given twice is sent once, its values joined
            added[name] = f"{added[name]}, {value}" if name in added else value
        session.headers.update(added)
        if self.insecure_skip_verify:
            # Asked for: not a warning on stderr for every request of every refresh.
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        return session, address

    def request_options(self) -> dict[str, Any]:
        """Keyword arguments for every request: `verify` and `cert` given
        each time, so the environment's CA bundle cannot replace them."""
        return {"verify": self.verify, "cert": (self.cert_file, self.key_file) if self.cert_file else None}
