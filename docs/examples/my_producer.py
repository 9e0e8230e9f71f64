"""A producer: how far the close has strayed from its recent mean, in standard deviations (a z-score).

A close ``z_threshold`` deviations below the mean of the last ``bars`` closes is long (it tends to come back), as
far above is short, anything between neutral. Conviction is 5 at the threshold and one more per half deviation
past it, capped at 10. The z-score is rounded to 4 decimals before it is judged, so the decision follows from the
number the rationale shows.

Registered in the config as::

    brain:
      producers:
        - name: zscore
          module: docs.examples.my_producer
          class: ZScoreProducer
          params: {bars: 48, z_threshold: 2.0}
"""

from __future__ import annotations

import math
from typing import Annotated

import msgspec
import numpy as np

from b1e55ed.market.bars import BarsView
from b1e55ed.messages import Signal, SignalValue
from b1e55ed.plugins import PluginSetup


class ZScoreProducer:
    class Params(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
        bars: Annotated[int, msgspec.Meta(ge=2)] = 48
        z_threshold: Annotated[float, msgspec.Meta(gt=0)] = 2.0

    def __init__(self, setup: PluginSetup) -> None:
        self.name = setup.name  # the config entry's name: every signal carries it
        self.params = setup.params_as(self.Params)  # checked when the config loads; a typo exits 2 naming it

    def produce(self, symbol: str, bars: BarsView, as_of: int) -> Signal | None:
        """The signal for the window's latest close, or None ("no data") while the window is too short."""
        if len(bars) < self.params.bars:
            return None
        closes = bars.close[-self.params.bars :]  # only the window: nothing after ``as_of`` exists here
        spread = float(np.std(closes))
        if spread == 0.0:
            return None
        z = round((float(closes[-1]) - float(np.mean(closes))) / spread, 4)
        threshold = self.params.z_threshold
        where = f"{symbol} close {closes[-1]:,.6g} is {z:+.2f} sd from its {self.params.bars}-bar mean"
        if abs(z) < threshold:
            return self._signal(symbol, "neutral", 1, f"{where}, inside ±{threshold:g}", z, as_of)
        direction: SignalValue = "long" if z < 0 else "short"
        conviction = min(10, 5 + math.floor((abs(z) - threshold) * 2 + 1e-9))
        stretched = "below" if z < 0 else "above"
        return self._signal(symbol, direction, conviction, f"{where}: stretched {stretched}, expect a return", z, as_of)

    def _signal(
        self, symbol: str, direction: SignalValue, conviction: int, rationale: str, z: float, as_of: int
    ) -> Signal:
        return Signal(
            symbol=symbol,
            signal=direction,
            conviction=conviction,
            rationale=rationale,
            producer=self.name,
            timestamp=as_of // 1000,  # the cycle's time (Unix seconds), never the wall clock
            metadata={"z": z, "bars": self.params.bars},
        )
