"""A batch of cycles' markets, made together: each cycle's ``MarketView``, and each symbol's windows across the
batch, in cycle order.

A history-driven run hands the stages many consecutive cycles at once. Their windows are found symbol by symbol,
by one search over its bars for every cycle, and made in one pass (``market_batch``). A stage that works symbol by
symbol (a producer's ``produce_batch``, the enricher's PCS context) reads them back from ``MarketBatch.symbols``
instead of gathering them from the cycles again: the same windows, the same objects, and their rows as numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple, overload

import numpy as np

from b1e55ed.market.bars import BarArrays, BarsView, Times
from b1e55ed.market.state import MarketState, MarketView


class Windows(Sequence[BarsView]):
    """One symbol's windows, in order: rows ``[starts[i], stops[i])`` of ``columns``, which every one reads."""

    __slots__ = ("_views", "columns", "starts", "stops")

    def __init__(self, views: list[BarsView], columns: BarArrays, starts: Times, stops: Times) -> None:
        self._views = views
        self.columns = columns
        self.starts = starts
        self.stops = stops

    def __len__(self) -> int:
        return len(self._views)

    @overload
    def __getitem__(self, index: int) -> BarsView: ...

    @overload
    def __getitem__(self, index: slice) -> list[BarsView]: ...

    def __getitem__(self, index: int | slice) -> BarsView | list[BarsView]:
        return self._views[index]


class SymbolWindows(NamedTuple):
    """One symbol in a batch: the cycles that hold it (their positions in the batch), their as-of times, and its
    window in each."""

    cycles: list[int]
    as_ofs: list[int]
    windows: Sequence[BarsView]


class MarketBatch:
    """What the markets of a batch of cycles share (``market.batch``): how many they are, and their windows symbol
    by symbol (``symbols``, in name order). It refers to no market, so the markets go, as before, with the last
    reference to them (a cycle of references would wait for the garbage collector)."""

    __slots__ = ("size", "symbols")

    def __init__(self, size: int, symbols: dict[str, SymbolWindows]) -> None:
        self.size = size
        self.symbols = symbols


class BatchMarkets(NamedTuple):
    """A batch's markets (in cycle order), each one's symbols' latest closes, and what they share."""

    markets: list[MarketView]
    closes: list[dict[str, float]]
    batch: MarketBatch


def market_batch(
    state: MarketState, as_ofs: Sequence[int], holding: Mapping[str, Sequence[int]], window: int
) -> BatchMarkets:
    """The markets as of each of ``as_ofs``, each holding the symbols that ``holding`` lists it under (by its
    position in ``as_ofs``, ascending), made together: each is the ``position``-th of their ``batch``. A symbol's
    window is its last ``window`` bars closed by then, as ``MarketState.view`` gives it, and a symbol without any is
    left out of that cycle."""
    if window <= 0:
        raise ValueError(f"window must be positive, got {window}")
    times = np.asarray(as_ofs, dtype=np.int64)
    views: list[dict[str, BarsView]] = [{} for _ in as_ofs]
    closes: list[dict[str, float]] = [{} for _ in as_ofs]
    symbols: dict[str, SymbolWindows] = {}
    for symbol in sorted(holding):
        series = state.find(symbol)
        if series is None:
            continue
        cycles = np.asarray(holding[symbol], dtype=np.int64)
        stops = series.stops_after(times[cycles] - state.timeframe_ms)
        closed = stops > 0
        cycles, stops = cycles[closed], stops[closed]
        starts = np.maximum(stops - window, 0)
        columns = series.read_only_columns
        made = series.views(starts.tolist(), stops.tolist(), state.timeframe_ms)
        at = cycles.tolist()
        for index, view, close in zip(at, made, columns.close[stops - 1].tolist(), strict=True):
            views[index][symbol] = view
            closes[index][symbol] = close
        symbols[symbol] = SymbolWindows(at, times[cycles].tolist(), Windows(made, columns, starts, stops))
    batch = MarketBatch(len(as_ofs), symbols)
    markets = [
        MarketView(as_of, cycle, batch, position)
        for position, (as_of, cycle) in enumerate(zip(as_ofs, views, strict=True))
    ]
    return BatchMarkets(markets, closes, batch)


def batch_of(markets: Sequence[Mapping[str, BarsView]]) -> MarketBatch | None:
    """The batch these markets were made in, when they are exactly its markets, in its order."""
    first = markets[0] if markets else None
    batch = first.batch if isinstance(first, MarketView) else None
    if batch is None or batch.size != len(markets):
        return None
    made = all(
        isinstance(market, MarketView) and market.batch is batch and market.position == position
        for position, market in enumerate(markets)
    )
    return batch if made else None


def windows_by_symbol(markets: Sequence[Mapping[str, BarsView]], as_ofs: Sequence[int]) -> dict[str, SymbolWindows]:
    """Each symbol's windows in these markets (as of ``as_ofs``), in order, by symbol in name order: the batch's own
    when the markets are one (``batch_of``), else gathered from them."""
    batch = batch_of(markets)
    if batch is not None:
        return batch.symbols
    gathered: dict[str, tuple[list[int], list[int], list[BarsView]]] = {}
    for index, (market, as_of) in enumerate(zip(markets, as_ofs, strict=True)):
        for symbol, bars in market.items():
            cycles, times, windows = gathered.setdefault(symbol, ([], [], []))
            cycles.append(index)
            times.append(as_of)
            windows.append(bars)
    return {symbol: SymbolWindows(*gathered[symbol]) for symbol in sorted(gathered)}


def covering_views(markets: Sequence[Mapping[str, BarsView]]) -> dict[str, BarsView] | None:
    """When ``markets`` are a batch made together, each symbol's bars from its first window among them to
    its latest, as one view (they all read the same columns); else None."""
    batch = batch_of(markets)
    if batch is None:
        return None
    covering = {}
    for symbol, (_, _, windows) in batch.symbols.items():
        columns, start, _ = windows[0].span
        _, _, stop = windows[-1].span
        covering[symbol] = BarsView(symbol, columns, start, stop, windows[-1].timeframe_ms)
    return covering


def latest_views(markets: Sequence[Mapping[str, BarsView]], symbols: set[str]) -> dict[str, BarsView]:
    """Each of ``symbols``' latest view among ``markets`` (a symbol absent from them has none)."""
    views: dict[str, BarsView] = {}
    for market in reversed(markets):
        for symbol in symbols.intersection(market).difference(views):
            views[symbol] = market[symbol]
        if len(views) == len(symbols):
            break
    return views
