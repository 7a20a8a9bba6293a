"""`meshwatch simulate`'s HTTP server: `/metrics` for a Prometheus to scrape
and Jaeger's query API v1 under `/api/...` and `/jaeger/api/...` (the base
path of Istio's tracing addon). Each request first runs the simulation up
to the wall clock (x speed).
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from queries.simulator.exposition import CONTENT_TYPE
from queries.simulator.simulation import Simulation

INDEX = b"""meshwatch simulated Bookinfo mesh
/metrics              Prometheus text exposition (Istio standard metrics, Envoy cluster stats)
/api/...              Jaeger query API v1 (also under /jaeger/api/...)
/healthz              liveness
"""


def make_server(simulation: Simulation, host: str, port: int) -> ThreadingHTTPServer:
    """A threaded server for the simulation; OSError if the address is taken."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            url = urlsplit(self.path)
            path = url.path
            if path.startswith("/jaeger/api/"):
                path = path[len("/jaeger") :]
            if path == "/metrics":
                self._send(200, CONTENT_TYPE, simulation.metrics_text().encode())
            elif path.startswith("/api/"):
                params = {
                    name: values[0] if len(values) == 1 else values
                    for name, values in parse_qs(url.query, keep_blank_values=True).items()
                }
                self._send(*simulation.jaeger_transport(path, params))
            elif path == "/healthz":
                self._send(200, "text/plain; charset=utf-8", b"ok\n")
            elif path == "/":
                self._send(200, "text/plain; charset=utf-8", INDEX)
            else:
                self._send(404, "text/plain; charset=utf-8", b"404 page not found\n")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: Prometheus scrapes every few seconds."""

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server
