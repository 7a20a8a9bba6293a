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
        # Non-finite and out-of-range numbers, each refused before anything runs.
        (["snapshot", "--prometheus-timeout", "inf"], "--prometheus-timeout: 'inf' must be a number"),
        (["snapshot", "--prometheus-timeout", "1e300"], "at most 3,600"),
        (["trace", "--jaeger-timeout", "nan", "abc"], "--jaeger-timeout: 'nan' must be a number"),
        (["canary", "--at", "1e300"], "between 1970 and the end of year 9999"),
        (["canary", "--at", "1e18"], "between 1970 and the end of year 9999"),
        (["canary", "--at", "-5"], "between 1970 and the end of year 9999"),
        (["serve", "--refresh", "nan"], "--refresh: 'nan' must be a number"),
        (["serve", "--refresh", "inf"], "--refresh: 'inf' must be a number"),
        # setInterval holds 2^31 - 1 ms (24.8 days): past that a browser fires at once, forever.
        (["serve", "--refresh", "3000000"], "at most 86,400"),
        (["demo", "--speed", "nan"], "--speed: 'nan' must be a number"),
        (["snapshot", "--window", "10000d"], "longer than --max-window 1d"),
        (["snapshot", "--window", "\u0661m"], "bad duration"),
        (["snapshot", "--max-response-mb", "0"], "greater than zero"),
        (["serve", "--max-trace-parses", "0"], "a whole number from 1 to 64"),
        (["serve", "--trace-link", "http.url=javascript:alert(1)"], "must start http(s)://HOST"),
        (["snapshot", "--find", "rps >"], "--find: bad expression: expected a number after 'rps >'"),
        (["snapshot", "--hide", "(health = idle"], "--hide: bad expression: expected ')' to close"),
        (["snapshot", "--find", "rps > 1\nor x"], "unknown field 'x'"),
        (["snapshot", "--graph", "mesh"], "--graph: bad value 'mesh'"),
        (["snapshot", "--format", "xml"], "--format: bad value 'xml': choose one of json, dot"),
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


@pytest.mark.parametrize(
    "content, words",
    [
        ("health = 5\n", "[health] must be a table"),
        ("[health]\nhttp_5xx_failing = nan\n", "http_5xx_failing = nan, expected a ratio from 0 to 1"),
        ("[health]\nhttp_5xx_failing = 1.5\n", "expected a ratio from 0 to 1"),
        ("[canary]\nbaseline_lookback_h = inf\n", "expected a number of hours, 0 to 8760"),
        ("[canary]\nbaseline_lookback_h = 1e6\n", "expected a number of hours, 0 to 8760"),
        ('[canary]\nmax_p99_ms = "500"\n', "max_p99_ms = '500', expected a number of milliseconds"),
        ("[canary]\nmin_requests_for_verdict = -1\n", "expected a number of requests"),
        ("refresh = inf\n", "'inf' must be a number"),
        ("refresh = true\n", "refresh: expected a string or a number, not True"),
        ('jaeger = ["http://a"]\n', "jaeger: expected a string or a number"),
        ("prometheus = 5\n", "prometheus: expected a string or a list of strings"),
        ("namespace = 5\n", "namespace: expected a string or a list of strings"),
        ("window = { seconds = 5 }\n", "window: expected a string or a number"),
        ("x = " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
    ],
)
def test_config_file_values_are_type_checked(tmp_path, capsys, content, words):
    config = tmp_path / "meshwatch.toml"
    config.write_text(content)
    assert main(["snapshot", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1 and str(config) in err, err


def test_a_config_file_in_utf16_is_one_line(tmp_path, capsys):
    config = tmp_path / "meshwatch.toml"
    config.write_text('window = "5m"\n', encoding="utf-16")
    assert main(["snapshot", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "not UTF-8 text" in err and err.count("\n") == 1


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


def test_snapshot_into_a_closed_pipe_ends_quietly(tmp_path):
    """`meshwatch snapshot | head -c 10`: no BrokenPipeError on stderr."""
    from tests.support.frames import labels
    from tests.support.prometheus import END, Counter, openmetrics, start_prometheus

    series = [
        Counter("istio_requests_total", labels(f"caller{i}-v1", f"svc{i}", f"svc{i}-v1"), rate=1.0)
        for i in range(300)
    ]
    with start_prometheus(tmp_path, openmetrics_text=openmetrics(series)) as prometheus:
        done = subprocess.run(
            f"{sys.executable} -m dashboard.app.cli snapshot --prometheus {prometheus.url} "
            f"--at {END:.0f} | head -c 10",
            shell=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert len(done.stdout) == 10 and done.stderr == ""


def test_a_time_with_no_telemetry_says_so_like_an_unknown_namespace(tmp_path, capsys):
    from tests.support.frames import labels
    from tests.support.prometheus import END, Counter, openmetrics, start_prometheus

    series = [Counter("istio_requests_total", labels("productpage-v1", "reviews", "reviews-v1"), rate=1.0)]
    with start_prometheus(tmp_path, openmetrics_text=openmetrics(series)) as prometheus:
        assert main(["snapshot", "--prometheus", prometheus.url, "--at", f"{END - 86400:.0f}"]) == 0
    out, err = capsys.readouterr()
    assert '"nodes": []' in out
    assert (
        err.startswith("meshwatch: no Istio telemetry in the 1m window ending at ") and err.count("\n") == 1
    )


def test_the_simulator_listens_beside_the_dashboard_by_default():
    from dashboard.app.cli import COMMANDS
    from dashboard.app.config import resolve

    simulator = resolve({}, {}, COMMANDS["simulate"].defaults).listen
    assert simulator == ("127.0.0.1", 9101) and simulator != resolve({}, {}).listen
    assert "kubernetes:[CONTEXT]" in run("canary", "--help").stdout


def test_json_numbers_carry_only_the_digits_the_data_has():
    from dashboard.format import json_number

    assert json_number(1 - 0.505) == 0.495 and json_number(0.49500000000000005) == 0.495
    assert json_number(float("nan")) is None and json_number(3) == 3.0
