from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from b1e55ed.config import (
    DEFAULT_CONFIG_PATH,
    Config,
    ConfigError,
    PluginSpec,
    Secret,
    config_hash,
    load_config,
    redacted,
)
from b1e55ed.envfile import parse_line

TOKEN = "s3cr3t-token-value"


def write(directory: Path, text: str, name: str = "b1e55ed.yaml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load(path: Path | None = None, env_file: Path | None = None, **environ: str) -> Config:
    return load_config(path, environ=environ, env_file=env_file)


def load_env(environ: Mapping[str, str]) -> Config:
    return load_config(None, environ=environ, env_file=None)


# --------------------------------------------------------------------------------------------------------------
# Defaults


def test_default_file_loads_to_the_struct_defaults() -> None:
    assert load() == Config()


def test_default_file_lists_every_setting() -> None:
    def key_tree(value: object) -> object:
        return {key: key_tree(child) for key, child in value.items()} if isinstance(value, dict) else None

    in_file = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))
    assert key_tree(in_file) == key_tree(redacted(Config()))


def test_empty_file_means_all_defaults(tmp_path: Path) -> None:
    assert load(write(tmp_path, "")) == Config()


# --------------------------------------------------------------------------------------------------------------
# Environment overrides


@pytest.mark.parametrize(
    ("variable", "text", "read", "expected"),
    [
        ("B1E55ED_MODE", "live", lambda c: c.mode, "live"),
        ("B1E55ED_SYMBOLS", "[BTC, ETH]", lambda c: c.symbols, ("BTC", "ETH")),
        ("B1E55ED_API__PORT", "8080", lambda c: c.api.port, 8080),
        ("B1E55ED_SUPERVISOR__MAX_RESTARTS", "3", lambda c: c.supervisor.max_restarts, 3),
        ("B1E55ED_SUPERVISOR__JITTER", "0", lambda c: c.supervisor.jitter, 0.0),
        ("B1E55ED_BRAIN__INTERVAL_S", "1.5", lambda c: c.brain.interval_s, 1.5),
        ("B1E55ED_API__HOST", "0.0.0.0", lambda c: c.api.host, "0.0.0.0"),
        ("B1E55ED_API__CORS_ORIGINS", "['https://a.example']", lambda c: c.api.cors_origins, ("https://a.example",)),
    ],
)
def test_environment_overrides_a_setting(
    variable: str, text: str, read: Callable[[Config], Any], expected: object
) -> None:
    assert read(load_env({variable: text})) == expected


def test_text_settings_take_the_value_verbatim() -> None:
    config = load(B1E55ED_API__AUTH_TOKEN="0123", B1E55ED_EVENTLOG__PATH="null")
    assert config.api.auth_token.reveal() == "0123"
    assert config.eventlog.path == "null"


def test_environment_overrides_one_key_and_keeps_the_file_siblings(tmp_path: Path) -> None:
    path = write(tmp_path, "api:\n  host: 0.0.0.0\n  port: 6000\n")
    config = load(path, B1E55ED_API__PORT="7000")
    assert (config.api.host, config.api.port) == ("0.0.0.0", 7000)


def test_other_variables_are_ignored() -> None:
    assert load(PATH="/usr/bin", B1E55ED="x", b1e55ed_api__port="x") == Config()


def test_env_file_is_read(tmp_path: Path) -> None:
    env_file = write(tmp_path, "export B1E55ED_API__PORT=6001\nB1E55ED_MODE='live'\n", name=".env")
    config = load(env_file=env_file)
    assert (config.api.port, config.mode) == (6001, "live")


def test_real_environment_wins_over_env_file(tmp_path: Path) -> None:
    env_file = write(tmp_path, "B1E55ED_API__PORT=6001\n", name=".env")
    assert load(env_file=env_file, B1E55ED_API__PORT="6002").api.port == 6002


def test_missing_env_file_is_fine(tmp_path: Path) -> None:
    assert load(env_file=tmp_path / "absent.env") == Config()


def test_malformed_env_file_names_the_file_and_line(tmp_path: Path) -> None:
    env_file = write(tmp_path, "# comment\nB1E55ED_API__PORT=1\nnot an assignment\n", name=".env")
    with pytest.raises(ConfigError, match=r"\.env, line 3: expected KEY=VALUE"):
        load(env_file=env_file)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("", None),
        ("   # a comment", None),
        ("KEY=value", ("KEY", "value")),
        ("export KEY=value", ("KEY", "value")),
        ("  KEY = value  ", ("KEY", "value")),
        ("KEY=value # trailing comment", ("KEY", "value")),
        ("KEY=a#b", ("KEY", "a#b")),
        ('KEY="quoted # not a comment"', ("KEY", "quoted # not a comment")),
        ("KEY='single' # comment", ("KEY", "single")),
        ("KEY=", ("KEY", "")),
        ("KEY=a=b", ("KEY", "a=b")),
    ],
)
def test_env_file_line_syntax(line: str, expected: tuple[str, str] | None) -> None:
    assert parse_line(line) == expected


@pytest.mark.parametrize("line", ["no-equals-sign", "BAD-NAME=1", "KEY='unterminated", 'KEY="a" b'])
def test_env_file_rejects_malformed_lines(line: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_line(line)


# --------------------------------------------------------------------------------------------------------------
# Errors name the key and where its value came from


def test_unknown_key_in_file_names_key_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "mode: paper\napi:\n  host: 127.0.0.1\n  prot: 5050\n")
    with pytest.raises(ConfigError, match=r"^api\.prot: unknown key \(from .*b1e55ed\.yaml, line 4\)$"):
        load(path)


def test_unknown_environment_key_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"^api\.prot: unknown key \(from environment variable B1E55ED_API__PROT\)"):
        load(B1E55ED_API__PROT="1")


@pytest.mark.parametrize(
    ("variable", "message"),
    [
        ("B1E55ED_NOPE", r"^nope: unknown key .*B1E55ED_NOPE"),
        ("B1E55ED_MODE__X", r"^mode\.x: unknown key, mode is not a section .*B1E55ED_MODE__X"),
        ("B1E55ED_API", r"^api: is a section.*B1E55ED_API\)"),
        ("B1E55ED_API___PORT", r"^api\._port: unknown key"),
    ],
)
def test_environment_must_name_a_setting(variable: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_env({variable: "1"})


def test_unknown_key_from_env_file_names_the_variable_and_file(tmp_path: Path) -> None:
    env_file = write(tmp_path, "B1E55ED_API__PROT=1\n", name=".env")
    with pytest.raises(ConfigError, match=r"B1E55ED_API__PROT in .*\.env"):
        load(env_file=env_file)


def test_wrong_type_in_file_names_key_and_file(tmp_path: Path) -> None:
    path = write(tmp_path, "api:\n  port: fifty\n")
    with pytest.raises(ConfigError, match=r"^api\.port: Expected `int`, got `str` \(from .*b1e55ed\.yaml, line 2\)$"):
        load(path)


def test_wrong_type_in_environment_names_key_and_variable(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"^api\.port: Expected `int`, got `str` \(from environment variable B1E55ED_API__PORT\)$"
    ):
        load(B1E55ED_API__PORT="fifty")


def test_unparseable_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"^symbols: value is not valid YAML.*B1E55ED_SYMBOLS"):
        load(B1E55ED_SYMBOLS="[BTC")


@pytest.mark.parametrize(
    ("variable", "text", "key"),
    [
        ("B1E55ED_API__PORT", "0", "api.port"),
        ("B1E55ED_API__PORT", "65536", "api.port"),
        ("B1E55ED_EVENTLOG__MAX_BATCH", "0", "eventlog.max_batch"),
        ("B1E55ED_SUPERVISOR__JITTER", "1.5", "supervisor.jitter"),
        ("B1E55ED_SUPERVISOR__BACKOFF_INITIAL_S", "60", "supervisor.backoff_initial_s"),
        ("B1E55ED_BRAIN__INTERVAL_S", "0", "brain.interval_s"),
        ("B1E55ED_TIMEFRAME", "2h", "timeframe"),
        ("B1E55ED_MODE", "yolo", "mode"),
        ("B1E55ED_RUNTIME__LOG_LEVEL", "LOUD", "runtime.log_level"),
        ("B1E55ED_SYMBOLS", "[]", "symbols"),
        ("B1E55ED_SYMBOLS", "[BTC, ETH, BTC]", r"symbols\[2\]"),
        ("B1E55ED_API__IP_ALLOWLIST", "[10.0.0.0/8, nope]", r"api\.ip_allowlist\[1\]"),
        ("B1E55ED_API__TRUSTED_PROXIES", "[nginx]", r"api\.trusted_proxies\[0\]"),
    ],
)
def test_out_of_range_values_name_the_key(variable: str, text: str, key: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{key}: .*\(from environment variable {variable}\)$"):
        load_env({variable: text})


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"absent\.yaml: config file not found"):
        load(tmp_path / "absent.yaml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("api: [unclosed\n", r"b1e55ed\.yaml, line 2: invalid YAML"),
        ("- a list\n", r"b1e55ed\.yaml: expected a mapping of settings at the top level, got list"),
        ("api:\n  port: 1\n  port: 2\n", r"b1e55ed\.yaml, line 3: invalid YAML: duplicate key 'port'"),
    ],
)
def test_malformed_file_names_the_file(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(write(tmp_path, text))


# --------------------------------------------------------------------------------------------------------------
# Plug-ins


def producers_file(directory: Path, *entries: str) -> Path:
    body = "".join(f"    - {entry}\n" for entry in entries)
    return write(directory, f"brain:\n  producers:\n{body}")


def test_enabled_plugins_are_loaded(tmp_path: Path) -> None:
    path = producers_file(
        tmp_path,
        "{name: fake, module: tests.fakes.plugins, class: FakeProducer, params: {window: 20}}",
        "{name: dormant, module: no.such.module, class: Nope, enabled: false}",
    )
    producers = load(path).brain.producers
    assert producers == (
        PluginSpec(name="fake", module="tests.fakes.plugins", class_name="FakeProducer", params={"window": 20}),
        PluginSpec(name="dormant", module="no.such.module", class_name="Nope", enabled=False),
    )


def test_unimportable_plugin_names_its_key(tmp_path: Path) -> None:
    path = producers_file(tmp_path, "{name: ghost, module: no.such.module, class: Ghost}")
    with pytest.raises(
        ConfigError,
        match=r"^brain\.producers\[0\] \(ghost\): cannot import 'no\.such\.module': .*\(from .*, line 3\)$",
    ):
        load(path)


def test_missing_plugin_class_names_its_key(tmp_path: Path) -> None:
    path = producers_file(
        tmp_path,
        "{name: fake, module: tests.fakes.plugins, class: FakeProducer}",
        "{name: typo, module: tests.fakes.plugins, class: FakeProduser}",
    )
    with pytest.raises(ConfigError, match=r"^brain\.producers\[1\] \(typo\): .* has no class 'FakeProduser'"):
        load(path)


def test_strategy_plugins_are_checked_too() -> None:
    with pytest.raises(ConfigError, match=r"^brain\.strategies\[0\] \(s\): .*B1E55ED_BRAIN__STRATEGIES"):
        load(B1E55ED_BRAIN__STRATEGIES="[{name: s, module: tests.fakes.plugins, class: not_a_class}]")


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (["{name: a, module: tests.fakes.plugins}"], r"^brain\.producers\[0\]\.class: required key missing"),
        (["{name: a, module: m, class: C, colour: red}"], r"^brain\.producers\[0\]\.colour: unknown key"),
        (["{name: '', module: m, class: C}"], r"^brain\.producers\[0\]\.name: Expected `str` of length >= 1"),
        (
            [
                "{name: a, module: tests.fakes.plugins, class: FakeProducer}",
                "{name: a, module: tests.fakes.plugins, class: FakeStrategy}",
            ],
            r"^brain\.producers\[1\]\.name: 'a' repeats producers\[0\]\.name",
        ),
    ],
)
def test_malformed_plugin_entry_names_its_key(tmp_path: Path, entries: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(producers_file(tmp_path, *entries))


# --------------------------------------------------------------------------------------------------------------
# Secrets, immutability, hashing


def test_secret_never_shows_in_the_config() -> None:
    config = load(B1E55ED_API__AUTH_TOKEN=TOKEN)
    assert config.api.auth_token.reveal() == TOKEN
    for shown in (repr(config), str(config), f"{config.api}", str(redacted(config)), config_hash(config)):
        assert TOKEN not in shown
    assert redacted(config)["api"]["auth_token"] == "***"


def test_secret_compares_and_tests_truth() -> None:
    secret = Secret(TOKEN)
    assert secret.matches(TOKEN)
    assert not secret.matches(TOKEN + "x")
    assert not secret.matches("")
    assert secret == Secret(TOKEN)
    assert repr(secret) == "Secret('***')"
    assert secret


def test_empty_secret_is_unset_and_matches_nothing() -> None:
    token = load().api.auth_token
    assert not token
    assert not token.matches("")
    assert redacted(Config())["api"]["auth_token"] == ""


def test_secret_is_immutable() -> None:
    with pytest.raises(AttributeError):
        Secret(TOKEN)._value = "other"


def test_config_is_frozen() -> None:
    config = load()
    with pytest.raises(AttributeError):
        config.mode = "live"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        config.api.port = 1  # type: ignore[misc]


def test_config_hash_is_stable_and_tracks_settings_but_not_secrets() -> None:
    baseline = config_hash(load())
    assert config_hash(load()) == baseline
    assert len(baseline) == 64
    assert config_hash(load(B1E55ED_API__PORT="6000")) != baseline
    with_token = config_hash(load(B1E55ED_API__AUTH_TOKEN=TOKEN))
    assert config_hash(load(B1E55ED_API__AUTH_TOKEN=TOKEN + "2")) == with_token
