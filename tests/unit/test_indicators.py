"""Indicators against hand-computed values, the published Wilder RSI example, and real BTC history."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from b1e55ed.market.indicators import (
    atr,
    atr_pct,
    ema,
    rate_of_change,
    realised_vol,
    sma,
    swing_lows,
    true_range,
    volume_ratio,
    wilder_rsi,
)
from b1e55ed.market.replay import load_history

NAN = np.nan

# StockCharts' RSI(14) worked example ("ChartSchool: Relative Strength Index"), closes and published RSI.
CLOSES = [
    44.3389, 44.0902, 44.1497, 43.6124, 44.3278, 44.8264, 45.0955, 45.4245, 45.8433, 46.0826, 45.8931,
    46.0328, 45.6140, 46.2820, 46.2820, 46.0028, 46.0328, 46.4116, 46.2222, 45.6439, 46.2122, 46.2521,
    45.7137, 46.4515, 45.7835, 45.3548, 44.0288, 44.1783, 44.2181, 44.5672, 43.4205, 42.6628, 43.1314,
]  # fmt: skip
PUBLISHED_RSI = [
    70.53, 66.32, 66.55, 69.41, 66.36, 57.97, 62.93, 63.26, 56.06, 62.38,
    54.71, 50.42, 39.99, 41.46, 41.87, 45.46, 37.30, 33.08, 37.77,
]  # fmt: skip


def ms(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1000)


def loop_rsi(close: npt.NDArray[np.float64], period: int) -> npt.NDArray[np.float64]:
    """Wilder's RSI bar by bar, the textbook way: the reference for the vectorised one."""
    change = np.diff(close)
    gains, losses = np.maximum(change, 0.0), np.maximum(-change, 0.0)
    out = np.full(len(close), NAN)
    gain, loss = gains[:period].mean(), losses[:period].mean()
    out[period] = 100.0 * gain / (gain + loss)  # = 100 - 100 / (1 + gain / loss), defined when loss is 0
    for i in range(period, len(change)):
        gain = (gain * (period - 1) + gains[i]) / period
        loss = (loss * (period - 1) + losses[i]) / period
        out[i + 1] = 100.0 * gain / (gain + loss)
    return out


def test_rsi_matches_the_published_wilder_example() -> None:
    rsi = wilder_rsi(CLOSES, 14)
    assert np.isnan(rsi[:14]).all()
    np.testing.assert_allclose(rsi[14:], PUBLISHED_RSI, atol=0.005)


def test_rsi_by_hand_on_a_short_series() -> None:
    # Changes +1 +1 -1 +2 -1. Averages 2/3 and 1/3, then 10/9 and 2/9, then 20/27 and 13/27.
    rsi = wilder_rsi([10.0, 11.0, 12.0, 11.0, 13.0, 12.0], period=3)
    np.testing.assert_allclose(rsi, [NAN, NAN, NAN, 100 * 2 / 3, 100 * 5 / 6, 100 * 20 / 33])


def test_rsi_limits_rising_falling_and_balanced() -> None:
    rising = wilder_rsi(np.arange(1.0, 40.0))
    assert np.isnan(rising[:14]).all()
    assert (rising[14:] == 100.0).all()
    assert (wilder_rsi(np.arange(40.0, 1.0, -1.0))[14:] == 0.0).all()
    zigzag = wilder_rsi(np.tile([10.0, 11.0], 20))  # 7 gains and 7 losses of 1 in the first 14 changes
    assert zigzag[14] == pytest.approx(50.0)
    assert (np.abs(zigzag[14:] - 50.0) < 4.0).all()
    assert (wilder_rsi(np.full(20, 5.0))[14:] == 50.0).all()  # nothing moved


def test_rsi_on_long_series_equals_the_bar_by_bar_loop() -> None:
    close = 100.0 * np.exp(np.cumsum(np.random.default_rng(1).normal(0.0, 0.01, 10_000)))
    for period in (2, 14, 50):
        np.testing.assert_allclose(wilder_rsi(close, period), loop_rsi(close, period), rtol=1e-10)


def test_sma_and_ema_basics() -> None:
    np.testing.assert_allclose(sma([1.0, 2.0, 3.0, 4.0, 5.0], 3), [NAN, NAN, 2.0, 3.0, 4.0])
    # EMA(3): alpha 0.5, seeded with the mean of the first three values (4).
    np.testing.assert_allclose(ema([2.0, 4.0, 6.0, 8.0, 12.0], 3), [NAN, NAN, 4.0, 6.0, 9.0])
    np.testing.assert_allclose(ema([1.0, 2.0], 1), [1.0, 2.0])
    assert np.isnan(sma([1.0, 2.0], 3)).all()
    with pytest.raises(ValueError, match="at least 1"):
        sma([1.0], 0)


def test_ema_on_a_long_series_equals_the_recursion() -> None:
    x = np.random.default_rng(2).normal(100.0, 5.0, 5_000)
    expected = np.full(len(x), NAN)
    expected[19] = level = x[:20].mean()
    for i in range(20, len(x)):
        level = level + 2.0 / 21.0 * (x[i] - level)
        expected[i] = level
    np.testing.assert_allclose(ema(x, 20), expected, rtol=1e-12)


def test_atr_by_hand() -> None:
    high = [10.0, 11.0, 12.0, 11.0, 13.0]
    low = [9.0, 10.0, 10.0, 9.0, 11.0]
    close = [9.5, 10.5, 11.0, 10.0, 12.0]
    # True ranges: -, 1.5 (11 - 9.5), 2 (12 - 10), 2 (11 - 9 and |9 - 11|), 3 (13 - 10).
    np.testing.assert_allclose(true_range(high, low, close), [NAN, 1.5, 2.0, 2.0, 3.0])
    first = 5.5 / 3
    second = (first * 2 + 3.0) / 3
    np.testing.assert_allclose(atr(high, low, close, period=3), [NAN, NAN, NAN, first, second])
    np.testing.assert_allclose(atr_pct(high, low, close, period=3)[-1], second / 12.0)


def test_realised_vol_rate_of_change_and_volume_ratio() -> None:
    step = 0.01
    close = 100.0 * np.exp(np.cumsum([0.0, 0.05, step, -step]))
    assert realised_vol(close, 2) == pytest.approx(step * np.sqrt(2.0))  # returns +a and -a: sample sd a * sqrt(2)
    assert np.isnan(realised_vol(close, 4))  # four closes give three returns
    assert realised_vol(100.0 * 1.01 ** np.arange(30), 10) == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(rate_of_change([100.0, 110.0, 121.0], 1), [NAN, 0.1, 0.1])
    assert volume_ratio([9.0, 1.0, 1.0, 1.0, 1.0, 4.0], 4) == 4.0
    assert np.isnan(volume_ratio([1.0, 4.0], 4))
    assert np.isnan(volume_ratio([0.0, 0.0, 5.0], 2))


def test_swing_lows_on_a_constructed_series() -> None:
    low = [5.0, 4.0, 3.0, 2.0, 3.0, 4.0, 5.0, 4.0, 3.0, 1.0, 3.0, 4.0, 5.0, 6.0]
    np.testing.assert_array_equal(swing_lows(low, left=3, right=3), [3, 9])
    assert len(swing_lows([5.0, 4.0, 2.0, 2.0, 4.0, 5.0, 6.0], 2, 2)) == 0  # a flat double bottom
    assert len(swing_lows([5.0, 4.0, 3.0, 2.0, 1.0], 2, 2)) == 0  # not yet confirmed by later bars
    np.testing.assert_array_equal(swing_lows([3.0, 1.0, 3.0], 1, 1), [1])


@pytest.mark.shared_data
def test_btc_rsi_is_bounded_and_oversold_in_the_covid_crash(shared_data: Path) -> None:
    btc = load_history(shared_data / "ohlcv_1h", ["BTC"], end_ms=ms("2021-01-01")).bars["BTC"]
    rsi = wilder_rsi(btc.close)
    assert float(np.nanmin(rsi)) >= 0.0
    assert float(np.nanmax(rsi)) <= 100.0
    crash = (btc.ts >= ms("2020-03-12")) & (btc.ts < ms("2020-03-14"))
    assert float(np.nanmin(rsi[crash])) < 20.0
