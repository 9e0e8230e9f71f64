"""Candle intervals: one table of their lengths, and which of them each source offers.

"1M", a calendar month, has no fixed length: no source here offers it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

INTERVAL_MS: Final[Mapping[str, int]] = {
    "1s": 1_000,
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
    "3d": 259_200_000,
    "1w": 604_800_000,
}

BINANCE_INTERVALS: Final = tuple(name for name in INTERVAL_MS if name != "1s")  # klines, spot and USD-M futures
HYPERLIQUID_INTERVALS: Final = tuple(name for name in INTERVAL_MS if name not in ("1s", "6h"))  # candleSnapshot
