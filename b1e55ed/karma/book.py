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

**Batches.** A position's exit is a function of the bars after it opened, so a batch of cycles is scored at once:
every position's exit is found in the batch's bars together (numpy, positions × horizon), then the cycles are
walked in order, each resolving the exits whose bar closed by its as-of time, updating the calibration, and giving
its own openings the calibration then in force. A cycle's outcome reads only bars that closed by its as-of time,
and sums are exact (``math.fsum``) or taken in one fixed order, so the events are the same for every batch size,
and after a restart (``restore`` rebuilds the book from the log).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

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

Tables = Mapping[str, Mapping[int, float]]


class NewOpening(NamedTuple):
    """A directional signal, or a rule's decision, to score: a virtual position at its cycle's close ``entry``."""

    source: str
    symbol: str
    direction: Direction
    conviction: int
    entry: float


class KarmaCycle(NamedTuple):
    cycle: int
    as_of: int
    ts: int
    market: Mapping[str, BarsView]
    openings: Sequence[NewOpening] = ()


class Scoring(NamedTuple):
    """A cycle's karma: its event (None when nothing matured) and the calibration in force for the cycle."""

    event: KarmaScored | None
    tables: Tables


@dataclass
class Opening:
    source: str
    symbol: str
    direction: Direction
    conviction: int
    opened: int  # the cycle's as-of time: bars that close after it are checked
    entry: float
    stop: float
    target: float
    p: float | None = None


class _Exit(NamedTuple):
    closed: int  # the close time of the bar it ended in
    first: int  # the index in the view of the first bar of its life
    last: int  # and of the bar it ended in
    price: float
    result: Result


_RESULTS: tuple[Result, ...] = ("loss", "win", "timeout")


class KarmaBook:
    def __init__(self, name: str, config: KarmaConfig, timeframe_ms: int, window_bars: int) -> None:
        """``window_bars``: the bars each cycle's view holds; a batch is scored in spans its views cover."""
        self.name = name
        self.config = config
        self.timeframe_ms = timeframe_ms
        self._span = max(1, window_bars - config.horizon_bars - 1)
        self._open: dict[str, list[Opening]] = {}  # per symbol, in opening order
        self._lives: dict[tuple[str, str], list[tuple[int, int]]] = {}  # recent outcomes' (opened, closed)
        self._tallies: dict[str, Tally] = {}
        # The calibrated sources. Never changed in place: a change makes a new dict, so a cycle can keep the one
        # that was in force for it.
        self.tables: dict[str, dict[int, float]] = {}

    @property
    def holds_any(self) -> bool:
        """Whether any virtual position is still open."""
        return any(self._open.values())

    # -- scoring -----------------------------------------------------------------------------------------------

    def score(self, cycles: Sequence[KarmaCycle]) -> list[Scoring]:
        """Each cycle's karma, in order: the outcomes that matured by its as-of time and the calibration then in
        force; each cycle's openings join the book after its own scoring."""
        scorings: list[Scoring] = []
        for start in range(0, len(cycles), self._span):
            scorings += self._score_span(cycles[start : start + self._span])
        return scorings

    def _score_span(self, cycles: Sequence[KarmaCycle]) -> list[Scoring]:
        if not self.holds_any and not any(c.openings for c in cycles):
            return [Scoring(None, self.tables)] * len(cycles)  # nothing open, nothing opening
        fresh = {
            index: [self._opening(o, cycle.as_of) for o in cycle.openings if _valid(o)]
            for index, cycle in enumerate(cycles)
            if cycle.openings
        }
        positions = {symbol: list(held) for symbol, held in self._open.items() if held}
        for openings in fresh.values():
            for opening in openings:
                positions.setdefault(opening.symbol, []).append(opening)
        views = _latest_views(cycles, set(positions))
        as_ofs = np.array([c.as_of for c in cycles], dtype=np.int64)
        due: dict[int, list[tuple[Opening, _Exit, float]]] = {}
        resolved: dict[str, list[tuple[Opening, _Exit]]] = {}
        for symbol, held in positions.items():
            view = views.get(symbol)
            if view is None or not len(view):
                continue
            exits = self._exits(held, view)
            if not exits:
                continue
            resolved[symbol] = exits
            weights = self._uniqueness(held, exits, view)
            closed = np.array([found.closed for _, found in exits], dtype=np.int64)
            at = np.minimum(np.searchsorted(as_ofs, closed), len(cycles) - 1).tolist()
            for (opening, found), weight, index in zip(exits, weights, at, strict=True):
                due.setdefault(index, []).append((opening, found, weight))
        scorings: list[Scoring] = []
        for index in sorted(due.keys() | fresh.keys()):  # the cycles where something happens, in order
            scorings += [Scoring(None, self.tables)] * (index - len(scorings))
            outcomes = [self._outcome(opening, found, weight) for opening, found, weight in due.get(index, ())]
            scorings.append(Scoring(self._resolve(cycles[index], outcomes) if outcomes else None, self.tables))
            for opening in fresh.get(index, ()):
                opening.p = self.tables.get(opening.source, {}).get(opening.conviction)
        scorings += [Scoring(None, self.tables)] * (len(cycles) - len(scorings))
        for symbol, held in positions.items():
            if not (exits := resolved.get(symbol, [])):
                self._open[symbol] = held
                continue
            ended = {id(opening) for opening, _ in exits}
            self._open[symbol] = [o for o in held if id(o) not in ended]
            for opening, found in exits:
                self._lives.setdefault((opening.source, symbol), []).append((opening.opened, found.closed))
            self._prune(symbol, {o.source for o, _ in exits})
        return scorings

    def _resolve(self, cycle: KarmaCycle, outcomes: list[KarmaOutcome]) -> KarmaScored:
        outcomes.sort(key=lambda o: (o.closed, o.source, o.symbol, o.opened))
        for outcome in outcomes:
            self._tally(outcome)
        changed = {}
        for source in sorted({o.source for o in outcomes}):
            probabilities = self._calibrate(source)
            if probabilities is not None and list(probabilities) != list(self.tables.get(source, {}).values()):
                changed[source] = list(probabilities)
        if changed:
            self.tables = {**self.tables, **{source: table(values) for source, values in changed.items()}}
        return KarmaScored(
            ts=cycle.ts, cycle=cycle.cycle, as_of=cycle.as_of, book=self.name, outcomes=outcomes, calibration=changed
        )

    def _opening(self, new: NewOpening, as_of: int) -> Opening:
        sign = 1 if new.direction == "long" else -1
        stop = round(new.entry * (1 - sign * self.config.stop_pct / 100), 8)
        target = round(new.entry * (1 + sign * self.config.target_pct / 100), 8)
        return Opening(new.source, new.symbol, new.direction, new.conviction, as_of, new.entry, stop, target)

    # -- exits and weights -------------------------------------------------------------------------------------

    def _exits(self, held: list[Opening], view: BarsView) -> list[tuple[Opening, _Exit]]:
        """The positions that exit within ``view``'s bars, and how: all checked together, a row of
        ``horizon_bars`` bars each."""
        closes = view.ts + self.timeframe_ms
        horizon, last = self.config.horizon_bars, len(closes) - 1
        opened = np.array([o.opened for o in held], dtype=np.int64)
        first = np.searchsorted(closes, opened, side="right")
        rows = first[:, None] + np.arange(horizon)[None, :]
        inside = rows <= last
        at = np.minimum(rows, last)
        long = np.array([o.direction == "long" for o in held])
        stop = np.array([o.stop for o in held])
        target = np.array([o.target for o in held])
        highs, lows = view.high[at], view.low[at]
        stopped = inside & np.where(long[:, None], lows <= stop[:, None], highs >= stop[:, None])
        reached = inside & ~stopped & np.where(long[:, None], highs >= target[:, None], lows <= target[:, None])
        hit = stopped | reached
        step = np.argmax(hit, axis=1)
        ended = hit.any(axis=1)
        timed = ~ended & (first + horizon - 1 <= last)
        index = np.where(ended, first + step, first + horizon - 1)
        chosen = np.flatnonzero(ended | timed)
        if not len(chosen):
            return []
        index, first = index[chosen], first[chosen]
        was_stopped = stopped[chosen, step[chosen]] & ended[chosen]
        was_reached = ended[chosen] & ~was_stopped
        level = np.where(was_stopped, stop[chosen], target[chosen])
        bar_open = view.open[index]
        is_long = long[chosen]
        # Beyond the level at the open: a stop fills there (worse), a target too (better).
        beyond = np.where(is_long == was_stopped, bar_open <= level, bar_open >= level)
        price = np.where(was_stopped | was_reached, np.where(beyond, bar_open, level), view.close[index])
        results = np.where(was_stopped, 0, np.where(was_reached, 1, 2)).tolist()
        return [
            (held[row], _Exit(closed, start, end, value, _RESULTS[code]))
            for row, closed, start, end, value, code in zip(
                chosen.tolist(),
                closes[index].tolist(),
                first.tolist(),
                index.tolist(),
                price.tolist(),
                results,
                strict=True,
            )
        ]

    def _uniqueness(self, held: list[Opening], exits: list[tuple[Opening, _Exit]], view: BarsView) -> list[float]:
        """For each exit: the mean over the bars of its position's life of 1 ÷ the positions of its source and
        symbol alive in the bar (those resolved before, kept in ``_lives``, and every one held, itself included).
        Exact sums (``math.fsum``), so the weight does not depend on where the view starts."""
        closes = view.ts + self.timeframe_ms
        ended = {id(opening): found.closed for opening, found in exits}
        inverse: dict[str, list[float]] = {}
        for source in sorted({opening.source for opening, _ in exits}):
            group = [o for o in held if o.source == source]
            lives = self._lives.get((source, group[0].symbol), [])
            starts = np.sort(np.array([o.opened for o in group] + [s for s, _ in lives], dtype=np.int64))
            never = np.iinfo(np.int64).max
            ends = np.sort(np.array([ended.get(id(o), never) for o in group] + [e for _, e in lives], dtype=np.int64))
            alive = np.searchsorted(starts, closes, side="left") - np.searchsorted(ends, closes, side="left")
            inverse[source] = (1.0 / np.maximum(alive, 1)).tolist()
        weights = []
        for opening, found in exits:
            life = inverse[opening.source][found.first : found.last + 1]
            weights.append(math.fsum(life) / len(life) if life else 1.0)
        return weights

    def _outcome(self, opening: Opening, found: _Exit, weight: float) -> KarmaOutcome:
        sign = 1 if opening.direction == "long" else -1
        return KarmaOutcome(
            source=opening.source,
            symbol=opening.symbol,
            direction=opening.direction,
            conviction=opening.conviction,
            opened=opening.opened,
            entry=opening.entry,
            closed=found.closed,
            exit=found.price,
            bars=found.last - found.first + 1,
            result=found.result,
            ret=sign * (found.price - opening.entry) / opening.entry,
            weight=weight,
            p=opening.p,
        )

    def _prune(self, symbol: str, sources: Iterable[str]) -> None:
        """Forget the lives that ended before every open position of their source and symbol began."""
        for source in sources:
            lives = self._lives.get((source, symbol))
            if not lives:
                continue
            earliest = min((o.opened for o in self._open.get(symbol, []) if o.source == source), default=math.inf)
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
        closes: Mapping[str, float] = {}
        as_of = 0

        def flush() -> None:
            for opening in pending:
                opening.p = self.tables.get(opening.source, {}).get(opening.conviction)
                self._open.setdefault(opening.symbol, []).append(opening)
            pending.clear()

        for event in events:
            if isinstance(event, CycleStarted):
                flush()
                closes, as_of = event.closes, event.as_of
            elif isinstance(event, SnapshotRecorded):
                flush()
            elif isinstance(event, KarmaScored) and event.book == self.name:
                self._restore_outcomes(event)  # before this cycle's openings: they come after its karma slot
            elif (new := self._logged_opening(event, closes)) is not None:
                pending.append(self._opening(new, as_of))
        flush()

    def _restore_outcomes(self, event: KarmaScored) -> None:
        for outcome in event.outcomes:
            held = self._open.get(outcome.symbol, [])
            self._open[outcome.symbol] = [
                o for o in held if not (o.source == outcome.source and o.opened == outcome.opened)
            ]
            self._lives.setdefault((outcome.source, outcome.symbol), []).append((outcome.opened, outcome.closed))
            self._tally(outcome)
        if event.calibration:
            self.tables = {**self.tables, **{source: table(values) for source, values in event.calibration.items()}}
        for symbol, source in sorted({(o.symbol, o.source) for o in event.outcomes}):
            self._prune(symbol, [source])

    def _logged_opening(self, event: Event, closes: Mapping[str, float]) -> NewOpening | None:
        """The position a logged signal (producers) or decision (this book's rule) opened, if it opened one."""
        new: NewOpening
        if self.name == PRODUCERS and isinstance(event, SignalRecorded):
            signal = event.signal
            if signal.signal == "neutral":
                return None
            entry = closes.get(signal.symbol, 0.0)
            new = NewOpening(signal.producer, signal.symbol, signal.signal, signal.conviction, entry)
        elif isinstance(event, Decision) and event.strategy == self.name and event.direction is not None:
            conviction = rule_conviction(event.sizing)
            new = NewOpening(event.strategy, event.symbol, event.direction, conviction, closes.get(event.symbol, 0.0))
        else:
            return None
        return new if _valid(new) else None


def _latest_views(cycles: Sequence[KarmaCycle], symbols: set[str]) -> dict[str, BarsView]:
    """Each of ``symbols``' latest view among ``cycles`` (a symbol absent from them has none)."""
    views: dict[str, BarsView] = {}
    for cycle in reversed(cycles):
        for symbol in symbols.intersection(cycle.market).difference(views):
            views[symbol] = cycle.market[symbol]
        if len(views) == len(symbols):
            break
    return views


def _valid(new: NewOpening) -> bool:
    return new.entry > 0 and math.isfinite(new.entry) and new.conviction in CONVICTIONS


def rule_conviction(sizing: Mapping[str, float]) -> int:
    """The conviction a decision reported (its drivers' mean, rounded), from its sizing record; 0 when unsized."""
    return int(sizing.get("conviction", 0))
