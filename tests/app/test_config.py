"""Settings: every option declared once, typed, and documented in README."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from dashboard.app.config import OPTIONS, Settings, resolve, shown_default, window, window_choices
from queries.duration import Duration
from queries.errors import ConfigError

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_options() -> dict[str, tuple[str, str]]:
    """README's option table: flag -> (environment variable, default)."""
    rows = {}
    for line in README.read_text().splitlines():
        # Cells split on pipes that Markdown does not escape (`ingressgateway\|-istio$`).
        cells = (
            [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
            if line.startswith("| `--")
            else []
        )
        if len(cells) >= 4:
            flag = re.match(r"`(--[a-z-]+)", cells[0]).group(1)
            rows[flag] = (cells[1].split()[0].strip("`"), cells[2].strip("`"))
    return rows


def same_default(written: str, declared: str) -> bool:
    written = written.replace("\\|", "|")
    try:
        return float(written) == float(declared)
    except ValueError:
        return written == declared


def test_readme_documents_every_option_and_no_other() -> None:
    documented = readme_options()
    assert set(documented) == {option.flag for option in OPTIONS.values()}
    for option in OPTIONS.values():
        env, default = documented[option.flag]
        assert env == option.env, option.flag
        # An option without a default says what it means instead: all namespaces, now.
        assert same_default(default, shown_default(option)) or (
            shown_default(option) == "none" and default in ("all", "now")
        ), option.flag


def test_settings_are_a_frozen_dataclass_with_a_field_per_option() -> None:
    names = {f.name for f in dataclasses.fields(Settings)}
    assert set(OPTIONS) <= names and names - set(OPTIONS) == {"health", "circuit", "canary"}
    assert "__getattr__" not in vars(Settings)
    settings = resolve({"window": "5m", "namespace": ["a", "b"]}, {})
    assert settings.window == Duration("5m", 300.0) and settings.namespace == ("a", "b")
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.window = window("1m")  # type: ignore[misc]


def test_flag_beats_environment_beats_file(tmp_path: Path) -> None:
    config = tmp_path / "meshwatch.toml"
    config.write_text('window = "2m"\nrefresh = 7\n[canary]\nmin_success_ratio = 0.95\n')
    environ = {"MESHWATCH_CONFIG": str(config), "MESHWATCH_REFRESH": "3"}
    settings = resolve({"refresh": "9"}, environ)
    assert (str(settings.window), settings.refresh, settings.canary.min_success_ratio) == ("2m", 9.0, 0.95)
    assert resolve({}, environ).refresh == 3.0


def test_the_readmes_example_config_file_is_accepted(tmp_path: Path) -> None:
    """Every threshold the README's example sets (the canary's lookback in hours too) reads back."""
    text = README.read_text()
    fence = "```toml\n"
    example = text[text.index(fence, text.index("## Configuration")) + len(fence) :]
    config = tmp_path / "meshwatch.toml"
    config.write_text(example[: example.index("```")])
    settings = resolve({}, {"MESHWATCH_CONFIG": str(config)})
    assert settings.canary.baseline_lookback_h == 24.0 and settings.canary.deviation_p_value == 0.001


@pytest.mark.parametrize(
    "text, words",
    [
        ("500ms", "a rate window needs at least 1s"),
        ("banana", "bad duration 'banana'"),
        ("١m", "bad duration"),
        ("0s", "bad duration"),
    ],
)
def test_bad_windows_are_refused_with_a_reason(text: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        window(text)


def test_the_window_picker_orders_by_length_and_keeps_what_the_address_asked_for() -> None:
    assert window_choices("1m") == ["30s", "1m", "5m", "15m", "1h"]
    assert window_choices("90s") == ["30s", "1m", "90s", "5m", "15m", "1h"]
    assert window_choices("banana")[-1] == "banana"


def test_a_threshold_section_that_is_not_a_table_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("health = 5\n")
    with pytest.raises(ConfigError, match=r"\[health\] must be a table"):
        resolve({"config": str(config)}, {})
