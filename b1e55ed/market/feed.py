"""Where candles come from: a replay of history, a seeded simulation, or Hyperliquid live.

A feed yields ``CloseBatch``es in time order: the candles that closed at one instant, one per symbol that has
one. A replay ends with its data; a live feed never ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

import msgspec

from b1e55ed.messages import Bar, MarketSource


class CloseBatch(msgspec.Struct, frozen=True):
    """Candles closing at ``close_ts`` (= each bar's ``ts`` + the timeframe), keyed by symbol."""

    close_ts: int
    bars: dict[str, Bar]


class Feed(Protocol):
    source: MarketSource

    def closes(self) -> AsyncIterator[CloseBatch]: ...


@runtime_checkable
class PricePoller(Protocol):
    """A live feed that also polls prices between closes (Hyperliquid's mids), as a task of its own."""

    async def watch_mids(self) -> None: ...
