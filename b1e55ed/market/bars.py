"""Candles in columns: each symbol's history as numpy arrays, and read-only windows onto it.

A ``BarSeries`` grows by doubling, so appending a bar costs O(1) amortised. A ``BarsView`` is a window of the
last bars that had closed by a given time: numpy slices of the series' buffers, marked read-only, never copies.
``MarketState.view`` finds each window's end with ``np.searchsorted``, so a cycle costs the same however long
the history is. Bars only ever go in after the last one, so a view taken earlier never sees its data change.
"""

from __future__ import annotations

import itertools
from collections.abc import ItemsView, Iterator, KeysView, Mapping, Sequence, ValuesView
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import numpy.typing as npt

from b1e55ed.market.feed import CloseBatch
from b1e55ed.messages import Bar

if TYPE_CHECKING:
    from b1e55ed.market.batch import MarketBatch

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


class MarketView(Mapping[str, BarsView]):
    """The market as of ``as_of``: each symbol with at least one closed bar, as a read-only window. ``batch``: what
    the markets of a batch of cycles made together share (``market.batch``), this one the ``position``-th of them."""

    __slots__ = ("_views", "as_of", "batch", "position")

    def __init__(
        self, as_of: int, views: dict[str, BarsView], batch: MarketBatch | None = None, position: int = 0
    ) -> None:
        self.as_of = as_of
        self._views = views
        self.batch = batch
        self.position = position

    def __getitem__(self, symbol: str) -> BarsView:
        return self._views[symbol]

    def __iter__(self) -> Iterator[str]:
        return iter(self._views)

    def __len__(self) -> int:
        return len(self._views)

    # The dict's own answers: Mapping's would look each symbol up again, one Python call at a time.
    def __contains__(self, symbol: object) -> bool:
        return symbol in self._views

    def keys(self) -> KeysView[str]:
        return self._views.keys()

    def items(self) -> ItemsView[str, BarsView]:
        return self._views.items()

    def values(self) -> ValuesView[BarsView]:
        return self._views.values()

    def __repr__(self) -> str:
        return f"MarketView(as_of={self.as_of}, symbols={sorted(self._views)})"


class MarketState:
    """Every symbol's history on one timeframe, fed by the market feed's close batches; with ``keep``, the last
    ``keep`` bars of each symbol at least, and not much more (``BarSeries``), so that memory stays bounded."""

    def __init__(self, timeframe_ms: int, *, keep: int | None = None) -> None:
        if timeframe_ms <= 0:
            raise ValueError(f"timeframe_ms must be positive, got {timeframe_ms}")
        self.timeframe_ms = timeframe_ms
        self.keep = keep
        self._series: dict[str, BarSeries] = {}

    @property
    def symbols(self) -> list[str]:
        return sorted(self._series)

    def find(self, symbol: str) -> BarSeries | None:
        """The symbol's history, if it has one."""
        return self._series.get(symbol)

    def series(self, symbol: str) -> BarSeries:
        series = self._series.get(symbol)
        if series is None:
            series = self._series[symbol] = BarSeries(symbol, keep=self.keep)
        return series

    def add(self, batch: CloseBatch) -> None:
        """Append a batch; each bar must close at the batch's time and after the symbol's last bar."""
        for symbol, bar in batch.bars.items():
            if bar.ts + self.timeframe_ms != batch.close_ts:
                raise ValueError(
                    f"{symbol}: bar ts={bar.ts} does not close at {batch.close_ts} (timeframe {self.timeframe_ms} ms)"
                )
            self.series(symbol).append(bar)

    def extend(self, symbol: str, arrays: BarArrays) -> None:
        """Bulk-load history (a warm-up, a replay's first part) for one symbol."""
        self.series(symbol).extend(arrays)

    def view(self, as_of: int, window: int = 500) -> MarketView:
        """The last ``window`` bars of each symbol that had closed by ``as_of`` (close = ts + timeframe)."""
        return self.views([as_of], window)[0]

    def views(self, as_ofs: Sequence[int], window: int = 500) -> list[MarketView]:
        """``view`` of each as-of time: each symbol's windows found by one search for them all."""
        if window <= 0:
            raise ValueError(f"window must be positive, got {window}")
        found: list[dict[str, BarsView]] = [{} for _ in as_ofs]
        last_opens = np.asarray(as_ofs, dtype=np.int64) - self.timeframe_ms
        for symbol in sorted(self._series):
            series = self._series[symbol]
            for views, stop in zip(found, series.indices_after(last_opens), strict=True):
                if stop:
                    views[symbol] = series.view(max(0, stop - window), stop, self.timeframe_ms)
        return [MarketView(as_of, views) for as_of, views in zip(as_ofs, found, strict=True)]

    def new_bars(self, symbol: str, after_ts: int, as_of: int) -> list[Bar]:
        """Bars that closed in ``(after_ts, as_of]``: what a paper venue has not yet seen."""
        series = self._series.get(symbol)
        if series is None:
            return []
        start = series.index_after(after_ts - self.timeframe_ms)
        stop = series.index_after(as_of - self.timeframe_ms)
        return series.bars(start, stop) if stop > start else []

    def last_close(self, symbol: str) -> float | None:
        """The latest close of ``symbol``, or None when it has no bars."""
        series = self._series.get(symbol)
        return None if series is None else series.last_close

    def closes_as_of(self, as_of: int) -> dict[str, float]:
        """Each symbol's last close among the bars that had closed by ``as_of``: marks as of a cycle, however far
        the market has been filled beyond it (a batch of cycles is loaded before its first cycle runs)."""
        closes: dict[str, float] = {}
        last_open = as_of - self.timeframe_ms
        for symbol in sorted(self._series):
            series = self._series[symbol]
            if stop := series.index_after(last_open):
                closes[symbol] = series.close_at(stop - 1)
        return closes
