"""Confluence: trade when producers agree. At least two directional signals one way, and fewer the other way.

Every symbol with a directional signal is a candidate, taken or not, with its reason. The agreeing signals drive
the size (``sizing.py``: ``base_size × mean conviction ÷ 7``, calibrated when karma knows the producers, capped by
Kelly when configured and always by ``max_size``); stop and target sit ``stop_pct`` and ``target_pct`` from the
entry (the spec's -3% / +10%). The trade's conviction is the agreeing signals' mean conviction rounded half up.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from actors.strategies.batch import batch_spans
from actors.strategies.signals import batch_signals
from actors.strategies.sizing import SizingRule, signal_drivers, signal_refs
from b1e55ed.cycle import Candidate, EnrichedCycle
from b1e55ed.messages import Direction, Signal, SignalRef
from b1e55ed.plugins import PluginSetup


class ConfluenceStrategy:
    class Params(SizingRule, frozen=True, kw_only=True):
        min_agreeing: int = 2

    def __init__(self, setup: PluginSetup) -> None:
        self.name = setup.name
        self.rule = params = setup.params_as(self.Params)
        self.min_agreeing = params.min_agreeing
        self._needs = f"; needs {self.min_agreeing}+ agreeing and fewer against"
        self._no_confluence: dict[tuple[int, int], str] = {}  # the reason, by the tally (a few, said often)

    def evaluate(self, cycle: EnrichedCycle) -> Sequence[Candidate]:
        directional = _directional(cycle)
        if not directional:
            return []
        candidates = []
        for symbol, bars in sorted(cycle.tick.market.items()):
            if (signals := directional.get(symbol)) is not None:
                refs = signal_refs(signals, cycle.calibration)
                candidates.append(self._judge(cycle, symbol, signals, bars.last_close, bars.close_ts, refs))
        return candidates

    def evaluate_batch(self, cycles: Sequence[EnrichedCycle]) -> list[Sequence[Candidate]]:
        """``evaluate`` for each cycle: symbol by symbol (in name order), the windows of cycles with a directional
        signal for it, from the batch's signals (gathered once for every strategy)."""
        signals = batch_signals(cycles)
        directional = signals.by_symbol
        candidates: list[list[Candidate]] = [[] for _ in cycles]
        for symbol, spans in batch_spans(cycles).items():
            judged = np.flatnonzero(np.fromiter((symbol in directional[i] for i in spans.cycles), np.bool_, len(spans)))
            if not len(judged):
                continue
            spans = spans.select(judged)
            close_ts, prices = spans.ends()
            for index, bars, closed, price in zip(spans.cycles, spans.windows, close_ts, prices, strict=True):
                found = directional[index][symbol]
                last = bars.last_close if price is None else price  # an empty window raises, as in ``evaluate``
                refs = signals.refs(index, found)
                candidates[index].append(self._judge(cycles[index], symbol, found, last, closed, refs))
        return list(candidates)

    def _judge(
        self,
        cycle: EnrichedCycle,
        symbol: str,
        signals: list[Signal],
        price: float,
        candle_close: int,
        refs: tuple[SignalRef, ...],
    ) -> Candidate:
        """The candidate for ``symbol``'s directional ``signals``, whose refs are ``refs``."""
        longs, shorts = [], []
        for s in signals:
            if s.signal == "long":
                longs.append(s)
            elif s.signal == "short":
                shorts.append(s)
        counts = len(longs), len(shorts)
        direction: Direction
        if counts[0] >= self.min_agreeing and counts[1] < counts[0]:
            direction, agreeing = "long", longs
        elif counts[1] >= self.min_agreeing and counts[0] < counts[1]:
            direction, agreeing = "short", shorts
        else:
            if (reason := self._no_confluence.get(counts)) is None:
                reason = self._no_confluence[counts] = f"no confluence: {_tally(*counts)}{self._needs}"
            return Candidate(symbol=symbol, taken=False, reason=reason, signals=refs, candle_close=candle_close)
        tally = _tally(*counts)

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


def _directional(cycle: EnrichedCycle) -> dict[str, list[Signal]]:
    """The cycle's long and short signals by symbol, each symbol's in the cycle's order."""
    directional: dict[str, list[Signal]] = {}
    for signal in cycle.signals:
        if signal.signal != "neutral":
            directional.setdefault(signal.symbol, []).append(signal)
    return directional


def _tally(longs: int, shorts: int) -> str:
    return f"{longs} long vs {shorts} short"
