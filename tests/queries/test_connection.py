"""The connection options' rules, without a network: headers, secret files,
URL userinfo, and how each option is spelt on the command line, in the
environment and in the config file."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.app.config import OPTIONS, connection_options, resolve
from queries.connection import Connection, header, read_secret, split_userinfo
from queries.errors import ConfigError, SourceError
from queries.http import public_url


def test_a_header_is_a_name_and_a_trimmed_value() -> None:
    assert header("X-Scope-OrgID:  team-a ") == ("X-Scope-OrgID", "team-a")
    assert header("X-Empty:") == ("X-Empty", "")
    assert header("X-Url: http://a:b@c") == ("X-Url", "http://a:b@c")


@pytest.mark.parametrize(
    "text, words",
    [
        ("X-Api-Key s3cret", "bad header"),
        ("Bad Name: s3cret", "bad header"),
        (": s3cret", "bad header"),
        ("authorization: Bearer s3cret", "header authorization cannot be set"),
        ("Host: s3cret", "header Host cannot be set"),
        ("X-Split: a\nInjected: s3cret", "line break"),
    ],
)
def test_a_bad_header_is_refused_without_its_value(text: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words) as refused:
        header(text)
    assert "s3cret" not in str(refused.value)


def test_secret_files_are_trimmed_like_prometheus_reads_them(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text(" \t s3cret\r\n\n")
    assert read_secret(str(token), "bearer token") == "s3cret"
    with pytest.raises(SourceError, match=r"cannot read the bearer token file .*/missing: No such file"):
        read_secret(str(tmp_path / "missing"), "bearer token")


def test_userinfo_moves_out_of_the_url_and_messages_redact_it() -> None:
    assert split_userinfo("https://us%40er:p%3Ass@prom.example:9090/thanos") == (
        "https://prom.example:9090/thanos",
        ("us@er", "p:ss"),
    )
    assert split_userinfo("http://prom:9090") == ("http://prom:9090", None)
    assert public_url("https://user:s3cret@prom.example:9090/x?token=t") == "https://***@prom.example:9090/x"
    assert public_url("https://prom.example/x") == "https://prom.example/x"


def test_a_ca_file_verifies_skip_does_not_and_the_default_still_does() -> None:
    assert Connection(ca_file="/ca.pem").request_options() == {"verify": "/ca.pem", "cert": None}
    assert Connection(insecure_skip_verify=True).request_options()["verify"] is False
    assert Connection().request_options()["verify"] is True
    assert Connection(cert_file="c", key_file="k").request_options()["cert"] == ("c", "k")


def test_a_header_given_twice_is_sent_once_with_both_values() -> None:
    session, address = Connection(header=(("X-Tenant", "a"), ("x-tenant", "b"))).session("http://u:p@h:1")
    assert session.headers["X-Tenant"] == "a, b" and address == "http://h:1" and session.auth == ("u", "p")


def test_every_connection_option_exists_for_both_backends_as_a_connection_field() -> None:
    fields = set(Connection.__dataclass_fields__)
    for backend in ("prometheus", "jaeger"):
        names = connection_options(backend)
        assert all(name in OPTIONS for name in names)
        assert {name.removeprefix(f"{backend}_") for name in names} == fields


def test_flags_environment_and_config_file_spell_the_switch_and_the_headers(tmp_path: Path) -> None:
    assert resolve({}, {}).prometheus_insecure_skip_verify is False
    assert resolve({"prometheus_insecure_skip_verify": "true"}, {}).prometheus_insecure_skip_verify is True
    environ = {"MESHWATCH_JAEGER_INSECURE_SKIP_VERIFY": "yes", "MESHWATCH_JAEGER_HEADER": "A: 1,B: 2"}
    settings = resolve({}, environ)
    assert settings.jaeger_insecure_skip_verify is True and settings.jaeger_header == (("A", "1"), ("B", "2"))
    config = tmp_path / "meshwatch.toml"
    config.write_text('prometheus_insecure_skip_verify = true\nprometheus_header = "X-Scope-OrgID: t"\n')
    settings = resolve({"config": str(config)}, {})
    assert settings.prometheus_insecure_skip_verify is True
    assert settings.prometheus_header == (("X-Scope-OrgID", "t"),)
    assert resolve({}, {"MESHWATCH_PROMETHEUS_METHOD": "get"}).prometheus_method == "GET"
    with pytest.raises(ConfigError, match="MESHWATCH_PROMETHEUS_INSECURE_SKIP_VERIFY: bad value 'maybe'"):
        resolve({}, {"MESHWATCH_PROMETHEUS_INSECURE_SKIP_VERIFY": "maybe"})
