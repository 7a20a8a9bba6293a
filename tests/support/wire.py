"""A local HTTP server for the fake backends (Jaeger, Tempo): every GET goes
to an `answer(path, query) -> (status, content type, body)`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

Answer = Callable[[str, dict[str, list[str]]], tuple[int, str, bytes]]


def serve(answer: Answer, base_path: str = "") -> ThreadingHTTPServer:
    """Serve `answer` on a free loopback port from a daemon thread; requests
    under `base_path` (Istio's `/jaeger`) are answered as if at the root."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            url = urlparse(self.path)
            path = url.path
            if base_path and path.startswith(base_path + "/"):
                path = path[len(base_path) :]
            status, content_type, body = answer(path, parse_qs(url.query))
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except BrokenPipeError:  # the client gave up (timeout tests)
                pass

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def stop(server: ThreadingHTTPServer | None) -> None:
    if server:
        server.shutdown()
        server.server_close()
