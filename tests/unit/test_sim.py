"""The seeded synthetic market: determinism, realism where strategies need it, and the paced feed."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
import trio

from b1e55ed.clock import ManualClock
from b1e55ed.market.bars import BarArrays
from b1e55ed.market.feed import CloseBatch
from b1e55ed.market.indicators import wilder_rsi
from b1e55ed.market.sim import SimFeed, SimMarket

HOUR = 3_600_000
T0 = 1_700_000_000_000 // HOUR * HOUR


def same(a: BarArrays, b: BarArrays) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a.columns(), b.columns(), strict=True))


def log_returns(arrays: BarArrays) -> npt.NDArray[np.float64]:
    return np.diff(np.log(arrays.close))


def test_the_same_seed_gives_the_same_bars_and_another_seed_others() -> None:
    first = SimMarket(["BTC", "ETH"], HOUR, seed=7, start_ms=T0).bars(500)
    again = SimMarket(["BTC", "ETH"], HOUR, seed=7, start_ms=T0).bars(500)
    other = SimMarket(["BTC", "ETH"], HOUR, seed=8, start_ms=T0).bars(500)
    assert all(same(first[s], again[s]) for s in ("BTC", "ETH"))
    assert not np.array_equal(first["BTC"].close, other["BTC"].close)


def test_adding_a_symbol_leaves_the_others_paths_unchanged() -> None:
    alone = SimMarket(["BTC"], HOUR, seed=3, start_ms=T0).bars(1000)
    crowd = SimMarket(["SOL", "BTC", "DOGE"], HOUR, seed=3, start_ms=T0).bars(1000)
    assert same(alone["BTC"], crowd["BTC"])


def test_bars_in_chunks_equal_bars_at_once() -> None:
    market = SimMarket(["BTC", "ETH"], HOUR, seed=11, start_ms=T0)
    paths = market.paths()
    parts = [paths.next(n, T0)["ETH"].close for n in (1, 99, 300, 600)]
    np.testing.assert_array_equal(np.concatenate(parts), market.bars(1000)["ETH"].close)


def test_candles_are_consistent_and_timed_on_the_grid() -> None:
    bars = SimMarket(["BTC", "ETH", "SOL"], HOUR, seed=1, start_ms=T0, start_prices={"SOL": 20.0}).bars(3000)
    for arrays in bars.values():
        assert bool(np.all(arrays.low <= np.minimum(arrays.open, arrays.close)))
        assert bool(np.all(arrays.high >= np.maximum(arrays.open, arrays.close)))
        assert bool(np.all(arrays.low > 0))
        assert bool(np.all(arrays.volume > 0))
        np.testing.assert_array_equal(arrays.open[1:], arrays.close[:-1])
        np.testing.assert_array_equal(arrays.ts, T0 + HOUR * np.arange(3000))
    assert bars["SOL"].open[0] == 20.0
    assert bars["BTC"].open[0] == 40_000.0


def test_returns_have_fat_tails_and_volatility_clusters() -> None:
    for symbol, arrays in SimMarket(["BTC", "ETH"], HOUR, seed=5, start_ms=T0).bars(5000).items():
        r = log_returns(arrays)
        centred = r - r.mean()
        kurtosis = float(np.mean(centred**4) / np.mean(centred**2) ** 2)
        size = np.abs(r)
        clustering = float(np.corrcoef(size[1:], size[:-1])[0, 1])
        assert kurtosis > 3.0, symbol
        assert clustering > 0.05, symbol


def test_volume_rises_with_the_size_of_the_move() -> None:
    arrays = SimMarket(["BTC"], HOUR, seed=9, start_ms=T0).bars(5000)["BTC"]
    move = np.abs(np.log(arrays.close / arrays.open))
    assert float(np.corrcoef(move, np.log(arrays.volume))[0, 1]) > 0.1


def test_rsi_reaches_both_extremes_so_strategies_have_something_to_trade() -> None:
    rsi = wilder_rsi(SimMarket(["BTC"], HOUR, seed=2, start_ms=T0).bars(3000)["BTC"].close)
    assert float(np.nanmin(rsi)) < 30.0
    assert float(np.nanmax(rsi)) > 70.0


def test_a_market_needs_distinct_symbols() -> None:
    with pytest.raises(ValueError, match="distinct symbols"):
        SimMarket(["BTC", "BTC"], HOUR, seed=1, start_ms=T0)


async def test_max_pace_feed_yields_the_market_path_batch_by_batch() -> None:
    market = SimMarket(["BTC", "ETH"], HOUR, seed=4, start_ms=T0)
    feed = SimFeed(market, bars=600, pace="max")
    assert feed.source == "simulated"
    batches: list[CloseBatch] = [batch async for batch in feed.closes()]
    assert [b.close_ts for b in batches] == [T0 + (i + 1) * HOUR for i in range(600)]
    expected = market.bars(600)["ETH"]
    np.testing.assert_array_equal([b.bars["ETH"].close for b in batches], expected.close)
    assert batches[-1].bars["ETH"] == expected.bar(599)


async def test_history_is_a_warm_up_ending_at_start_and_live_bars_continue_the_path() -> None:
    market = SimMarket(["BTC"], HOUR, seed=6, start_ms=T0)
    feed = SimFeed(market, bars=3, pace="max", clock=ManualClock(0))  # max pace: timed from the market's start
    assert feed.start_ms == T0
    warm_up = feed.history(100)["BTC"]
    assert int(warm_up.ts[-1]) + HOUR == T0
    live = [batch.bars["BTC"] async for batch in feed.closes()]
    assert live[0].ts == T0
    whole = market.bars(103)["BTC"]
    np.testing.assert_array_equal([bar.close for bar in live], whole.close[100:])
    with pytest.raises(RuntimeError, match="before closes"):
        feed.history(10)


async def test_wall_pace_closes_each_bar_in_real_time(autojump_clock: trio.abc.Clock) -> None:
    clock = ManualClock(T0 + 45 * 60_000)  # the first bar closes 15 minutes from now
    feed = SimFeed(SimMarket(["BTC"], HOUR, seed=1), bars=3, pace="wall", clock=clock)
    assert feed.start_ms == T0  # the current bar opened on the hour
    start = trio.current_time()
    seen = [(batch.close_ts, round(trio.current_time() - start, 6)) async for batch in feed.closes()]
    assert seen == [(T0 + HOUR, 900.0), (T0 + 2 * HOUR, 4500.0), (T0 + 3 * HOUR, 8100.0)]


def test_wall_pace_needs_a_clock() -> None:
    with pytest.raises(ValueError, match="clock"):
        SimFeed(SimMarket(["BTC"], HOUR, seed=1), pace="wall")
