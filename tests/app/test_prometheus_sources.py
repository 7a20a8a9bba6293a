"""`--prometheus` given once, several times, named, or as config-file tables
(whose keys are the per-source values of the `prometheus_*` options)."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pytest

from dashboard.app.config import PrometheusEndpoint, resolve
from dashboard.app.services import prometheus_source
from queries.errors import ConfigError
from queries.merged import MergedSource
from queries.prometheus import PrometheusSource
from queries.telemetry import NAN, NEGATIVE
from tests.support.frames import labels, telemetry
from tests.support.telemetry import ScriptedSource


def test_one_url_is_one_source_as_before():
    settings = resolve({"prometheus": "http://prometheus.istio-system:9090/"}, {})
    assert settings.prometheus == (PrometheusEndpoint("http://prometheus.istio-system:9090"),)
    source = prometheus_source(settings)
    assert isinstance(source, PrometheusSource) and source.queries_per_refresh == 4


def test_named_sources_from_flags_and_the_environment():
    flags = resolve({"prometheus": ["east=http://p.east:9090", "http://p.west:9090/?tenant=a=b"]}, {})
    assert flags.prometheus == (
        PrometheusEndpoint("http://p.east:9090", "east"),
        PrometheusEndpoint("http://p.west:9090/?tenant=a=b"),
    )
    env = resolve({}, {"MESHWATCH_PROMETHEUS": "east=http://p.east:9090,west=http://p.west:9090"})
    assert [e.name for e in env.prometheus] == ["east", "west"]
    source = prometheus_source(env)
    assert isinstance(source, MergedSource) and source.queries_per_refresh == 8
    assert [s.backend.label for s in source.sources] == [
        "Prometheus east at http://p.east:9090",
        "Prometheus west at http://p.west:9090",
    ]


def test_config_file_tables_carry_each_sources_own_options(tmp_path: Path):
    config = tmp_path / "meshwatch.toml"
    config.write_text(
        'prometheus_timeout = 7\n[prometheus.east]\nurl = "http://p.east:9090"\ntimeout = 2\n'
        '[prometheus.west]\nurl = "http://p.west:9090"\n'
    )
    settings = resolve({"config": str(config)}, {})
    east, west = settings.prometheus
    assert (east.name, east.url, east.setting(settings, "timeout")) == ("east", "http://p.east:9090", 2.0)
    assert (west.name, west.setting(settings, "timeout")) == ("west", 7.0)
    assert [s.timeout for s in prometheus_source(settings).sources] == [2.0, 7.0]
    # A flag still wins over the file.
    assert (
        resolve({"config": str(config), "prometheus": ["http://x:9090"]}, {}).prometheus[0].url
        == "http://x:9090"
    )


def test_the_config_file_may_still_give_one_url_or_a_list(tmp_path: Path):
    config = tmp_path / "meshwatch.toml"
    config.write_text('prometheus = "http://p:9090"\n')
    assert resolve({"config": str(config)}, {}).prometheus == (PrometheusEndpoint("http://p:9090"),)
    config.write_text('prometheus = ["east=http://a:9090", "west=http://b:9090"]\n')
    assert [e.name for e in resolve({"config": str(config)}, {}).prometheus] == ["east", "west"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[prometheus.east]\ntimeout = 2\n", "[prometheus.east]: url is missing"),
        (
            '[prometheus.east]\nurl = "http://a:1"\npassword = "x"\n',
            "unknown key password; known: url, basic_auth_password_file, basic_auth_user, bearer_token_file",
        ),
        ('[prometheus.east]\nurl = "a:1"\n', "[prometheus.east]: bad URL"),
        ('[prometheus.east]\nurl = "http://a:1"\ntimeout = 0\n', "[prometheus.east]: '0' must be a number"),
        ('[prometheus]\neast = "http://a:1"\n', "[prometheus.east] must be a table"),
    ],
)
def test_bad_source_tables_are_one_line(tmp_path: Path, text: str, words: str):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    with pytest.raises(ConfigError) as raised:
        resolve({"config": str(config)}, {})
    assert words in str(raised.value) and "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("urls", "words"),
    [
        (["east=http://a:1", "east=http://b:1"], "name 'east' given twice"),
        (["http://a:1", "west=http://a:1"], "URL 'http://a:1' given twice"),
        (["east=ftp://a"], "bad URL"),
    ],
)
def test_bad_sources_on_the_command_line(urls, words):
    with pytest.raises(ConfigError, match=words):
        resolve({"prometheus": urls}, {})


def test_merged_sources_add_up_the_series_each_left_out():
    east = telemetry(requests=[(labels("productpage-v1", "reviews", "reviews-v1"), 1.0)])
    sources = [
        ScriptedSource(dataclasses.replace(east, ignored={NAN: 2})),
        ScriptedSource(dataclasses.replace(east, ignored={NAN: 1, NEGATIVE: 4})),
    ]
    merged = MergedSource(sources).mesh(east.at, east.window)
    assert merged.ignored == {NAN: 3, NEGATIVE: 4}
    # The series both hold is one series, counted once.
    assert merged.requests["rps"].tolist() == [1.0]


def test_merged_sources_tell_their_early_reports_merged_once_every_one_has_told_its_own():
    east = telemetry(requests=[(labels("productpage-v1", "reviews", "reviews-v1"), 1.0)])
    west = telemetry(requests=[(labels("reviews-v2", "ratings", "ratings-v1"), 2.0)])
    held = threading.Event()
    held.set()
    sources = [ScriptedSource(east, latency_held=held), ScriptedSource(west, latency_held=held)]
    told = []
    whole = MergedSource(sources).mesh(east.at, east.window, early=told.append)
    [early] = told
    assert early.pending == ("latency",) and not whole.pending
    assert sorted(early.requests["rps"].tolist()) == sorted(whole.requests["rps"].tolist()) == [1.0, 2.0]
    # A source that answers all at once tells nothing early: nor do they together.
    told.clear()
    MergedSource([ScriptedSource(east, latency_held=held), ScriptedSource(west)]).mesh(
        east.at, east.window, early=told.append
    )
    assert told == []
