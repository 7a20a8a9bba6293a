"""What stands in front of a production Prometheus, for tests: proxies over a
real one (tests/support/prometheus.py) that refuse long URLs or require a
credential, and the certificates a TLS or mTLS one needs.

- `UrlLimitProxy(url)`: 414 for a request line's target over 8 KB, as
  nginx and most load balancers do;
- `GateProxy(url, admits)`: 401 unless `admits(headers)` (see `bearer`,
  `basic`, `header`), the credentials each request carried kept in `seen`;
- `GateProxy(url, tls=server_context(...))`: the same over HTTPS, with
  `client_ca` also requiring a client certificate issued by that CA (mTLS);
- `Authority(tmp_path)`: a CA made with `cryptography`, issuing server and
  client certificates as PEM files.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import ssl
import subprocess
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.support.prometheus import CountingProxy, send

# The longest request target most proxies take (nginx' large_client_header_buffers: 8k).
URL_LIMIT = 8192

Admits = Callable[[Mapping[str, str]], bool]


class UrlLimitProxy(CountingProxy):
    """Prometheus behind a proxy that answers 414 to a request target over `limit` bytes."""

    def __init__(self, target: str, limit: int = URL_LIMIT) -> None:
        super().__init__(target)
        self.limit = limit
        self.refused = 0

    def answer(self, handler: BaseHTTPRequestHandler, body: bytes | None) -> None:
        if len(handler.path.encode()) > self.limit:
            self.refused += 1
            send(handler, 414, b"<html><body><h1>414 Request-URI Too Large</h1></body></html>", "text/html")
            return
        super().answer(handler, body)


def bearer(token: Callable[[], str]) -> Admits:
    """Admits `Authorization: Bearer <token()>` (asked each time: tokens rotate)."""
    return lambda headers: headers.get("Authorization") == f"Bearer {token()}"


def basic(user: str, password: str) -> Admits:
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    return lambda headers: headers.get("Authorization") == expected


def header(name: str, value: str) -> Admits:
    return lambda headers: headers.get(name) == value


class GateProxy(CountingProxy):
    """Prometheus behind a proxy that answers 401 unless `admits` the
    request's headers; over HTTPS with `tls` (a server context)."""

    def __init__(
        self, target: str, admits: Admits = lambda headers: True, tls: ssl.SSLContext | None = None
    ) -> None:
        self.admits, self.tls = admits, tls
        self.seen: list[dict[str, str]] = []
        super().__init__(target)
        if tls is not None:
            self.url = self.url.replace("http://", "https://")

    def _listen(self, port: int) -> ThreadingHTTPServer:
        server = super()._listen(port)
        if self.tls is not None:
            server.socket = self.tls.wrap_socket(server.socket, server_side=True)
        return server

    def answer(self, handler: BaseHTTPRequestHandler, body: bytes | None) -> None:
        headers = dict(handler.headers.items())
        self.seen.append(headers)
        if not self.admits(headers):
            send(handler, 401, b"Unauthorized\n", "text/plain")
            return
        super().answer(handler, body)


class Authority:
    """A certificate authority for one test: `issue` writes a certificate and
    its key signed by it; `ca_file` is its own certificate (PEM)."""

    def __init__(self, directory: Path, name: str = "meshwatch test CA") -> None:
        self.directory = directory
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.name = subject
        self.certificate = (
            _builder(subject, subject, self.key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.ca_file = directory / f"{name.replace(' ', '-')}.pem"
        self.ca_file.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))

    def issue(self, name: str, client: bool = False) -> tuple[Path, Path]:
        """(certificate file, key file) for 127.0.0.1 (a server), or a client named `name`."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = _builder(subject, self.name, key.public_key()).add_extension(
            x509.ExtendedKeyUsage([usage]), critical=False
        )
        if not client:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
        certificate = builder.sign(self.key, hashes.SHA256())
        cert_file, key_file = self.directory / f"{name}.crt", self.directory / f"{name}.key"
        cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        return cert_file, key_file


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )


def server_context(authority: Authority, client_ca: Authority | None = None) -> ssl.SSLContext:
    """A TLS server context with a certificate for 127.0.0.1 from `authority`;
    with `client_ca`, client certificates from it are required."""
    cert_file, key_file = authority.issue("127.0.0.1")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    if client_ca is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(client_ca.ca_file)
    return context


class WarningProxy(CountingProxy):
    """Prometheus behind a querier that adds `warnings` to its successful
    answers, as Thanos and Mimir do with a partial response."""

    def __init__(self, target: str, warnings: list[str]) -> None:
        super().__init__(target)
        self.warnings = warnings

    def answer(self, handler: BaseHTTPRequestHandler, body: bytes | None) -> None:
        upstream = self.upstream(handler, body)
        payload = upstream.json()
        if payload.get("status") == "success":
            payload["warnings"] = self.warnings
        send(handler, upstream.status_code, json.dumps(payload).encode())


def self_signed(root: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (openssl), as files in `root`."""
    cert, key = root / "tls.crt", root / "tls.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key
