"""Where karma's virtual positions exit within a span's bars, and the uniqueness weight each exit earns.

The span's bars of every symbol are laid end to end (``Bars``), so every position of every symbol is checked in
the same few numpy passes; ``Matured`` puts each exit together with its position's columns.

**Exits.** A position checks the ``horizon_bars`` bars after it opened as the paper venue checks a stop and a
target: the stop first (both inside one bar is a loss), a bar that opens beyond a level fills at its open; after
``horizon_bars`` bars without either, a timeout at the close. The first bar whose low reaches the level below a
position, and the first whose high reaches the level above, are found by binary lifting over tables of running
minima: ``log₂ bars`` passes over the positions, not a positions × horizon grid.

**Weights.** An exit weighs the mean, over the bars of its life, of 1 ÷ the positions of its source and symbol
alive in the bar, the sum exact as ``math.fsum`` gives it: each 1/k is a whole multiple of a power of two, so
its prefix sums are kept in integers (two int64 words) and each life's sum is rounded once, from the exact value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from b1e55ed.karma.positions import BoolArray, FloatArray, IntArray, Positions
from b1e55ed.market.bars import BarsView

LOSS, WIN, TIMEOUT = 0, 1, 2  # ``Exits.result``
_TIME_BITS = 44  # times in ms below 2**44 (the year 2527): a symbol's number shifted past them keeps them apart
_TIME_LIMIT = 1 << _TIME_BITS


class Bars(NamedTuple):
    """Bars of several symbols end to end: symbol ``k``'s are rows ``offset[k]`` to ``offset[k] + length[k] - 1``.
    ``barriers``: each symbol's lows, then its highs negated, each run followed by −inf (see ``_first_at_or_below``;
    a NaN is +inf there: it reaches no level)."""

    offset: IntArray
    length: IntArray
    closes: IntArray  # when each bar closes
    open: FloatArray
    close: FloatArray
    barriers: FloatArray

    @staticmethod
    def of(views: Sequence[BarsView | None], timeframe_ms: int) -> Bars:
        """The bars of ``views`` (one for each symbol number; None for a symbol without bars)."""
        present = [view for view in views if view is not None]
        length = np.array([0 if view is None else len(view) for view in views], dtype=np.int64)
        edge, none = np.full(1, -np.inf), np.zeros(0)
        runs = [(none, none) if view is None else (view.low, -view.high) for view in views]
        barriers = np.concatenate([none, *(part for low, high in runs for part in (low, edge, high, edge))])
        return Bars(
            np.cumsum(length) - length,
            length,
            np.concatenate([np.zeros(0, dtype=np.int64), *(view.ts + timeframe_ms for view in present)]),
            np.concatenate([np.zeros(0), *(view.open for view in present)]),
            np.concatenate([np.zeros(0), *(view.close for view in present)]),
            np.where(np.isnan(barriers), np.inf, barriers),
        )

    def after(self, symbol: IntArray, times: IntArray) -> IntArray:
        """For each time, the index among its symbol's bars of the first that closes after it."""
        if not len(times):
            return np.zeros(0, dtype=np.int64)
        if (
            len(self.closes)
            and int(times.min()) >= 0
            and int(times.max()) < _TIME_LIMIT
            and int(self.closes.min()) >= 0
            and int(self.closes.max()) < _TIME_LIMIT
        ):
            # One search for all symbols: each symbol's close times (increasing) shifted past the one's before.
            keys = self.closes + (np.repeat(np.arange(len(self.length), dtype=np.int64), self.length) << _TIME_BITS)
            found: IntArray = np.searchsorted(keys, times + (symbol << _TIME_BITS), side="right") - self.offset[symbol]
            return found
        index = np.zeros(len(times), dtype=np.int64)
        for number, (start, count) in enumerate(zip(self.offset.tolist(), self.length.tolist(), strict=True)):
            mine = symbol == number
            index[mine] = np.searchsorted(self.closes[start : start + count], times[mine], side="right")
        return index


class Exits(NamedTuple):
    """The positions that exit within the bars (their rows, ascending), and how."""

    rows: IntArray
    closed: IntArray  # the close time of the bar it ended in
    first: IntArray  # the index among its symbol's bars of the first bar of its life
    last: IntArray  # and of the bar it ended in
    price: FloatArray
    result: IntArray  # LOSS, WIN or TIMEOUT


class Lives(NamedTuple):
    """Positions resolved before: their symbol and source numbers, when they opened, and when they closed."""

    symbol: IntArray
    source: IntArray
    opened: IntArray
    closed: IntArray

    @staticmethod
    def join(parts: Sequence[Lives]) -> Lives:
        return Lives._make(np.concatenate(column) for column in zip(*parts, strict=True))

    def take(self, rows: IntArray) -> Lives:
        return Lives._make(column[rows] for column in self)


class Matured(NamedTuple):
    """Exits with their positions' columns: the outcomes' fields, one row each (``row``: the position's)."""

    row: IntArray
    symbol: IntArray
    source: IntArray
    long: BoolArray
    conviction: IntArray
    opened: IntArray
    entry: FloatArray
    closed: IntArray
    price: FloatArray
    bars: IntArray
    result: IntArray
    weight: FloatArray

    @staticmethod
    def of(held: Positions, exits: Exits, weights: FloatArray) -> Matured:
        rows = exits.rows
        columns = (held.symbol, held.source, held.long, held.conviction, held.opened, held.entry)
        bars = exits.last - exits.first + 1
        return Matured._make(
            (rows, *(column[rows] for column in columns), exits.closed, exits.price, bars, exits.result, weights)
        )

    def take(self, order: IntArray) -> Matured:
        return Matured._make(column[order] for column in self)


def find_exits(positions: Positions, first: IntArray, bars: Bars, horizon: int) -> Exits:
    """The positions that exit within ``bars``, and how; ``first``: each one's first bar (``Bars.after``)."""
    symbol = positions.symbol
    count, offset = bars.length[symbol], bars.offset[symbol]  # its symbol's bars
    end = np.minimum(first + (horizon - 1), count - 1)  # the last bar each one checks here
    lows = 2 * offset + 2 * symbol  # where its symbol's lows begin in the barriers; its highs after count + 1
    long = positions.long
    below = np.where(long, positions.stop, positions.target)  # reached by a low at or below it
    above = np.where(long, positions.target, positions.stop)  # by a high at or above it: -high at or below -above
    starts = np.concatenate([lows + first, lows + count + 1 + first])
    crossed = _first_at_or_below(
        bars.barriers, starts, np.concatenate([below, -above]), int(np.max(bars.length, initial=0))
    )
    down, up = crossed[: len(first)] - lows, crossed[len(first) :] - (lows + count + 1)
    stop_at, target_at = np.where(long, down, up), np.where(long, up, down)
    index = np.minimum(stop_at, target_at)
    ended = index <= end
    stopped = ended & (stop_at <= target_at)  # the stop first, or both in one bar
    timed = ~ended & (first + (horizon - 1) <= count - 1)
    chosen = np.flatnonzero(ended | timed)
    index = np.where(ended, index, first + (horizon - 1))[chosen]
    ended, stopped, long = ended[chosen], stopped[chosen], long[chosen]
    reached = ended & ~stopped
    bar = offset[chosen] + index
    level = np.where(stopped, positions.stop[chosen], positions.target[chosen])
    bar_open = bars.open[bar]
    # Beyond the level at the open: a stop fills there (worse), a target too (better).
    beyond = np.where(long == stopped, bar_open <= level, bar_open >= level)
    price = np.where(ended, np.where(beyond, bar_open, level), bars.close[bar])
    result = np.where(stopped, LOSS, np.where(reached, WIN, TIMEOUT))
    return Exits(chosen, bars.closes[bar], first[chosen], index, price, result)


def _first_at_or_below(series: FloatArray, starts: IntArray, levels: FloatArray, longest: int) -> IntArray:
    """For each ``i``, the first index from ``starts[i]`` on where ``series`` is at or below ``levels[i]`` (a
    number). Every start must have a −inf after it, at most ``longest`` values on.

    ``minima[k][j]`` is the least of the ``2**k`` values from ``j`` (−inf past the end); from the largest ``k``
    down, each search skips the next ``2**k`` values when none reaches its level. No search skips a −inf, so the
    ``k`` go up to the longest run of values between two."""
    minima = np.full((max(1, longest.bit_length()), len(series)), -np.inf)
    minima[0] = series
    for k in range(1, len(minima)):
        half = 2 ** (k - 1)
        np.minimum(minima[k - 1, :-half], minima[k - 1, half:], out=minima[k, :-half])
    at = starts.copy()
    for k in reversed(range(len(minima))):
        np.add(at, 2**k, out=at, where=minima[k, at] > levels)
    return at


def uniqueness(positions: Positions, first: IntArray, exits: Exits, lives: Lives, bars: Bars) -> FloatArray:
    """For each exit: the mean over the bars of its life of 1 ÷ the positions of its source and symbol alive in
    the bar: of ``lives``, and of ``positions``, itself included. Exact sums, so the weight does not depend on where
    the bars start.

    One count per symbol, source and bar, end to end (symbol ``k``'s sources from ``sources × offset[k]``, each
    ``length[k]`` long): a position alive from bar ``a`` up to, not including, ``b`` adds 1 at ``a`` and takes 1
    away at ``b``, and a running sum gives the count."""
    sources = int(max(np.max(positions.source, initial=0), np.max(lives.source, initial=0))) + 1
    ends = bars.length[positions.symbol]  # past the last bar, for those still open
    ends[exits.rows] = exits.last + 1
    symbol = np.concatenate([positions.symbol, lives.symbol])
    source = np.concatenate([positions.source, lives.source])
    base = sources * bars.offset[symbol] + source * bars.length[symbol]
    lived = bars.after(np.concatenate([lives.symbol, lives.symbol]), np.concatenate([lives.opened, lives.closed]))
    starts = np.concatenate([first, lived[: len(lives.opened)]])
    stops = np.concatenate([ends, lived[len(lives.opened) :]])
    size = sources * len(bars.closes) + 1
    alive = np.cumsum(np.bincount(base + starts, minlength=size) - np.bincount(base + stops, minlength=size))
    at = base[exits.rows]
    return mean_inverse(alive, at + exits.first, at + exits.last)


def mean_inverse(counts: IntArray, first: IntArray, last: IntArray) -> FloatArray:
    """For each ``i``: ``math.fsum(inverse[first[i] : last[i] + 1]) / (last[i] - first[i] + 1)``, where
    ``inverse`` is ``1.0 / max(count, 1)`` for each count, bit for bit."""
    inverse = 1.0 / np.maximum(counts, 1)
    lengths = last - first + 1
    # 1/k for a whole k below 2**b is a whole multiple of 2**-(52 + b): in those units each value is an integer
    # of at most 52 + b bits, split into a high and a low word, whose prefix sums int64 holds exactly.
    scale = 52 + int(np.max(counts, initial=1)).bit_length()
    low_bits = (scale + 1) // 2
    word = 2 ** max(low_bits, scale - low_bits)  # each word is at most this
    if word * len(inverse) >= 2**63 or word * int(np.max(lengths, initial=0)) >= 2**53:  # too many to sum in words
        values = inverse.tolist()
        spans = zip(first.tolist(), last.tolist(), strict=True)
        return np.array([math.fsum(values[a : b + 1]) / (b - a + 1) for a, b in spans], dtype=np.float64)
    shifted = np.ldexp(inverse, scale - low_bits)
    high = np.floor(shifted)
    low = np.ldexp(shifted - high, low_bits)
    high_sums = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(high.astype(np.int64))])
    low_sums = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(low.astype(np.int64))])
    high_sum = (high_sums[last + 1] - high_sums[first]).astype(np.float64)  # each below 2**53: exact
    low_sum = (low_sums[last + 1] - low_sums[first]).astype(np.float64)
    total = np.ldexp(high_sum, low_bits) + low_sum  # the exact sum in units, rounded once
    result: FloatArray = np.ldexp(total, -scale) / lengths
    return result
