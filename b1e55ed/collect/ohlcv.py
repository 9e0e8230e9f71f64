"""Binance spot candles into ``ohlcv/<tf>/<SYMBOL>USDT.parquet``: the whole history once, then what is new.

- A new file is filled from ``--since`` (default: before Binance opened, so the exchange answers from each pair's
  first candle), 1,000 candles a request.
- An existing file goes on from its last stored candle: resuming an interrupted run and the daily incremental run
  are the same thing, and neither asks for a candle already stored.
- ``--since`` earlier than a file's first candle (without ``--incremental``) also backfills, newest window first,
  so an interrupted backfill leaves no hole: the next run continues back from the file's first candle. A window
  of 1,000 candles with none in it is taken as "before the pair was listed" and ends the backfill.

The still-open candle is never stored: its numbers are not final. The next run fetches it once it has closed.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Final

from b1e55ed.timeframes import INTERVAL_MS

from .binance import KLINE_LIMIT, BinanceMarketData
from .layout import CANDLE_SCHEMA, QUOTE, ohlcv_path
from .session import FileReport, Session, fill_forward
from .store import SeriesFile
from .validate import CANDLE_CHECKS, check_rows

BINANCE_START_MS: Final = 1_498_867_200_000  # 2017-07-01 UTC: Binance opened on 2017-07-14


async def collect_ohlcv(
    session: Session,
    binance: BinanceMarketData,
    symbols: Sequence[str],
    timeframes: Sequence[str],
    *,
    since_ms: int | None = None,
    incremental: bool = False,
) -> None:
    for timeframe in timeframes:
        for symbol in symbols:
            await collect_candles(session, binance, symbol, timeframe, since_ms=since_ms, incremental=incremental)


async def collect_candles(
    session: Session,
    binance: BinanceMarketData,
    symbol: str,
    timeframe: str,
    *,
    since_ms: int | None = None,
    incremental: bool = False,
) -> None:
    pair = f"{symbol}{QUOTE}"
    now_ms = session.clock.now_ms()
    with session.series(ohlcv_path(session.data_dir, symbol, timeframe), CANDLE_SCHEMA) as (series, report):
        first_ts = series.first_ts
        if first_ts is not None and since_ms is not None and since_ms < first_ts and not incremental:
            await _backfill(binance, series, report, pair, timeframe, since_ms)
        if series.last_ts is not None:
            start_ms = series.last_ts + 1
        else:
            start_ms = since_ms if since_ms is not None else BINANCE_START_MS
        fetch = partial(binance.closed_candles, "spot", pair, timeframe, now_ms=now_ms)
        await fill_forward(
            session, series, report, fetch, start_ms=start_ms, checks=CANDLE_CHECKS, label=f"{pair} {timeframe}"
        )


async def _backfill(
    binance: BinanceMarketData, series: SeriesFile, report: FileReport, pair: str, timeframe: str, since_ms: int
) -> None:
    """Fill [``since_ms``, first stored candle) one window of ``KLINE_LIMIT`` candles at a time, newest first."""
    window_ms = KLINE_LIMIT * INTERVAL_MS[timeframe]
    while series.first_ts is not None and series.first_ts > since_ms:
        end_ms = series.first_ts - 1
        start_ms = max(since_ms, end_ms - window_ms + 1)
        raw = await binance.klines("spot", pair, timeframe, start_ms=start_ms, end_ms=end_ms)
        good = check_rows(raw, CANDLE_CHECKS, report.rejects, before_ts=series.first_ts)
        if good.is_empty():
            break
        series.add(good)
