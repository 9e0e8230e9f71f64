"""The screens skip only windows whose exact answer they know: a window the RSI screen clears is not oversold,
and a window the SMA screen rules out has no cross, by the very functions the strategies compute.

Series: random walks with flat stretches (equal closes: moves of 0, equal averages), a NaN, a spike, and prices
from 1e-4 to 1e6, windowed as a replay's batch windows them (the last ``window`` closes at each cycle, the first
ones still filling).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest

from actors.strategies.ma_crossover import crosses
from actors.strategies.screens import rsi_clears, sma_cross_possible, wilder_averages
from b1e55ed.market.indicators import sma, wilder_rsi

Floats = npt.NDArray[np.float64]


def walk(seed: int, count: int = 900, scale: float = 100.0) -> Floats:
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0, 0.01, count)
    for start in rng.integers(0, count - 40, 5):
        steps[start : start + rng.integers(5, 40)] = 0.0  # flat: no move at all
    close = scale * np.exp(np.cumsum(steps))
    close[rng.integers(0, count)] *= 1.3  # a spike
    return close


SERIES = [
    walk(1),
    walk(2, scale=1e-4),
    walk(3, scale=1e6),
    np.full(700, 42.0),  # nothing ever moves
    np.where(np.arange(800) == 400, np.nan, walk(4, 800)),
]


def windows(close: Floats, window: int, shortest: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    stops = np.arange(shortest, len(close) + 1, dtype=np.int64)
    return np.maximum(stops - window, 0), stops


def test_wilder_averages_are_the_bar_by_bar_recursion() -> None:
    moves = np.abs(walk(5, 600)[None, :] - walk(6, 600)[None, :])
    found = wilder_averages(moves, 14)
    expected, level = np.full(600, np.nan), float(np.mean(moves[0, :14]))
    expected[13] = level
    for t in range(14, 600):
        level = (level * 13 + moves[0, t]) / 14
        expected[t] = level
    assert np.isnan(found[0, :13]).all()
    np.testing.assert_allclose(found[0, 13:], expected[13:], rtol=1e-12)


@pytest.mark.parametrize("series", range(len(SERIES)))
@pytest.mark.parametrize("threshold", [30.0, 50.0, 70.0])
def test_a_window_the_rsi_screen_clears_is_at_least_the_threshold(series: int, threshold: float) -> None:
    close = SERIES[series]
    starts, stops = windows(close, 500, 43)
    clears = rsi_clears(close, starts, stops, 14, threshold, 1e-3)
    for start, stop in zip(starts[clears].tolist(), stops[clears].tolist(), strict=True):
        assert round(float(wilder_rsi(close[start:stop], 14)[-1]), 4) >= threshold
    if series == 3:
        assert not clears.any()  # nothing moved: no average to bound the RSI by (it is 50), so computed


def test_the_rsi_screen_leaves_few_windows_in_doubt() -> None:
    close = walk(7, 3_000)
    starts, stops = windows(close, 500, 500)
    clears = rsi_clears(close, starts, stops, 14, 30.0, 1e-3)
    exact = np.array([wilder_rsi(close[a:b], 14)[-1] for a, b in zip(starts, stops, strict=True)])
    assert not clears[exact < 30.0].any()
    assert clears[exact > 30.1].all()  # beyond a tenth of a point, never in doubt


@pytest.mark.parametrize("series", range(len(SERIES)))
@pytest.mark.parametrize(("fast", "slow", "within"), [(20, 50, 1), (20, 50, 24), (5, 8, 3)])
def test_a_window_the_sma_screen_rules_out_has_no_cross(series: int, fast: int, slow: int, within: int) -> None:
    close = SERIES[series]
    _, stops = windows(close, 500, slow + within)
    possible = sma_cross_possible(close, stops, fast, slow, within)
    for stop in stops[~possible].tolist():
        tail = close[stop - (slow + within) : stop]
        fast_ma = sma(tail[-(fast + within) :], fast)[-(within + 1) :]
        slow_ma = sma(tail, slow)[-(within + 1) :]
        assert crosses(fast_ma[None, :], slow_ma[None, :]) == [None]
    if series == 3:
        assert possible.all()  # equal averages: in doubt, computed


def test_the_sma_screen_leaves_in_doubt_about_the_crosses_alone() -> None:
    close = walk(8, 3_000)
    _, stops = windows(close, 500, 74)
    possible = sma_cross_possible(close, stops, 20, 50, 24)
    found = 0
    for stop, doubt in zip(stops.tolist(), possible.tolist(), strict=True):
        tail = close[stop - 74 : stop]
        cross = crosses(sma(tail[-44:], 20)[None, -25:], sma(tail, 50)[None, -25:])[0]
        found += cross is not None
        assert doubt or cross is None
    assert found > 100
    assert possible.sum() <= found + 10  # nearly every window in doubt has a cross


def test_screens_read_nan_as_doubt() -> None:
    close = SERIES[4]
    starts, stops = windows(close, 500, 500)
    holds_nan = (starts <= 400) & (stops > 400)
    assert not rsi_clears(close, starts, stops, 14, 30.0, 1e-3)[holds_nan].any()
    assert math.isnan(float(wilder_rsi(close[starts[0] : stops[0]], 14)[-1]))
