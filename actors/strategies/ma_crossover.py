"""MA crossover: the fast moving average crosses the slow one on the latest closed bar, with the trend.

What it uses: the symbol's closes only (no producer). Moving averages of kind ``ma`` (``sma``, or ``ema`` seeded
with the SMA of the window's first values), ``fast`` and ``slow`` bars long (defaults 20 and 50). A cross up on
bar *i* means fast > slow on bar *i* and fast ≤ slow on bar *i − 1*; a cross down is the mirror image.

A symbol is considered when a cross happened on the latest closed bar. It is taken when the trend agrees: the
close is above the ``trend`` moving average (default 200 bars) for a long, below it for a short (``trend`` 0
turns the filter off), and the direction is one of ``directions`` (both by default). The strategy's own rule
drives the size with the fixed ``conviction`` param (default 6), looked up in karma's calibration of the rule
once karma has calibrated it (``sizing.py``). Stop and target ``stop_pct`` and ``target_pct`` from the entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal, NamedTuple

import msgspec
import numpy as np
import numpy.typing as npt

from actors.strategies.batch import Spans, at_least, batch_spans
from actors.strategies.judged import Fired, Judgment, SizedJudgments
from actors.strategies.screens import sma_cross_possible
from actors.strategies.sizing import Driver, SizingRule
from b1e55ed.cycle import Candidate, EnrichedCycle
from b1e55ed.market.bars import BarsView
from b1e55ed.market.indicators import ema, ema_rows, sma, sma_rows
from b1e55ed.market.windows import stack
from b1e55ed.messages import Direction
from b1e55ed.plugins import PluginSetup

Floats = npt.NDArray[np.float64]
MAKind = Literal["sma", "ema"]
DIRECTIONS: tuple[Direction, ...] = ("long", "short")


class Cross(NamedTuple):
    direction: Direction  # long: the fast MA crossed above the slow one
    bars_ago: int  # 0: on the latest closed bar
    fast: float  # both averages on the latest closed bar
    slow: float


def moving_average(close: Floats, n: int, kind: str, last: int) -> Floats:
    """The ``last`` values of the ``n``-bar moving average. An SMA needs only the closes it averages; an EMA is
    computed over the whole window, since it remembers all of it (the window is fixed, so it stays a pure function).
    """
    if kind == "ema":
        return ema(close, n)[-last:]
    return sma(close[-(n + last - 1) :], n)[-last:]


def latest_cross(close: Floats, fast: int, slow: int, kind: str, within: int = 1) -> Cross | None:
    """The most recent cross among the last ``within`` bars, when the fast MA is still on the side it crossed to.

    None when there was none, or when the window is too short (``slow + within`` closes are needed).
    """
    if len(close) < slow + within:
        return None
    fast_ma = moving_average(close, fast, kind, within + 1)
    slow_ma = moving_average(close, slow, kind, within + 1)
    return crosses(fast_ma[None, :], slow_ma[None, :])[0]


def latest_crosses(closes: Sequence[Floats], fast: int, slow: int, kind: str, within: int = 1) -> list[Cross | None]:
    """``latest_cross`` for each window's closes, the moving averages computed over all windows at once."""
    answers: list[Cross | None] = [None] * len(closes)
    long_enough = [i for i, close in enumerate(closes) if len(close) >= slow + within]
    usable = [closes[i] for i in long_enough]
    if kind == "ema":
        rows = stack(usable)
        if rows is None:  # windows of unequal length: an EMA remembers the whole window, so one by one
            for i in long_enough:
                answers[i] = latest_cross(closes[i], fast, slow, kind, within)
            return answers
        fast_ma, slow_ma = ema_rows(rows, fast), ema_rows(rows, slow)
    else:
        fast_rows, slow_rows = stack(usable, fast + within), stack(usable, slow + within)
        if fast_rows is None or slow_rows is None:  # no window long enough
            return answers
        fast_ma, slow_ma = sma_rows(fast_rows, fast), sma_rows(slow_rows, slow)
    found = crosses(fast_ma[:, -(within + 1) :], slow_ma[:, -(within + 1) :])
    for i, cross in zip(long_enough, found, strict=True):
        answers[i] = cross
    return answers


def crosses(fast_ma: Floats, slow_ma: Floats) -> list[Cross | None]:
    """For each row of the two averages over the last ``within + 1`` bars: its most recent cross, when the fast
    MA is still on the side it crossed to."""
    side = np.sign(fast_ma - slow_ma)  # NaN before the slow MA exists: neither side
    ups = (side[:, 1:] > 0) & (side[:, :-1] <= 0)
    downs = (side[:, 1:] < 0) & (side[:, :-1] >= 0)
    crossed = ups | downs
    within = crossed.shape[1]
    last = within - 1 - np.argmax(crossed[:, ::-1], axis=1)  # the latest crossing bar, where there is one
    rows = np.arange(len(side))
    up = ups[rows, last]
    # Crossed, and still on the side it crossed to (not back to equal since).
    valid = np.flatnonzero(crossed.any(axis=1) & (side[:, -1] == np.where(up, 1.0, -1.0)))
    answers: list[Cross | None] = [None] * len(side)
    found = zip(
        valid.tolist(),
        up[valid].tolist(),
        (within - 1 - last[valid]).tolist(),
        fast_ma[valid, -1].tolist(),
        slow_ma[valid, -1].tolist(),
        strict=True,
    )
    for row, long, ago, fast, slow in found:
        answers[row] = Cross("long" if long else "short", ago, fast, slow)
    return answers


def sma_tails(spans: Spans, n: int, count: int) -> Floats:
    """``sma_rows(last n + count − 1 closes, n)[:, -count:]`` for each window: the same bits. ``sma_rows`` sums
    each row's values in order from 0 (a cumsum) and divides differences of those sums; here every window's
    values are summed in the same order, time-major (one vector add per step for all windows: a cumsum along
    the time axis would walk each window apart), and only the last ``count`` averages are formed."""
    length = n + count - 1
    sums = np.empty((length + 1, len(spans)))
    sums[0] = 0.0
    sums[1:] = spans.steps("close", length)
    for step in range(1, length + 1):
        np.add(sums[step - 1], sums[step], out=sums[step])
    tails: Floats = ((sums[n:] - sums[:-n]) / n).T
    return tails


def span_crosses(spans: Spans, fast: int, slow: int, kind: str, within: int = 1) -> list[Cross | None]:
    """``latest_crosses`` of the windows' closes: an SMA's closes gathered from the series in one call each."""
    if kind == "ema":
        return latest_crosses([bars.close for bars in spans.windows], fast, slow, kind, within)
    answers: list[Cross | None] = [None] * len(spans)
    possible = spans.lengths >= slow + within  # a shorter window has no cross
    for number, columns in enumerate(spans.series):  # screened: the windows certainly without a cross have none
        mine = np.flatnonzero(possible & (spans.which == number))
        if len(mine):
            possible[mine] = sma_cross_possible(columns.close, spans.stops[mine], fast, slow, within)
    if not possible.any():
        return answers
    usable = spans.select(np.flatnonzero(possible))
    found = crosses(sma_tails(usable, fast, within + 1), sma_tails(usable, slow, within + 1))
    for i, cross in zip(np.flatnonzero(possible).tolist(), found, strict=True):
        answers[i] = cross
    return answers


class CrossParams(SizingRule, frozen=True, kw_only=True):
    """Two moving averages of kind ``ma``, ``fast`` and ``slow`` bars long, and the trend filter's length."""

    fast: Annotated[int, msgspec.Meta(ge=1)] = 20
    slow: Annotated[int, msgspec.Meta(ge=1)] = 50
    ma: MAKind = "sma"
    trend: Annotated[int, msgspec.Meta(ge=0)] = 200

    def __post_init__(self) -> None:
        if self.fast >= self.slow:
            raise ValueError(f"`fast` ({self.fast}) must be below slow ({self.slow})")


class MACrossoverStrategy(SizedJudgments):
    class Params(CrossParams, frozen=True, kw_only=True):
        conviction: Annotated[int, msgspec.Meta(ge=1, le=10)] = 6
        directions: tuple[Direction, ...] = DIRECTIONS

    def __init__(self, setup: PluginSetup) -> None:
        self.name = setup.name
        self.rule = params = setup.params_as(self.Params)
        self.fast, self.slow, self.kind, self.trend = params.fast, params.slow, params.ma, params.trend
        self.conviction, self.directions = params.conviction, params.directions

    def judge(self, cycle: EnrichedCycle) -> list[Judgment]:
        judgments = []
        for symbol, bars in sorted(cycle.tick.market.items()):
            close = bars.close
            if len(close) <= max(self.slow, self.trend):
                continue
            cross = latest_cross(close, self.fast, self.slow, self.kind)
            if cross is not None:
                judgments.append(self._judge(symbol, bars, close, cross))
        return judgments

    def judge_batch(self, cycles: Sequence[EnrichedCycle]) -> list[list[Judgment]]:
        """``judge`` for each cycle, each symbol's crosses found over all its windows at once."""
        judgments: list[list[Judgment]] = [[] for _ in cycles]
        for symbol, spans in batch_spans(cycles).items():
            spans = at_least(spans, max(self.slow, self.trend) + 1)
            answers = span_crosses(spans, self.fast, self.slow, self.kind)
            for index, bars, cross in zip(spans.cycles, spans.windows, answers, strict=True):
                if cross is not None:
                    judgments[index].append(self._judge(symbol, bars, bars.close, cross))
        return judgments

    def _judge(self, symbol: str, bars: BarsView, close: Floats, cross: Cross) -> Judgment:
        price = float(close[-1])
        kind = self.kind.upper()
        crossed = "above" if cross.direction == "long" else "below"
        what = f"{kind}({self.fast}) {cross.fast:,.6g} crossed {crossed} {kind}({self.slow}) {cross.slow:,.6g}"
        blocked = None
        trend_text = ""
        if cross.direction not in self.directions:
            blocked = f"{cross.direction}s are disabled (params.directions)"
        elif self.trend:
            trend_ma = float(moving_average(close, self.trend, self.kind, 1)[0])
            aligned = price > trend_ma if cross.direction == "long" else price < trend_ma
            side = "above" if price > trend_ma else "below" if price < trend_ma else "at"
            trend_text = f"close {price:,.6g} {side} {kind}({self.trend}) {trend_ma:,.6g}"
            if not aligned:
                blocked = f"against the trend: {trend_text}"
        if blocked:
            reason = f"{what}, but {blocked}"
            return Candidate(symbol=symbol, taken=False, reason=reason, candle_close=bars.close_ts)
        trend_part = f", {trend_text}" if trend_text else ""
        return Fired(
            symbol=symbol,
            direction=cross.direction,
            entry=price,
            drivers=(Driver(self.name, self.conviction, rule=True),),
            setup=f"MA cross {cross.direction}{' with the trend' if trend_text else ''}: {what}",
            rationale=f"{symbol}: {what}{trend_part}",
            candle_close=bars.close_ts,
        )
