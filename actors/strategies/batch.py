"""A batch of cycles seen symbol by symbol: what a strategy's ``evaluate_batch`` computes its indicators over.

``batch_spans`` gives each symbol's windows across the batch, in cycle order, as numbers: each window's rows in
the series it reads (a window is a slice of its symbol's columns, ``BarsView.span``). So the last ``n`` values of
many windows are gathered in one numpy call (``Spans.last``: the same values ``windows.stack`` copies window by
window), and the answers go back to the cycles they came from. Every strategy of a replay receives the same batch
(one tuple), so the spans of the batch at hand are kept for the next strategies that ask (``PerBatch``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from b1e55ed.cycle import EnrichedCycle
from b1e55ed.market.bars import BarsView

IntArray = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

_SPAN = attrgetter("span")
_TIMEFRAME = attrgetter("timeframe_ms")

T = TypeVar("T")


class PerBatch(Generic[T]):
    """``make(cycles)``, kept for the batch at hand: every strategy of a replay receives the same batch (one
    tuple), so the next strategy that asks about it gets the same answer. Only that batch is kept (an older one
    would live on for the collector to walk); a batch that is not a tuple is not kept."""

    __slots__ = ("_kept", "_make")

    def __init__(self, make: Callable[[Sequence[EnrichedCycle]], T]) -> None:
        self._make = make
        self._kept: tuple[Sequence[EnrichedCycle], T] | None = None

    def __call__(self, cycles: Sequence[EnrichedCycle]) -> T:
        kept = self._kept
        if kept is not None and kept[0] is cycles:
            return kept[1]
        answer = self._make(cycles)
        if isinstance(cycles, tuple):
            self._kept = (cycles, answer)
        return answer


class Spans:
    """One symbol's windows in a batch, in cycle order: the position of each one's cycle in the batch, the window,
    and its rows ``[starts, stops)`` in the columns it reads (``series[which]``)."""

    __slots__ = ("cycles", "lengths", "series", "starts", "stops", "timeframes", "which", "windows")

    def __init__(self, cycles: list[int], windows: list[BarsView]) -> None:
        self.cycles = cycles
        self.windows = windows
        columns, starts, stops = zip(*map(_SPAN, windows), strict=True) if windows else ((), (), ())
        ids = np.fromiter(map(id, columns), np.int64, len(columns))
        if not len(ids) or bool((ids == ids[0]).all()):  # as a replay's batch: every window reads one buffer
            self.series = list(columns[:1])
            self.which = np.zeros(len(ids), dtype=np.int64)
        else:  # a series moved to a new buffer within the batch: the windows before read the old one
            _, first, which = np.unique(ids, return_index=True, return_inverse=True)
            order = np.argsort(first)  # numbered in the order first read
            self.series = [columns[i] for i in first[order].tolist()]
            self.which = np.argsort(order)[which.reshape(-1)].astype(np.int64)
        self.starts = np.array(starts, dtype=np.int64)
        self.stops = np.array(stops, dtype=np.int64)
        self.lengths = self.stops - self.starts
        self.timeframes = np.fromiter(map(_TIMEFRAME, windows), np.int64, len(windows))

    def __len__(self) -> int:
        return len(self.windows)

    def select(self, chosen: IntArray) -> Spans:
        """The windows at ``chosen`` (ascending positions)."""
        rows = chosen.tolist()
        subset = Spans.__new__(Spans)
        subset.cycles = [self.cycles[i] for i in rows]
        subset.windows = [self.windows[i] for i in rows]
        subset.series, subset.which = self.series, self.which[chosen]
        subset.starts, subset.stops, subset.lengths = self.starts[chosen], self.stops[chosen], self.lengths[chosen]
        subset.timeframes = self.timeframes[chosen]
        return subset

    def ends(self) -> tuple[list[int], list[float | None]]:
        """Each window's ``close_ts`` and ``last_close`` (None for an empty window, whose ``last_close`` raises)."""
        close_ts = np.zeros(len(self.windows), dtype=np.int64)
        close = np.zeros(len(self.windows))
        for number, columns in enumerate(self.series):
            mine = np.flatnonzero((self.which == number) & (self.stops > self.starts))
            last = self.stops[mine] - 1
            close_ts[mine], close[mine] = columns.ts[last] + self.timeframes[mine], columns.close[last]
        closes: list[float | None] = [*close.tolist()]
        for i in np.flatnonzero(self.stops <= self.starts).tolist():
            closes[i] = None
        return close_ts.tolist(), closes

    def last(self, column: str, count: int) -> Floats:
        """Row ``i``: the last ``count`` values of window ``i``'s ``column`` (each window holds that many), one
        C-contiguous copy: what ``windows.stack`` makes of the windows' columns."""
        if len(self.windows) and int(self.lengths.min()) < count:
            raise ValueError(f"a window holds fewer than {count} bars")
        if len(self.series) == 1:  # each row a slice of the one series: copied whole, not value by value
            values: Floats = sliding_window_view(getattr(self.series[0], column), count)[self.stops - count]
            return values
        values = np.empty((len(self.windows), count))
        for number, columns in enumerate(self.series):
            mine = self.which == number
            values[mine] = sliding_window_view(getattr(columns, column), count)[self.stops[mine] - count]
        return values

    def steps(self, column: str, count: int) -> Floats:
        """``last(column, count)`` transposed, time-major: row ``t`` holds every window's ``t``-th of its last
        ``count`` values (a C-contiguous copy), so a recursion over time runs over all windows at each step."""
        return np.ascontiguousarray(self.last(column, count).T)


def _spans(cycles: Sequence[EnrichedCycle]) -> dict[str, Spans]:
    found: dict[str, tuple[list[int], list[BarsView]]] = {}
    for index, cycle in enumerate(cycles):
        for symbol, bars in cycle.tick.market.items():
            entry = found.get(symbol)
            if entry is None:
                entry = found[symbol] = ([], [])
            entry[0].append(index)
            entry[1].append(bars)
    return {symbol: Spans(*found[symbol]) for symbol in sorted(found)}


batch_spans = PerBatch(_spans)
"""Each symbol's windows across a batch of cycles (all of them, however short), by symbol in sorted order."""


def at_least(spans: Spans, min_bars: int) -> Spans:
    """The windows of at least ``min_bars`` bars."""
    if min_bars <= 0 or (len(spans) and int(spans.lengths.min()) >= min_bars):
        return spans
    return spans.select(np.flatnonzero(spans.lengths >= min_bars))
