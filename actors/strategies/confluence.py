"""Confluence: trade when producers agree. At least two directional signals one way, and fewer the other way.

Size is ``base_size × mean conviction of the agreeing signals ÷ 7`` (conviction 7 gives the base 5%), capped at
``max_size``; ``size`` is notional ÷ equity. Stop and target sit ``stop_pct`` and ``target_pct`` from the entry
(the spec's -3% / +10%). The trade's conviction is the mean conviction rounded half up. Every symbol with a
directional signal is a candidate, taken or not, with its reason.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from b1e55ed.cycle import Candidate, EnrichedCycle
from b1e55ed.messages import Direction, Signal, SignalRef, Trade
from b1e55ed.plugins import PluginSetup


class ConfluenceStrategy:
    def __init__(self, setup: PluginSetup) -> None:
        self.name = setup.name
        self.timeframe_ms = setup.timeframe_ms
        self.min_agreeing = int(setup.param("min_agreeing", 2))
        self.base_size = setup.param("base_size", 0.05)
        self.reference_conviction = setup.param("reference_conviction", 7.0)
        self.max_size = setup.param("max_size", 0.15)
        self.stop_pct = setup.param("stop_pct", 3.0)
        self.target_pct = setup.param("target_pct", 10.0)

    def evaluate(self, cycle: EnrichedCycle) -> Sequence[Candidate]:
        candidates = []
        for symbol, bars in sorted(cycle.tick.market.items()):
            directional = [s for s in cycle.signals_for(symbol) if s.signal != "neutral"]
            if directional:
                candle_close = int(bars.ts[-1]) + self.timeframe_ms
                candidates.append(self._judge(symbol, directional, float(bars.close[-1]), candle_close))
        return candidates

    def _judge(self, symbol: str, signals: list[Signal], price: float, candle_close: int) -> Candidate:
        longs = [s for s in signals if s.signal == "long"]
        shorts = [s for s in signals if s.signal == "short"]
        refs = tuple(SignalRef(s.producer, s.signal, s.conviction) for s in signals)
        tally = f"{len(longs)} long vs {len(shorts)} short"
        direction: Direction
        if len(longs) >= self.min_agreeing and len(shorts) < len(longs):
            direction, agreeing = "long", longs
        elif len(shorts) >= self.min_agreeing and len(longs) < len(shorts):
            direction, agreeing = "short", shorts
        else:
            reason = f"no confluence: {tally}; needs {self.min_agreeing}+ agreeing and fewer against"
            return Candidate(symbol=symbol, taken=False, reason=reason, signals=refs, candle_close=candle_close)

        mean_conviction = sum(s.conviction for s in agreeing) / len(agreeing)
        raw_size = self.base_size * mean_conviction / self.reference_conviction
        size = min(raw_size, self.max_size)
        sign = 1 if direction == "long" else -1
        stop = price * (1 - sign * self.stop_pct / 100)
        target = price * (1 + sign * self.target_pct / 100)
        producers = ", ".join(f"{s.producer} {s.conviction}" for s in agreeing)
        rationale = f"{tally} on {symbol} ({producers}); mean conviction {mean_conviction:.1f} → size {size:.2%}"
        trade = Trade(
            symbol=symbol,
            direction=direction,
            size=round(size, 6),
            entry=price,
            stop=round(stop, 8),
            target=round(target, 8),
            rationale=rationale,
            strategy=self.name,
            conviction=math.floor(mean_conviction + 0.5),  # half up: 6.5 is 7 (round() would say 6, 7.5 → 8)
        )
        sizing = {
            "mean_conviction": mean_conviction,
            "base_size": self.base_size,
            "reference_conviction": self.reference_conviction,
            "raw_size": raw_size,
            "max_size": self.max_size,
            "size": trade.size,
        }
        return Candidate(
            symbol=symbol,
            taken=True,
            reason=f"confluence: {tally}",
            direction=direction,
            trade=trade,
            signals=refs,
            sizing=sizing,
            candle_close=candle_close,
        )
