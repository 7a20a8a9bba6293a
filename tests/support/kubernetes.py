"""A fake Kubernetes API server for the routing config's loader: a local HTTP
server answering the custom-object list calls the official client sends
(`GET /apis/<group>/<version>/<plural>`) with the API's list and Status
shapes, and a kubeconfig that points the client at it.

    with FakeKubernetesAPI({(*ISTIO_V1, "virtualservices"): [vs]}) as api:
        monkeypatch.setenv("KUBECONFIG", str(api.kubeconfig(tmp_path / "kubeconfig")))

`objects` maps (group, version, plural) to its objects (a listing not given
is a 404, as for a CRD that is not installed); `refused` maps (group,
plural) to the status answered instead (403 for an account without RBAC
for that kind); `body` overrides every listing with raw bytes, sent at once
or, with `drip`, a byte at a time. `paths` records the requests.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

Listing = tuple[str, str, str]  # group, version, plural
ISTIO_V1 = ("networking.istio.io", "v1")


class FakeKubernetesAPI:
    def __init__(
        self,
        objects: Mapping[Listing, Sequence[dict[str, Any]]] | None = None,
        refused: Mapping[tuple[str, str], int] | None = None,
    ) -> None:
        empty = {(*ISTIO_V1, "virtualservices"): [], (*ISTIO_V1, "destinationrules"): []}
        self.objects: dict[Listing, Sequence[dict[str, Any]]] = dict(empty if objects is None else objects)
        self.refused = dict(refused or {})
        self.paths: list[str] = []
        self.body: bytes | None = None
        self.drip = 0.0
        self.released = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                path = self.path.split("?")[0]
                fake.paths.append(path)
                status, answer = fake.answer(path)
                body = fake.body if fake.body is not None and status == 200 else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                step = 1 if fake.drip and status == 200 else max(len(body), 1)
                try:
                    for index in range(0, len(body), step):
                        self.wfile.write(body[index : index + step])
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
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def answer(self, path: str) -> tuple[int, dict[str, Any]]:
        parts = path.strip("/").split("/")
        if len(parts) != 4 or parts[0] != "apis":
            return _status(404, "NotFound", f"the server could not find the requested resource ({path})")
        _, group, version, plural = parts
        if (group, plural) in self.refused:
            code = self.refused[group, plural]
            return _status(
                code, "Forbidden", f'{plural}.{group} is forbidden: cannot list resource "{plural}"'
            )
        if (group, version, plural) not in self.objects:
            return _status(404, "NotFound", "the server could not find the requested resource")
        return 200, {
            "apiVersion": f"{group}/{version}",
            "kind": "List",
            "metadata": {"resourceVersion": "12345"},
            "items": [dict(item) for item in self.objects[group, version, plural]],
        }

    def kubeconfig(self, path: Path) -> Path:
        """A kubeconfig at `path` whose current context is this server (plain HTTP)."""
        path.write_text(
            "apiVersion: v1\nkind: Config\n"
            f'clusters: [{{name: fake, cluster: {{server: "{self.url}"}}}}]\n'
            "users: [{name: fake, user: {token: test-token}}]\n"
            "contexts: [{name: fake, context: {cluster: fake, user: fake}}]\n"
            "current-context: fake\n"
        )
        return path

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> FakeKubernetesAPI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _status(code: int, reason: str, message: str) -> tuple[int, dict[str, Any]]:
    return code, {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
