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


class Mids(msgspec.Struct, frozen=True, kw_only=True):
    """The mid prices of one poll, for display: not an event, never in the log. ``ts`` is the poll's event time
    (the injected clock); ``prices`` holds the feed's symbols that had a price, in the feed's order."""

    ts: int
    source: MarketSource
    prices: dict[str, float]


class MidsSink(Protocol):
    """Where a poller hands each poll's mid prices, or the reason a poll failed (``b1e55ed.market.mids``)."""

    def publish(self, mids: Mids) -> None: ...

    def failed(self, error: str) -> None: ...


@runtime_checkable
class PricePoller(Protocol):
    """A live feed that also polls prices between closes (Hyperliquid's mids), as a task of its own.

    ``watch_mids`` polls every ``mids_interval_s`` until cancelled, handing ``sink`` each poll's ``Mids``; a poll
    that fails for a venue fault goes to ``sink.failed`` and the next poll is tried on schedule.
    """

    mids_interval_s: float

    async def watch_mids(self, sink: MidsSink) -> None: ...
