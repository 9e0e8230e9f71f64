"""Perpetual funding history: Binance USD-M into ``funding/binance/<SYMBOL>USDT.parquet`` and Hyperliquid into
``funding/hyperliquid/<SYMBOL>.parquet``, both ``ts, rate``.

Each file goes on from its last stored settlement (or ``--since``, default: before the venue listed perpetuals), so
a rerun after an interruption, or the next day, asks only for what is new. Binance settles every 8 h and sends up
to 1,000 a request; Hyperliquid settles every hour (a few ms after it) and sends up to 500.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Final

from .binance import BinanceMarketData
from .hyperliquid import HyperliquidMarketData
from .layout import FUNDING_SCHEMA, QUOTE, Venue, funding_path
from .session import Session, fill_forward
from .validate import RATE_CHECKS

BINANCE_PERPETUALS_START_MS: Final = 1_567_296_000_000  # 2019-09-01 UTC: BTCUSDT perpetual listed 2019-09-08
HYPERLIQUID_START_MS: Final = 1_672_531_200_000  # 2023-01-01 UTC: before Hyperliquid's first funding history
START_MS: Final[dict[Venue, int]] = {"binance": BINANCE_PERPETUALS_START_MS, "hyperliquid": HYPERLIQUID_START_MS}


async def collect_funding(
    session: Session,
    binance: BinanceMarketData,
    hyperliquid: HyperliquidMarketData,
    symbols: Sequence[str],
    venues: Sequence[Venue],
    *,
    since_ms: int | None = None,
) -> None:
    for venue in venues:
        for symbol in symbols:
            await collect_rates(session, binance, hyperliquid, symbol, venue, since_ms=since_ms)


async def collect_rates(
    session: Session,
    binance: BinanceMarketData,
    hyperliquid: HyperliquidMarketData,
    symbol: str,
    venue: Venue,
    *,
    since_ms: int | None = None,
) -> None:
    with session.series(funding_path(session.data_dir, symbol, venue), FUNDING_SCHEMA) as (series, report):
        if series.last_ts is not None:
            start_ms = series.last_ts + 1
        else:
            start_ms = since_ms if since_ms is not None else START_MS[venue]
        if venue == "binance":
            fetch = partial(binance.funding_rates, f"{symbol}{QUOTE}")
        else:
            fetch = partial(hyperliquid.funding_history, symbol, end_ms=session.clock.now_ms())
        label = f"{symbol} funding ({venue})"
        await fill_forward(session, series, report, fetch, start_ms=start_ms, checks=RATE_CHECKS, label=label)
