"""--auth: every route of the server asks who is calling, except the probes."""

from __future__ import annotations

import re

import bcrypt
import pytest
from werkzeug.routing import Rule

from dashboard.app import create_app
from dashboard.app.access import PROBES, is_loopback, read_htpasswd
from dashboard.app.config import resolve
from dashboard.app.services import Services
from queries.errors import ConfigError
from tests.support.telemetry import ScriptedSource, bookinfo_ejection

PASSWORD = "correct horse battery staple"


@pytest.fixture
def htpasswd(tmp_path):
    path = tmp_path / "htpasswd"
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    path.write_text(f"# operators\nsre:{hashed}\n")
    return path


def app_with(flags: dict, base_path: str = "/"):
    settings = resolve({**flags, "base_path": base_path}, {})
    return create_app(settings, Services(telemetry=ScriptedSource(bookinfo_ejection()), clock=lambda: 1.8e9))


def example_path(rule: Rule) -> str:
    """A path the rule matches, its variables filled with a plain word."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: f"x{m.group(1)}", rule.rule)


def every_route(app) -> list[tuple[str, str, str]]:
    """(endpoint, method, path) of each route the Flask server has."""
    routes = []
    for rule in app.server.url_map.iter_rules():
        method = "GET" if "GET" in rule.methods else sorted(rule.methods - {"OPTIONS", "HEAD"})[0]
        routes.append((rule.endpoint, method, example_path(rule)))
    return routes


@pytest.mark.parametrize("base_path", ["/", "/meshwatch"])
def test_basic_auth_answers_401_on_every_route_but_the_probes(htpasswd, base_path):
    app = app_with({"auth": "basic", "auth_htpasswd": str(htpasswd)}, base_path)
    client = app.server.test_client()
    routes = every_route(app)
    # The map holds Dash's endpoints, the pages, the API and the probes: none can be left out.
    assert {endpoint for endpoint, _, _ in routes} >= {*PROBES, "meshwatch_api.graph", "static"}
    assert any("_dash-update-component" in path for _, _, path in routes)
    for endpoint, method, path in routes:
        response = client.open(path, method=method)
        if endpoint in PROBES:
            assert response.status_code in (200, 503), path
        else:
            assert response.status_code == 401, (endpoint, method, path)
            assert response.headers["WWW-Authenticate"].startswith('Basic realm="meshwatch"')
    # A path no route has is refused too, not told apart from one that exists.
    assert client.get(base_path.rstrip("/") + "/no/such/page").status_code == 401


def test_basic_auth_lets_the_right_password_in_and_no_other(htpasswd):
    client = app_with({"auth": "basic", "auth_htpasswd": str(htpasswd)}).server.test_client()
    assert client.get("/api/graph", auth=("sre", PASSWORD)).status_code == 200
    assert client.get("/api/graph", auth=("sre", PASSWORD)).status_code == 200  # remembered, same answer
    assert client.get("/api/graph", auth=("sre", "wrong")).status_code == 401
    assert client.get("/api/graph", auth=("nobody", PASSWORD)).status_code == 401
    assert client.get("/", auth=("sre", PASSWORD)).status_code == 200


def test_basic_auth_reads_the_file_again_when_it_changes(htpasswd):
    client = app_with({"auth": "basic", "auth_htpasswd": str(htpasswd)}).server.test_client()
    assert client.get("/api/graph", auth=("sre", PASSWORD)).status_code == 200
    other = bcrypt.hashpw(b"new password", bcrypt.gensalt(rounds=4)).decode()
    htpasswd.write_text(f"oncall:{other}\n# a longer file than before, so its size tells it changed\n")
    assert client.get("/api/graph", auth=("sre", PASSWORD)).status_code == 401
    assert client.get("/api/graph", auth=("oncall", "new password")).status_code == 200


def test_header_auth_believes_the_header_only_from_a_trusted_proxy():
    flags = {"auth": "header", "trusted_proxy": ["10.1.0.0/16"]}
    client = app_with(flags).server.test_client()
    user = {"X-Forwarded-User": "alice@example.com"}
    from_proxy = {"REMOTE_ADDR": "10.1.2.3"}
    assert client.get("/api/graph", headers=user, environ_base=from_proxy).status_code == 200
    assert client.get("/api/graph", environ_base=from_proxy).status_code == 401
    assert client.get("/api/graph", headers=user, environ_base={"REMOTE_ADDR": "10.2.0.1"}).status_code == 401
    # A forwarded-for header names no peer: anyone could write it.
    spoofed = {**user, "X-Forwarded-For": "10.1.2.3"}
    assert (
        client.get("/api/graph", headers=spoofed, environ_base={"REMOTE_ADDR": "192.0.2.9"}).status_code
        == 401
    )
    assert client.get("/healthz", environ_base={"REMOTE_ADDR": "192.0.2.9"}).status_code == 200


def test_header_auth_uses_the_header_named():
    flags = {"auth": "header", "auth_header": "X-Auth-Request-Email", "trusted_proxy": ["127.0.0.1"]}
    client = app_with(flags).server.test_client()
    assert client.get("/api/graph", headers={"X-Auth-Request-Email": "a@b.c"}).status_code == 200
    assert client.get("/api/graph", headers={"X-Forwarded-User": "a"}).status_code == 401


def test_no_auth_serves_anyone():
    client = app_with({}).server.test_client()
    assert client.get("/api/graph").status_code == 200


@pytest.mark.parametrize(
    "flags, words",
    [
        ({"auth": "basic"}, "--auth basic needs --auth-htpasswd"),
        ({"auth": "header"}, "--auth header needs --trusted-proxy"),
        ({"auth": "basic", "auth_htpasswd": "/no/such/file"}, "cannot read --auth-htpasswd /no/such/file"),
    ],
)
def test_options_that_do_not_add_up_are_refused(flags, words):
    with pytest.raises(ConfigError, match=re.escape(words)):
        app_with(flags)


def test_htpasswd_takes_bcrypt_entries_only_and_never_echoes_a_hash(tmp_path):
    path = tmp_path / "htpasswd"
    path.write_text("sre:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n")
    with pytest.raises(ConfigError) as refused:
        read_htpasswd(str(path))
    assert "line 1" in str(refused.value) and "W6ph5" not in str(refused.value)


@pytest.mark.parametrize("text", ["10.0.0.0/8", "10.1.2.3", "::1/128"])
def test_trusted_proxy_takes_address_blocks(text):
    assert resolve({"trusted_proxy": [text]}, {}).trusted_proxy


@pytest.mark.parametrize("text", ["10.0.0.0/33", "proxy.local", ""])
def test_trusted_proxy_refuses_what_is_no_address_block(text):
    with pytest.raises(ConfigError, match="bad address block"):
        resolve({"trusted_proxy": [text]}, {})


def test_loopback_addresses():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.1")


def test_the_default_listen_address_is_loopback_and_auth_is_none():
    settings = resolve({}, {})
    assert settings.auth == "none" and is_loopback(settings.listen[0])
