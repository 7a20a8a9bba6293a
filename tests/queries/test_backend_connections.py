"""`meshwatch snapshot` (and canary, trace) against a real Prometheus behind
what production puts in front of it: a proxy refusing URLs over 8 KB, and
gates requiring a bearer token, basic auth, a header, TLS from a private CA
or a client certificate. Whatever happens, no secret reaches stdout, stderr
or a log line."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboard.app.cli import main
from dashboard.app.config import resolve
from dashboard.app.services import prometheus_source
from queries.duration import prometheus_duration
from queries.errors import SourceError
from tests.support.frames import labels
from tests.support.gates import (
    Authority,
    GateProxy,
    UrlLimitProxy,
    basic,
    bearer,
    header,
    server_context,
)
from tests.support.prometheus import END, Counter, PrometheusServer, openmetrics, start_prometheus

pytestmark = pytest.mark.prometheus

TOKEN = "tok-3f9a1c-SECRET"
PASSWORD = "pw-77e1-SECRET"
API_KEY = "key-b2d4-SECRET"
SECRETS = (TOKEN, PASSWORD, API_KEY)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory) -> Iterator[PrometheusServer]:
    series = [
        Counter("istio_requests_total", labels("productpage-v1", "reviews", "reviews-v1"), rate=2.0),
        Counter("istio_requests_total", labels("reviews-v1", "ratings", "ratings-v1"), rate=1.0),
    ]
    with start_prometheus(tmp_path_factory.mktemp("gated"), openmetrics_text=openmetrics(series)) as server:
        yield server


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)  # urllib3's request lines too
    return caplog


def run(capsys, logs, *argv: str) -> tuple[int, str, str]:
    """A command's exit code, stdout and stderr; none of them, nor any log
    line, holds a secret."""
    code = main([*argv])
    captured = capsys.readouterr()
    said = captured.out + captured.err + logs.text
    for secret in SECRETS:
        assert secret not in said
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


def snapshot(capsys, logs, url: str, *flags: str) -> tuple[int, str, str]:
    return run(capsys, logs, "snapshot", "--prometheus", url, "--at", f"{END:.0f}", *flags)


def node_names(out: str) -> set[str]:
    return {node["name"] for node in json.loads(out)["nodes"]}


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("meshwatch: "), err
    return lines[0]


def secret_file(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# --- long queries -------------------------------------------------------------

# Fifty namespaces of 63 characters: a filter whose PromQL is far over 8 KB in a URL.
MANY_NAMESPACES = ["default", *(f"team-{i:02d}-" + "x" * 55 for i in range(50))]


def test_queries_are_post_forms_that_pass_a_proxy_refusing_long_urls(prometheus, capsys, logs):
    with UrlLimitProxy(prometheus.url) as proxy:
        flags = [f"--namespace={ns}" for ns in MANY_NAMESPACES]
        code, out, err = snapshot(capsys, logs, proxy.url, *flags)
        assert code == 0, err
        assert {"productpage-v1", "reviews"} <= node_names(out)
        assert proxy.refused == 0 and proxy.queries == 4
        assert all("?" not in path for path in proxy.paths)  # the query rode in the body

        code, out, err = snapshot(capsys, logs, proxy.url, "--prometheus-method", "GET", *flags)
        assert code == 1 and out == "" and proxy.refused > 0
        assert "HTTP 414" in one_line(err)


def test_range_queries_are_post_forms_too(prometheus, capsys, logs):
    with UrlLimitProxy(prometheus.url) as proxy:
        flags = [f"--namespace={ns}" for ns in MANY_NAMESPACES]
        code, out, err = run(capsys, logs, "canary", "--prometheus", proxy.url, "--at", f"{END:.0f}", *flags)
        assert code == 0, err
        ranges = [path for path in proxy.paths if path.startswith("/api/v1/query_range")]
        assert ranges and all(path == "/api/v1/query_range" for path in ranges)
        assert proxy.refused == 0


def test_get_still_works_where_urls_are_short(prometheus, capsys, logs):
    with UrlLimitProxy(prometheus.url) as proxy:
        code, out, err = snapshot(capsys, logs, proxy.url, "--prometheus-method", "get")
        assert code == 0, err
        assert all(path.startswith("/api/v1/query?") for path in proxy.paths)


# --- credentials --------------------------------------------------------------


def test_a_bearer_token_file_is_trimmed_and_read_again_when_it_rotates(prometheus, tmp_path, capsys, logs):
    token_file = secret_file(tmp_path, "token", f"  {TOKEN}\n\n")
    current = {"token": TOKEN}
    with GateProxy(prometheus.url, bearer(lambda: current["token"])) as gate:
        code, out, err = snapshot(capsys, logs, gate.url, "--prometheus-bearer-token-file", token_file)
        assert code == 0, err
        assert "reviews" in node_names(out)

        # One source, as a dashboard keeps it: the rotated token is sent from the next refresh.
        source = prometheus_source(
            resolve({"prometheus": gate.url, "prometheus_bearer_token_file": token_file}, {})
        )
        assert source.mesh(END, prometheus_duration("1m")).requests.shape[0] > 0
        current["token"] = TOKEN + "-rotated"
        Path(token_file).write_text(TOKEN + "-rotated\n")
        assert source.mesh(END, prometheus_duration("1m")).requests.shape[0] > 0
        assert gate.seen[-1]["Authorization"] == f"Bearer {TOKEN}-rotated"

        Path(token_file).write_text("wrong-token")
        with pytest.raises(SourceError, match="HTTP 401") as failed:
            source.mesh(END, prometheus_duration("1m"))
        assert "wrong-token" not in str(failed.value)


def test_a_refused_token_is_one_line_without_the_token(prometheus, tmp_path, capsys, logs):
    token_file = secret_file(tmp_path, "token", TOKEN)
    with GateProxy(prometheus.url, bearer(lambda: "another")) as gate:
        code, out, err = snapshot(capsys, logs, gate.url, "--prometheus-bearer-token-file", token_file)
    assert code == 1 and out == ""
    assert "refused the query: HTTP 401" in one_line(err)


def test_basic_auth_from_a_password_file_and_from_the_url(prometheus, tmp_path, capsys, logs):
    password_file = secret_file(tmp_path, "password", PASSWORD + "\n")
    with GateProxy(prometheus.url, basic("meshwatch", PASSWORD)) as gate:
        code, out, err = snapshot(
            capsys,
            logs,
            gate.url,
            "--prometheus-basic-auth-user",
            "meshwatch",
            "--prometheus-basic-auth-password-file",
            password_file,
        )
        assert code == 0, err
        assert "reviews" in node_names(out)

        with_userinfo = gate.url.replace("http://", f"http://meshwatch:{PASSWORD}@")
        code, out, err = snapshot(capsys, logs, with_userinfo)
        assert code == 0, err

        refused = gate.url.replace("http://", f"http://meshwatch:{PASSWORD}x@")
        code, out, err = snapshot(capsys, logs, refused)
        assert code == 1
        line = one_line(err)
        assert gate.url.replace("http://", "http://***@") in line and "HTTP 401" in line


def test_headers_are_sent_with_every_query(prometheus, capsys, logs, monkeypatch):
    tenant = header("X-Scope-OrgID", "team-a")
    with GateProxy(prometheus.url, lambda h: tenant(h) and h.get("X-Api-Key") == API_KEY) as gate:
        code, out, err = snapshot(
            capsys,
            logs,
            gate.url,
            "--prometheus-header",
            "X-Scope-OrgID: team-a",
            "--prometheus-header",
            f"X-Api-Key: {API_KEY}",
        )
        assert code == 0, err
        assert len(gate.seen) == 4

        monkeypatch.setenv("MESHWATCH_PROMETHEUS_HEADER", f"X-Scope-OrgID: team-a,X-Api-Key:{API_KEY}")
        code, out, err = snapshot(capsys, logs, gate.url)
        assert code == 0, err

        monkeypatch.delenv("MESHWATCH_PROMETHEUS_HEADER")
        code, out, err = snapshot(capsys, logs, gate.url, "--prometheus-header", "X-Scope-OrgID: team-a")
        assert code == 1 and "HTTP 401" in one_line(err)


# --- TLS ----------------------------------------------------------------------


@pytest.fixture
def authorities(tmp_path) -> tuple[Authority, Authority]:
    """The CA the server's certificate comes from, and one that has nothing to do with it."""
    return Authority(tmp_path, "server CA"), Authority(tmp_path, "other CA")


def test_a_ca_file_is_the_trust_whatever_the_environment_says(
    prometheus, authorities, capsys, logs, monkeypatch
):
    ours, other = authorities
    with GateProxy(prometheus.url, tls=server_context(ours)) as gate:
        assert gate.url.startswith("https://")
        code, out, err = snapshot(capsys, logs, gate.url)
        assert code == 1 and "TLS certificate not accepted" in one_line(err)  # verified by default

        code, out, err = snapshot(capsys, logs, gate.url, "--prometheus-ca-file", str(ours.ca_file))
        assert code == 0, err
        assert "reviews" in node_names(out)

        # The environment's bundle neither replaces the CA file nor adds to it.
        for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
            monkeypatch.setenv(variable, str(other.ca_file))
        code, out, err = snapshot(capsys, logs, gate.url, "--prometheus-ca-file", str(ours.ca_file))
        assert code == 0, err
        for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
            monkeypatch.setenv(variable, str(ours.ca_file))
        code, out, err = snapshot(capsys, logs, gate.url, "--prometheus-ca-file", str(other.ca_file))
        assert code == 1 and "TLS certificate not accepted" in one_line(err)

        monkeypatch.setenv("MESHWATCH_PROMETHEUS_INSECURE_SKIP_VERIFY", "true")
        code, out, err = snapshot(capsys, logs, gate.url)
        assert code == 0, err


def test_a_client_certificate_opens_an_mtls_gate(prometheus, authorities, tmp_path, capsys, logs):
    ours, clients = authorities
    cert_file, key_file = clients.issue("meshwatch-client", client=True)
    stranger_cert, stranger_key = Authority(tmp_path, "stranger CA").issue("stranger", client=True)
    with GateProxy(prometheus.url, tls=server_context(ours, client_ca=clients)) as gate:
        trust = ["--prometheus-ca-file", str(ours.ca_file)]
        code, out, err = snapshot(
            capsys,
            logs,
            gate.url,
            *trust,
            "--prometheus-cert-file",
            str(cert_file),
            "--prometheus-key-file",
            str(key_file),
        )
        assert code == 0, err
        assert "reviews" in node_names(out)

        code, out, err = snapshot(capsys, logs, gate.url, *trust)
        assert code == 1 and out == ""
        one_line(err)
        code, out, err = snapshot(
            capsys,
            logs,
            gate.url,
            *trust,
            "--prometheus-cert-file",
            str(stranger_cert),
            "--prometheus-key-file",
            str(stranger_key),
        )
        assert code == 1 and out == ""
        one_line(err)
    assert key_file.read_text() not in logs.text


def test_the_config_file_holds_connection_options(prometheus, authorities, tmp_path, capsys, logs):
    ours, _ = authorities
    token_file = secret_file(tmp_path, "token", TOKEN)
    config = tmp_path / "meshwatch.toml"
    config.write_text(
        f'prometheus_ca_file = "{ours.ca_file}"\n'
        f'prometheus_bearer_token_file = "{token_file}"\n'
        'prometheus_header = ["X-Scope-OrgID: team-a"]\n'
        'prometheus_method = "POST"\n'
    )
    admits = bearer(lambda: TOKEN)
    tenant = header("X-Scope-OrgID", "team-a")
    with GateProxy(prometheus.url, lambda h: admits(h) and tenant(h), tls=server_context(ours)) as gate:
        code, out, err = snapshot(capsys, logs, gate.url, "--config", str(config))
    assert code == 0, err

    config.write_text("prometheus_insecure_skip_verify = true\n")
    with GateProxy(prometheus.url, tls=server_context(ours)) as gate:
        code, out, err = snapshot(capsys, logs, gate.url, "--config", str(config))
    assert code == 0, err


# --- bad input: exit 2, one line, no secret, no query sent ----------------------------


@pytest.mark.parametrize(
    "flags, words",
    [
        (
            ["--prometheus-bearer-token-file", "{token}", "--prometheus-basic-auth-user", "u"],
            "one kind of credentials",
        ),
        (["--prometheus-basic-auth-password-file", "{token}"], "needs --prometheus-basic-auth-user"),
        (["--prometheus-cert-file", "{token}"], "both --prometheus-cert-file and --prometheus-key-file"),
        (
            ["--prometheus-bearer-token-file", "/nonexistent/token"],
            "--prometheus-bearer-token-file /nonexistent/token",
        ),
        (["--prometheus-header", f"X-Api-Key {API_KEY}"], "bad header"),
        (["--prometheus-header", f"Authorization: Bearer {TOKEN}"], "header Authorization cannot be set"),
        (["--prometheus-method", "PUT"], "choose one of POST, GET"),
        (["--prometheus-ca-file", "{token}", "--prometheus-insecure-skip-verify"], "contradict"),
        (["--prometheus-ca-file", "{token}"], "not PEM certificates"),
        (["--prometheus-cert-file", "{token}", "--prometheus-key-file", "{token}"], "not a PEM certificate"),
    ],
)
def test_bad_connection_options_exit_2_in_one_line(prometheus, tmp_path, capsys, logs, flags, words):
    token_file = secret_file(tmp_path, "token", TOKEN)
    with UrlLimitProxy(prometheus.url) as proxy:
        argv = [flag.replace("{token}", token_file) for flag in flags]
        code, out, err = snapshot(capsys, logs, proxy.url, *argv)
        assert code == 2 and out == ""
        assert words in one_line(err)
        assert proxy.paths == []


def test_a_bad_url_with_credentials_is_refused_without_them(capsys, logs):
    code, out, err = run(capsys, logs, "snapshot", "--prometheus", f"ftp://meshwatch:{PASSWORD}@host")
    assert code == 2 and "bad URL" in one_line(err)
    code, out, err = run(
        capsys,
        logs,
        "snapshot",
        "--prometheus",
        f"https://a:{PASSWORD}@host",
        "--prometheus-basic-auth-user",
        "b",
    )
    assert code == 2 and "one kind of credentials" in one_line(err)


# --- Jaeger and Tempo: the same connection options, as --jaeger-... -------------------


@pytest.fixture
def jaeger() -> Iterator[str]:
    from tests.support.jaeger import FakeJaeger

    fake = FakeJaeger("v1")
    base = fake.start()
    yield base
    fake.stop()


def test_jaeger_behind_a_token_a_header_and_a_private_ca(jaeger, authorities, tmp_path, capsys, logs):
    from tests.support.jaeger import TRACE_OK

    ours, _ = authorities
    token_file = secret_file(tmp_path, "token", TOKEN + "\n")
    admits, tenant = bearer(lambda: TOKEN), header("X-Api-Key", API_KEY)
    with GateProxy(jaeger, lambda h: admits(h) and tenant(h), tls=server_context(ours)) as gate:
        flags = [
            "--jaeger-bearer-token-file",
            token_file,
            "--jaeger-header",
            f"X-Api-Key: {API_KEY}",
            "--jaeger-ca-file",
            str(ours.ca_file),
        ]
        code, out, err = run(capsys, logs, "trace", TRACE_OK, "--jaeger", gate.url + "/jaeger", *flags)
        assert code == 0, err
        assert json.loads(out)["span_count"] == 8

        code, out, err = run(capsys, logs, "trace", TRACE_OK, "--jaeger", gate.url + "/jaeger", *flags[:4])
        assert code == 1 and "TLS certificate not accepted" in one_line(err)
        code, out, err = run(capsys, logs, "trace", TRACE_OK, "--jaeger", gate.url + "/jaeger", *flags[2:])
        assert code == 1 and "401" in one_line(err)


def test_tempo_goes_over_the_jaeger_connection_options(tmp_path, capsys, logs):
    from tests.support.jaeger import TRACE_OK
    from tests.support.tempo import FakeTempo

    fake = FakeTempo()
    base = fake.start()
    password_file = secret_file(tmp_path, "password", PASSWORD)
    try:
        with GateProxy(base, basic("meshwatch", PASSWORD)) as gate:
            auth = [
                "--jaeger-basic-auth-user",
                "meshwatch",
                "--jaeger-basic-auth-password-file",
                password_file,
            ]
            code, out, err = run(capsys, logs, "trace", TRACE_OK, "--tempo", gate.url, *auth)
            assert code == 0, err
            code, out, err = run(capsys, logs, "trace", TRACE_OK, "--tempo", gate.url)
            assert code == 1 and "Tempo at" in one_line(err)
    finally:
        fake.stop()


# --- the dashboard: probes, API and banners say why, never with what ------------------


@pytest.mark.parametrize("credentials", ["token", "userinfo"])
def test_the_dashboard_never_shows_a_secret(prometheus, tmp_path, logs, credentials):
    from dashboard.app import create_app
    from dashboard.app.pages.canary import refresh_canary
    from dashboard.app.pages.topology import refresh_topology
    from dashboard.app.services import Services
    from tests.support.app import make_runtime

    with GateProxy(prometheus.url, lambda h: False) as gate:
        flags = {"prometheus": gate.url, "prometheus_header": [f"X-Api-Key: {API_KEY}"], "refresh": "1"}
        if credentials == "token":
            flags["prometheus_bearer_token_file"] = secret_file(tmp_path, "token", TOKEN)
        else:
            flags["prometheus"] = gate.url.replace("http://", f"http://meshwatch:{PASSWORD}@")
        settings = resolve(flags, {})
        services = Services(telemetry=prometheus_source(settings))
        client = create_app(settings, services).server.test_client()
        said = [
            # /readyz stays ready in a backend outage; /api/status says why the backend fails.
            client.get(route).get_data(as_text=True)
            for route in ("/api/status", "/api/graph", "/api/canary")
        ]
        runtime = make_runtime(settings, services)
        said.append(refresh_topology(runtime, [], "1m", False, {}, {}, None, []).banner)
        said.append(refresh_canary(runtime, None, None, "1m").banner)
        assert gate.seen and all(seen["X-Api-Key"] == API_KEY for seen in gate.seen)
    for text in said:
        assert "HTTP 401" in text
        assert not any(secret in text for secret in SECRETS)
    if credentials == "userinfo":
        assert all(gate.url.replace("http://", "http://***@") in text for text in said)
    assert not any(secret in logs.text for secret in SECRETS)
