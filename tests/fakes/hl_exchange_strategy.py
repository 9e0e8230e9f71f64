"""A strategy that trades every symbol every cycle, for the live crash test: the most orders per second.

The direction follows the parity of the latest candle's close time, so decisions differ from cycle to cycle; the
risk gate (one position per symbol) keeps only those for symbols without a position. Stop and target are 3% and
10% from the last close.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from b1e55ed.cycle import Candidate, EnrichedCycle
from b1e55ed.messages import Direction, Trade
from b1e55ed.plugins import PluginSetup


class EveryCycleStrategy:
    class Params(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
        size: float = 0.05

    def __init__(self, setup: PluginSetup) -> None:
        self.name = setup.name
        self.size = setup.params_as(self.Params).size

    def evaluate(self, cycle: EnrichedCycle) -> Sequence[Candidate]:
        candidates = []
        for symbol, bars in sorted(cycle.tick.market.items()):
            if len(bars.close) == 0:
                continue
            close = bars.last_close
            direction: Direction = "long" if (bars.close_ts // 1000) % 2 == 0 else "short"
            sign = 1 if direction == "long" else -1
            trade = Trade(
                symbol=symbol,
                direction=direction,
                size=self.size,
                entry=close,
                stop=close * (1 - sign * 0.03),
                target=close * (1 + sign * 0.10),
                rationale="crash test: every cycle",
                strategy=self.name,
                conviction=5,
            )
            candidates.append(
                Candidate(
                    symbol=symbol,
                    taken=True,
                    reason="every cycle",
                    direction=direction,
                    trade=trade,
                    candle_close=bars.close_ts,
                )
            )
        return candidates
