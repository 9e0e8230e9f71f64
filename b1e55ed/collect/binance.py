"""Binance's public market data (no API key): spot and USD-M futures klines, and perpetual funding history.

Wire formats (developers.binance.com): ``GET /api/v3/klines`` and ``GET /fapi/v1/klines`` answer an array of rows
``[open time, "open", "high", "low", "close", "volume", close time, ...]`` (prices as decimal strings, times in
ms), oldest first, at most ``limit`` rows opening at or after ``startTime`` (and at or before ``endTime``). The row
for the current period is the still-open candle. ``GET /fapi/v1/fundingRate`` answers
``[{"symbol", "fundingTime", "fundingRate", "markPrice"}]``, oldest first, at most ``limit`` (1,000) from
``startTime``.

Request weights and limits per IP: spot 6,000 a minute, klines 2 each; futures 2,400 a minute, klines 5 each at
``limit`` 1,000; ``fundingRate`` its own 500 per 5 minutes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

import msgspec
import polars as pl

from b1e55ed.ratelimit import WeightBudget
from b1e55ed.timeframes import INTERVAL_MS

from .http import JsonFetcher
from .layout import CANDLE_SCHEMA, FUNDING_SCHEMA
from .session import Page

SPOT_URL: Final = "https://api.binance.com"
FUTURES_URL: Final = "https://fapi.binance.com"
KLINE_LIMIT: Final = 1000
FUNDING_LIMIT: Final = 1000
SPOT_KLINES_WEIGHT: Final = 2
FUTURES_KLINES_WEIGHT: Final = 5  # for a limit in [500, 1000]
FUNDING_WEIGHT: Final = 1

Market = Literal["spot", "futures"]


class _Kline(msgspec.Struct, array_like=True, frozen=True):
    """The first six fields of a kline row; msgspec ignores the rest. Lax decoding reads "123.4" (and "NaN") as
    a float, so a bad value reaches the row checks, where it is counted, instead of failing the page."""

    open_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float


class _Funding(msgspec.Struct, frozen=True):
    time: int = msgspec.field(name="fundingTime")
    rate: float = msgspec.field(name="fundingRate")


_KLINES: Final = msgspec.json.Decoder(list[_Kline], strict=False)
_FUNDING: Final = msgspec.json.Decoder(list[_Funding], strict=False)


@dataclass(frozen=True)
class BinanceBudgets:
    spot: WeightBudget = field(default_factory=lambda: WeightBudget(6000, 60.0))
    futures: WeightBudget = field(default_factory=lambda: WeightBudget(2400, 60.0))
    funding: WeightBudget = field(default_factory=lambda: WeightBudget(500, 300.0))


class BinanceMarketData:
    def __init__(
        self,
        fetcher: JsonFetcher,
        *,
        spot_url: str = SPOT_URL,
        futures_url: str = FUTURES_URL,
        budgets: BinanceBudgets | None = None,
    ) -> None:
        self._fetcher = fetcher
        self._spot_url = spot_url.rstrip("/")
        self._futures_url = futures_url.rstrip("/")
        self._budgets = budgets if budgets is not None else BinanceBudgets()

    async def klines(
        self,
        market: Market,
        pair: str,
        interval: str,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = KLINE_LIMIT,
    ) -> pl.DataFrame:
        """One page of klines as sent (``CANDLE_SCHEMA`` columns, the still-open candle included)."""
        params: dict[str, str | int] = {"symbol": pair, "interval": interval}
        if start_ms is not None:
            params["startTime"] = start_ms
        if end_ms is not None:
            params["endTime"] = end_ms
        params["limit"] = limit
        if market == "spot":
            url, budget, weight = f"{self._spot_url}/api/v3/klines", self._budgets.spot, SPOT_KLINES_WEIGHT
        else:
            url, budget, weight = f"{self._futures_url}/fapi/v1/klines", self._budgets.futures, FUTURES_KLINES_WEIGHT
        rows = await self._fetcher.get(url, params, _KLINES, budget=budget, weight=weight)
        columns = {
            "ts": [row.open_ms for row in rows],
            "open": [row.open for row in rows],
            "high": [row.high for row in rows],
            "low": [row.low for row in rows],
            "close": [row.close for row in rows],
            "volume": [row.volume for row in rows],
        }
        return pl.DataFrame(columns, schema=dict(CANDLE_SCHEMA))

    async def closed_candles(self, market: Market, pair: str, interval: str, cursor: int, now_ms: int) -> Page:
        """The candles opening at or after ``cursor`` that had closed by ``now_ms``, and where the next page starts.

        The still-open candle is dropped (its numbers are not final); reaching it, or a short page, ends the run.
        """
        interval_ms = INTERVAL_MS[interval]
        raw = await self.klines(market, pair, interval, start_ms=cursor)
        is_closed = raw["ts"].to_numpy() + interval_ms <= now_ms
        closed = raw if is_closed.all() else raw.filter(pl.Series(is_closed))
        if raw.height < KLINE_LIMIT or closed.height < raw.height:
            return Page(closed, None)
        return Page(closed, int(raw["ts"].max()) + 1)  # type: ignore[arg-type]

    async def funding_rates(self, pair: str, cursor: int) -> Page:
        """Funding settled at or after ``cursor`` (``FUNDING_SCHEMA``), and where the next page starts."""
        params: dict[str, str | int] = {"symbol": pair, "startTime": cursor, "limit": FUNDING_LIMIT}
        url = f"{self._futures_url}/fapi/v1/fundingRate"
        rows = await self._fetcher.get(url, params, _FUNDING, budget=self._budgets.funding, weight=FUNDING_WEIGHT)
        frame = pl.DataFrame(
            {"ts": [row.time for row in rows], "rate": [row.rate for row in rows]}, schema=dict(FUNDING_SCHEMA)
        )
        if len(rows) < FUNDING_LIMIT:
            return Page(frame, None)
        return Page(frame, int(frame["ts"].max()) + 1)  # type: ignore[arg-type]
