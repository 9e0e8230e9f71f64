"""Momentum producer: price velocity over the spec's 20-day lookback, counted in time (480 bars on 1h).

A rise of at least ``threshold_pct`` over the lookback is long, a fall as large short. Conviction is 4 at the
threshold and grows in proportion to the move, capped at 10 (2.5 × the threshold).
"""

from __future__ import annotations

from b1e55ed.market.bars import BarsView
from b1e55ed.messages import Direction, Signal
from b1e55ed.plugins import PluginSetup

DAY_MS = 86_400_000


class MomentumProducer:
    def __init__(self, setup: PluginSetup) -> None:
        self.name = setup.name
        self.lookback_days = setup.param("lookback_days", 20.0)
        self.lookback_bars = max(1, round(self.lookback_days * DAY_MS / setup.timeframe_ms))
        self.threshold_pct = setup.param("threshold_pct", 5.0)

    def produce(self, symbol: str, bars: BarsView, as_of: int) -> Signal | None:
        if len(bars) <= self.lookback_bars:
            return None
        close = bars.close
        then, now = float(close[-1 - self.lookback_bars]), float(close[-1])
        change_pct = (now / then - 1.0) * 100.0
        days = f"{self.lookback_days:g}d"
        metadata = {"change_pct": round(change_pct, 4), "lookback_bars": self.lookback_bars, "from": then, "to": now}
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
        conviction = min(10, int(4 * abs(change_pct) / self.threshold_pct))
        return Signal(
            symbol=symbol,
            signal=direction,
            conviction=conviction,
            rationale=f"{symbol} {change_pct:+.1f}% in {days} ({'bullish' if direction == 'long' else 'bearish'})",
            producer=self.name,
            timestamp=as_of // 1000,
            metadata=metadata,
        )
