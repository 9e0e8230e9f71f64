"""A batch of cycles seen symbol by symbol: what a strategy's ``evaluate_batch`` computes its indicators over.

Each symbol's windows across the batch, in cycle order, stack into one array per column (``windows.stack``), and
the answers go back to the cycles they came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from b1e55ed.cycle import EnrichedCycle
from b1e55ed.market.bars import BarsView


@dataclass
class SymbolWindows:
    """One symbol's windows in a batch, each with the position of its cycle in the batch."""

    cycles: list[int] = field(default_factory=list)
    windows: list[BarsView] = field(default_factory=list)


def symbol_windows(cycles: Sequence[EnrichedCycle], min_bars: int = 0) -> dict[str, SymbolWindows]:
    """Each symbol's windows of at least ``min_bars`` bars across ``cycles``, by symbol in sorted order."""
    found: dict[str, SymbolWindows] = {}
    for index, cycle in enumerate(cycles):
        for symbol, bars in cycle.tick.market.items():
            if len(bars) >= min_bars:
                entry = found.setdefault(symbol, SymbolWindows())
                entry.cycles.append(index)
                entry.windows.append(bars)
    return dict(sorted(found.items()))
