"""Where candles come from: a replay of history, a seeded simulation, or Hyperliquid live.

A feed yields ``CloseBatch``es in time order: the candles that closed at one instant, one per symbol that has
one. A replay ends with its data; a live feed never ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

import msgspec

from b1e55ed.messages import Bar, MarketSource

TIMEFRAME_MS = {
    "1s": 1_000,
    "1m": 60_000,
    "5m": 300_000,
    "15m": 900_000,
    "1h": 3_600_000,
    "4h": 14_400_000,
    "1d": 86_400_000,
}


class CloseBatch(msgspec.Struct, frozen=True):
    """Candles closing at ``close_ts`` (= each bar's ``ts`` + the timeframe), keyed by symbol."""

    close_ts: int
    bars: dict[str, Bar]


class Feed(Protocol):
    source: MarketSource

    def closes(self) -> AsyncIterator[CloseBatch]: ...
