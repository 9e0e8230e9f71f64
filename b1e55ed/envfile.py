"""Config overrides from the environment and a ``.env`` file.

A variable ``B1E55ED_<SECTION>__<KEY>`` (more ``__`` for deeper keys, ``B1E55ED_<KEY>`` at the top level) sets
one setting of a msgspec struct schema. Its value is read as a YAML scalar (``5``, ``true``, ``[BTC, ETH]``),
except for text settings, which take the value verbatim so a token like ``0123`` or ``null`` stays text. A
variable naming no setting is an error naming the variable. Real environment variables win over the ``.env`` file.

The ``.env`` reader is minimal: ``KEY=VALUE`` lines, blank lines, ``#`` comment lines, an optional ``export``
prefix, values in single or double quotes (taken literally, no escapes), and a `` #`` comment after an unquoted
value. Anything else is an error naming the line, so a malformed file never silently drops a setting.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Final, get_args, get_origin

import msgspec
import yaml

from b1e55ed.registry import ConfigError

ENV_PREFIX: Final = "B1E55ED_"

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INLINE_COMMENT = re.compile(r"\s+#.*$")


class Override(msgspec.Struct, frozen=True, kw_only=True):
    """One setting from the environment: its key path (``("api", "port")``), parsed value, and origin."""

    keys: tuple[str, ...]
    value: Any
    origin: str


def env_overrides(
    schema: type[msgspec.Struct],
    environ: Mapping[str, str],
    env_file: Path | None,
    *,
    verbatim: tuple[type, ...] = (str,),
) -> tuple[Override, ...]:
    """Every ``B1E55ED_`` variable of ``env_file`` and ``environ`` (which wins), checked against ``schema``.

    Settings whose type is in ``verbatim`` take the raw text; the others are parsed as YAML."""
    variables = {
        name: (value, f"{name} in {env_file}")
        for name, value in (read_env_file(env_file) if env_file is not None else {}).items()
        if name.startswith(ENV_PREFIX)
    }
    variables.update(
        (name, (value, f"environment variable {name}"))
        for name, value in environ.items()
        if name.startswith(ENV_PREFIX)
    )
    return tuple(
        _override(schema, name, value, origin, verbatim) for name, (value, origin) in sorted(variables.items())
    )


def apply_override(raw: dict[str, Any], override: Override) -> None:
    """Set ``override`` in ``raw``, the decoded YAML document, creating missing sections."""
    *sections, leaf = override.keys
    node = raw
    for key in sections:
        if node.get(key) is None:
            node[key] = {}
        child = node[key]
        if not isinstance(child, dict):
            return  # The file's own value is malformed; validation reports it against the file.
        node = child
    node[leaf] = override.value


def _override(schema: type[msgspec.Struct], name: str, text: str, origin: str, verbatim: tuple[type, ...]) -> Override:
    keys = tuple(part.lower() for part in name.removeprefix(ENV_PREFIX).split("__"))
    kind = _setting_type(schema, keys, origin)
    value = text if kind in verbatim else _parse_scalar(keys, text, origin)
    return Override(keys=keys, value=value, origin=origin)


def _setting_type(schema: type[msgspec.Struct], keys: tuple[str, ...], origin: str) -> Any:
    """The type of the setting ``keys`` names; an unknown key or a whole section is an error."""
    struct = schema
    for depth, key in enumerate(keys, start=1):
        fields = {field.encode_name: unwrap(field.type) for field in msgspec.structs.fields(struct)}
        dotted = ".".join(keys[:depth])
        if key not in fields:
            where = ".".join(keys[: depth - 1]) or "the top level"
            raise ConfigError(f"{dotted}: unknown key (from {origin}); keys in {where}: {', '.join(fields)}")
        kind = fields[key]
        is_section = isinstance(kind, type) and issubclass(kind, msgspec.Struct)
        if depth == len(keys):
            if is_section:
                raise ConfigError(f"{dotted}: is a section, set its keys one by one (from {origin})")
            return kind
        if not is_section:
            raise ConfigError(f"{'.'.join(keys)}: unknown key, {dotted} is not a section (from {origin})")
        struct = kind
    raise AssertionError("unreachable: a variable name always yields at least one key")


def unwrap(kind: Any) -> Any:
    """The type inside ``Annotated[...]``, or the type itself."""
    return get_args(kind)[0] if get_origin(kind) is Annotated else kind


def _parse_scalar(keys: tuple[str, ...], text: str, origin: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        problem = err.problem if isinstance(err, yaml.MarkedYAMLError) else err
        raise ConfigError(f"{'.'.join(keys)}: value is not valid YAML: {problem} (from {origin})") from None


# --------------------------------------------------------------------------------------------------------------
# The .env file


def read_env_file(path: Path) -> dict[str, str]:
    """Read ``path`` into a mapping; later assignments win. A missing file reads as empty."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read: {err}") from err
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            entry = parse_line(line)
        except ValueError as err:
            raise ConfigError(f"{path}, line {number}: {err}") from None
        if entry is not None:
            values[entry[0]] = entry[1]
    return values


def parse_line(line: str) -> tuple[str, str] | None:
    """``(key, value)`` for an assignment, ``None`` for a blank or comment line; ``ValueError`` otherwise."""
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    if stripped.startswith("export "):
        stripped = stripped.removeprefix("export ").lstrip()
    key, sep, raw_value = stripped.partition("=")
    key = key.strip()
    if not sep:
        # The line is not echoed: it may be a pasted secret.
        raise ValueError("expected KEY=VALUE")
    if not _KEY.fullmatch(key):
        raise ValueError(f"invalid variable name {key!r}")
    return key, _parse_value(raw_value.strip())


def _parse_value(raw: str) -> str:
    if raw[:1] in ("'", '"'):
        quote = raw[0]
        closing = raw.find(quote, 1)
        if closing == -1:
            raise ValueError(f"unterminated {quote} quote")
        rest = raw[closing + 1 :].strip()
        if rest and not rest.startswith("#"):
            raise ValueError("unexpected text after the closing quote")
        return raw[1:closing]
    return _INLINE_COMMENT.sub("", raw)
