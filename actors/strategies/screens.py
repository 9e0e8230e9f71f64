"""Screens: cheap, bounded approximations that tell which windows of a batch certainly do not fire a rule, so the
exact indicator (the bits ``evaluate`` computes) is only computed for the others.

**Wilder's RSI of many windows over one series.** A window's RSI smooths its own moves from its own first bar;
the RSI smoothed once along the whole series, from the batch's earliest window on, differs from it only through
the seed, and that difference shrinks by ``(1 − 1/period)`` at every bar: after a 500-bar window's 485 steps,
by 10⁻¹⁶. Exactly: each average (gains, losses) of the window and of the series is a weighted mean of moves no
larger than ``M``, the largest move in the series, so they differ by at most ``decay**steps × M``; each is also
computed with a rounding error far below ``ROUNDING × M`` (both are about 1e-13 × M). With ``δ`` the sum of the
two, and ``g``, ``l`` the series' averages, the window's RSI ``100 g' ÷ (g' + l')`` lies within
``100 δ ÷ (g + l − 2δ)`` of the series' (when ``g + l > 4δ``). A window whose series RSI is above the threshold
by more than that bound is above it exactly: no need to compute it.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

ROUNDING = 1e-9  # relative to the largest move: the allowance for both computations' rounding (each ~1e-13)
_MAX_GROWTH = 1e12  # the largest weight decay**-k inside one closed-form block (372 steps for period 14)


def wilder_averages(moves: Floats, period: int) -> Floats:
    """Wilder's average of each row of ``moves``: NaN before column ``period − 1``, the mean of the first
    ``period`` there, then ``(previous × (period − 1) + move) ÷ period``; an approximation (see ``ROUNDING``)."""
    out = np.full(moves.shape, np.nan)
    length = moves.shape[-1]
    if length < period:
        return out
    decay = 1.0 - 1.0 / period
    level = np.mean(moves[:, :period], axis=-1)[:, None]
    out[:, period - 1] = level[:, 0]
    if decay == 0.0:  # period 1: each average is its move
        out[:, period:] = moves[:, period:]
        return out
    # Within a block, y[s+k] = decay**k × (y[s] + (1 − decay) × Σ_{j=1..k} decay**-j × x[s+j]): a cumsum, whose
    # rounding error stays near k × 1e-16 × period × the largest move.
    block = max(1, min(1024, int(math.log(_MAX_GROWTH) / -math.log(decay))))
    powers = decay ** np.arange(1, block + 1, dtype=np.float64)
    for start in range(period, length, block):
        stop = min(start + block, length)
        grow = powers[: stop - start]
        smoothed = np.cumsum(moves[:, start:stop] / grow, axis=-1)
        smoothed *= 1.0 - decay
        smoothed += level
        smoothed *= grow
        out[:, start:stop] = smoothed
        level = smoothed[:, -1:]
    return out


def rsi_clears(
    close: Floats, starts: IntArray, stops: IntArray, period: int, threshold: float, margin: float
) -> npt.NDArray[np.bool_]:
    """For each window ``close[starts[i]:stops[i]]`` (each with more than ``period`` moves): True when its Wilder
    RSI of ``period`` (``indicators.wilder_rsi`` of the window, last value) is certainly at least ``threshold +
    margin``; False when it may not be (then compute it)."""
    first, end = int(starts.min()), int(stops.max())
    prices = close[first:end]
    change = np.diff(prices)
    moves = np.empty((2, len(change)))
    np.maximum(change, 0.0, out=moves[0])
    np.maximum(-change, 0.0, out=moves[1])
    averages = wilder_averages(moves, period)
    with np.errstate(invalid="ignore"):
        largest = float(np.max(np.abs(change))) if len(change) else math.nan  # NaN anywhere: NaN, nothing clears
    at = stops - first - 2  # each window's last move, among the series' moves
    gain, loss = averages[0, at], averages[1, at]
    steps = (stops - 1) - (starts + period)  # from each window's own seed to its last move
    delta = (np.power(1.0 - 1.0 / period, steps.astype(np.float64)) + ROUNDING) * largest
    total = gain + loss
    with np.errstate(divide="ignore", invalid="ignore"):
        rsi = 100.0 * gain / total
        bound = 100.0 * delta / (total - 2.0 * delta) + ROUNDING * 100.0
        clears: npt.NDArray[np.bool_] = (total > 4.0 * delta) & (rsi - bound >= threshold + margin)
    return clears


def sma_cross_possible(close: Floats, stops: IntArray, fast: int, slow: int, within: int) -> npt.NDArray[np.bool_]:
    """For each window ending at ``stops[i]`` (each holding at least ``slow + within`` closes): False when the fast
    SMA is certainly on one side of the slow one, the same side, on each of its last ``within + 1`` bars, so that
    it did not cross (``ma_crossover.crosses`` finds none); True when it may have (then compute it).

    **SMAs of many windows over one series.** A window's SMA of ``n`` is a difference of its own running sums
    (``indicators.sma``); the same difference of running sums along the whole series, from the batch's earliest
    needed close on, is the same mean of the same closes, rounded otherwise. A running sum of ``j`` values no
    larger than ``M`` is off by at most ``j × u × j × M`` (``u`` = 2⁻⁵³), so each mean is within ``(2J² + 2L²)·u·M
    ÷ n + 2u·M`` of the window's own (``J`` the series' closes, ``L`` the window's), and the difference of the two
    means within the sum of both. Where the series' difference is farther from 0 than four times that, the
    window's has the same sign."""
    first = int(stops.min()) - (slow + within)
    end = int(stops.max())
    prices = close[first:end]
    sums = np.empty(len(prices) + 1)
    sums[0] = 0.0
    np.cumsum(prices, out=sums[1:])
    bar = np.arange(slow, len(prices) + 1)  # the bars (ending before ``bar``) with a slow SMA in the series
    difference = (sums[bar] - sums[bar - fast]) / fast - (sums[bar] - sums[bar - slow]) / slow
    with np.errstate(invalid="ignore"):
        largest = float(np.max(np.abs(prices))) if len(prices) else math.nan  # NaN anywhere: nothing is certain
    count, unit = len(prices), 2.0**-53
    error = sum(
        (2.0 * count**2 + 2.0 * (n + within) ** 2) * unit * largest / n + 2.0 * unit * largest for n in (fast, slow)
    )
    with np.errstate(invalid="ignore"):
        side = np.where(difference > 4.0 * error, 1, np.where(difference < -4.0 * error, -1, 0))
    # Each window's last ``within + 1`` bars: those ending at stop − within … stop (as ``bar``), from ``slow`` on.
    sides = np.lib.stride_tricks.sliding_window_view(side, within + 1)[stops - first - within - slow]
    possible: npt.NDArray[np.bool_] = (sides == 0).any(axis=1) | (sides != sides[:, :1]).any(axis=1)
    return possible
