"""The prices a batch of cycles reads, found for the whole batch at once.

Each cycle reads the market as of its own as-of time, never the batch's last bar: its marks (every symbol's last
close among the bars closed by then, as ``MarketState.closes_as_of``) and the bars that closed since the last
settled cycle (as ``MarketState.new_bars``). ``BatchPrices`` answers both with one binary search per symbol for
the whole batch, over read-only views of the bars taken when the batch starts (every bar up to the batch's last
as-of is loaded before its first cycle runs; bars appended later are never read, and views keep their buffers).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np

from b1e55ed.market.bars import BarsView, MarketState
from b1e55ed.messages import Bar


class BatchPrices:
    def __init__(self, market: MarketState, as_ofs: Sequence[int]) -> None:
        self._timeframe_ms = market.timeframe_ms
        self._rows = {as_of: row for row, as_of in enumerate(as_ofs)}
        views = market.view(max(as_ofs), window=sys.maxsize)  # every symbol with a bar closed by the batch's end
        last_opens = np.asarray(as_ofs, dtype=np.int64) - self._timeframe_ms
        self._views: dict[str, BarsView] = dict(views.items())
        self._stops: dict[str, list[int]] = {}
        self._closes: dict[str, list[float]] = {}
        for symbol, view in self._views.items():
            stops = view.ts.searchsorted(last_opens, side="right")
            self._stops[symbol] = stops.tolist()
            self._closes[symbol] = view.close[np.maximum(stops - 1, 0)].tolist()

    def covers(self, as_of: int) -> bool:
        return as_of in self._rows

    def marks(self, as_of: int) -> dict[str, float]:
        """Each symbol's last close among the bars closed by ``as_of``, a time of the batch."""
        row = self._rows[as_of]
        return {symbol: closes[row] for symbol, closes in self._closes.items() if self._stops[symbol][row]}

    def new_bars(self, symbol: str, after_ts: int, as_of: int) -> list[Bar]:
        """``symbol``'s bars that closed in ``(after_ts, as_of]``, ``as_of`` a time of the batch."""
        view = self._views.get(symbol)
        if view is None:
            return []
        stop = self._stops[symbol][self._rows[as_of]]
        after = self._rows.get(after_ts)
        if after is not None:
            start = self._stops[symbol][after]
        else:
            start = int(view.ts.searchsorted(after_ts - self._timeframe_ms, side="right"))
        if stop <= start:
            return []
        ts, open_, high, low, close, volume = view.ts, view.open, view.high, view.low, view.close, view.volume
        return [
            Bar(int(ts[i]), float(open_[i]), float(high[i]), float(low[i]), float(close[i]), float(volume[i]))
            for i in range(start, stop)
        ]
