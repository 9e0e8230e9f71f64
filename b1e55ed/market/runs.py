"""A feed's closes in runs: consecutive closes together, each symbol's candles in columns.

Driven by history, the brain reads the market a batch of cycles at a time. A feed that holds its candles in columns
(a replay) hands them on in runs as they are (``RunFeed``); ``runs_of`` makes the runs of any other feed's closes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np
import trio

from b1e55ed.market.bars import BarArrays, Times
from b1e55ed.market.feed import CloseBatch


class CloseRun(NamedTuple):
    """Consecutive closes: their times (increasing), and each symbol's candles among them (``bars``), with the
    position in ``close_ts`` of each candle's close (``at``)."""

    close_ts: list[int]
    bars: dict[str, BarArrays]
    at: dict[str, Times]


@runtime_checkable
class RunFeed(Protocol):
    """A feed that also yields its closes in runs of at most ``limit`` closes: the same candles as ``closes``."""

    def runs(self, limit: int) -> AsyncIterator[CloseRun]: ...


async def runs_of(closes: AsyncIterator[CloseBatch], limit: int) -> AsyncIterator[CloseRun]:
    """``closes`` in runs of ``limit`` (the last one maybe shorter); closed, it closes ``closes``."""
    run: list[CloseBatch] = []
    try:
        async for batch in closes:
            run.append(batch)
            if len(run) >= limit:
                yield close_run(run)
                run = []
        if run:
            yield close_run(run)
    finally:
        aclose = getattr(closes, "aclose", None)
        if aclose is not None:
            with trio.CancelScope(shield=True):
                await aclose()


def close_run(batches: list[CloseBatch]) -> CloseRun:
    """The run of these consecutive closes."""
    rows: dict[str, list[tuple[int, float, float, float, float, float]]] = {}
    at: dict[str, list[int]] = {}
    for index, batch in enumerate(batches):
        for symbol, bar in batch.bars.items():
            rows.setdefault(symbol, []).append((bar.ts, bar.open, bar.high, bar.low, bar.close, bar.volume))
            at.setdefault(symbol, []).append(index)
    bars = {}
    for symbol, candles in rows.items():
        ts, *prices = zip(*candles, strict=True)
        bars[symbol] = BarArrays(np.array(ts, dtype=np.int64), *(np.array(p, dtype=np.float64) for p in prices))
    positions = {symbol: np.array(indices, dtype=np.int64) for symbol, indices in at.items()}
    return CloseRun([batch.close_ts for batch in batches], bars, positions)
