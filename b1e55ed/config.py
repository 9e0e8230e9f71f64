"""Typed configuration: ``config/b1e55ed.yaml`` plus environment overrides, validated into frozen structs.

``load_config`` reads the YAML file, applies ``B1E55ED_<SECTION>__<KEY>`` variables from the environment and a
``.env`` file (real variables win), validates everything with msgspec, and checks that every enabled plug-in
imports. Any fault raises ``ConfigError`` naming the key and where its value came from: the file (and line) or the
environment variable.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import msgspec
import yaml

from b1e55ed.alerts_config import AlertsConfig
from b1e55ed.default_plugins import DEFAULT_PRODUCERS, DEFAULT_STRATEGIES
from b1e55ed.envfile import ENV_PREFIX, Override, apply_override, env_overrides
from b1e55ed.hyperliquid.config import HyperliquidConfig
from b1e55ed.karma.config import KarmaConfig
from b1e55ed.keychain import keyring_overrides, settings_of_type
from b1e55ed.plugins import convert_params, params_type
from b1e55ed.registry import ConfigError, PluginSpec, resolve, resolve_plugin
from b1e55ed.secret import Secret
from b1e55ed.supervisor import RestartPolicy
from b1e55ed.trading_config import KillSwitchConfig, MarketConfig, RiskPolicy
from b1e55ed.validation import KeyPath, dotted, locate
from b1e55ed.venues.paper import PaperConfig

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "DEFAULT_ENV_FILE",
    "ENV_PREFIX",
    "AlertsConfig",
    "ApiConfig",
    "BrainConfig",
    "Config",
    "ConfigError",
    "EventLogConfig",
    "LogLevel",
    "Mode",
    "PluginSpec",
    "RuntimeConfig",
    "Secret",
    "Timeframe",
    "config_hash",
    "load_config",
    "redacted",
    "secret_values",
]

DEFAULT_CONFIG_PATH: Final = Path(__file__).resolve().parent.parent / "config" / "b1e55ed.yaml"
DEFAULT_ENV_FILE: Final = Path(".env")


Mode = Literal["paper", "live"]
Timeframe = Literal["1s", "1m", "5m", "15m", "1h", "4h", "1d"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
_Text = Annotated[str, msgspec.Meta(min_length=1)]
_Seconds = Annotated[float, msgspec.Meta(gt=0)]
_Count = Annotated[int, msgspec.Meta(ge=0)]


class EventLogConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    path: _Text = "data/brain.db"
    max_batch: Annotated[int, msgspec.Meta(ge=1)] = 20_000
    max_pages: _Count = 0
    encrypt: bool = False  # SQLCipher, keyed with keys.db_password (b1e55ed/eventlog/connect.py)


class RuntimeConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    shutdown_timeout_s: _Seconds = 5.0
    log_level: LogLevel = "INFO"
    seed: _Count = 0
    pipeline: _Text = "actors.pipeline:TradingPipeline"


class LoggingConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    dir: _Text = "logs"
    max_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 10_000_000
    backups: _Count = 5


class BrainConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    interval_s: _Seconds = 60.0
    producer_deadline_s: _Seconds = 10.0
    window_bars: Annotated[int, msgspec.Meta(ge=2)] = 500
    replay_batch: Annotated[int, msgspec.Meta(ge=1)] = 512
    producers: tuple[PluginSpec, ...] = DEFAULT_PRODUCERS
    strategies: tuple[PluginSpec, ...] = DEFAULT_STRATEGIES
    enrichers: tuple[PluginSpec, ...] = ()

    def __post_init__(self) -> None:
        _require_unique("producers[{}].name", [plugin.name for plugin in self.producers])
        _require_unique("strategies[{}].name", [plugin.name for plugin in self.strategies])


class ApiConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    enabled: bool = True
    host: _Text = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 5050
    auth_token: Secret = Secret("")
    rate_limit_per_min: _Count = 100
    cors_origins: tuple[_Text, ...] = ()
    ip_allowlist: tuple[_Text, ...] = ()
    trusted_proxies: tuple[_Text, ...] = ()
    max_body_bytes: Annotated[int, msgspec.Meta(ge=1)] = 4096
    request_timeout_s: _Seconds = 10.0
    max_sse_per_ip: Annotated[int, msgspec.Meta(ge=1)] = 20

    def __post_init__(self) -> None:
        for name in ("ip_allowlist", "trusted_proxies"):
            for index, entry in enumerate(getattr(self, name)):
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    raise ValueError(f"`{name}[{index}]` {entry!r} is not an IP address or network") from None


class KeysConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """API keys; set them from the environment (``B1E55ED_KEYS__APIFY_TOKEN``), never in the file."""

    apify_token: Secret = Secret("")
    allium_api_key: Secret = Secret("")
    hyperliquid_private_key: Secret = Secret("")
    db_password: Secret = Secret("")
    telegram_bot_token: Secret = Secret("")
    smtp_password: Secret = Secret("")


class Config(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    mode: Mode = "paper"
    symbols: Annotated[tuple[_Text, ...], msgspec.Meta(min_length=1)] = ("BTC", "ETH", "SOL")
    timeframe: Timeframe = "1h"
    data_dir: _Text = "data"
    eventlog: EventLogConfig = msgspec.field(default_factory=EventLogConfig)
    supervisor: RestartPolicy = msgspec.field(default_factory=RestartPolicy)
    runtime: RuntimeConfig = msgspec.field(default_factory=RuntimeConfig)
    logging: LoggingConfig = msgspec.field(default_factory=LoggingConfig)
    brain: BrainConfig = msgspec.field(default_factory=BrainConfig)
    market: MarketConfig = msgspec.field(default_factory=MarketConfig)
    paper: PaperConfig = msgspec.field(default_factory=PaperConfig)
    risk: RiskPolicy = msgspec.field(default_factory=RiskPolicy)
    killswitch: KillSwitchConfig = msgspec.field(default_factory=KillSwitchConfig)
    hyperliquid: HyperliquidConfig = msgspec.field(default_factory=HyperliquidConfig)
    karma: KarmaConfig = msgspec.field(default_factory=KarmaConfig)
    api: ApiConfig = msgspec.field(default_factory=ApiConfig)
    keys: KeysConfig = msgspec.field(default_factory=KeysConfig)
    alerts: AlertsConfig = msgspec.field(default_factory=AlertsConfig)

    def __post_init__(self) -> None:
        _require_unique("symbols[{}]", list(self.symbols))
        if self.karma.horizon_bars >= self.brain.window_bars:
            raise ValueError(
                f"`karma.horizon_bars` ({self.karma.horizon_bars}) must be below brain.window_bars "
                f"({self.brain.window_bars}): karma checks its positions on the cycle's window"
            )


# A ``__post_init__`` error starts with the offending key in backticks, relative to its struct, so that
# ``load_config`` can name the full key and trace it to the file line or variable that set it.


def _require_unique(field_template: str, values: list[str]) -> None:
    first_index: dict[str, int] = {}
    for index, value in enumerate(values):
        if value in first_index:
            earlier = field_template.format(first_index[value])
            raise ValueError(f"`{field_template.format(index)}` {value!r} repeats {earlier}")
        first_index[value] = index


def load_config(
    path: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    env_file: Path | None = DEFAULT_ENV_FILE,
) -> Config:
    """Load ``path`` (default: the repo's ``config/b1e55ed.yaml``) with overrides from ``environ`` (default:
    ``os.environ``) and ``env_file`` (``None``: no file), and check that every enabled plug-in imports."""
    source = DEFAULT_CONFIG_PATH if path is None else path
    text = _read_text(source)
    raw = _parse_yaml(text, source)
    overrides = env_overrides(Config, os.environ if environ is None else environ, env_file, verbatim=(str, Secret))
    if environ is None:  # the process's own secrets: those its environment leaves unset may be in the keyring
        given = {override.keys for override in overrides}
        overrides += keyring_overrides(Config, Secret, lambda keys: keys in given or bool(_value_at(raw, keys)))
    for override in overrides:
        apply_override(raw, override)
    origins = _Origins(file=source, text=text, overrides=overrides)
    config = _convert(raw, origins)
    _check_plugins(config, origins)
    return config


def secret_values(config: Config) -> list[str]:
    """Every secret the config holds, revealed: what the logs must never show."""
    values = []
    for keys in settings_of_type(Config, Secret):
        node: Any = config
        for key in keys:
            node = getattr(node, key)
        values.append(node.reveal())
    return [value for value in values if value]


def _value_at(raw: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    node: Any = raw
    for key in keys:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node


NOT_RECORDED: Final = (
    ("brain", "replay_batch"),
    ("eventlog", "max_batch"),
    ("api", "enabled"),
    ("logging", "dir"),
    ("logging", "max_bytes"),
    ("logging", "backups"),
    ("eventlog", "encrypt"),
    ("keys", "db_password"),
    ("keys", "telegram_bot_token"),
    ("keys", "smtp_password"),
)
"""Settings that change only how a run goes (its speed, whether it serves the API, where it logs, whether its log is
encrypted, who is told of it), never what it records: left out of ``config_hash``; so is the ``alerts`` section."""


def config_hash(config: Config) -> str:
    """sha256 hex of the deterministic JSON encoding, secrets and ``NOT_RECORDED`` settings left out: identifies
    what a run records, so the same settings at another speed have the same hash."""
    data = redacted(config)
    for section, key in NOT_RECORDED:
        del data[section][key]
    del data["alerts"]  # who hears of what happened changes nothing of what happened
    return hashlib.sha256(_HASH_ENCODER.encode(data)).hexdigest()


def redacted(config: Config) -> dict[str, Any]:
    """The config as plain data, secrets masked: safe to print or log."""
    data: dict[str, Any] = msgspec.to_builtins(config, enc_hook=_mask_secret, order="deterministic")
    return data


def _mask_secret(obj: Any) -> Any:
    if isinstance(obj, Secret):
        return "***" if obj else ""
    raise TypeError(f"cannot encode {type(obj).__name__}")


_HASH_ENCODER: Final = msgspec.json.Encoder(enc_hook=_mask_secret, order="deterministic")


def _decode_secret(kind: type, value: Any) -> Any:
    if kind is Secret:
        if not isinstance(value, str):
            raise TypeError(f"Expected `str`, got `{type(value).__name__}`")
        return Secret(value)
    raise TypeError(f"cannot decode {kind!r}")


# --------------------------------------------------------------------------------------------------------------
# Reading the file


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key repeated in one mapping (PyYAML silently keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else id(key_node)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read config file: {err}") from err


def _parse_yaml(text: str, path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # As safe as yaml.safe_load, plus the duplicate check.
    except yaml.MarkedYAMLError as err:
        line = f", line {err.problem_mark.line + 1}" if err.problem_mark else ""
        raise ConfigError(f"{path}{line}: invalid YAML: {err.problem}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: invalid YAML: {err}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level, got {type(data).__name__}")
    return data


# --------------------------------------------------------------------------------------------------------------
# Validation errors, traced back to where the value came from


class _Origins(msgspec.Struct, frozen=True, kw_only=True):
    file: Path
    text: str
    overrides: tuple[Override, ...]

    def describe(self, path: KeyPath) -> str:
        for override in self.overrides:
            if path[: len(override.keys)] == override.keys:
                return override.origin
        line = _yaml_line(self.text, path)
        return f"{self.file}" if line is None else f"{self.file}, line {line}"


def _convert(raw: dict[str, Any], origins: _Origins) -> Config:
    try:
        return msgspec.convert(raw, Config, dec_hook=_decode_secret)
    except msgspec.ValidationError as err:
        path, reason = locate(str(err))
        raise ConfigError(f"{dotted(path)}: {reason} (from {origins.describe(path)})") from err


def _yaml_line(text: str, path: KeyPath) -> int | None:
    """1-based line of the deepest node of ``path`` present in the YAML text, if any."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    line = None
    for part in path:
        if isinstance(node, yaml.MappingNode):
            entry = next(((k, v) for k, v in node.value if k.value == part), None)
            if entry is None:
                break
            line, node = entry[0].start_mark.line + 1, entry[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


# --------------------------------------------------------------------------------------------------------------
# Plug-ins


def _check_plugins(config: Config, origins: _Origins) -> None:
    try:
        resolve(config.runtime.pipeline)
    except ConfigError as err:
        raise ConfigError(f"runtime.pipeline: {err} (from {origins.describe(('runtime', 'pipeline'))})") from err
    for section in ("producers", "strategies", "enrichers"):
        plugins: tuple[PluginSpec, ...] = getattr(config.brain, section)
        for index, plugin in enumerate(plugins):
            if not plugin.enabled:
                continue
            path: KeyPath = ("brain", section, index)
            try:
                cls = resolve_plugin(plugin, key=dotted(path))
            except ConfigError as err:
                raise ConfigError(f"{err} (from {origins.describe(path)})") from err
            try:
                convert_params(plugin.params, params_type(cls))
            except msgspec.ValidationError as err:
                where, reason = locate(str(err))
                key = (*path, "params", *where)
                raise ConfigError(f"{dotted(key)} ({plugin.name}): {reason} (from {origins.describe(key)})") from err
