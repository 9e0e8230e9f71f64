"""Technical indicators as pure numpy functions: arrays in, arrays out, no state, no pandas.

Conventions. Series functions return a float64 array as long as their input, aligned with it, holding NaN where
there is not yet enough history; ``realised_vol`` and ``volume_ratio`` describe the latest bar, as a float.
Ratios are fractions, not percents (0.02 = 2%), as everywhere in b1e55ed. Wilder smoothing and EMAs are seeded
with the simple mean of their first ``period`` inputs, as in Wilder's book and TA-Lib. The recursions run
blockwise in closed form (see ``_smooth``): a few numpy passes over the input, not a Python loop per bar.

Row functions (``*_rows``, ``*_latest``) take many windows stacked as rows (a replay's batch of cycles) and give
each row exactly the bits the per-window function gives that window: live and replay compute the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
Indices = npt.NDArray[np.intp]

_MAX_BLOCK_GROWTH = 1e100  # the largest weight a^-k allowed inside one block of ``_smooth``
_CHUNK_ROWS = 256  # windows smoothed together: enough to pay for a step's numpy call, few enough to stay in cache


def _floats(x: npt.ArrayLike) -> Floats:
    array = np.asarray(x, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"expected a 1-D series, got shape {array.shape}")
    return array


def _check_period(name: str, value: int) -> None:
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")


def _smooth(x: Floats, decay: float, seed: npt.ArrayLike) -> Floats:
    """``y[t] = decay * y[t-1] + (1 - decay) * x[t]`` along the last axis, from ``y[-1] = seed``; 0 <= decay < 1.

    Within a block, ``y[s+k] = decay**k * (y[s] + (1 - decay) * sum(decay**-j * x[s+j], j = 1..k))``: a cumsum.
    Blocks are short enough that ``decay**-k`` stays finite, and the rounding error stays relative to the inputs
    (about 1e-13 on 10,000 bars against the bar-by-bar loop).
    """
    out = np.empty_like(x)
    length = x.shape[-1]
    if decay == 0.0 or length == 0:
        out[...] = x
        return out
    block = max(1, int(math.log(_MAX_BLOCK_GROWTH) / -math.log(decay)))
    powers = np.exp(np.arange(1, min(block, length) + 1, dtype=np.float64) * math.log(decay))
    level = np.asarray(seed, dtype=np.float64)[..., None]
    for start in range(0, length, block):
        stop = min(start + block, length)
        grow = powers[: stop - start]
        weighted = np.cumsum(x[..., start:stop] / grow, axis=-1)
        weighted *= 1.0 - decay
        weighted += level
        np.multiply(weighted, grow, out=out[..., start:stop])
        level = out[..., stop - 1 : stop]
    return out


def _wilder(x: Floats, period: int, first: int) -> Floats:
    """Wilder's average along the last axis of ``x[..., first:]``: the mean of the first ``period`` values,
    then ``(previous * (period - 1) + x) / period``. Aligned with ``x``: NaN before ``first + period - 1``.
    """
    out = np.full(x.shape, np.nan)
    seed_end = first + period
    if x.shape[-1] < seed_end:
        return out
    seed = np.mean(x[..., first:seed_end], axis=-1)
    out[..., seed_end - 1] = seed
    out[..., seed_end:] = _smooth(x[..., seed_end:], 1.0 - 1.0 / period, seed)
    return out


def wilder_rsi(close: npt.ArrayLike, period: int = 14) -> Floats:
    """Wilder's RSI: 100 - 100 / (1 + avg gain / avg loss), averages Wilder-smoothed over ``period`` changes.

    The first ``period`` values are NaN (``period`` changes need ``period + 1`` closes). RSI is 100 when the
    average loss is 0, and 50 when nothing moved at all (no gain, no loss).
    """
    _check_period("period", period)
    prices = _floats(close)
    moves = np.zeros((2, len(prices)))  # gains and losses; bar 0 has no change and is skipped
    change = np.diff(prices)
    np.maximum(change, 0.0, out=moves[0, 1:])
    np.maximum(-change, 0.0, out=moves[1, 1:])
    avg_gain, avg_loss = _wilder(moves, period, 1)
    total = avg_gain + avg_loss
    with np.errstate(divide="ignore", invalid="ignore"):
        rsi: Floats = 100.0 * avg_gain / total  # the same as 100 - 100 / (1 + gain / loss), and 100 when loss is 0
    rsi[total == 0] = 50.0
    return rsi


def sma(x: npt.ArrayLike, n: int) -> Floats:
    """Simple moving average of the last ``n`` values; NaN for the first ``n - 1``."""
    _check_period("n", n)
    values = _floats(x)
    out = np.full(len(values), np.nan)
    if len(values) >= n:
        sums = np.cumsum(np.concatenate(([0.0], values)))
        out[n - 1 :] = (sums[n:] - sums[:-n]) / n
    return out


def ema(x: npt.ArrayLike, n: int) -> Floats:
    """Exponential moving average with ``alpha = 2 / (n + 1)``, seeded with the SMA of the first ``n`` values."""
    _check_period("n", n)
    values = _floats(x)
    out = np.full(len(values), np.nan)
    if len(values) >= n:
        seed = np.mean(values[:n])
        out[n - 1] = seed
        out[n:] = _smooth(values[n:], 1.0 - 2.0 / (n + 1), seed)
    return out


def true_range(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike) -> Floats:
    """max(high - low, |high - previous close|, |low - previous close|); NaN for the first bar."""
    h, lo, c = _floats(high), _floats(low), _floats(close)
    previous = np.concatenate(([np.nan], c[:-1]))
    return np.maximum(h - lo, np.maximum(np.abs(h - previous), np.abs(lo - previous)))  # NaN propagates


def atr(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, period: int = 14) -> Floats:
    """Wilder's Average True Range over ``period`` true ranges; NaN for the first ``period`` bars."""
    _check_period("period", period)
    return _wilder(true_range(high, low, close), period, 1)


def atr_pct(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, period: int = 14) -> Floats:
    """ATR as a fraction of the close (0.02 = 2%)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return atr(high, low, close, period) / _floats(close)


def realised_vol(close: npt.ArrayLike, n: int) -> float:
    """Sample standard deviation of the last ``n`` log returns, per bar: not annualised.

    Multiply by sqrt(bars per year) to annualise. NaN with fewer than ``n + 1`` closes; needs n >= 2.
    """
    if n < 2:
        raise ValueError(f"n must be at least 2 for a standard deviation, got {n}")
    prices = _floats(close)
    if len(prices) <= n:
        return math.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = np.diff(np.log(prices[-n - 1 :]))
    return float(np.std(returns, ddof=1))


def rate_of_change(close: npt.ArrayLike, n: int) -> Floats:
    """close / close ``n`` bars earlier - 1, as a fraction; NaN for the first ``n`` values."""
    _check_period("n", n)
    prices = _floats(close)
    out = np.full(len(prices), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[n:] = prices[n:] / prices[:-n] - 1.0
    return out


def swing_lows(low: npt.ArrayLike, left: int = 3, right: int = 3) -> Indices:
    """Indices of lows strictly below each of the ``left`` lows before and the ``right`` lows after.

    A swing low is only known ``right`` bars later, so the last ``right`` bars never qualify: no look-ahead.
    Equal lows (a flat double bottom) do not count.
    """
    _check_period("left", left)
    _check_period("right", right)
    values = _floats(low)
    count = len(values) - left - right
    if count <= 0:
        return np.zeros(0, dtype=np.intp)
    middle = values[left : left + count]
    is_swing = np.ones(count, dtype=np.bool_)
    for offset in range(1, left + 1):
        is_swing &= middle < values[left - offset : left - offset + count]
    for offset in range(1, right + 1):
        is_swing &= middle < values[left + offset : left + offset + count]
    return np.flatnonzero(is_swing) + left


def volume_ratio(volume: npt.ArrayLike, n: int = 20) -> float:
    """The last volume divided by the mean of the ``n`` volumes before it (2.0: twice the usual volume).

    NaN with fewer than ``n + 1`` volumes, or when the previous ``n`` were all zero.
    """
    _check_period("n", n)
    values = _floats(volume)
    if len(values) <= n:
        return math.nan
    previous_mean = float(np.mean(values[-n - 1 : -1]))
    return float(values[-1]) / previous_mean if previous_mean > 0 else math.nan


# -- Rows: the same functions over many windows at once -----------------------------------------------------------
#
# A replay's batch stacks one symbol's windows as the rows of a 2-D array (``windows.stack``). Each function below
# gives, for every row, exactly the bits its per-window function gives on that window: the same operations on the
# same numbers in the same order. Element-wise arithmetic is exactly rounded wherever it runs, so only the order of
# sums needs care. ``mean`` and ``std`` reduce along the last axis, over values adjacent in memory, one whole row
# per inner loop as in the 1-D call, so numpy's pairwise summation splits each row where it splits the window. A
# cumsum is sequential: Wilder's smoothing adds its terms one time step at a time across all rows at once (a
# cumsum along each row would wait on every addition in turn). Functions named ``*_latest`` give the last value of
# their namesake's series; the others give their namesake's value (or series) for every row.


def _rows(x: npt.ArrayLike) -> Floats:
    array = np.asarray(x, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"expected windows stacked as rows (2-D), got shape {array.shape}")
    # Rows in C order: numpy reduces each row in one inner loop only when the row's values are adjacent.
    return array if array.flags.c_contiguous else np.ascontiguousarray(array)


def _row_means(x: Floats) -> Floats:
    """The mean of each column of time-major ``x``, summed as ``np.mean`` sums a window: along adjacent values."""
    means: Floats = np.mean(np.ascontiguousarray(x.T), axis=-1)
    return means


def _smooth_latest(x: Floats, decay: float, seed: Floats, *, scratch: bool) -> Floats:
    """The last value of ``_smooth`` for each column of time-major ``x`` (time along axis 0, at least one step).

    The same steps as ``_smooth`` on each column: per block, the terms ``x / decay**k`` summed in cumsum's order,
    first to last, then the closed form for the block's last value. With ``scratch``, the terms overwrite ``x``
    (a fresh array of this size costs more in page faults than the arithmetic); else ``x`` is only read (a view).
    """
    if decay == 0.0:
        return np.array(x[-1])
    length = len(x)
    block = max(1, int(math.log(_MAX_BLOCK_GROWTH) / -math.log(decay)))
    powers = np.exp(np.arange(1, min(block, length) + 1, dtype=np.float64) * math.log(decay))
    level = seed
    for start in range(0, length, block):
        stop = min(start + block, length)
        grow = powers[: stop - start].reshape((-1,) + (1,) * (x.ndim - 1))
        terms = np.divide(x[start:stop], grow, out=x[start:stop] if scratch else np.empty(x[start:stop].shape))
        total = _sum_in_order(terms)
        total *= 1.0 - decay
        total += level
        level = total * grow[-1]
    return level


def _sum_in_order(terms: Floats) -> Floats:
    """``terms`` (C-contiguous, at least one row) summed along axis 0, first row to last, as a loop adds them.

    ``np.add.reduce`` adds along a slow axis exactly so, row after row; it sums pairwise only along the fast axis
    in memory, which is where a row of one value would put it: those few go through the loop."""
    if terms[0].size > 1:
        total: Floats = np.add.reduce(terms, axis=0)
        return total
    total = terms[0].copy()
    for term in terms[1:]:
        total += term
    return total


def _wilder_latest(x: Floats, period: int) -> Floats:
    """The last value of ``_wilder(column, period, 0)`` for each column of time-major ``x`` (scratch, overwritten);
    NaN when too short."""
    if len(x) < period:
        return np.full(x.shape[1:], np.nan)
    seed = _row_means(x[:period])
    if len(x) == period:
        return seed
    return _smooth_latest(x[period:], 1.0 - 1.0 / period, seed, scratch=True)


def _in_chunks(latest: Callable[..., Floats], *columns: Floats) -> Floats:
    """``latest`` over at most ``_CHUNK_ROWS`` rows at a time: each row's answer depends on that row alone."""
    if len(columns[0]) <= _CHUNK_ROWS:
        return latest(*columns)
    starts = range(0, len(columns[0]), _CHUNK_ROWS)
    return np.concatenate([latest(*(column[i : i + _CHUNK_ROWS] for column in columns)) for i in starts])


def wilder_rsi_latest(close: npt.ArrayLike, period: int = 14) -> Floats:
    """``wilder_rsi(row, period)[-1]`` for every row of ``close``."""
    _check_period("period", period)
    return _in_chunks(lambda prices: _rsi_latest(prices, period), _rows(close))


def _rsi_latest(prices: Floats, period: int) -> Floats:
    count = len(prices)
    steps = np.ascontiguousarray(prices.T)  # time-major
    moves = np.empty((len(steps) - 1, 2 * count))  # gains, then losses; bar 0 has no change and is skipped
    change = moves[:, count:]
    np.subtract(steps[1:], steps[:-1], out=change)  # np.diff
    np.maximum(change, 0.0, out=moves[:, :count])
    np.negative(change, out=change)
    np.maximum(change, 0.0, out=change)
    return _rsi_of_moves(moves, period)


def _rsi_of_moves(moves: Floats, period: int) -> Floats:
    """The RSI of each window from its time-major gains (the first half of the columns) and losses (scratch)."""
    count = moves.shape[1] // 2
    averages = _wilder_latest(moves, period)
    return _rsi_of_averages(averages[:count], averages[count:])


def _rsi_of_averages(avg_gain: Floats, avg_loss: Floats) -> Floats:
    total = avg_gain + avg_loss
    with np.errstate(divide="ignore", invalid="ignore"):
        rsi: Floats = 100.0 * avg_gain / total
    rsi[total == 0] = 50.0
    return rsi


def sma_rows(x: npt.ArrayLike, n: int) -> Floats:
    """``sma(row, n)`` for every row of ``x``."""
    _check_period("n", n)
    values = _rows(x)
    out = np.full(values.shape, np.nan)
    if values.shape[-1] >= n:
        sums = np.cumsum(np.concatenate((np.zeros((len(values), 1)), values), axis=-1), axis=-1)
        out[:, n - 1 :] = (sums[:, n:] - sums[:, :-n]) / n
    return out


def ema_rows(x: npt.ArrayLike, n: int) -> Floats:
    """``ema(row, n)`` for every row of ``x``."""
    _check_period("n", n)
    values = _rows(x)
    out = np.full(values.shape, np.nan)
    if values.shape[-1] >= n:
        seed = np.mean(values[:, :n], axis=-1)
        out[:, n - 1] = seed
        out[:, n:] = _smooth(values[:, n:], 1.0 - 2.0 / (n + 1), seed)
    return out


def atr_pct_latest(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, period: int = 14) -> Floats:
    """``atr_pct(high_row, low_row, close_row, period)[-1]`` for every row."""
    _check_period("period", period)
    return _in_chunks(lambda h, lo, c: _atr_pct_latest(h, lo, c, period), _rows(high), _rows(low), _rows(close))


def _atr_pct_latest(high: Floats, low: Floats, close: Floats, period: int) -> Floats:
    # The first bar has no true range; Wilder skips it.
    ranges, free = _true_ranges(high[:, 1:], low[:, 1:], close[:, :-1])
    steps = free.reshape(ranges.shape[::-1])  # time-major, in memory that is free again
    np.copyto(steps, ranges.T)
    with np.errstate(divide="ignore", invalid="ignore"):
        latest: Floats = _wilder_latest(steps, period) / close[:, -1]
    return latest


def _true_ranges(high: Floats, low: Floats, previous: Floats) -> tuple[Floats, Floats]:
    """Each bar's true range, ``max(high − low, |high − previous close|, |low − previous close|)``, and a scratch
    array of the same shape that it used and is free again."""
    ranges = high - low
    up = np.subtract(high, previous)
    np.abs(up, out=up)
    down = np.subtract(low, previous)
    np.abs(down, out=down)
    np.maximum(up, down, out=up)
    np.maximum(ranges, up, out=ranges)
    return ranges, down


def realised_vol_rows(close: npt.ArrayLike, n: int) -> Floats:
    """``realised_vol(row, n)`` for every row of ``close``.

    The log writes into rows that are not adjacent in memory, so numpy calls it once per row, on exactly the
    ``n + 1`` values the 1-D function gives it in one call: a vectorised log may round by position within a call.
    """
    if n < 2:
        raise ValueError(f"n must be at least 2 for a standard deviation, got {n}")
    prices = _rows(close)
    if prices.shape[-1] <= n:
        return np.full(len(prices), np.nan)
    logs = np.empty((len(prices), n + 2))[:, : n + 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        np.log(prices[:, -n - 1 :], out=logs)
    returns = np.diff(logs, axis=-1)
    vol: Floats = np.std(returns, axis=-1, ddof=1)
    return vol


def volume_ratio_rows(volume: npt.ArrayLike, n: int = 20) -> Floats:
    """``volume_ratio(row, n)`` for every row of ``volume``."""
    _check_period("n", n)
    values = _rows(volume)
    if values.shape[-1] <= n:
        return np.full(len(values), np.nan)
    previous_mean = np.mean(values[:, -n - 1 : -1], axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio: Floats = values[:, -1] / previous_mean
    ratio[~(previous_mean > 0)] = np.nan
    return ratio
