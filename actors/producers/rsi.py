"""RSI producer: Wilder RSI(14). Oversold (below 30) is long, overbought (above 70) short.

Conviction is 5 at the threshold and grows by one per whole RSI point past it, capped at 10: RSI 28 gives 7, as
in the spec's example. The RSI is rounded to 4 decimals, as recorded in the metadata, before it is compared: the
decision follows from the number a person reads, not from float residue (an RSI computed as 27.000000000000135 is
27, three points past 30, conviction 8; and 70.00000000000031 is 70, not overbought).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated

import msgspec

from b1e55ed.market.bars import BarsView
from b1e55ed.market.indicators import wilder_rsi, wilder_rsi_latest
from b1e55ed.market.window_indicators import wilder_rsi_windows
from b1e55ed.market.windows import one_series, stack
from b1e55ed.messages import Direction, Signal
from b1e55ed.plugins import PluginSetup

DECIMALS = 4
_EPSILON = 1e-9  # whole points past the threshold, robust to the float error of the subtraction


class RSIProducer:
    class Params(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
        period: Annotated[int, msgspec.Meta(ge=1)] = 14
        oversold: float = 30.0
        overbought: float = 70.0

    def __init__(self, setup: PluginSetup) -> None:
        self.name = setup.name
        params = setup.params_as(self.Params)
        self.period, self.oversold, self.overbought = params.period, params.oversold, params.overbought
        self._between = f", between {self.oversold:g} and {self.overbought:g}"

    def produce(self, symbol: str, bars: BarsView, as_of: int) -> Signal | None:
        if len(bars) <= self.period * 3:  # Wilder smoothing needs a few periods to settle
            return None
        return self.signal(symbol, float(wilder_rsi(bars.close, self.period)[-1]), as_of)

    def produce_batch(self, symbol: str, windows: Sequence[BarsView], as_ofs: Sequence[int]) -> list[Signal | None]:
        """``produce`` for each window; windows of one length share one RSI computation over all their rows, and
        over one series (a replay's consecutive cycles) each bar's change is computed once."""
        if (shared := one_series(windows)) is not None and shared.length > self.period * 3:
            raws = wilder_rsi_windows(shared.columns.close, shared.starts, shared.length, self.period).tolist()
        elif (closes := stack([bars.close for bars in windows])) is not None and closes.shape[1] > self.period * 3:
            raws = wilder_rsi_latest(closes, self.period).tolist()
        else:
            return [self.produce(symbol, bars, as_of) for bars, as_of in zip(windows, as_ofs, strict=True)]
        return [self.signal(symbol, raw, as_of) for raw, as_of in zip(raws, as_ofs, strict=True)]

    def signal(self, symbol: str, raw: float, as_of: int) -> Signal | None:
        """The signal for the window's latest RSI, as computed (None when it is NaN)."""
        if math.isnan(raw):
            return None
        rsi = round(raw, DECIMALS)
        direction: Direction
        if rsi < self.oversold:
            direction, distance, label = "long", self.oversold - rsi, "oversold"
        elif rsi > self.overbought:
            direction, distance, label = "short", rsi - self.overbought, "overbought"
        else:
            return Signal(
                symbol=symbol,
                signal="neutral",
                conviction=1,
                rationale=f"{symbol} RSI({self.period}) = {rsi:.1f}{self._between}",
                producer=self.name,
                timestamp=as_of // 1000,
                metadata={"rsi": rsi},
            )
        conviction = min(10, 5 + math.floor(distance + _EPSILON))
        return Signal(
            symbol=symbol,
            signal=direction,
            conviction=conviction,
            rationale=f"{symbol} RSI({self.period}) = {rsi:.1f} ({label}, {distance:.1f} past {label} threshold)",
            producer=self.name,
            timestamp=as_of // 1000,
            metadata={"rsi": rsi, "threshold": self.oversold if direction == "long" else self.overbought},
        )
