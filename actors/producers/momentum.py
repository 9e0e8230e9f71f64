"""Momentum producer: price velocity over the spec's 20-day lookback, counted in time (480 bars on 1h).

The change is measured from the close as of ``lookback_days`` before the latest close: the last bar that had
closed by then, found by time, so a gap in the candle grid (the exchange's outages) does not stretch the lookback.
A window that does not reach that far back is "no data".

A rise of at least ``threshold_pct`` over the lookback is long, a fall as large short. Conviction is 4 at the
threshold and grows in proportion to the move, capped at 10 (2.5 × the threshold). The change is rounded to 4
decimals, as recorded in the metadata, before it is judged: -9.999999999999998% is -10%, conviction 8.
"""

from __future__ import annotations

import math

import numpy as np

from b1e55ed.market.bars import BarsView
from b1e55ed.messages import Direction, Signal
from b1e55ed.plugins import PluginSetup

DAY_MS = 86_400_000
DECIMALS = 4
_EPSILON = 1e-9  # whole conviction steps, robust to the float error of the division


class MomentumProducer:
    def __init__(self, setup: PluginSetup) -> None:
        self.name = setup.name
        self.lookback_days = setup.param("lookback_days", 20.0)
        self.lookback_ms = round(self.lookback_days * DAY_MS)
        self.lookback_bars = max(1, round(self.lookback_ms / setup.timeframe_ms))  # on a grid without gaps
        self.threshold_pct = setup.param("threshold_pct", 5.0)

    def produce(self, symbol: str, bars: BarsView, as_of: int) -> Signal | None:
        if len(bars) < 2:
            return None
        ts = bars.ts
        then_index = int(np.searchsorted(ts, int(ts[-1]) - self.lookback_ms, side="right")) - 1
        if then_index < 0:  # the window does not reach back a whole lookback
            return None
        close = bars.close
        then, now = float(close[then_index]), float(close[-1])
        change_pct = round((now / then - 1.0) * 100.0, DECIMALS)
        days = f"{self.lookback_days:g}d"
        metadata = {
            "change_pct": change_pct,
            "lookback_bars": self.lookback_bars,
            "from": then,
            "to": now,
            "from_close_ts": int(ts[then_index]) + bars.timeframe_ms,
        }
        if abs(change_pct) < self.threshold_pct:
            return Signal(
                symbol=symbol,
                signal="neutral",
                conviction=1,
                rationale=f"{symbol} {change_pct:+.1f}% in {days}, inside ±{self.threshold_pct:g}%",
                producer=self.name,
                timestamp=as_of // 1000,
                metadata=metadata,
            )
        direction: Direction = "long" if change_pct > 0 else "short"
        conviction = min(10, math.floor(4 * abs(change_pct) / self.threshold_pct + _EPSILON))
        return Signal(
            symbol=symbol,
            signal=direction,
            conviction=conviction,
            rationale=f"{symbol} {change_pct:+.1f}% in {days} ({'bullish' if direction == 'long' else 'bearish'})",
            producer=self.name,
            timestamp=as_of // 1000,
            metadata=metadata,
        )
