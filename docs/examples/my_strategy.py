"""A strategy: buy the dip in an uptrend, sell the rip in a downtrend.

It follows one producer's directional signal (``producer``, the z-score producer of ``my_producer.py`` by default)
when the close is on the same side of its ``trend``-bar simple moving average: a long only above it, a short only
below. Every symbol the producer has a view on is a candidate, taken or not, with the reason; that is what
``/decisions`` and the report show.

Size, stop and target come from ``SizingRule``, which every strategy's ``Params`` extends: ``base_size ×
conviction ÷ reference_conviction`` (conviction 7 gives 5% of equity), capped by ``max_size``, the stop and target
``stop_pct`` and ``target_pct`` from the entry; once karma has calibrated the producer, its measured edge sizes the
trade instead of its reported conviction.

Registered in the config as::

    brain:
      strategies:
        - name: dip_in_trend
          module: docs.examples.my_strategy
          class: DipInTrendStrategy
          params: {producer: zscore, trend: 200, stop_pct: 3, target_pct: 6}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import msgspec
import numpy as np

from actors.strategies.sizing import SizingRule, signal_drivers, signal_refs
from b1e55ed.cycle import Candidate, EnrichedCycle
from b1e55ed.messages import Direction
from b1e55ed.plugins import PluginSetup


class DipInTrendStrategy:
    class Params(SizingRule, frozen=True, kw_only=True):
        producer: Annotated[str, msgspec.Meta(min_length=1)] = "zscore"
        trend: Annotated[int, msgspec.Meta(ge=2)] = 200

    def __init__(self, setup: PluginSetup) -> None:
        self.name = setup.name
        self.rule = self.params = setup.params_as(self.Params)

    def evaluate(self, cycle: EnrichedCycle) -> Sequence[Candidate]:
        candidates = []
        for symbol, bars in sorted(cycle.tick.market.items()):
            producer = self.params.producer
            views = [s for s in cycle.signals_for(symbol) if s.producer == producer and s.signal != "neutral"]
            if not views or len(bars) < self.params.trend:
                continue  # nothing to judge: no candidate, no decision
            signal = views[0]
            refs = signal_refs(views, cycle.calibration)
            price = bars.last_close
            mean = float(np.mean(bars.close[-self.params.trend :]))
            side = "above" if price > mean else "below"
            trend = f"close {price:,.6g} {side} its {self.params.trend}-bar mean {mean:,.6g}"
            if (signal.signal == "long") != (price > mean):
                reason = f"{signal.producer} says {signal.signal}, but the {trend}: against the trend"
                candidates.append(
                    Candidate(symbol=symbol, taken=False, reason=reason, signals=refs, candle_close=bars.close_ts)
                )
                continue
            direction: Direction = "long" if signal.signal == "long" else "short"
            candidates.append(
                self.rule.candidate(
                    strategy=self.name,
                    symbol=symbol,
                    direction=direction,
                    entry=price,
                    sizing=self.rule.size(signal_drivers(views), cycle.calibration),
                    setup=f"{signal.producer} {signal.signal} with the trend",
                    rationale=f"{signal.rationale}; {trend}",
                    candle_close=bars.close_ts,
                    refs=refs,
                )
            )
        return candidates
