"""--istio-config as the dashboard reads it: a directory parsed again only when its files
change, the Kubernetes API listed once in a while, never per poll."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from dashboard.app.config import resolve
from dashboard.app.refresh import directory_config
from queries.errors import ConfigError, SourceError
from tests.queries.test_istio_config import REVIEWS_DR


def test_a_directory_is_read_again_only_when_its_files_change(tmp_path: Path) -> None:
    vs = tmp_path / "reviews.yaml"
    vs.write_text(REVIEWS_DR)
    first = directory_config(str(tmp_path))
    assert directory_config(str(tmp_path)) is first
    vs.write_text(REVIEWS_DR.replace("- {name: v2, labels: {version: v2}}", ""))
    os.utime(vs, ns=(1, 1))  # a new modification time, whatever the clock's resolution
    changed = directory_config(str(tmp_path))
    assert changed is not first and changed != first
    (tmp_path / "broken.yaml").write_text("a: [\n")
    for _ in range(2):  # a bad file is reported each time, without being parsed again
        with pytest.raises(ConfigError, match="broken.yaml"):
            directory_config(str(tmp_path))


def test_the_kubernetes_api_is_listed_once_however_many_polls_ask(monkeypatch) -> None:
    from dashboard.app import refresh
    from queries.istio import load as istio_config

    listed = []

    def list_api(spec: str, max_bytes: int):
        listed.append(spec)
        time.sleep(0.05)  # a listing takes a while: the polls meanwhile wait for it
        return istio_config.from_manifests([], spec)

    monkeypatch.setattr(istio_config, "load", list_api)
    monkeypatch.setattr(refresh, "_LISTINGS", {})
    settings = resolve({"istio_config": "kubernetes:"}, {})
    with ThreadPoolExecutor(max_workers=10) as pool:
        configs = list(pool.map(lambda _: refresh.routing_config(settings), range(40)))
    assert len({id(config) for config in configs}) == 1 and listed == ["kubernetes:"]
    monkeypatch.setattr(refresh, "KUBERNETES_KEEP_SECONDS", 0.0)
    refresh.routing_config(settings)
    assert len(listed) == 2  # kept its time: listed again
    monkeypatch.setattr(istio_config, "load", lambda *_: (_ for _ in ()).throw(SourceError("API down")))
    with pytest.raises(SourceError, match="API down"):
        refresh.routing_config(settings)
