"""PCS context: a symbol's price, volume relative to its 20-bar mean, ATR% and realised volatility, per cycle.

``pcs_context`` reads one window; ``pcs_context_batch`` reads one symbol's windows over a replay's batch of
consecutive cycles at once, with exactly the same numbers (``indicators``' row functions), and builds each answer
the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from b1e55ed.market.bars import BarsView
from b1e55ed.market.indicators import (
    atr_pct,
    atr_pct_latest,
    realised_vol,
    realised_vol_rows,
    volume_ratio,
    volume_ratio_rows,
)
from b1e55ed.market.windows import rows, stack


def pcs_context(bars: BarsView) -> dict[str, float]:
    context = {"price": float(bars.close[-1])}
    if len(bars) > 20:
        context["volume_ratio"] = float(volume_ratio(bars.volume, 20))
        context["realised_vol"] = float(realised_vol(bars.close, 20))
    if len(bars) > 14:  # Wilder's ATR(14) needs 14 true ranges, and the first bar has none
        context["atr_pct"] = float(atr_pct(bars.high, bars.low, bars.close, 14)[-1])
    return _rounded(context)


def pcs_context_batch(windows: Sequence[BarsView]) -> list[dict[str, float]]:
    """``pcs_context`` of each window; windows of one length (past the first 20 bars) are computed together."""
    closes = stack([bars.close for bars in windows])
    if closes is None or closes.shape[1] <= 20:
        return [pcs_context(bars) for bars in windows]
    highs, lows = rows([bars.high for bars in windows]), rows([bars.low for bars in windows])  # equal too
    volumes = rows([bars.volume[-21:] for bars in windows])  # all the volume ratio reads
    columns = (
        closes[:, -1].tolist(),
        volume_ratio_rows(volumes, 20).tolist(),
        realised_vol_rows(closes, 20).tolist(),
        atr_pct_latest(highs, lows, closes, 14).tolist(),
    )
    return [
        _rounded({"price": price, "volume_ratio": ratio, "realised_vol": vol, "atr_pct": atr})
        for price, ratio, vol, atr in zip(*columns, strict=True)
    ]


def _rounded(context: dict[str, float]) -> dict[str, float]:
    return {key: round(value, 8) for key, value in context.items() if math.isfinite(value)}
