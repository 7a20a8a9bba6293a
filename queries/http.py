"""HTTP to the backends (Prometheus, Jaeger, Tempo): one session type that
refuses oversized bodies before they are parsed, one transport the tracing
clients GET through, and one way to say why a request failed in a line fit
for a user."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import requests
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

from queries.errors import SourceError

# One quick retry on a dropped connection; never urllib3's default tries with
# backoff, which stall a refresh for seconds.
QUICK_RETRY = Retry(total=1, connect=1, read=0, status=0, backoff_factor=0)
_REASONS = (
    r"\[Errno -?\d+\] ([^'\")]+)",
    r"(Connection refused)",
    r"(Name or service not known)",
    r"(Read timed out)",
)


# A million-span Istio trace is ~2 GB of JSON (and opens in about 1.6 times
# that); past this, a tracing client refuses rather than exhaust the dashboard's memory.
MAX_TRACE_BYTES = 3 * 1024 * 1024 * 1024
# How a tracing client GETs: `(path, params) -> (status, content type, body)`,
# so the simulated mesh (or a test) can answer without a socket.
Transport = Callable[[str, dict[str, str]], tuple[int, str, bytes]]


class ResponseTooLarge(SourceError):
    """A backend sent more than the session reads."""


class CappedSession(requests.Session):
    """A session that streams every body and refuses one over `limit` bytes
    (from its Content-Length, or as it arrives) before anything parses it.
    With `as_buffer` the body stays the bytearray it was read into: no copy
    of a 2 GB trace into `bytes`."""

    def __init__(self, limit: int, advice: str, as_buffer: bool = False) -> None:
        super().__init__()
        self.limit, self.advice, self.as_buffer = limit, advice, as_buffer
        for scheme in ("http://", "https://"):
            self.mount(scheme, requests.adapters.HTTPAdapter(max_retries=QUICK_RETRY))

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        kwargs["stream"] = True
        response = super().send(request, **kwargs)
        size = int(response.headers.get("Content-Length") or 0)
        if size > self.limit:
            response.close()
            raise ResponseTooLarge(
                f"sent more than {self.limit >> 20} MB, more than meshwatch reads; {self.advice}"
            )
        # One growing buffer, not chunks joined at the end (which takes twice the memory).
        body = bytearray()
        for chunk in response.iter_content(1 << 20):
            if len(body) + len(chunk) > self.limit:
                response.close()
                raise ResponseTooLarge(
                    f"sent more than {self.limit >> 20} MB, more than meshwatch reads; {self.advice}"
                )
            body += chunk
        response._content = body if self.as_buffer else bytes(body)
        return response


def _reason(error: Exception) -> str:
    """The innermost useful words of a requests/urllib3 error."""
    text = str(error)
    for pattern in _REASONS:
        match = re.search(pattern, text)
        if match:
            return match.group(1).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__


def _timed_out(error: requests.exceptions.RequestException) -> bool:
    if isinstance(error, requests.exceptions.Timeout):
        return True
    # Without retries urllib3 wraps a read timeout in MaxRetryError, which
    # requests reports as a ConnectionError.
    inner = error.args[0] if error.args else None
    return isinstance(getattr(inner, "reason", None), ReadTimeoutError)


def request_failure(backend: str, timeout: float, error: requests.exceptions.RequestException) -> SourceError:
    """`Prometheus at http://... did not answer within 10s`, `cannot reach
    Jaeger at ...: Connection refused`, or the backend and the reason."""
    if _timed_out(error):
        return SourceError(f"{backend} did not answer within {timeout:g}s")
    if isinstance(error, requests.exceptions.ConnectionError):
        return SourceError(f"cannot reach {backend}: {_reason(error)}")
    return SourceError(f"{backend}: {_reason(error)}")


def requests_transport(base_url: str, timeout: float, backend: str, limit: int, advice: str) -> Transport:
    """GET `base_url + path` with requests, reading at most `limit` bytes;
    `backend` names it in errors (`Jaeger at http://...`). The one place a
    tracing client's HTTP session is made: connection options go here."""
    session = CappedSession(limit, advice, as_buffer=True)

    def get(path: str, params: dict[str, str]) -> tuple[int, str, bytes]:
        try:
            response = session.get(base_url + path, params=params, timeout=timeout)
        except SourceError as error:
            raise SourceError(f"{backend} {error}") from None
        except requests.exceptions.RequestException as error:
            raise request_failure(backend, timeout, error) from None
        return response.status_code, response.headers.get("Content-Type", ""), response.content

    return get


def body_line(status: int, body: bytes) -> str:
    """An error response as `503 – <its first line>`, for backends that answer in text."""
    first_line = body.decode("utf-8", "replace").strip().splitlines()[:1]
    return f"{status} – {first_line[0][:200]}" if first_line else f"{status} – HTTP error"
