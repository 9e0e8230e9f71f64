"""Indicators of many windows of one length over one series (a replay's consecutive cycles), bit for bit what
``indicators`` gives each window alone.

A quantity of one bar (a true range, a close-to-close change) reads only that bar and the one before, so it is
computed once for the series instead of once per window that holds it. The windows' time-major steps are then
read from it where they lie: windows that start on consecutive bars are one sliding view, never copied, and each
step of the smoothing is one numpy call for every window, as the row functions smooth them.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from b1e55ed.market.indicators import (
    Floats,
    _check_period,
    _rsi_of_averages,
    _smooth_latest,
    _true_ranges,
)

Offsets = npt.NDArray[np.int64]

_CHUNK_WINDOWS = 1024  # windows smoothed together: their terms (steps x windows) stay a few MB


def wilder_rsi_windows(close: Floats, starts: Offsets, length: int, period: int = 14) -> Floats:
    """``wilder_rsi(close[w], period)[-1]`` for each window ``w = [start, start + length)`` of one series."""
    _check_period("period", period)
    first, stop = int(starts.min()), int(starts.max()) + length
    change = np.subtract(close[first + 1 : stop], close[first : stop - 1])
    moves = np.empty((2, len(change)))  # each bar's gain, then its loss
    np.maximum(change, 0.0, out=moves[0])
    np.negative(change, out=change)
    np.maximum(change, 0.0, out=moves[1])
    avg_gain, avg_loss = _wilder_windows(moves, starts - first, length - 1, period)
    return _rsi_of_averages(avg_gain, avg_loss)


def atr_pct_windows(high: Floats, low: Floats, close: Floats, starts: Offsets, length: int, period: int = 14) -> Floats:
    """``atr_pct(high[w], low[w], close[w], period)[-1]`` for each window ``w = [start, start + length)`` of one
    series."""
    _check_period("period", period)
    first, stop = int(starts.min()), int(starts.max()) + length
    ranges, _ = _true_ranges(high[first + 1 : stop], low[first + 1 : stop], close[first : stop - 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        latest: Floats = _wilder_windows(ranges, starts - first, length - 1, period) / close[starts + length - 1]
    return latest


def _wilder_windows(per_bar: Floats, offsets: Offsets, steps: int, period: int) -> Floats:
    """The last value of ``_wilder(per_bar[..., offset : offset + steps], period, 0)`` for each offset, along the
    last axis (shape: ``per_bar``'s leading axes, then the offsets); NaN when ``steps`` is below ``period``."""
    if steps < period:
        return np.full((*per_bar.shape[:-1], len(offsets)), np.nan)
    if len(offsets) > _CHUNK_WINDOWS:
        chunks = range(0, len(offsets), _CHUNK_WINDOWS)
        return np.concatenate(
            [_wilder_windows(per_bar, offsets[i : i + _CHUNK_WINDOWS], steps, period) for i in chunks], axis=-1
        )
    # Each window's first ``period`` steps in a row of its own, averaged as ``_wilder`` averages them.
    seed: Floats = np.mean(np.ascontiguousarray(np.moveaxis(_time_major(per_bar, offsets, 0, period), 0, -1)), axis=-1)
    if steps == period:
        return seed
    return _smooth_latest(_time_major(per_bar, offsets, period, steps), 1.0 - 1.0 / period, seed, scratch=False)


def _time_major(per_bar: Floats, offsets: Offsets, begin: int, end: int) -> Floats:
    """``out[t, ..., w] = per_bar[..., offsets[w] + begin + t]`` for ``t`` in ``[0, end - begin)``: a read-only
    view when the offsets are consecutive, else a copy."""
    count = len(offsets)
    first = int(offsets[0])
    if count == 1 or bool(np.all(np.diff(offsets) == 1)):
        rows = per_bar[..., first + begin : first + end + count - 1]
        hankel = np.lib.stride_tricks.sliding_window_view(rows, count, axis=-1)  # [..., t, w]
        return np.moveaxis(hankel, -2, 0)
    steps = np.arange(begin, end)[:, None] + offsets[None, :]  # [t, w]
    return np.moveaxis(per_bar[..., steps], -2, 0)
