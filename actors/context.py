"""PCS context: a symbol's price, volume relative to its 20-bar mean, ATR% and realised volatility, per cycle.

``pcs_context`` reads one window; ``pcs_context_batch`` reads one symbol's windows over a replay's batch of
consecutive cycles at once, with exactly the same numbers (``indicators``' row functions), and builds each answer
the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from b1e55ed.market.bars import BarsView
from b1e55ed.market.indicators import atr_pct, realised_vol, realised_vol_rows, volume_ratio, volume_ratio_rows
from b1e55ed.market.window_indicators import atr_pct_windows
from b1e55ed.market.windows import one_series


def pcs_context(bars: BarsView) -> dict[str, float]:
    context = {"price": float(bars.close[-1])}
    if len(bars) > 20:
        context["volume_ratio"] = float(volume_ratio(bars.volume, 20))
        context["realised_vol"] = float(realised_vol(bars.close, 20))
    if len(bars) > 14:  # Wilder's ATR(14) needs 14 true ranges, and the first bar has none
        context["atr_pct"] = float(atr_pct(bars.high, bars.low, bars.close, 14)[-1])
    return _rounded(context)


def pcs_context_batch(windows: Sequence[BarsView]) -> list[dict[str, float]]:
    """``pcs_context`` of each window; windows of one length (past the first 20 bars) over one series (a replay's
    consecutive cycles) are computed together, reading each window's last 21 bars and each bar's true range once."""
    shared = one_series(windows)
    if shared is None or shared.length <= 20:
        return [pcs_context(bars) for bars in windows]
    columns, starts, length = shared
    tails = (starts + length - 21)[:, None] + np.arange(21)  # each window's last 21 bars
    closes = columns.close[tails]
    values = (
        closes[:, -1].tolist(),
        volume_ratio_rows(columns.volume[tails], 20).tolist(),
        realised_vol_rows(closes, 20).tolist(),
        atr_pct_windows(columns.high, columns.low, columns.close, starts, length, 14).tolist(),
    )
    return [
        _rounded({"price": price, "volume_ratio": ratio, "realised_vol": vol, "atr_pct": atr})
        for price, ratio, vol, atr in zip(*values, strict=True)
    ]


def _rounded(context: dict[str, float]) -> dict[str, float]:
    return {key: round(value, 8) for key, value in context.items() if math.isfinite(value)}
