"""The row functions give, bit for bit, what the per-window functions give on each row's window.

A replay computes indicators over a batch's windows stacked as rows; a live run computes them one window at a time.
The chain is the same only if every float is, so these tests compare bytes (``tobytes``), not ``allclose``: over
thousands of real Binance windows (the first weeks of a history, shorter than 500 bars, and the 34-hour outage of
2018-02 included) and over synthetic ones with flat stretches, silent volume and jumps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl
import pytest

from b1e55ed.market import indicators as ind
from b1e55ed.market import window_indicators as wind
from b1e55ed.market.windows import stack

Floats = npt.NDArray[np.float64]
Columns = dict[str, Floats]
WINDOW = 500


def assert_same_bits(batch: Floats, per_window: Sequence[float] | Sequence[Floats]) -> None:
    expected = np.array(per_window, dtype=np.float64)
    assert batch.shape == expected.shape
    differ = np.flatnonzero(batch.view(np.int64) != expected.view(np.int64))
    assert batch.tobytes() == expected.tobytes(), f"{len(differ)} values differ, first at {differ[:5]}"


@cache
def real_columns(data: Path, symbol: str) -> Columns:
    frame = pl.read_parquet(data / "ohlcv_1h" / f"{symbol}USDT.parquet")
    return {name: frame[name].to_numpy() for name in ("high", "low", "close", "volume")}


def synthetic_columns(seed: int, bars: int = 1_300) -> Columns:
    """A random walk with flat stretches (no move at all), silent hours (volume 0) and a few jumps."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0, 0.01, bars)
    steps[rng.random(bars) < 0.02] *= 15.0  # jumps
    for start in rng.integers(0, bars - 60, 12):
        steps[start : start + rng.integers(5, 60)] = 0.0  # flat
    close = 100.0 * np.exp(np.cumsum(steps))
    spread = np.abs(rng.normal(0.0, 0.004, bars)) * close
    spread[steps == 0.0] = 0.0
    volume = rng.gamma(2.0, 50.0, bars)
    volume[rng.random(bars) < 0.05] = 0.0
    for start in rng.integers(0, bars - 40, 4):
        volume[start : start + 30] = 0.0  # a silent baseline
    return {"high": close + spread, "low": close - spread, "close": close, "volume": volume}


def windows(columns: Columns, name: str, length: int, ends: range) -> list[Floats]:
    """Windows of ``length`` bars ending at each of ``ends`` (exclusive), as views, as a BarsView gives them."""
    return [columns[name][end - length : end] for end in ends]


def stacked(columns: Columns, name: str, length: int, ends: range) -> Floats:
    rows = stack(windows(columns, name, length, ends))
    assert rows is not None
    return rows


# Real: the first 1,200 full windows of each history (BTC's and ETH's hold the 34-hour outage of 2018-02), a
# stretch of 2024, and short windows (the first cycles of a history, and the indicators' edge lengths).
REAL_CASES = [
    pytest.param(symbol, length, first, count, id=f"{symbol}-{length}bars-from-{first}")
    for symbol in ("BTC", "ETH", "SOL")
    for length, first, count in ((WINDOW, WINDOW, 1_200), (WINDOW, 30_000, 500), (15, 15, 600), (21, 21, 600))
] + [pytest.param("BTC", length, length, 300, id=f"BTC-{length}bars") for length in (1, 2, 14, 16, 22, 60, 199)]


def check_every_row_function(columns: Columns, length: int, ends: range) -> None:
    high, low, close, volume = (stacked(columns, name, length, ends) for name in ("high", "low", "close", "volume"))
    closes, highs, lows = (windows(columns, name, length, ends) for name in ("close", "high", "low"))
    volumes = windows(columns, "volume", length, ends)
    starts = np.array([end - length for end in ends], dtype=np.int64)
    for period in (1, 2, 14):
        rsi = [ind.wilder_rsi(c, period)[-1] for c in closes]
        assert_same_bits(ind.wilder_rsi_latest(close, period), rsi)
        one_by_one = [ind.atr_pct(h, lo, c, period)[-1] for h, lo, c in zip(highs, lows, closes, strict=True)]
        assert_same_bits(ind.atr_pct_latest(high, low, close, period), one_by_one)
        series = (columns["high"], columns["low"], columns["close"])
        for every in (1, 3):  # windows on consecutive bars (one sliding view), and not (gathered)
            chosen = starts[::every]
            assert_same_bits(wind.wilder_rsi_windows(columns["close"], chosen, length, period), rsi[::every])
            assert_same_bits(wind.atr_pct_windows(*series, chosen, length, period), one_by_one[::every])
    for n in (1, 20, 50):
        assert_same_bits(ind.sma_rows(close, n), [ind.sma(c, n) for c in closes])
        assert_same_bits(ind.ema_rows(close, n), [ind.ema(c, n) for c in closes])
        assert_same_bits(ind.volume_ratio_rows(volume, n), [ind.volume_ratio(v, n) for v in volumes])
    for n in (2, 20):
        assert_same_bits(ind.realised_vol_rows(close, n), [ind.realised_vol(c, n) for c in closes])


@pytest.mark.slow
@pytest.mark.shared_data
@pytest.mark.parametrize(("symbol", "length", "first", "count"), REAL_CASES)
def test_every_row_function_matches_its_window_function_bit_for_bit_on_real_candles(
    shared_data: Path, symbol: str, length: int, first: int, count: int
) -> None:
    check_every_row_function(real_columns(shared_data, symbol), length, range(first, first + count))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("length", [15, 21, 200, WINDOW])
def test_every_row_function_matches_its_window_function_bit_for_bit_on_synthetic_candles(
    seed: int, length: int
) -> None:
    check_every_row_function(synthetic_columns(seed), length, range(length, 1_300))


def test_flat_windows_give_rsi_50_and_silent_ones_no_volume_ratio_as_one_by_one() -> None:
    flat = np.full((3, 60), 42.0)
    assert_same_bits(ind.wilder_rsi_latest(flat), [50.0] * 3)
    assert_same_bits(ind.volume_ratio_rows(np.zeros((2, 30))), [ind.volume_ratio(np.zeros(30))] * 2)


def test_more_windows_than_one_chunk_give_what_each_gives_alone() -> None:
    columns = synthetic_columns(4)
    close = stacked(columns, "close", WINDOW, range(WINDOW, 1_300))  # 800 rows: three chunks of 256 and a rest
    whole: Callable[[Floats], Floats] = ind.wilder_rsi_latest
    assert_same_bits(whole(close), [v for row in close for v in whole(row[None, :])])


def test_windows_stored_column_by_column_give_the_same_bits_as_rows() -> None:
    columns = synthetic_columns(5)
    close = stacked(columns, "close", 60, range(60, 400))
    by_column = np.asfortranarray(close)
    for row_function in (ind.wilder_rsi_latest, lambda x: ind.realised_vol_rows(x, 20), ind.volume_ratio_rows):
        assert_same_bits(row_function(by_column), list(row_function(close)))
    assert_same_bits(ind.ema_rows(by_column, 20), list(ind.ema_rows(close, 20)))


def test_row_functions_refuse_a_single_window() -> None:
    with pytest.raises(ValueError, match="2-D"):
        ind.wilder_rsi_latest(np.ones(50))


# -- stacking ---------------------------------------------------------------------------------------------------


def test_windows_of_one_length_stack_into_a_contiguous_copy() -> None:
    source = np.arange(10.0)
    rows = stack([source[0:4], source[1:5], source[2:6]])
    assert rows is not None
    assert rows.flags.c_contiguous
    assert rows.tolist() == [[0, 1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 5]]
    rows[0, 0] = 99.0
    assert source[0] == 0.0


def test_windows_of_unequal_length_do_not_stack_unless_only_their_tails_are_asked_for() -> None:
    source = np.arange(10.0)
    assert stack([source[0:4], source[0:5]]) is None
    tails = stack([source[0:4], source[0:5]], last=3)
    assert tails is not None
    assert tails.tolist() == [[1, 2, 3], [2, 3, 4]]


def test_a_tail_longer_than_a_window_or_no_window_at_all_does_not_stack() -> None:
    source = np.arange(10.0)
    assert stack([source[0:4], source[0:2]], last=3) is None
    assert stack([]) is None


@pytest.mark.parametrize("count", [1, 2, 3])
def test_a_few_windows_over_one_series_give_what_each_gives_alone(count: int) -> None:
    columns = synthetic_columns(6)
    series = ("high", "low", "close")
    starts = np.arange(700, 700 + count, dtype=np.int64)
    high, low, close = (windows(columns, name, WINDOW, range(700 + WINDOW, 700 + WINDOW + count)) for name in series)
    rsi = [ind.wilder_rsi(c)[-1] for c in close]
    atr = [ind.atr_pct(h, lo, c)[-1] for h, lo, c in zip(high, low, close, strict=True)]
    assert_same_bits(wind.wilder_rsi_windows(columns["close"], starts, WINDOW), rsi)
    assert_same_bits(wind.atr_pct_windows(columns["high"], columns["low"], columns["close"], starts, WINDOW), atr)


def test_more_windows_over_one_series_than_one_chunk_give_what_each_gives_alone() -> None:
    columns = synthetic_columns(7, bars=2_400)
    starts = np.arange(0, 2_400 - 60, dtype=np.int64)  # more than a chunk of windows
    closes = [columns["close"][start : start + 60] for start in starts.tolist()]
    assert_same_bits(wind.wilder_rsi_windows(columns["close"], starts, 60), [ind.wilder_rsi(c)[-1] for c in closes])
