"""RSI oversold: RSI below 30 with the price near support. Longs only.

What it uses: the symbol's bars only (no producer). Wilder's RSI(``rsi_period``, default 14) on the window's
closes, rounded to 4 decimals: the same number as the RSI producer's. A symbol is considered when the RSI of the
latest closed bar is below ``oversold`` (30).

**Support, exactly.** Among the last ``support_bars`` bars (default 200), a *swing low* is a bar whose low is
strictly below the lows of the ``swing_bars`` bars on each side of it (default 5; ``indicators.swing_lows``). A
swing low is therefore only known ``swing_bars`` bars after it, and the latest bars never are one: no look-ahead.
Support is the lowest low of the most recent ``swing_count`` swing lows (default 3).

It is taken when the close is at or above support and at most ``near_pct`` percent above it (default 2%):
``0 ≤ (close − support) ÷ support ≤ near_pct ÷ 100``. A close below support means support broke: not taken.

Conviction is the RSI producer's: 5 at the threshold plus one per whole point below it, capped at 10 (RSI 27.4
gives 7), looked up in karma's calibration of the rule once it has one (``sizing.py``). Stop and target
``stop_pct`` and ``target_pct`` from the entry.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated

import msgspec
import numpy as np

from actors.strategies.batch import Floats, IntArray, at_least, batch_spans
from actors.strategies.judged import Fired, Judgment, SizedJudgments
from actors.strategies.screens import rsi_clears
from actors.strategies.sizing import Driver, SizingRule
from b1e55ed.cycle import Candidate, EnrichedCycle
from b1e55ed.market.bars import BarsView
from b1e55ed.market.indicators import swing_lows, wilder_rsi, wilder_rsi_latest
from b1e55ed.plugins import PluginSetup

RSI_DECIMALS = 4
_EPSILON = 1e-9
_MARGIN = 1e-3  # a screened RSI this far above ``oversold`` stays at or above it once rounded to RSI_DECIMALS


class RSIOversoldStrategy(SizedJudgments):
    class Params(SizingRule, frozen=True, kw_only=True):
        rsi_period: Annotated[int, msgspec.Meta(ge=1)] = 14
        oversold: float = 30.0
        swing_bars: Annotated[int, msgspec.Meta(ge=1)] = 5
        swing_count: Annotated[int, msgspec.Meta(ge=1)] = 3
        support_bars: int = 200
        near_pct: float = 2.0

        def __post_init__(self) -> None:
            if self.support_bars <= 2 * self.swing_bars:
                raise ValueError(f"`support_bars` ({self.support_bars}) must exceed twice swing_bars")

    def __init__(self, setup: PluginSetup) -> None:
        self.name = setup.name
        self.rule = params = setup.params_as(self.Params)
        self.rsi_period, self.oversold, self.near_pct = params.rsi_period, params.oversold, params.near_pct
        self.swing_bars, self.swing_count = params.swing_bars, params.swing_count
        self.support_bars = params.support_bars
        self.min_bars = max(self.rsi_period * 3 + 1, self.support_bars)  # Wilder smoothing needs a few periods

    def judge(self, cycle: EnrichedCycle) -> list[Judgment]:
        judgments = []
        for symbol, bars in sorted(cycle.tick.market.items()):
            close = bars.close
            if len(close) < self.min_bars:
                continue
            raw = float(wilder_rsi(close, self.rsi_period)[-1])  # the whole window, as the producer
            if (judgment := self._consider(symbol, bars, raw)) is not None:
                judgments.append(judgment)
        return judgments

    def judge_batch(self, cycles: Sequence[EnrichedCycle]) -> list[list[Judgment]]:
        """``judge`` for each cycle. Each symbol's windows are screened first (``screens.rsi_clears``): those
        certainly not oversold are skipped, the others get the RSI ``judge`` computes, the windows of one length
        sharing one computation (``wilder_rsi_latest``), as ``judge`` would give each."""
        judgments: list[list[Judgment]] = [[] for _ in cycles]
        for symbol, spans in batch_spans(cycles).items():
            spans = at_least(spans, self.min_bars)
            if not len(spans):
                continue
            one_length = bool((spans.lengths == spans.lengths[0]).all())  # else ``judge``'s own, window by window
            for number, columns in enumerate(spans.series):
                mine = spans.which == number
                clears = rsi_clears(
                    columns.close, spans.starts[mine], spans.stops[mine], self.rsi_period, self.oversold, _MARGIN
                )
                mine[np.flatnonzero(mine)[clears]] = False
                if not mine.any():
                    continue
                doubtful = spans.select(np.flatnonzero(mine))
                raws = (
                    wilder_rsi_latest(doubtful.last("close", int(doubtful.lengths[0])), self.rsi_period).tolist()
                    if one_length
                    else [float(wilder_rsi(bars.close, self.rsi_period)[-1]) for bars in doubtful.windows]
                )
                oversold = [(i, rsi) for i, raw in enumerate(raws) if (rsi := round(raw, RSI_DECIMALS)) < self.oversold]
                if not oversold:
                    continue
                chosen = doubtful.select(np.array([i for i, _ in oversold], dtype=np.int64))
                supports = self.supports(columns.low, chosen.starts, chosen.stops)
                for index, bars, (_, rsi), found in zip(chosen.cycles, chosen.windows, oversold, supports, strict=True):
                    judgments[index].append(self._judge(symbol, bars, rsi, found))
        return judgments

    def _consider(self, symbol: str, bars: BarsView, raw: float) -> Judgment | None:
        """A judgment when the latest RSI (as computed) is oversold, else None."""
        rsi = round(raw, RSI_DECIMALS)
        if math.isnan(rsi) or rsi >= self.oversold:
            return None
        return self._judge(symbol, bars, rsi, self.support(bars))

    def support(self, bars: BarsView) -> tuple[float, int] | None:
        """The support level and how many bars ago its swing low was, or None without a swing low."""
        low = bars.low[-self.support_bars :]
        found = swing_lows(low, self.swing_bars, self.swing_bars)
        if len(found) == 0:
            return None
        recent = found[-self.swing_count :]
        lowest = int(recent[low[recent].argmin()])
        return float(low[lowest]), len(low) - 1 - lowest

    def supports(self, low: Floats, starts: IntArray, stops: IntArray) -> list[tuple[float, int] | None]:
        """``support`` of each window ``low[starts[i]:stops[i]]``, from the swing lows found once along the
        series: a bar's ``swing_bars`` neighbours on each side lie inside every window it is a swing low of, so
        a window's swing lows are the series' that far inside its last ``support_bars`` bars."""
        begins = np.maximum(starts, stops - self.support_bars)
        first, side = int(begins.min()), self.swing_bars
        swings = swing_lows(low[first : int(stops.max())], side, side) + first
        inside = zip(
            np.searchsorted(swings, begins + side).tolist(), np.searchsorted(swings, stops - side).tolist(), strict=True
        )
        positions, values = swings.tolist(), low[swings].tolist()
        found: list[tuple[float, int] | None] = []
        for (lo, hi), stop in zip(inside, stops.tolist(), strict=True):
            if hi <= lo:
                found.append(None)
                continue
            lowest = min(range(max(lo, hi - self.swing_count), hi), key=values.__getitem__)  # the first, as argmin
            found.append((values[lowest], stop - 1 - positions[lowest]))
        return found

    def _judge(self, symbol: str, bars: BarsView, rsi: float, found: tuple[float, int] | None) -> Judgment:
        """The judgment of an oversold RSI, with the window's ``support``."""
        price = bars.last_close
        oversold = f"RSI({self.rsi_period}) {rsi:.1f} < {self.oversold:g}"
        if found is None:
            reason = f"{oversold}, but no swing low in the last {self.support_bars} bars: no support to lean on"
            return Candidate(symbol=symbol, taken=False, reason=reason, candle_close=bars.close_ts)
        support, ago = found
        distance_pct = (price / support - 1.0) * 100.0
        where = (
            f"close {price:,.6g} is {distance_pct:+.2f}% from support {support:,.6g} (lowest of the last"
            f" {self.swing_count} swing lows, {ago} bars ago)"
        )
        if distance_pct < 0:
            reason = f"{oversold}, but support broke: {where}"
            return Candidate(symbol=symbol, taken=False, reason=reason, candle_close=bars.close_ts)
        if distance_pct > self.near_pct:
            reason = f"{oversold}, but not near support: {where}, more than {self.near_pct:g}%"
            return Candidate(symbol=symbol, taken=False, reason=reason, candle_close=bars.close_ts)
        conviction = min(10, 5 + math.floor(self.oversold - rsi + _EPSILON))
        return Fired(
            symbol=symbol,
            direction="long",
            entry=price,
            drivers=(Driver(self.name, conviction, rule=True),),
            setup=f"oversold near support: {oversold}, {distance_pct:.2f}% above support",
            rationale=f"{symbol}: {oversold} (conviction {conviction}); {where}",
            candle_close=bars.close_ts,
        )
