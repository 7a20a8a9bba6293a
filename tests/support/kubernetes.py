"""A fake Kubernetes API server for the routing config's loader: a local HTTP
server answering the custom-object list calls the official client sends
(`GET /apis/<group>/<version>/<plural>`) with the API's list and Status
shapes, and a kubeconfig that points the client at it.

    with FakeKubernetes({("networking.istio.io", "v1", "virtualservices"): [vs]}) as api:
        monkeypatch.setenv("KUBECONFIG", str(api.kubeconfig(tmp_path)))
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.support import wire

Listing = tuple[str, str, str]  # group, version, plural


class FakeKubernetes:
    """Answers `GET /apis/<group>/<version>/<plural>` with `objects` (a
    listing not given is a 404, as for a CRD that is not installed);
    `refused` maps (group, plural) to the status answered instead (403 for
    an account without RBAC for that kind). `paths` records the requests."""

    def __init__(
        self,
        objects: Mapping[Listing, Sequence[dict[str, Any]]],
        refused: Mapping[tuple[str, str], int] | None = None,
    ) -> None:
        self.objects, self.refused = dict(objects), dict(refused or {})
        self.paths: list[str] = []
        self._server = wire.serve(self._wire)
        self.url = f"http://127.0.0.1:{self._server.server_port}"

    def _wire(self, path: str, query: dict[str, list[str]]) -> tuple[int, str, bytes]:
        self.paths.append(path)
        status, body = self.answer(path)
        return status, "application/json", json.dumps(body).encode()

    def answer(self, path: str) -> tuple[int, dict[str, Any]]:
        parts = path.split("?")[0].strip("/").split("/")
        if len(parts) != 4 or parts[0] != "apis":
            return self._status(404, "NotFound", f"the server could not find the requested resource ({path})")
        _, group, version, plural = parts
        if (group, plural) in self.refused:
            code = self.refused[group, plural]
            return self._status(
                code, "Forbidden", f'{plural}.{group} is forbidden: cannot list resource "{plural}"'
            )
        if (group, version, plural) not in self.objects:
            return self._status(404, "NotFound", "the server could not find the requested resource")
        items = [dict(item) for item in self.objects[group, version, plural]]
        return 200, {
            "apiVersion": f"{group}/{version}",
            "kind": "List",
            "metadata": {"resourceVersion": "12345"},
            "items": items,
        }

    @staticmethod
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

    def kubeconfig(self, directory: Path) -> Path:
        """A kubeconfig whose current context is this server (plain HTTP, no credentials)."""
        path = Path(directory) / "kubeconfig"
        path.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
                    "users": [{"name": "fake", "user": {}}],
                    "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
                    "current-context": "fake",
                }
            )
        )
        return path

    def stop(self) -> None:
        wire.stop(self._server)

    def __enter__(self) -> FakeKubernetes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
