"""RSI oversold's entries for the sweep, as the strategy decides them (``actors/strategies/rsi_oversold.py``).

At each bar, over the window the strategy sees (the last ``window`` closes): Wilder's RSI of the whole window,
computed by the same functions (``wilder_rsi`` for a window still filling, ``wilder_rsi_latest`` for full ones, as
a replay's batches do), rounded to 4 decimals; below ``oversold``, the support drawn from the window's swing lows
(``swing_lows``: the lowest of the last ``swing_count``, within the last ``support_bars`` lows), and a long when the
close is at or above it and at most ``near_pct`` percent above. Conviction: 5 at the threshold plus one per whole
point below it, capped at 10. The strategy considers a window once it has ``max(3 × rsi_period + 1,
support_bars)`` bars.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from b1e55ed.market.indicators import swing_lows, wilder_rsi, wilder_rsi_latest

if TYPE_CHECKING:
    from b1e55ed.sweep.run import Candles

RSI_DECIMALS = 4  # the strategy's
EPSILON = 1e-9  # the strategy's, for the conviction's floor
ROWS = 2048  # full windows whose RSI is computed together

Floats = npt.NDArray[np.float64]


def window_rsi(close: Floats, period: int, window: int) -> Floats:
    """The raw RSI of each bar's window (NaN before ``period`` changes)."""
    out = np.full(len(close), np.nan)
    for i in range(min(window - 1, len(close))):  # windows still filling: each its own length
        if i >= period:
            out[i] = wilder_rsi(close[: i + 1], period)[-1]
    if len(close) >= window:
        full = sliding_window_view(close, window)
        for start in range(0, len(full), ROWS):
            out[window - 1 + start : window - 1 + start + ROWS] = wilder_rsi_latest(full[start : start + ROWS], period)
    return out


def oversold_signals(candles: Candles, rsi: Floats, params: Any, window: int) -> npt.NDArray[np.int8]:
    """The conviction of a long decided at each bar's close (0: none)."""
    close, low = candles.close, np.ascontiguousarray(candles.rows[2])
    minimum = max(params.rsi_period * 3 + 1, params.support_bars)
    out = np.zeros(len(close), np.int8)
    rounded = np.round(rsi, RSI_DECIMALS)  # numpy's rounding, then each candidate's again with Python's below
    for i in np.flatnonzero(rounded < params.oversold + 1e-6).tolist():
        if min(i + 1, window) < minimum:
            continue
        value = round(float(rsi[i]), RSI_DECIMALS)
        if math.isnan(value) or value >= params.oversold:
            continue
        lows = low[max(0, i + 1 - window) : i + 1][-params.support_bars :]
        found = swing_lows(lows, params.swing_bars, params.swing_bars)
        if len(found) == 0:
            continue
        recent = found[-params.swing_count :]
        support = float(lows[int(recent[lows[recent].argmin()])])
        distance = (float(close[i]) / support - 1.0) * 100.0
        if 0 <= distance <= params.near_pct:
            out[i] = min(10, 5 + math.floor(params.oversold - value + EPSILON))
    return out
