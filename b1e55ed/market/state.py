"""The market: every symbol's history on one timeframe (``MarketState``), and the market as of a time
(``MarketView``): each symbol's window of the bars closed by then.

``MarketState.views`` finds each window's end with ``np.searchsorted``, so a cycle costs the same however long the
history is.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, KeysView, Mapping, Sequence, ValuesView
from typing import TYPE_CHECKING

import numpy as np

from b1e55ed.market.bars import BarArrays, BarSeries, BarsView
from b1e55ed.market.feed import CloseBatch
from b1e55ed.messages import Bar

if TYPE_CHECKING:
    from b1e55ed.market.batch import MarketBatch


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
