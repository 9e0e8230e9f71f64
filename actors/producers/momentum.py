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
from collections.abc import Sequence
from typing import Annotated

import msgspec
import numpy as np

from b1e55ed.market.bars import BarsView
from b1e55ed.market.windows import one_series
from b1e55ed.messages import Direction, Signal
from b1e55ed.plugins import PluginSetup

DAY_MS = 86_400_000
DECIMALS = 4
_EPSILON = 1e-9  # whole conviction steps, robust to the float error of the division


class MomentumProducer:
    class Params(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
        lookback_days: Annotated[float, msgspec.Meta(gt=0)] = 20.0
        threshold_pct: float = 5.0

    def __init__(self, setup: PluginSetup) -> None:
        self.name = setup.name
        params = setup.params_as(self.Params)
        self.lookback_days = params.lookback_days
        self.lookback_ms = round(self.lookback_days * DAY_MS)
        self.lookback_bars = max(1, round(self.lookback_ms / setup.timeframe_ms))  # on a grid without gaps
        self.threshold_pct = params.threshold_pct
        days = f"{self.lookback_days:g}d"
        self._rationales = (
            f"% in {days}, inside ±{self.threshold_pct:g}%",
            f"% in {days} (bullish)",
            f"% in {days} (bearish)",
        )

    def produce(self, symbol: str, bars: BarsView, as_of: int) -> Signal | None:
        if len(bars) < 2:
            return None
        ts = bars.ts
        then_index = int(np.searchsorted(ts, int(ts[-1]) - self.lookback_ms, side="right")) - 1
        if then_index < 0:  # the window does not reach back a whole lookback
            return None
        close = bars.close
        from_close_ts = int(ts[then_index]) + bars.timeframe_ms
        return self.signal(symbol, float(close[then_index]), float(close[-1]), from_close_ts, as_of)

    def produce_batch(self, symbol: str, windows: Sequence[BarsView], as_ofs: Sequence[int]) -> list[Signal | None]:
        """``produce`` for each window, without a search where the candles need none.

        On a grid without gaps, the lookback's start is the bar ``lookback_bars`` before the latest: where that
        bar's time is at or before the start and the next bar's after it, that is exactly what the search would
        find, and windows of one length over one series (a replay's consecutive cycles) are checked together.
        Elsewhere (a gap in the last ``lookback_days``, a short window) ``produce`` searches.
        """
        back = self.lookback_bars + 1
        shared = one_series(windows)
        if shared is None or shared.length <= back:
            return [self.produce(symbol, bars, as_of) for bars, as_of in zip(windows, as_ofs, strict=True)]
        columns, starts, length = shared
        latest = starts + length - 1
        then = latest - self.lookback_bars  # the window's bar ``-back``
        cut = columns.ts[latest] - self.lookback_ms
        on_grid = ((columns.ts[then] <= cut) & (cut < columns.ts[then + 1])).tolist()
        from_close_ts = (columns.ts[then] + windows[0].timeframe_ms).tolist()
        moves = zip(on_grid, columns.close[then].tolist(), columns.close[latest].tolist(), from_close_ts, strict=True)
        return [
            self.signal(symbol, from_close, to_close, since, as_of) if grid else self.produce(symbol, bars, as_of)
            for (grid, from_close, to_close, since), bars, as_of in zip(moves, windows, as_ofs, strict=True)
        ]

    def signal(self, symbol: str, then: float, now: float, from_close_ts: int, as_of: int) -> Signal:
        """The signal for a move from ``then`` (the close as of the lookback's start) to ``now``."""
        change_pct = round((now / then - 1.0) * 100.0, DECIMALS)
        inside, bullish, bearish = self._rationales
        metadata = {
            "change_pct": change_pct,
            "lookback_bars": self.lookback_bars,
            "from": then,
            "to": now,
            "from_close_ts": from_close_ts,
        }
        if abs(change_pct) < self.threshold_pct:
            return Signal(
                symbol=symbol,
                signal="neutral",
                conviction=1,
                rationale=f"{symbol} {change_pct:+.1f}{inside}",
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
            rationale=f"{symbol} {change_pct:+.1f}{bullish if direction == 'long' else bearish}",
            producer=self.name,
            timestamp=as_of // 1000,
            metadata=metadata,
        )
