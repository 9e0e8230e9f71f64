"""The TradFi basis proxy into ``basis/<SYMBOL>.parquet``: Binance's USDT perpetual against spot, every hour.

A CME basis is the premium of futures over spot; crypto's nearest free equivalent is the perpetual's premium over
spot, which funding pulls back towards zero and which widens when leveraged longs crowd in. Each row holds the
hourly closes of the USD-M perpetual (``/fapi/v1/klines``) and of spot (``/api/v3/klines``) and ``premium`` =
perp / spot - 1. Klines rather than ``premiumIndex`` snapshots so the series has a history and every rerun fills
it without holes: pages of 1,000 perpetual hours, each joined with the spot hours of the same span.

``ts`` is the hour's close (open + 1 h), the moment both prices are known, so a consumer at time ``t`` may use
every row with ``ts <= t``. Hours missing on either market are absent (gaps, as in the candles).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Final

import polars as pl

from b1e55ed.timeframes import INTERVAL_MS

from .binance import BinanceMarketData
from .layout import BASIS_SCHEMA, QUOTE, basis_path
from .session import Page, Session, fill_forward
from .validate import BASIS_CHECKS, CANDLE_CHECKS, Rejects, check_rows

INTERVAL: Final = "1h"
INTERVAL_MS_BASIS: Final = INTERVAL_MS[INTERVAL]
PERPETUALS_START_MS: Final = 1_567_296_000_000  # 2019-09-01 UTC: BTCUSDT perpetual listed 2019-09-08


async def collect_basis(
    session: Session, binance: BinanceMarketData, symbols: Sequence[str], *, since_ms: int | None = None
) -> None:
    for symbol in symbols:
        await collect_symbol_basis(session, binance, symbol, since_ms=since_ms)


async def collect_symbol_basis(
    session: Session, binance: BinanceMarketData, symbol: str, *, since_ms: int | None = None
) -> None:
    pair = f"{symbol}{QUOTE}"
    now_ms = session.clock.now_ms()
    with session.series(basis_path(session.data_dir, symbol), BASIS_SCHEMA) as (series, report):
        if series.last_ts is not None:
            start_ms = series.last_ts  # the last stored close is the next hour's open
        else:
            start_ms = since_ms if since_ms is not None else PERPETUALS_START_MS
        fetch = partial(basis_page, binance, pair, now_ms=now_ms, rejects=report.rejects)
        await fill_forward(
            session, series, report, fetch, start_ms=start_ms, checks=BASIS_CHECKS, label=f"{symbol} basis"
        )


async def basis_page(binance: BinanceMarketData, pair: str, cursor: int, *, now_ms: int, rejects: Rejects) -> Page:
    """Closed perpetual hours from ``cursor``, each with the spot close of the same hour; bad candles are counted."""
    perp_page = await binance.closed_candles("futures", pair, INTERVAL, cursor, now_ms)
    perp = check_rows(perp_page.rows, CANDLE_CHECKS, rejects)
    if perp.is_empty():
        return Page(pl.DataFrame(schema=dict(BASIS_SCHEMA)), perp_page.next_cursor)
    first, last = int(perp["ts"].min()), int(perp["ts"].max())  # type: ignore[arg-type]
    spot = check_rows(await binance.klines("spot", pair, INTERVAL, start_ms=first, end_ms=last), CANDLE_CHECKS, rejects)
    joined = perp.select("ts", perp="close").join(spot.select("ts", spot="close"), on="ts", how="inner")
    rows = joined.select(
        ts=pl.col("ts") + INTERVAL_MS_BASIS,
        spot=pl.col("spot"),
        perp=pl.col("perp"),
        premium=pl.col("perp") / pl.col("spot") - 1.0,
    )
    return Page(rows, perp_page.next_cursor)
