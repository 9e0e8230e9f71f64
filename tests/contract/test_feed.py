"""One contract, every feed: a replay of history, the seeded simulation, and Hyperliquid's candles (on a fake of its
info API). What the brain relies on: batches in strictly increasing close time, each bar closing at its batch's
time, one bar per symbol, prices that make a candle, and a source it can name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import get_args

import httpx
import numpy as np
import pytest
import trio.testing

from b1e55ed.hyperliquid.info import InfoClient
from b1e55ed.market.bars import BarArrays
from b1e55ed.market.feed import CloseBatch, Feed
from b1e55ed.market.hyperliquid import HyperliquidFeed
from b1e55ed.market.replay import ReplayData, ReplayFeed, ReplayReport
from b1e55ed.market.sim import SimFeed, SimMarket
from b1e55ed.messages import MarketSource
from tests.fakes.hyperliquid_info import FakeHyperliquidInfo, TrioClock, make_bars

HOUR = 3_600_000
ALIGNED = 1_700_002_800_000  # a whole hour (UTC)
TAKE = 40


def replay_data() -> ReplayData:
    rng = np.random.default_rng(6)
    bars = {}
    for offset, symbol in enumerate(("BTC", "ETH")):
        count = 60 - 10 * offset  # ETH starts later: absent from the first batches
        close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, count)))
        opened = np.concatenate(([close[0]], close[:-1]))
        ts = ALIGNED + HOUR * np.arange(60 - count, 60)
        high, low = np.maximum(opened, close) * 1.002, np.minimum(opened, close) * 0.998
        bars[symbol] = BarArrays(ts.astype(np.int64), opened, high, low, close, np.full(count, 10.0))
    return ReplayData(bars=bars, timeframe_ms=HOUR, report=ReplayReport())


@pytest.fixture(params=["replay", "simulation", "hyperliquid"])
async def feed(request: pytest.FixtureRequest) -> AsyncIterator[Feed]:
    if request.param == "replay":
        yield ReplayFeed(replay_data())
    elif request.param == "simulation":
        yield SimFeed(SimMarket(["BTC", "ETH", "SOL"], HOUR, seed=3, start_ms=ALIGNED), bars=TAKE)
    else:
        clock = TrioClock(ALIGNED + HOUR // 2)
        fake = FakeHyperliquidInfo(now_ms=clock.now_ms)
        for offset, coin in enumerate(("BTC", "ETH")):
            fake.add_bars(coin, "1h", make_bars(ALIGNED - 30 * HOUR, 60, HOUR, base=100.0 * (offset + 1)))
        async with httpx.AsyncClient(transport=fake.transport()) as http:
            yield HyperliquidFeed(InfoClient(http), ["BTC", "ETH"], "1h", clock, history_bars=20)


async def first_batches(feed: Feed) -> list[CloseBatch]:
    batches = []
    async with aclosing(feed.closes()) as closes:  # type: ignore[type-var]
        async for batch in closes:
            batches.append(batch)
            if len(batches) == TAKE:
                break
    return batches


async def test_batches_come_in_increasing_close_time_each_bar_closing_then(
    feed: Feed, autojump_clock: trio.testing.MockClock
) -> None:
    assert feed.source in get_args(MarketSource)
    batches = await first_batches(feed)
    assert len(batches) >= 20
    closes = [batch.close_ts for batch in batches]
    assert closes == sorted(set(closes))  # strictly increasing
    for batch in batches:
        assert batch.bars, "an empty batch"
        for bar in batch.bars.values():
            assert bar.ts + HOUR == batch.close_ts
            assert bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high
            assert bar.volume >= 0


async def test_every_symbol_keeps_its_own_time_order(feed: Feed, autojump_clock: trio.testing.MockClock) -> None:
    last: dict[str, int] = {}
    for batch in await first_batches(feed):
        for symbol, bar in batch.bars.items():
            assert bar.ts > last.get(symbol, -1)
            last[symbol] = bar.ts
    assert len(last) >= 2
