"""Candles in columns: each symbol's history as numpy arrays, and read-only windows onto it.

A ``BarSeries`` grows by doubling, so appending a bar costs O(1) amortised. A ``BarsView`` is a window of the
last bars that had closed by a given time: numpy slices of the series' buffers, marked read-only, never copies.
Bars only ever go in after the last one, so a view taken earlier never sees its data change. Every symbol's
series together, and the market as of a time, are ``market.state``'s.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from b1e55ed.messages import Bar

Prices = npt.NDArray[np.float64]
Times = npt.NDArray[np.int64]

_INITIAL_CAPACITY = 1024
_Scalar = TypeVar("_Scalar", bound=np.generic)


@dataclass(frozen=True, slots=True)
class BarArrays:
    """Candles as columns of equal length: ``ts`` (open time, ms) and prices and volume."""

    ts: Times
    open: Prices
    high: Prices
    low: Prices
    close: Prices
    volume: Prices

    def __post_init__(self) -> None:
        lengths = {len(column) for column in (self.ts, self.open, self.high, self.low, self.close, self.volume)}
        if len(lengths) != 1:
            raise ValueError(f"bar columns differ in length: {sorted(lengths)}")

    def __len__(self) -> int:
        return len(self.ts)

    def columns(self) -> tuple[Times | Prices, ...]:
        return (self.ts, self.open, self.high, self.low, self.close, self.volume)

    def bar(self, index: int) -> Bar:
        return Bar(
            int(self.ts[index]),
            float(self.open[index]),
            float(self.high[index]),
            float(self.low[index]),
            float(self.close[index]),
            float(self.volume[index]),
        )

    def slice(self, start: int, stop: int) -> BarArrays:
        return BarArrays(
            self.ts[start:stop],
            self.open[start:stop],
            self.high[start:stop],
            self.low[start:stop],
            self.close[start:stop],
            self.volume[start:stop],
        )

    def select(self, rows: npt.NDArray[np.bool_]) -> BarArrays:
        """A copy holding the rows where ``rows`` is True."""
        return BarArrays(
            self.ts[rows], self.open[rows], self.high[rows], self.low[rows], self.close[rows], self.volume[rows]
        )

    def to_bars(self) -> list[Bar]:
        return list(itertools.starmap(Bar, zip(*(column.tolist() for column in self.columns()), strict=True)))

    def read_only(self) -> BarArrays:
        """The same columns as read-only views (itself when they are already): a slice of one is read-only too."""
        if not any(column.flags.writeable for column in self.columns()):
            return self
        ro = _read_only_view
        return BarArrays(ro(self.ts), ro(self.open), ro(self.high), ro(self.low), ro(self.close), ro(self.volume))


def _read_only_view(array: npt.NDArray[_Scalar]) -> npt.NDArray[_Scalar]:
    view = array[:]
    view.flags.writeable = False
    return view


class BarsView:
    """Read-only window ``[start, stop)`` of one symbol's bars. Every column is a numpy view, never a copy.

    It keeps read-only views of the whole columns (made once when ``columns`` are writable: pass read-only ones,
    as ``BarSeries`` does, to share them), so a column of the window is one slice."""

    __slots__ = ("_columns", "_start", "_stop", "symbol", "timeframe_ms")

    def __init__(self, symbol: str, columns: BarArrays, start: int, stop: int, timeframe_ms: int) -> None:
        self.symbol = symbol
        self.timeframe_ms = timeframe_ms
        self._columns = columns.read_only()
        self._start = start
        self._stop = stop

    def __len__(self) -> int:
        return self._stop - self._start

    def __repr__(self) -> str:
        return f"BarsView({self.symbol!r}, {len(self)} bars, last close at {self.close_ts})"

    @property
    def ts(self) -> Times:
        return self._columns.ts[self._start : self._stop]

    @property
    def open(self) -> Prices:
        return self._columns.open[self._start : self._stop]

    @property
    def high(self) -> Prices:
        return self._columns.high[self._start : self._stop]

    @property
    def low(self) -> Prices:
        return self._columns.low[self._start : self._stop]

    @property
    def close(self) -> Prices:
        return self._columns.close[self._start : self._stop]

    @property
    def volume(self) -> Prices:
        return self._columns.volume[self._start : self._stop]

    @property
    def span(self) -> tuple[BarArrays, int, int]:
        """The read-only columns the window reads, and its rows in them: ``[start, stop)``."""
        return self._columns, self._start, self._stop

    @property
    def last_close(self) -> float:
        """The close of the latest bar in the window (IndexError when the window is empty)."""
        if self._stop <= self._start:
            raise IndexError(f"{self.symbol}: empty window has no last close")
        return float(self._columns.close[self._stop - 1])

    @property
    def close_ts(self) -> int:
        """When the window's latest bar closed (ms); 0 when the window is empty."""
        if self._stop <= self._start:
            return 0
        return int(self._columns.ts[self._stop - 1]) + self.timeframe_ms

    def last_bar(self) -> Bar:
        if self._stop <= self._start:
            raise IndexError(f"{self.symbol}: empty window has no last bar")
        return self._columns.bar(self._stop - 1)


class BarSeries:
    """One symbol's history, appended in time order into preallocated, doubling buffers.

    With ``keep``, only the last ``keep`` bars are sure to stay: when the buffers fill, the older bars are left
    behind in them and the rest move to new ones, so a series holds at most about ``2 × keep`` bars however long
    the process runs. Views taken before keep the old buffers, unchanged.
    """

    def __init__(self, symbol: str, capacity: int = _INITIAL_CAPACITY, *, keep: int | None = None) -> None:
        if keep is not None and keep < 1:
            raise ValueError(f"keep must be positive, got {keep}")
        self.symbol = symbol
        self.keep = keep
        self._size = 0
        self._buffers = _allocate(max(1, capacity))
        self._read_only = self._buffers.read_only()  # what views read: the same memory, never written through

    def __len__(self) -> int:
        return self._size

    @property
    def columns(self) -> BarArrays:
        """Every bar so far, as read-only views."""
        return self._read_only.slice(0, self._size)

    @property
    def last_ts(self) -> int | None:
        return int(self._buffers.ts[self._size - 1]) if self._size else None

    @property
    def last_close(self) -> float | None:
        return float(self._buffers.close[self._size - 1]) if self._size else None

    def append(self, bar: Bar) -> None:
        if self._size and bar.ts <= self._buffers.ts[self._size - 1]:
            raise ValueError(f"{self.symbol}: bar at ts={bar.ts} is not after the last bar (ts={self.last_ts})")
        if self._size == len(self._buffers):
            self._grow(self._size + 1)
        buffers, i = self._buffers, self._size
        buffers.ts[i] = bar.ts
        buffers.open[i] = bar.open
        buffers.high[i] = bar.high
        buffers.low[i] = bar.low
        buffers.close[i] = bar.close
        buffers.volume[i] = bar.volume
        self._size = i + 1

    def extend_arrays(
        self,
        ts: npt.ArrayLike,
        open: npt.ArrayLike,
        high: npt.ArrayLike,
        low: npt.ArrayLike,
        close: npt.ArrayLike,
        volume: npt.ArrayLike,
    ) -> None:
        """Append many bars at once; their ``ts`` must increase strictly and start after the last bar."""
        new = BarArrays(
            np.asarray(ts, dtype=np.int64),
            *(np.asarray(column, dtype=np.float64) for column in (open, high, low, close, volume)),
        )
        count = len(new)
        if count == 0:
            return
        if count > 1 and not bool(np.all(new.ts[1:] > new.ts[:-1])):
            bad = int(np.argmax(new.ts[1:] <= new.ts[:-1])) + 1
            raise ValueError(f"{self.symbol}: ts not strictly increasing at row {bad} (ts={int(new.ts[bad])})")
        if self._size and new.ts[0] <= self._buffers.ts[self._size - 1]:
            raise ValueError(f"{self.symbol}: bar at ts={int(new.ts[0])} is not after the last bar (ts={self.last_ts})")
        if self._size + count > len(self._buffers):
            self._grow(self._size + count)
        stop = self._size + count
        for target, source in zip(self._buffers.columns(), new.columns(), strict=True):
            target[self._size : stop] = source
        self._size = stop

    def extend(self, arrays: BarArrays) -> None:
        self.extend_arrays(arrays.ts, arrays.open, arrays.high, arrays.low, arrays.close, arrays.volume)

    def close_at(self, index: int) -> float:
        return float(self._buffers.close[index])

    def index_after(self, open_ts: int) -> int:
        """How many bars opened at or before ``open_ts``: the end of a window (O(log n))."""
        return int(self._buffers.ts[: self._size].searchsorted(open_ts, side="right"))

    def indices_after(self, open_ts: npt.NDArray[np.int64]) -> list[int]:
        """``index_after`` of each time."""
        stops: list[int] = self.stops_after(open_ts).tolist()
        return stops

    def stops_after(self, open_ts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """``index_after`` of each time, as an array."""
        stops: npt.NDArray[np.int64] = self._buffers.ts[: self._size].searchsorted(open_ts, side="right")
        return stops

    def view(self, start: int, stop: int, timeframe_ms: int) -> BarsView:
        return BarsView(self.symbol, self._read_only, start, stop, timeframe_ms)

    def views(self, starts: Sequence[int], stops: Sequence[int], timeframe_ms: int) -> list[BarsView]:
        """``view`` of each ``[start, stop)``, made without looking at the columns again: they are read-only."""
        symbol, columns = self.symbol, self._read_only
        views = []
        for start, stop in zip(starts, stops, strict=True):
            view = object.__new__(BarsView)  # not ``__init__``, which would look at every column's flags again
            view.symbol = symbol
            view.timeframe_ms = timeframe_ms
            view._columns = columns
            view._start = start
            view._stop = stop
            views.append(view)
        return views

    @property
    def read_only_columns(self) -> BarArrays:
        """The whole buffers, read-only, as the views made now read them (rows past ``len`` are not bars yet)."""
        return self._read_only

    def bars(self, start: int, stop: int) -> list[Bar]:
        return [self._buffers.bar(index) for index in range(start, min(stop, self._size))]

    def _grow(self, needed: int) -> None:
        drop = max(0, self._size - self.keep) if self.keep is not None else 0
        kept, required = self._size - drop, needed - drop
        capacity = len(self._buffers)
        while capacity < required:
            capacity *= 2
        if self.keep is not None and drop:
            capacity = max(required, 2 * self.keep)
        grown = _allocate(capacity)
        for target, source in zip(grown.columns(), self._buffers.columns(), strict=True):
            target[:kept] = source[drop : self._size]
        self._buffers, self._size = grown, kept
        self._read_only = grown.read_only()


def _allocate(capacity: int) -> BarArrays:
    return BarArrays(np.zeros(capacity, dtype=np.int64), *(np.zeros(capacity) for _ in range(5)))
