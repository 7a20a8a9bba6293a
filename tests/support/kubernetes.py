"""A local HTTP server answering like the Kubernetes API server's list
endpoints for Istio's custom resources (`/apis/networking.istio.io/v1/...`,
a `<Kind>List` of items, a `Status` for 404), and a kubeconfig pointing at
it, for the `kubernetes:` way of reading routing config.

`items` maps a plural (`virtualservices`) to its objects; `body` overrides
every answer with raw bytes, sent at once or, with `drip`, a byte at a time.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

KINDS = {"virtualservices": "VirtualServiceList", "destinationrules": "DestinationRuleList"}


class FakeKubernetesAPI:
    def __init__(self) -> None:
        self.items: dict[str, list[dict[str, Any]]] = {plural: [] for plural in KINDS}
        self.body: bytes | None = None
        self.drip = 0.0
        self.released = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = self.path.split("?")[0].strip("/").split("/")
                plural = parts[-1] if parts[:3] == ["apis", "networking.istio.io", "v1"] else None
                if plural not in KINDS:
                    status, body = (
                        404,
                        json.dumps({"kind": "Status", "code": 404, "reason": "NotFound"}).encode(),
                    )
                else:
                    listing = {"apiVersion": "networking.istio.io/v1", "kind": KINDS[plural]}
                    status, body = (
                        200,
                        fake.body or json.dumps({**listing, "items": fake.items[plural]}).encode(),
                    )
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    for index in range(0, len(body), 1 if fake.drip and status == 200 else len(body) or 1):
                        self.wfile.write(
                            body[index : index + (1 if fake.drip and status == 200 else len(body))]
                        )
                        self.wfile.flush()
                        if fake.drip and fake.released.wait(fake.drip):
                            return
                except OSError:
                    pass  # the client cut the answer off: what a cap or a deadline does

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def kubeconfig(self, path: Path) -> Path:
        path.write_text(
            "apiVersion: v1\nkind: Config\n"
            f'clusters: [{{name: fake, cluster: {{server: "http://127.0.0.1:{self.server.server_port}"}}}}]\n'
            "users: [{name: fake, user: {token: test-token}}]\n"
            "contexts: [{name: fake, context: {cluster: fake, user: fake}}]\n"
            "current-context: fake\n"
        )
        return path

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
