"""The `meshwatch` command's handling of bad input: one line, a non-zero exit."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from dashboard.app.cli import main


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dashboard.app.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )


@pytest.mark.parametrize(
    "args, words",
    [
        (["snapshot", "--at", "nan"], "bad time 'nan'"),
        (["snapshot", "--at", "inf"], "bad time 'inf'"),
        (["snapshot", "--window", "0m"], "bad duration"),
        (["snapshot", "--ingress", "(unclosed"], "bad regular expression"),
        (["canary", "--service", "Reviews.Default"], "bad service"),
        (["demo", "--phase", "nope"], "nope"),
    ],
)
def test_bad_options_exit_2_with_one_line(args, words, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1 and err.startswith("meshwatch: ")


def test_config_file_problems_name_the_file(tmp_path, capsys):
    broken = tmp_path / "meshwatch.toml"
    broken.write_text("window = \n")
    assert main(["snapshot", "--config", str(broken)]) == 2
    assert str(broken) in capsys.readouterr().err
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[health]\nhttp_5xx_failing = 0.2\nhttp_6xx_failing = 0.3\n")
    assert main(["snapshot", "--config", str(unknown)]) == 2
    assert "http_6xx_failing" in capsys.readouterr().err


def test_a_taken_port_is_one_line_not_a_traceback():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("demo", "--listen", f"127.0.0.1:{port}")
    assert result.returncode == 1
    assert (
        result.stderr.startswith("meshwatch: cannot listen on 127.0.0.1:")
        and "Traceback" not in result.stderr
    )
