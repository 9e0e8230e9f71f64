"""Combined: momentum and an MA crossover that agree (the spec's "best backtest results").

What it uses: the momentum producer's signal (``producer``, default ``momentum``) and the symbol's closes. A
symbol is considered when the fast MA crossed the slow one (``fast``/``slow``/``ma``, as in ``ma_crossover.py``:
SMA 20 and 50 by default) within the last ``within_bars`` closed bars (default 24: the last day on 1h) and is
still on the side it crossed to. It is taken when the momentum signal points the same way as the cross.

No volume confirmation and no long-MA trend filter: the 20-day momentum is the trend filter here (``trend`` N > 0
adds the MA filter of ``ma_crossover.py`` anyway). The momentum signal drives the size (``sizing.py``); stop and
target ``stop_pct`` and ``target_pct`` from the entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import msgspec
import numpy as np

from actors.strategies.batch import at_least, batch_spans
from actors.strategies.ma_crossover import Cross, CrossParams, latest_cross, moving_average, span_crosses
from actors.strategies.momentum import directional_signals
from actors.strategies.signals import batch_signals
from actors.strategies.sizing import signal_drivers, signal_refs
from b1e55ed.cycle import Candidate, EnrichedCycle
from b1e55ed.market.bars import BarsView
from b1e55ed.messages import Signal, SignalRef
from b1e55ed.plugins import PluginSetup

CROSSED = (("long", "above"), ("short", "below"))  # the fast MA crossed ... the slow one


class CombinedStrategy:
    class Params(CrossParams, frozen=True, kw_only=True):
        producer: str = "momentum"
        within_bars: Annotated[int, msgspec.Meta(ge=1)] = 24
        trend: Annotated[int, msgspec.Meta(ge=0)] = 0

    def __init__(self, setup: PluginSetup) -> None:
        self.name = setup.name
        self.rule = params = setup.params_as(self.Params)
        self.producer, self.within_bars = params.producer, params.within_bars
        self.fast, self.slow, self.kind, self.trend = params.fast, params.slow, params.ma, params.trend
        # The words of every decision's reason that do not change from one to the next.
        kind = self.kind.upper()
        self._crossed = {side: f"{kind}({self.fast}) crossed {word} {kind}({self.slow}) " for side, word in CROSSED}
        self._no_signal = f"no directional {self.producer} signal"

    def evaluate(self, cycle: EnrichedCycle) -> Sequence[Candidate]:
        candidates = []
        signals = directional_signals(cycle, self.producer)
        for symbol, bars in sorted(cycle.tick.market.items()):
            close = bars.close
            if len(close) <= self.trend:
                continue
            cross = latest_cross(close, self.fast, self.slow, self.kind, within=self.within_bars)
            if cross is not None:
                signal = signals.get(symbol)
                refs = signal_refs([signal], cycle.calibration) if signal is not None else ()
                candidates.append(self._judge(cycle, symbol, bars, cross, signal, refs, bars.close_ts, bars.last_close))
        return candidates

    def evaluate_batch(self, cycles: Sequence[EnrichedCycle]) -> list[Sequence[Candidate]]:
        """``evaluate`` for each cycle, each symbol's crosses found over all its windows at once."""
        candidates: list[list[Candidate]] = [[] for _ in cycles]
        found = batch_signals(cycles)
        signals = found.of_producer(self.producer)
        for symbol, spans in batch_spans(cycles).items():
            spans = at_least(spans, self.trend + 1)
            answers = span_crosses(spans, self.fast, self.slow, self.kind, within=self.within_bars)
            crossed = [(i, cross) for i, cross in enumerate(answers) if cross is not None]
            if not crossed:
                continue
            spans = spans.select(np.array([i for i, _ in crossed], dtype=np.int64))
            close_ts, prices = spans.ends()
            for (_, cross), index, bars, closed, price in zip(
                crossed, spans.cycles, spans.windows, close_ts, prices, strict=True
            ):
                signal = signals[index].get(symbol)
                refs = found.refs(index, (signal,)) if signal is not None else ()
                last = bars.last_close if price is None else price
                judged = self._judge(cycles[index], symbol, bars, cross, signal, refs, closed, last)
                candidates[index].append(judged)
        return list(candidates)

    def _judge(
        self,
        cycle: EnrichedCycle,
        symbol: str,
        bars: BarsView,
        cross: Cross,
        signal: Signal | None,
        refs: tuple[SignalRef, ...],
        candle_close: int,
        price: float,
    ) -> Candidate:
        """The candidate for a cross on ``symbol``, with the producer's ``signal`` (and its ``refs``);
        ``candle_close`` and ``price`` are the window's ``close_ts`` and ``last_close``."""
        ago = "on the latest bar" if cross.bars_ago == 0 else f"{cross.bars_ago} bars ago"
        what = f"{self._crossed[cross.direction]}{ago} (now {cross.fast:,.6g} vs {cross.slow:,.6g})"
        blocked = None
        if signal is None:
            blocked = self._no_signal
        elif signal.signal != cross.direction:
            blocked = f"{self.producer} says {signal.signal} ({signal.rationale})"
        elif self.trend:
            trend_ma = float(moving_average(bars.close, self.trend, self.kind, 1)[0])
            if (price > trend_ma) != (cross.direction == "long"):
                kind = self.kind.upper()
                blocked = f"against the trend: close {price:,.6g} vs {kind}({self.trend}) {trend_ma:,.6g}"
        if blocked or signal is None:
            reason = f"{what}, but {blocked}"
            return Candidate(symbol=symbol, taken=False, reason=reason, signals=refs, candle_close=candle_close)
        momentum = f"{self.producer} {signal.signal} {signal.conviction} ({signal.rationale})"
        return self.rule.candidate(
            strategy=self.name,
            symbol=symbol,
            direction=cross.direction,
            entry=price,
            sizing=self.rule.size(signal_drivers([signal]), cycle.calibration),
            setup=f"MA cross {cross.direction} {ago} and {self.producer} agree",
            rationale=f"{symbol}: {what}; {momentum}",
            candle_close=candle_close,
            refs=refs,
        )
