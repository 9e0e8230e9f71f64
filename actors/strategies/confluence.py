"""Confluence: trade when producers agree. At least two directional signals one way, and fewer the other way.

Every symbol with a directional signal is a candidate, taken or not, with its reason. The agreeing signals drive
the size (``sizing.py``: ``base_size × mean conviction ÷ 7``, calibrated when karma knows the producers, capped by
Kelly when configured and always by ``max_size``); stop and target sit ``stop_pct`` and ``target_pct`` from the
entry (the spec's -3% / +10%). The trade's conviction is the agreeing signals' mean conviction rounded half up.
"""

from __future__ import annotations

from collections.abc import Sequence

from actors.strategies.sizing import SizingRule, signal_drivers, signal_refs
from b1e55ed.cycle import Candidate, EnrichedCycle
from b1e55ed.messages import Direction, Signal
from b1e55ed.plugins import PluginSetup


class ConfluenceStrategy:
    class Params(SizingRule, frozen=True, kw_only=True):
        min_agreeing: int = 2

    def __init__(self, setup: PluginSetup) -> None:
        self.name = setup.name
        self.rule = params = setup.params_as(self.Params)
        self.min_agreeing = params.min_agreeing
        self._needs = f"; needs {self.min_agreeing}+ agreeing and fewer against"

    def evaluate(self, cycle: EnrichedCycle) -> Sequence[Candidate]:
        directional: dict[str, list[Signal]] = {}  # by symbol, each in the cycle's order
        for signal in cycle.signals:
            if signal.signal != "neutral":
                directional.setdefault(signal.symbol, []).append(signal)
        if not directional:
            return []
        return [
            self._judge(cycle, symbol, directional[symbol], bars.last_close, bars.close_ts)
            for symbol, bars in sorted(cycle.tick.market.items())
            if symbol in directional
        ]

    def _judge(
        self, cycle: EnrichedCycle, symbol: str, signals: list[Signal], price: float, candle_close: int
    ) -> Candidate:
        longs, shorts = [], []
        for s in signals:
            if s.signal == "long":
                longs.append(s)
            elif s.signal == "short":
                shorts.append(s)
        refs = signal_refs(signals, cycle.calibration)
        tally = f"{len(longs)} long vs {len(shorts)} short"
        direction: Direction
        if len(longs) >= self.min_agreeing and len(shorts) < len(longs):
            direction, agreeing = "long", longs
        elif len(shorts) >= self.min_agreeing and len(longs) < len(shorts):
            direction, agreeing = "short", shorts
        else:
            reason = f"no confluence: {tally}{self._needs}"
            return Candidate(symbol=symbol, taken=False, reason=reason, signals=refs, candle_close=candle_close)

        producers = ", ".join(f"{s.producer} {s.conviction}" for s in agreeing)
        return self.rule.candidate(
            strategy=self.name,
            symbol=symbol,
            direction=direction,
            entry=price,
            sizing=self.rule.size(signal_drivers(agreeing), cycle.calibration),
            setup=f"confluence: {tally}",
            rationale=f"{tally} on {symbol} ({producers})",
            candle_close=candle_close,
            refs=refs,
        )
