"""The prices a batch of cycles reads, found for the whole batch at once; and the OMS's reader of them.

Each cycle reads the market as of its own as-of time, never the batch's last bar: its marks (every symbol's last
close among the bars closed by then, as ``MarketState.closes_as_of``) and the bars that closed since the last
settled cycle (as ``MarketState.new_bars``). ``BatchPrices`` answers both with one binary search per symbol for
the whole batch, over read-only views of the bars taken when the batch starts (every bar up to the batch's last
as-of is loaded before its first cycle runs; bars appended later are never read, and views keep their buffers).
A symbol's bars in the batch's span are turned into Python numbers once, when a cycle first asks for its bars.

``CyclePrices`` is what the OMS reads: the market as of the cycle being settled (between batches, the last one
settled), from the batch's ``BatchPrices`` (made when a cycle first asks) or, for a time outside the batch, from
``MarketState`` itself.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence

import numpy as np

from b1e55ed.market.bars import BarsView
from b1e55ed.market.state import MarketState
from b1e55ed.messages import Bar

Row = tuple[int, float, float, float, float, float]  # a bar's fields, in ``Bar``'s order


class BatchPrices:
    def __init__(self, market: MarketState, as_ofs: Sequence[int]) -> None:
        self._timeframe_ms = market.timeframe_ms
        self._position = {as_of: position for position, as_of in enumerate(as_ofs)}  # in the batch
        views = market.view(max(as_ofs), window=sys.maxsize)  # every symbol with a bar closed by the batch's end
        last_opens = np.asarray(as_ofs, dtype=np.int64) - self._timeframe_ms
        self._views: dict[str, BarsView] = dict(views.items())
        self._stops: dict[str, list[int]] = {}
        self._closes: dict[str, list[float]] = {}
        self._rows_of: dict[str, tuple[int, list[Row]]] = {}
        for symbol, view in self._views.items():
            stops = view.ts.searchsorted(last_opens, side="right")
            self._stops[symbol] = stops.tolist()
            self._closes[symbol] = view.close[np.maximum(stops - 1, 0)].tolist()

    def covers(self, as_of: int) -> bool:
        return as_of in self._position

    def marks(self, as_of: int) -> dict[str, float]:
        """Each symbol's last close among the bars closed by ``as_of``, a time of the batch."""
        row = self._position[as_of]
        return {symbol: closes[row] for symbol, closes in self._closes.items() if self._stops[symbol][row]}

    def new_bars(self, symbol: str, after_ts: int, as_of: int) -> list[Bar]:
        """``symbol``'s bars that closed in ``(after_ts, as_of]``, ``as_of`` a time of the batch."""
        view = self._views.get(symbol)
        if view is None:
            return []
        stop = self._stops[symbol][self._position[as_of]]
        after = self._position.get(after_ts)
        if after is not None:
            start = self._stops[symbol][after]
        else:
            start = int(view.ts.searchsorted(after_ts - self._timeframe_ms, side="right"))
        if stop <= start:
            return []
        first, rows = self._span_rows(symbol, view, start)
        if start < first:  # further back than the batch's span: not the way a batch is settled
            rows = self._python_rows(view, start, stop)
            first = start
        return [Bar(*rows[i - first]) for i in range(start, stop)]

    def _span_rows(self, symbol: str, view: BarsView, start: int) -> tuple[int, list[Row]]:
        """``symbol``'s bars from ``start`` (the first asked for) to the batch's last as-of, as Python rows."""
        span = self._rows_of.get(symbol)
        if span is None:
            span = self._rows_of[symbol] = (start, self._python_rows(view, start, max(self._stops[symbol])))
        return span

    @staticmethod
    def _python_rows(view: BarsView, start: int, stop: int) -> list[Row]:
        columns = (view.ts, view.open, view.high, view.low, view.close, view.volume)
        return list(zip(*(column[start:stop].tolist() for column in columns), strict=True))


class CyclePrices:
    def __init__(self, market: MarketState) -> None:
        self._market = market
        self.as_of = 0  # the cycle being settled, or the last one settled
        self._batch_as_ofs: Sequence[int] = ()
        self._batch: BatchPrices | None = None
        self._marks_as_of, self._marks = -1, dict[str, float]()

    def start_batch(self, as_ofs: Sequence[int]) -> None:
        """The as-of times of the batch about to be settled, in order."""
        self._batch_as_ofs, self._batch = as_ofs, None

    def marks(self) -> dict[str, float]:
        """Each symbol's last close among the bars closed by ``as_of`` (found once per cycle)."""
        if self._marks_as_of != self.as_of:
            batch = self._batch_prices()
            marks = self._market.closes_as_of(self.as_of) if batch is None else batch.marks(self.as_of)
            self._marks_as_of, self._marks = self.as_of, marks
        return self._marks

    def new_bars(self, symbols: Iterable[str], after_ts: int) -> dict[str, list[Bar]]:
        """Each of ``symbols``' bars that closed in ``(after_ts, as_of]``."""
        as_of, batch = self.as_of, self._batch_prices()
        if batch is None:
            return {symbol: self._market.new_bars(symbol, after_ts, as_of) for symbol in symbols}
        return {symbol: batch.new_bars(symbol, after_ts, as_of) for symbol in symbols}

    def _batch_prices(self) -> BatchPrices | None:
        """The current batch's prices when ``as_of`` belongs to it."""
        if self._batch is None and self._batch_as_ofs:
            self._batch = BatchPrices(self._market, self._batch_as_ofs)
        return self._batch if self._batch is not None and self._batch.covers(self.as_of) else None
