"""--istio-config DIR as the dashboard reads it: parsed again only when its files change."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dashboard.app.refresh import directory_config
from queries.errors import ConfigError
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
