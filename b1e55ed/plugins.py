"""How the runtime builds a plug-in from its config entry: ``cls(PluginSetup(...))``.

A plug-in gets its name, the timeframe, its ``params`` from the config, and ``services``: what the runtime shares
with plug-ins that need more than candles (an HTTP client, Hyperliquid's info API, funding history, API keys).
A producer that talks to the network also implements ``NetworkProducer``: the stage calls ``refresh`` under a
timeout before ``produce``, so a slow or failing API makes that producer "failed" for the cycle, never the cycle
stall; and ``availability`` says why it is disabled (no key, offline replay), which health shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import httpx

    from b1e55ed.venues.hl_info import InfoClient


class FundingRates(Protocol):
    """Funding rates by symbol and time: collected or replayed history, and the live rate where known."""

    def rates(self, symbol: str, until_ms: int) -> Sequence[tuple[int, float]]:
        """``(ts, rate)`` pairs with ``ts <= until_ms``, oldest first (rate 0.0001 = 0.01% per interval)."""
        ...


class DailyIndex(Protocol):
    """A daily series such as Fear & Greed: the value for the day of ``at_ms``, or None when unknown."""

    def value_at(self, at_ms: int) -> float | None: ...


@dataclass(frozen=True)
class Keys:
    """API keys from the environment only (``B1E55ED_KEYS__*``); empty means not configured."""

    apify_token: str = ""
    allium_api_key: str = ""


@dataclass(frozen=True)
class Services:
    offline: bool = False  # a replay: network producers report disabled instead of calling out
    http: httpx.AsyncClient | None = None
    info: InfoClient | None = None
    funding: FundingRates | None = None
    fear_greed: DailyIndex | None = None
    keys: Keys = field(default_factory=Keys)


@dataclass(frozen=True)
class PluginSetup:
    name: str
    timeframe_ms: int
    params: Mapping[str, Any] = field(default_factory=dict)
    services: Services = field(default_factory=Services)

    def param(self, key: str, default: float) -> float:
        """A numeric parameter; a wrong type is named with the plug-in and the key."""
        value = self.params.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{self.name}: params.{key} must be a number, got {value!r}")
        return float(value)

    def text(self, key: str, default: str) -> str:
        value = self.params.get(key, default)
        if not isinstance(value, str):
            raise TypeError(f"{self.name}: params.{key} must be text, got {value!r}")
        return value

    def texts(self, key: str, default: Sequence[str] = ()) -> tuple[str, ...]:
        value = self.params.get(key, list(default))
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise TypeError(f"{self.name}: params.{key} must be a list of text, got {value!r}")
        return tuple(value)


@runtime_checkable
class NetworkProducer(Protocol):
    async def refresh(self, symbols: Sequence[str], as_of: int) -> None:
        """Fetch what ``produce`` needs; raising makes the producer "failed" for this cycle."""
        ...

    def availability(self) -> str | None:
        """None when the producer can run; otherwise why not, e.g. "disabled: no APIFY token"."""
        ...
