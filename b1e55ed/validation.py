"""msgspec's validation messages, split into the key path they name and the reason, for errors a person can act on."""

from __future__ import annotations

import re

KeyPath = tuple[str | int, ...]
_LOCATION = re.compile(r"^(?P<reason>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_NAMED_FIELD = re.compile(r"^Object (?P<reason>contains unknown|missing required) field `(?P<field>[^`]+)`$")
_PREFIXED_FIELD = re.compile(r"^`(?P<field>[^`]+)` (?P<reason>.*)$", re.DOTALL)
_PATH_PART = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")


def locate(message: str) -> tuple[KeyPath, str]:
    """Split msgspec's ``"<reason> - at `$.a.b[0]`"`` into the key path and the reason."""
    match = _LOCATION.match(message)
    assert match is not None  # The pattern accepts any text.
    path = parse_path(match["path"] or "")
    reason = match["reason"]
    if named := _NAMED_FIELD.match(reason):
        return (*path, named["field"]), "unknown key" if "unknown" in named["reason"] else "required key missing"
    if prefixed := _PREFIXED_FIELD.match(reason):
        return (*path, *parse_path("." + prefixed["field"])), prefixed["reason"]
    return path, reason


def parse_path(text: str) -> KeyPath:
    return tuple(name if name else int(index) for name, index in _PATH_PART.findall(text))


def dotted(path: KeyPath) -> str:
    text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(".")
    return text or "(top level)"
