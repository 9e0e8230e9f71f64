"""A karma book: the virtual positions of one family of sources (the producers, or one strategy's rule), scored
cycle by cycle, and the calibration they have earned.

Every directional signal opens a virtual position at its cycle's close, its stop and target ``stop_pct`` and
``target_pct`` away (rounded as a trade's levels are). From the next bar on, each bar is checked as the paper
venue checks a position's stop and target: the stop first (both inside one bar is a loss), a bar that opens
beyond a level fills at its open. The target first is a ``win``, the stop a ``loss``; after ``horizon_bars``
bars without either, a ``timeout`` at the close, with its signed return.

**Uniqueness.** Outcomes of one source and symbol overlap when the source repeats itself, so each outcome weighs
the average, over the bars of its life, of 1 ÷ the number of that source's outcomes on that symbol alive in the
bar. Every count is a sum of these weights.

A cycle's scoring reads only bars that closed by its as-of time, and the state after it depends on nothing
else: so batching and restarts change nothing (``restore`` rebuilds the book from the log).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from b1e55ed.karma.calibration import CONVICTIONS, Tally, calibrate, table
from b1e55ed.karma.config import KarmaConfig
from b1e55ed.market.bars import BarsView
from b1e55ed.messages import (
    CycleStarted,
    Decision,
    Direction,
    Event,
    KarmaOutcome,
    KarmaScored,
    Result,
    SignalRecorded,
    SnapshotRecorded,
)

PRODUCERS = "producers"
RETURN_DECIMALS = 8
WEIGHT_DECIMALS = 6

Floats = npt.NDArray[np.float64]


@dataclass
class Opening:
    source: str
    symbol: str
    direction: Direction
    conviction: int
    opened: int  # the cycle's as-of time: bars that close after it are checked
    entry: float
    p: float | None
    bars: int = 0  # bars checked so far; -1 until a restored opening is first checked


@dataclass
class _OpenSet:
    """One symbol's open positions, as arrays for the per-bar check."""

    openings: list[Opening] = field(default_factory=list)
    long: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    stop: Floats = field(default_factory=lambda: np.zeros(0))
    target: Floats = field(default_factory=lambda: np.zeros(0))

    def add(self, opening: Opening, stop: float, target: float) -> None:
        self.openings.append(opening)
        self.long = np.append(self.long, opening.direction == "long")
        self.stop = np.append(self.stop, stop)
        self.target = np.append(self.target, target)

    def keep(self, rows: npt.NDArray[np.bool_]) -> None:
        self.openings = [o for o, kept in zip(self.openings, rows.tolist(), strict=True) if kept]
        self.long, self.stop, self.target = self.long[rows], self.stop[rows], self.target[rows]


class KarmaBook:
    def __init__(self, name: str, config: KarmaConfig, timeframe_ms: int) -> None:
        self.name = name
        self.config = config
        self.timeframe_ms = timeframe_ms
        self._open: dict[str, _OpenSet] = {}
        self._checked: dict[str, int] = {}  # per symbol: the close time of the last bar checked
        self._lives: dict[tuple[str, str], list[tuple[int, int]]] = {}  # recent outcomes' (opened, closed)
        self._tallies: dict[str, Tally] = {}
        self.tables: dict[str, dict[int, float]] = {}  # the calibrated sources

    # -- the cycle ---------------------------------------------------------------------------------------------

    def score(self, *, cycle: int, as_of: int, ts: int, market: Mapping[str, BarsView]) -> KarmaScored | None:
        """Resolve the outcomes that matured by ``as_of`` (every symbol's bars after the last checked), update
        the calibration, and return the cycle's karma event (None when nothing matured)."""
        outcomes: list[KarmaOutcome] = []
        for symbol in sorted(market):
            outcomes += self._check(symbol, market[symbol])
        if not outcomes:
            return None
        outcomes.sort(key=lambda o: (o.closed, o.source, o.symbol, o.opened))
        for outcome in outcomes:
            self._tally(outcome)
        changed = {}
        for source in sorted({o.source for o in outcomes}):
            probabilities = self._calibrate(source)
            if probabilities is not None and list(probabilities) != list(self.tables.get(source, {}).values()):
                self.tables[source] = table(probabilities)
                changed[source] = list(probabilities)
        return KarmaScored(ts=ts, cycle=cycle, as_of=as_of, book=self.name, outcomes=outcomes, calibration=changed)

    def open(
        self, *, source: str, symbol: str, direction: Direction, conviction: int, as_of: int, entry: float
    ) -> None:
        """A virtual position for a directional signal (or a rule's decision) at its cycle's close ``entry``."""
        if not (entry > 0 and math.isfinite(entry)) or conviction not in CONVICTIONS:
            return
        p = self.tables.get(source, {}).get(conviction)
        self._add(Opening(source, symbol, direction, conviction, as_of, entry, p))

    def _add(self, opening: Opening) -> None:
        sign = 1 if opening.direction == "long" else -1
        stop = round(opening.entry * (1 - sign * self.config.stop_pct / 100), 8)
        target = round(opening.entry * (1 + sign * self.config.target_pct / 100), 8)
        self._open.setdefault(opening.symbol, _OpenSet()).add(opening, stop, target)

    # -- checking bars -----------------------------------------------------------------------------------------

    def _check(self, symbol: str, bars: BarsView) -> list[KarmaOutcome]:
        positions = self._open.get(symbol)
        last = self._checked.get(symbol)
        self._checked[symbol] = bars.close_ts
        if positions is None or not positions.openings or last is None:
            return []
        closes = bars.ts + self.timeframe_ms
        first = int(np.searchsorted(closes, last, side="right"))
        if first >= len(closes):
            return []
        for opening in positions.openings:
            if opening.bars < 0:  # restored: the bars it had already been checked against
                opening.bars = int(np.count_nonzero((closes > opening.opened) & (closes <= last)))
        outcomes: list[KarmaOutcome] = []
        opens, highs, lows, last_closes = bars.open, bars.high, bars.low, bars.close
        for index in range(first, len(closes)):
            if not positions.openings:
                break
            bar_open, high, low = float(opens[index]), float(highs[index]), float(lows[index])
            long, stop, target = positions.long, positions.stop, positions.target
            stopped = np.where(long, low <= stop, high >= stop)
            reached = ~stopped & np.where(long, high >= target, low <= target)
            done = stopped | reached
            for opening in positions.openings:
                opening.bars += 1
            ages = np.fromiter((o.bars for o in positions.openings), dtype=np.int64, count=len(positions.openings))
            done |= ages >= self.config.horizon_bars
            if not done.any():
                continue
            closed = int(closes[index])
            for row in np.flatnonzero(done).tolist():
                opening = positions.openings[row]
                result: Result
                if stopped[row]:
                    level = float(stop[row])
                    gapped = bar_open <= level if long[row] else bar_open >= level
                    result, exit_price = "loss", bar_open if gapped else level
                elif reached[row]:
                    level = float(target[row])
                    gapped = bar_open >= level if long[row] else bar_open <= level
                    result, exit_price = "win", bar_open if gapped else level
                else:
                    result, exit_price = "timeout", float(last_closes[index])
                outcomes.append(self._outcome(opening, closed, exit_price, result, closes[: index + 1]))
            resolved = positions.openings
            positions.keep(~done)
            for row in np.flatnonzero(done).tolist():
                opening = resolved[row]
                self._lives.setdefault((opening.source, symbol), []).append((opening.opened, closed))
            self._prune(symbol, {o.source for o in resolved})
        return outcomes

    def _outcome(
        self, opening: Opening, closed: int, exit_price: float, result: Result, closes: npt.NDArray[np.int64]
    ) -> KarmaOutcome:
        sign = 1 if opening.direction == "long" else -1
        return KarmaOutcome(
            source=opening.source,
            symbol=opening.symbol,
            direction=opening.direction,
            conviction=opening.conviction,
            opened=opening.opened,
            entry=opening.entry,
            closed=closed,
            exit=exit_price,
            bars=opening.bars,
            result=result,
            ret=round(sign * (exit_price - opening.entry) / opening.entry, RETURN_DECIMALS),
            weight=self._uniqueness(opening, closes[closes > opening.opened]),
            p=opening.p,
        )

    def _uniqueness(self, opening: Opening, life: npt.NDArray[np.int64]) -> float:
        """The mean over ``life`` (the close times of its bars) of 1 ÷ the outcomes of its source and symbol alive
        in each bar: those resolved since (their lives are kept) and those still open, itself included."""
        if len(life) == 0:
            return 1.0
        starts = [o.opened for o in self._open[opening.symbol].openings if o.source == opening.source]
        ends = [math.inf] * len(starts)
        for start, end in self._lives.get((opening.source, opening.symbol), ()):
            starts.append(start)
            ends.append(end)
        times = life.astype(np.float64)[:, None]
        alive = (np.asarray(starts, dtype=np.float64)[None, :] < times) & (np.asarray(ends)[None, :] >= times)
        concurrent = alive.sum(axis=1)
        return round(float(np.mean(1.0 / concurrent)), WEIGHT_DECIMALS)

    def _prune(self, symbol: str, sources: Iterable[str]) -> None:
        """Forget the lives that ended before every open outcome of their source and symbol began."""
        for source in sources:
            lives = self._lives.get((source, symbol))
            if not lives:
                continue
            starts = [o.opened for o in self._open[symbol].openings if o.source == source]
            earliest = min(starts, default=math.inf)
            self._lives[(source, symbol)] = [(s, e) for s, e in lives if e > earliest]

    # -- calibration -------------------------------------------------------------------------------------------

    def _tally(self, outcome: KarmaOutcome) -> None:
        tally = self._tallies.setdefault(outcome.source, Tally())
        tally.add(outcome.conviction, outcome.weight, outcome.result == "win")

    def _calibrate(self, source: str) -> tuple[float, ...] | None:
        config = self.config
        return calibrate(self._tallies[source], min_samples=config.min_samples, prior_strength=config.prior_strength)

    # -- restart -----------------------------------------------------------------------------------------------

    def restore(self, events: Iterable[Event]) -> None:
        """Rebuild the book from the log (events in seq order): every outcome logged, the calibration then in
        force, and the positions still open. Each opening's calibrated probability is the one in force after its
        cycle's karma slot, as it was when the cycle ran."""
        pending: list[Opening] = []
        closes: dict[str, float] = {}
        as_of = 0

        def flush() -> None:
            for opening in pending:
                opening.p = self.tables.get(opening.source, {}).get(opening.conviction)
                self._add(opening)
            pending.clear()

        for event in events:
            if isinstance(event, CycleStarted):
                flush()
                closes, as_of = event.closes, event.as_of
            elif isinstance(event, SnapshotRecorded):
                flush()
            elif isinstance(event, KarmaScored) and event.book == self.name:
                self._restore_outcomes(event)  # before this cycle's openings: they come after its karma slot
            elif (opening := self._opening(event, closes, as_of)) is not None:
                pending.append(opening)
        flush()
        for symbol, positions in self._open.items():
            for opening in positions.openings:
                opening.bars = -1
            self._checked[symbol] = as_of

    def _restore_outcomes(self, event: KarmaScored) -> None:
        for outcome in event.outcomes:
            positions = self._open.get(outcome.symbol)
            if positions is not None:
                rows = np.fromiter(
                    (not (o.source == outcome.source and o.opened == outcome.opened) for o in positions.openings),
                    dtype=bool,
                    count=len(positions.openings),
                )
                positions.keep(rows)
            self._lives.setdefault((outcome.source, outcome.symbol), []).append((outcome.opened, outcome.closed))
            self._tally(outcome)
        for source, probabilities in event.calibration.items():
            self.tables[source] = table(probabilities)
        for symbol, source in {(o.symbol, o.source) for o in event.outcomes}:
            if symbol in self._open:
                self._prune(symbol, [source])

    def _opening(self, event: Event, closes: Mapping[str, float], as_of: int) -> Opening | None:
        if self.name == PRODUCERS and isinstance(event, SignalRecorded):
            signal = event.signal
            if signal.signal == "neutral" or signal.symbol not in closes:
                return None
            direction: Direction = signal.signal
            source, symbol, conviction = signal.producer, signal.symbol, signal.conviction
        elif isinstance(event, Decision) and event.strategy == self.name and event.direction is not None:
            direction, source, symbol = event.direction, event.strategy, event.symbol
            conviction = rule_conviction(event.sizing)
        else:
            return None
        entry = closes.get(symbol, 0.0)
        if not (entry > 0 and conviction in CONVICTIONS):
            return None
        return Opening(source, symbol, direction, conviction, as_of, entry, None)


def rule_conviction(sizing: Mapping[str, float]) -> int:
    """The conviction a decision reported (its drivers' mean, rounded), from its sizing record; 0 when unsized."""
    return int(sizing.get("conviction", 0))
