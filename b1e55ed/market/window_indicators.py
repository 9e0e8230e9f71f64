"""Indicators of many windows of one length over one series (a replay's consecutive cycles), bit for bit what
``indicators`` gives each window alone.

A quantity of one bar (a true range, a close-to-close change) reads only that bar and the one before, so it is
computed once for the series instead of once per window that holds it; the windows' time-major steps are then
gathered from it, ``_CHUNK_ROWS`` windows at a time, and smoothed as the row functions smooth them.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from b1e55ed.market.indicators import (
    _CHUNK_ROWS,
    Floats,
    _check_period,
    _rsi_of_moves,
    _true_ranges,
    _wilder_latest,
)


def wilder_rsi_windows(close: Floats, starts: npt.NDArray[np.int64], length: int, period: int = 14) -> Floats:
    """``wilder_rsi(close[w], period)[-1]`` for each window ``w = [start, start + length)`` of one series."""
    _check_period("period", period)
    first, stop = int(starts.min()), int(starts.max()) + length
    change = np.subtract(close[first + 1 : stop], close[first : stop - 1])
    gains = np.maximum(change, 0.0)
    np.negative(change, out=change)
    losses = np.maximum(change, 0.0, out=change)
    latest = []
    for chunk in _chunks(starts - first):
        count = len(chunk)
        moves = np.empty((length - 1, 2 * count))
        _gather(gains, chunk, moves[:, :count])
        _gather(losses, chunk, moves[:, count:])
        latest.append(_rsi_of_moves(moves, period))
    return np.concatenate(latest)


def atr_pct_windows(
    high: Floats, low: Floats, close: Floats, starts: npt.NDArray[np.int64], length: int, period: int = 14
) -> Floats:
    """``atr_pct(high[w], low[w], close[w], period)[-1]`` for each window ``w = [start, start + length)`` of one
    series."""
    _check_period("period", period)
    first, stop = int(starts.min()), int(starts.max()) + length
    ranges, _ = _true_ranges(high[first + 1 : stop], low[first + 1 : stop], close[first : stop - 1])
    latest = []
    for chunk in _chunks(starts - first):
        steps = np.empty((length - 1, len(chunk)))
        _gather(ranges, chunk, steps)
        with np.errstate(divide="ignore", invalid="ignore"):
            latest.append(_wilder_latest(steps, period) / close[chunk + first + length - 1])
    return np.concatenate(latest)


def _chunks(starts: npt.NDArray[np.int64]) -> list[npt.NDArray[np.int64]]:
    return [starts[begin : begin + _CHUNK_ROWS] for begin in range(0, len(starts), _CHUNK_ROWS)]


def _gather(per_bar: Floats, starts: npt.NDArray[np.int64], out: Floats) -> None:
    """``out[t, w] = per_bar[starts[w] + t]``: windows that start on consecutive bars are one sliding view."""
    steps = len(out)
    if not steps:
        return
    if bool(np.all(np.diff(starts) == 1)):
        first = int(starts[0])
        views = np.lib.stride_tricks.sliding_window_view(per_bar[first : first + steps + len(starts) - 1], len(starts))
        np.copyto(out, views)
    else:
        np.copyto(out, per_bar[np.arange(steps)[:, None] + starts[None, :]])
