"""How the runtime builds a plug-in from its config entry: ``cls(PluginSetup(...))``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PluginSetup:
    name: str
    timeframe_ms: int
    params: Mapping[str, Any] = field(default_factory=dict)

    def param(self, key: str, default: float) -> float:
        """A numeric parameter; a wrong type is named with the plug-in and the key."""
        value = self.params.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{self.name}: params.{key} must be a number, got {value!r}")
        return float(value)
