"""What a plug-in is (the producer and strategy contracts) and how the runtime builds one from its config entry:
``cls(PluginSetup(...))``.

A plug-in declares its parameters as a frozen ``msgspec.Struct`` named ``Params`` (with ``forbid_unknown_fields``,
and constraints in ``msgspec.Meta``); the config check converts each entry's ``params`` into it at load, so a
misspelt key or a wrong type stops the process naming the plug-in, the key, the file and the line. A plug-in gets
its name, the timeframe, its ``params`` (read as ``setup.params_as(Params)``), and ``services``: what the runtime
shares with plug-ins that need more than candles (an HTTP client, Hyperliquid's info API, funding history, keys).
A producer that talks to the network also implements ``NetworkProducer``: the stage calls ``refresh`` under a
timeout before ``produce``, so a slow or failing API makes that producer "failed" for the cycle, never the cycle
stall; and ``availability`` says why it is disabled (no key, offline replay), which health shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

import msgspec

from b1e55ed.cycle import Candidate, EnrichedCycle
from b1e55ed.market.bars import BarsView
from b1e55ed.messages import Signal
from b1e55ed.registry import ConfigError
from b1e55ed.validation import dotted, locate

if TYPE_CHECKING:
    import httpx

    from b1e55ed.hyperliquid.info import InfoClient
    from b1e55ed.market.funding import FundingRates


P = TypeVar("P", bound=msgspec.Struct)


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

    def params_as(self, kind: type[P]) -> P:
        """The params as the plug-in's ``Params``: a bad key or value is a ``ConfigError`` naming the plug-in and
        the key. (A config file's params are checked at load already, naming the file and line.)"""
        try:
            return convert_params(self.params, kind)
        except msgspec.ValidationError as err:
            where, reason = locate(str(err))
            raise ConfigError(f"{self.name}: {dotted(('params', *where))}: {reason}") from None


class NoParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The ``Params`` of a plug-in that takes none: any key is unknown."""


def params_type(plugin: type) -> type[msgspec.Struct]:
    """The plug-in class's ``Params``: a frozen ``msgspec.Struct`` with ``forbid_unknown_fields``."""
    kind = getattr(plugin, "Params", NoParams)
    if not (isinstance(kind, type) and issubclass(kind, msgspec.Struct)):
        raise TypeError(f"{plugin.__name__}.Params must be a msgspec.Struct, got {kind!r}")
    return kind


def convert_params(params: Mapping[str, Any], kind: type[P]) -> P:
    """``params`` converted to ``kind``, strictly: no unknown key, no text for a number, no bool for a number."""
    return msgspec.convert(params, kind)


class Producer(Protocol):
    """A pure function of a fixed window of bars: the same window always gives the same signal.

    Returns None when the window is too short to say anything ("no data").
    """

    name: str

    def produce(self, symbol: str, bars: BarsView, as_of: int) -> Signal | None: ...


@runtime_checkable
class BatchProducer(Producer, Protocol):
    """A producer that can answer for many consecutive cycles of one symbol at once (a replay's batch), giving
    exactly what ``produce`` gives for each window, only faster: ``windows[i]`` is the symbol's window as of
    ``as_ofs[i]``."""

    def produce_batch(self, symbol: str, windows: Sequence[BarsView], as_ofs: Sequence[int]) -> list[Signal | None]: ...


class Strategy(Protocol):
    """Turns a whole enriched cycle, market views included, into candidates with reasons.

    Karma scores every candidate with a direction (taken or not) as the strategy's own rule. A strategy that sizes
    by that rule's calibration (``Driver(self.name, …, rule=True)``) sets a class attribute ``sizes_by_rule = True``.
    """

    name: str

    def evaluate(self, cycle: EnrichedCycle) -> Sequence[Candidate]: ...


@runtime_checkable
class BatchStrategy(Strategy, Protocol):
    """A strategy that can judge many consecutive cycles at once, giving exactly what ``evaluate`` gives for each."""

    def evaluate_batch(self, cycles: Sequence[EnrichedCycle]) -> list[Sequence[Candidate]]: ...


@runtime_checkable
class NetworkProducer(Protocol):
    async def refresh(self, symbols: Sequence[str], as_of: int) -> None:
        """Fetch what ``produce`` needs; raising makes the producer "failed" for this cycle."""
        ...

    def availability(self) -> str | None:
        """None when the producer can run; otherwise why not, e.g. "disabled: no APIFY token"."""
        ...
