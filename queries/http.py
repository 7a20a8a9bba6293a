"""HTTP to the backends (Prometheus, Jaeger, Tempo, Kubernetes): every response is read
against a byte budget and a total deadline, and every failure is said in one
line fit for a user, without the request's query or credentials. The tracing
clients GET through one transport (`requests_transport`) over the same reading.

- **Budget**: the responses of one refresh share one budget of bytes
  (`response_budget`, `--max-response-mb`); a body is refused from its
  Content-Length, or as it arrives, before anything parses it.
- **Deadline**: a backend's timeout bounds the whole response (connect,
  headers and body), not each read: at the deadline a watchdog shuts the
  request's socket, so a body dripping a byte at a time cannot hold a
  refresh (or a thread) past it.
"""

from __future__ import annotations

import re
import socket
import ssl
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from urllib3 import exceptions as urllib3_exceptions
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import IncompleteRead
from urllib3.util.retry import Retry

from queries.connection import Connection
from queries.errors import SourceError

MB = 1 << 20
# One quick retry on a refused connection; never urllib3's default tries with
# backoff, which stall a refresh for seconds, and never a retried read.
QUICK_RETRY = Retry(total=1, connect=1, read=0, status=0, backoff_factor=0)
CHUNK_BYTES = 1 << 16
# How a tracing client GETs: `(path, params) -> (status, content type, body)`,
# so the simulated mesh (or a test) can answer without a socket.
Transport = Callable[[str, dict[str, str]], tuple[int, str, bytes]]


class ResponseTooLarge(SourceError):
    """The responses of one refresh went over its budget."""


class ResponseBudget:
    """The bytes the responses of one refresh may still take, shared by its
    queries (which run in several threads)."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit = limit_bytes
        self._left = limit_bytes
        self._lock = threading.Lock()

    def expect(self, size: int, advice: str) -> None:
        """Refuse a body announced larger than what is left, before reading it."""
        with self._lock:
            over = size > self._left
        if over:
            raise self._refusal(advice)

    def take(self, size: int, advice: str) -> None:
        with self._lock:
            self._left -= size
            over = self._left < 0
        if over:
            raise self._refusal(advice)

    def _refusal(self, advice: str) -> ResponseTooLarge:
        return ResponseTooLarge(f"response over {self.limit / MB:.3g} MB: {advice}")


_BUDGET: ContextVar[ResponseBudget | None] = ContextVar("meshwatch_response_budget", default=None)


@contextmanager
def response_budget(limit_bytes: int) -> Iterator[ResponseBudget]:
    """One budget for every response read inside the block (and in threads
    started with a copy of its context); inside an open one, that one."""
    opened = _BUDGET.get()
    if opened is not None:
        yield opened
        return
    token = _BUDGET.set(ResponseBudget(limit_bytes))
    try:
        yield _BUDGET.get()
    finally:
        _BUDGET.reset(token)


# --- the deadline: a watchdog that shuts the sockets of a late request ------


class _Watch:
    """The sockets of one request; `expire` shuts them, unblocking any read."""

    def __init__(self) -> None:
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def attach(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shut(sock)

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed: nothing left to unblock


_WATCH: ContextVar[_Watch | None] = ContextVar("meshwatch_http_watch", default=None)


class _Watched:
    """A connection that hands its socket to the request's watch before it
    waits for the response's headers (the body is read from the same socket)."""

    def getresponse(self) -> Any:
        watch = _WATCH.get()
        if watch is not None and self.sock is not None:
            watch.attach(self.sock)
        return super().getresponse()


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _WatchedAdapter(requests.adapters.HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


# --- one backend -------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str
    body: bytes  # a bytearray from a Backend `as_buffer`


def public_url(url: str) -> str:
    """A URL as messages show it: scheme, host, port and path, credentials
    redacted (`https://***@host`); never its query or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    userinfo = "***@" if "@" in parts.netloc else ""
    return urlunsplit((parts.scheme, userinfo + host + (f":{port}" if port else ""), parts.path, "", ""))


@dataclass
class Backend:
    """One backend as meshwatch reaches it, over its `connection` (auth,
    TLS, headers: queries.connection): `get` and `post` (a form) return the
    whole reply, read within `timeout` seconds in all and against the
    refresh's budget (or one of `max_bytes` for a request outside any
    refresh); failures are one-line SourceErrors starting with `label`. With
    `as_buffer` the body stays the bytearray it was read into: no copy of a
    2 GB trace into `bytes`."""

    name: str
    url: str
    timeout: float
    max_bytes: int
    advice: str
    connection: Connection = field(default_factory=Connection)
    as_buffer: bool = False
    session: requests.Session = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")
        self.session, self._address = self.connection.session(self.url)
        adapter = _WatchedAdapter(max_retries=QUICK_RETRY)
        for scheme in ("http://", "https://"):
            self.session.mount(scheme, adapter)

    @property
    def label(self) -> str:
        """`Prometheus at http://host:9090`, credentials redacted."""
        return f"{self.name} at {public_url(self.url)}"

    def get(self, path: str, params: dict[str, str] | None = None) -> Reply:
        return self.send("GET", path, params)

    def post(self, path: str, form: dict[str, str]) -> Reply:
        """A form POST (`application/x-www-form-urlencoded`): the parameters
        ride in the body, so no query makes the URL too long for a proxy."""
        return self.send("POST", path, form=form)

    def send(
        self, method: str, path: str, params: dict[str, str] | None = None, form: dict[str, str] | None = None
    ) -> Reply:
        watch = _Watch()
        timer = threading.Timer(self.timeout, watch.expire)
        timer.daemon = True
        token = _WATCH.set(watch)
        timer.start()
        try:
            with response_budget(self.max_bytes) as budget:
                return self._read(method, path, params, form, budget)
        except SourceError as error:
            raise SourceError(f"{self.label}: {error}") from None
        except (requests.exceptions.RequestException, OSError) as error:
            if watch.expired or _timed_out(error):
                raise SourceError(f"{self.label} did not answer within {self.timeout:g}s") from None
            if isinstance(error, requests.exceptions.ConnectionError) and not _mid_response(error):
                raise SourceError(f"cannot reach {self.label}: {failure_reason(error)}") from None
            raise SourceError(f"{self.label}: {failure_reason(error)}") from None
        finally:
            timer.cancel()
            _WATCH.reset(token)

    def _read(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None,
        form: dict[str, str] | None,
        budget: ResponseBudget,
    ) -> Reply:
        response = self.session.request(
            method,
            self._address + path,
            params=params,
            data=form,
            timeout=self.timeout,
            stream=True,
            **self.connection.request_options(),
        )
        with response:
            body = _take_body(
                response.iter_content(CHUNK_BYTES),
                response.headers.get("Content-Length", ""),
                budget,
                self.advice,
            )
            return Reply(
                response.status_code,
                response.headers.get("Content-Type", ""),
                body if self.as_buffer else bytes(body),
            )


def requests_transport(
    name: str, url: str, timeout: float, max_bytes: int, advice: str, connection: Connection | None = None
) -> Transport:
    """A tracing client's GET over one Backend: the one place its HTTP is
    made (connection options go in Backend). The body is read into a buffer
    the trace parsers read in place."""
    backend = Backend(name, url, timeout, max_bytes, advice, connection or Connection(), as_buffer=True)

    def get(path: str, params: dict[str, str]) -> tuple[int, str, bytes]:
        reply = backend.get(path, params)
        return reply.status, reply.content_type, reply.body

    return get


def body_line(status: int, body: bytes) -> str:
    """An error response as `503 – <its first line>`, for backends that answer in text."""
    first_line = body.decode("utf-8", "replace").strip().splitlines()[:1]
    return f"{status} – {first_line[0][:200]}" if first_line else f"{status} – HTTP error"


def _take_body(chunks: Iterable[bytes], declared: str, budget: ResponseBudget, advice: str) -> bytearray:
    """A body read chunk by chunk against the budget, refused at once when its
    Content-Length (`declared`) says it will not fit."""
    if declared.isdigit():
        budget.expect(int(declared), advice)
    # One growing buffer, not chunks joined at the end (which takes twice the memory).
    body = bytearray()
    for chunk in chunks:
        budget.take(len(chunk), advice)
        body += chunk
    return body


def read_stream(response: Any, label: str, timeout: float, max_bytes: int, advice: str) -> bytes:
    """The body of a urllib3 response a client library opened without
    reading it (the Kubernetes client's, with `_preload_content=False`):
    against the refresh's budget (or one of `max_bytes`), and cut off
    `timeout` seconds from now; failures are one-line SourceErrors."""
    expired = threading.Event()

    def cut_off() -> None:
        expired.set()
        response.shutdown()

    timer = threading.Timer(timeout, cut_off)
    timer.daemon = True
    timer.start()
    try:
        with response_budget(max_bytes) as budget:
            return bytes(
                _take_body(
                    response.stream(CHUNK_BYTES), response.headers.get("Content-Length", ""), budget, advice
                )
            )
    except SourceError as error:
        raise SourceError(f"{label}: {error}") from None
    except (urllib3_exceptions.HTTPError, OSError) as error:
        if expired.is_set():
            raise SourceError(f"{label} did not answer within {timeout:g}s") from None
        raise SourceError(f"{label}: {failure_reason(error)}") from None
    finally:
        timer.cancel()
        response.release_conn()


# --- why a request failed, in words -------------------------------------------


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error and everything it wraps (urllib3 nests them in args, `reason`,
    `__cause__` and `__context__`), outermost first."""
    pending, seen = [error], set()
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        inner = [getattr(current, "reason", None), current.__cause__, current.__context__]
        inner += list(getattr(current, "args", ()))
        pending += [item for item in inner if isinstance(item, BaseException)]


def failure_reason(error: BaseException) -> str:
    """The innermost useful words of a requests/urllib3/ssl error:
    `Connection refused`, `TLS certificate not accepted: self-signed
    certificate`, `the response ended early (3 bytes read, 97 more expected)`."""
    causes = list(_causes(error))
    for cause in causes:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate not accepted: {cause.verify_message or cause.reason}"
    for cause in causes:
        if isinstance(cause, ssl.SSLError):
            detail = re.sub(r"\s*\(_ssl\.c:\d+\)", "", cause.strerror or str(cause))
            return f"TLS failed: {detail}"
    for cause in reversed(causes):
        if isinstance(cause, IncompleteRead):
            return f"the response ended early ({cause})"
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
    return _without_urls(str(causes[-1])) or type(causes[-1]).__name__


def _without_urls(text: str) -> str:
    """A last-resort message, its first line, with no URL or request path in it."""
    first = text.splitlines()[0] if text else ""
    first = re.sub(r"\w+://\S+", "<url>", first)
    first = re.sub(r"with url: \S+", "", first)
    return first[:200].strip()


def _timed_out(error: BaseException) -> bool:
    # urllib3's NewConnectionError is a ConnectTimeoutError by descent, not a timeout.
    return any(
        isinstance(cause, (requests.exceptions.Timeout, urllib3_exceptions.ReadTimeoutError, TimeoutError))
        or (
            isinstance(cause, urllib3_exceptions.ConnectTimeoutError)
            and not isinstance(cause, urllib3_exceptions.NewConnectionError)
        )
        for cause in _causes(error)
    )


def _mid_response(error: BaseException) -> bool:
    """A connection that broke after the request was sent (reset, cut short),
    as opposed to one never made."""
    return isinstance(error, requests.exceptions.ChunkedEncodingError) or any(
        isinstance(cause, (ConnectionResetError, IncompleteRead)) for cause in _causes(error)
    )
