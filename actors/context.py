"""PCS context: a symbol's price, volume relative to its 20-bar mean, ATR% and realised volatility, per cycle.

``pcs_context`` reads one window; ``pcs_context_batch`` reads one symbol's windows over a replay's batch of
consecutive cycles at once, with exactly the same numbers (``indicators``' row functions), and builds each answer
the same way: each value rounded to 8 places as Python's ``round`` does (``rounded_like_python``, over arrays),
and left out when it is not a finite number.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

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
    values = np.column_stack(
        (
            closes[:, -1],
            volume_ratio_rows(columns.volume[tails], 20),
            realised_vol_rows(closes, 20),
            atr_pct_windows(columns.high, columns.low, columns.close, starts, length, 14),
        )
    )
    rows = rounded_like_python(values, 8).tolist()
    if np.isfinite(values).all():
        return [
            {"price": price, "volume_ratio": ratio, "realised_vol": vol, "atr_pct": atr}
            for price, ratio, vol, atr in rows
        ]
    return [
        _finite({"price": price, "volume_ratio": ratio, "realised_vol": vol, "atr_pct": atr})
        for price, ratio, vol, atr in rows
    ]


_VELTKAMP = 134_217_729.0  # 2**27 + 1: splits a double into two halves whose products are exact
_EXACT_INTEGERS = 2.0**52  # below it a double's fraction is a multiple of its ulp, and ulp <= 0.5


def rounded_like_python(values: npt.NDArray[np.float64], ndigits: int) -> npt.NDArray[np.float64]:
    """``round(x, ndigits)`` of each value, bit for bit (``0 <= ndigits <= 22``); NaN and infinities stay.

    Python rounds the exact binary value to the nearest ``k / 10**ndigits``, ties to even, and reads that decimal
    back: the double nearest to ``k / 10**ndigits``, which is what dividing ``k`` by the exact ``10.0**ndigits``
    gives. ``k`` comes from the product ``x * 10**ndigits`` taken exactly, as a double plus its rounding error
    (Dekker's two-product): the double alone can land on a tie that the exact product is not. Values whose product
    reaches 2**52 (or is not finite) go through ``round`` itself.
    """
    if not 0 <= ndigits <= 22:
        raise ValueError(f"ndigits must be 0-22 (10**ndigits exact as a double), got {ndigits}")
    scale = 10.0**ndigits
    with np.errstate(over="ignore", invalid="ignore"):
        product = values * scale
        error = _product_error(values, scale, product)
        nearest = np.rint(product)  # ties to even, as Python
        false_tie = (np.abs(product - nearest) == 0.5) & (error != 0)
    exact = np.where(false_tie, product + np.copysign(0.5, error), nearest)
    result: npt.NDArray[np.float64] = np.copysign(exact / scale, values)  # -0.0 for a small negative, as Python
    for index in np.flatnonzero(~(np.abs(product) < _EXACT_INTEGERS)).tolist():
        value = float(values.flat[index])
        result.flat[index] = round(value, ndigits) if math.isfinite(value) else value
    return result


def _product_error(a: npt.NDArray[np.float64], b: float, product: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``a * b - product``, exactly, for ``product = a * b`` (no overflow or underflow on the way)."""
    a_high, a_low = _split(a)
    b_high, b_low = _split(np.float64(b))
    error: npt.NDArray[np.float64] = ((a_high * b_high - product) + a_high * b_low + a_low * b_high) + a_low * b_low
    return error


def _split(value: npt.NDArray[np.float64] | np.float64) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    scaled = _VELTKAMP * value
    high = scaled - (scaled - value)
    return np.asarray(high), np.asarray(value - high)


def _finite(context: dict[str, float]) -> dict[str, float]:
    return {key: value for key, value in context.items() if math.isfinite(value)}


def _rounded(context: dict[str, float]) -> dict[str, float]:
    return {key: round(value, 8) for key, value in context.items() if math.isfinite(value)}
