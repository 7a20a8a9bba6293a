"""The tree keeps its layers: queries -> domain (dashboard/mesh|traces|canary)
-> layouts -> app wiring; and commands that need no frames start without them."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = ("dashboard/mesh", "dashboard/traces", "dashboard/canary")


def imports(folder: str) -> dict[str, set[str]]:
    """Every module each file under `folder` imports, at any depth of the file."""
    found = {}
    for path in sorted((ROOT / folder).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def offenders(folders: tuple[str, ...], forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    bad = {}
    for folder in folders:
        for path, names in imports(folder).items():
            hits = sorted(n for n in names if any(n == f or n.startswith(f + ".") for f in forbidden))
            if hits:
                bad[path] = hits
    return bad


def test_the_domain_is_pure() -> None:
    assert (
        offenders(
            DOMAIN,
            (
                "dash",
                "dash_cytoscape",
                "plotly",
                "flask",
                "requests",
                "werkzeug",
                "queries.prometheus",
                "queries.jaeger",
                "dashboard.app",
                "layouts",
            ),
        )
        == {}
    )


def test_layouts_never_reach_the_data_sources_or_the_wiring() -> None:
    assert offenders(("layouts",), ("queries", "dashboard.app", "flask", "requests")) == {}


def test_queries_never_import_the_layers_above() -> None:
    assert offenders(("queries",), ("dashboard", "layouts", "dash", "flask")) == {}


def loaded_modules(code: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return set(result.stdout.split())


@pytest.mark.parametrize(
    "argv", [["--version"], ["--help"], ["trace", "--help"], ["trace-diff", "--help"], ["snapshot", "--help"]]
)
def test_commands_that_need_no_frames_start_without_pandas_or_networkx(argv: list[str]) -> None:
    code = (
        "import sys\nfrom dashboard.app.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass"
    )
    loaded = loaded_modules(code)
    assert "dashboard.app.cli" in loaded
    assert not loaded & {"pandas", "networkx", "dash", "plotly"}


def test_a_trace_file_is_analysed_without_pandas_networkx_or_dash(tmp_path: Path) -> None:
    from tests.support.jaeger import bookinfo_trace

    export = tmp_path / "trace.json"
    export.write_text(__import__("json").dumps({"data": [bookinfo_trace()]}))
    code = (
        "import contextlib, io\nfrom dashboard.app.cli import main\n"
        f"with contextlib.redirect_stdout(io.StringIO()):\n    assert main(['trace', '--file', {str(export)!r}]) == 0"
    )
    loaded = loaded_modules(code)
    assert "dashboard.traces.tree" in loaded
    assert not loaded & {"pandas", "networkx", "dash", "plotly"}


def test_settings_do_not_load_the_canary_analysis() -> None:
    loaded = loaded_modules("from dashboard.app.config import resolve\nresolve({}, {})")
    assert "dashboard.canary.thresholds" in loaded
    assert not loaded & {"dashboard.canary.release", "dashboard.canary.verdict", "pandas", "networkx"}
