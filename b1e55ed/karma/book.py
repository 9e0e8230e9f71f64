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
the positions are held in columns (``positions``), and every position's exit and weight is found in the batch's
bars together (``exits``): each symbol's bars from its first window in the batch to its latest, when the brain
made the batch's markets together (``market.batch``). The outcomes are then put in the order they are logged, and
the cycles where some mature are walked in order: each adds its outcomes to the tallies and recalibrates the
sources they came from.
An opening carries the calibration in force after its own cycle's. A cycle's outcome reads only bars that
closed by its as-of time, and sums are exact (``math.fsum``'s) or taken in one fixed order, so the events are the
same for every batch size, and after a restart (``restore`` rebuilds the book from the log).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import NamedTuple

import numpy as np

from b1e55ed.karma.calibration import CONVICTIONS, Tally, calibrate, table
from b1e55ed.karma.config import KarmaConfig
from b1e55ed.karma.exits import WIN, Bars, Exits, Lives, Matured, find_exits, uniqueness
from b1e55ed.karma.positions import FloatArray, IntArray, Names, Positions, levels
from b1e55ed.market.bars import BarsView
from b1e55ed.market.batch import covering_views, latest_views
from b1e55ed.messages import (
    CycleStarted,
    Decision,
    Direction,
    Event,
    KarmaOutcome,
    KarmaScored,
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


_DIRECTIONS = np.array(["short", "long"], dtype=object)  # by ``long``
_RESULTS = np.array(["loss", "win", "timeout"], dtype=object)  # by ``Exits.result``
_UNCALIBRATED: Mapping[int, float] = {}
_NEVER = np.iinfo(np.int64).max


class KarmaBook:
    def __init__(self, name: str, config: KarmaConfig, timeframe_ms: int, window_bars: int) -> None:
        """``window_bars``: the bars each cycle's view holds; cycles whose markets were not made together as one
        batch are scored in spans their latest views cover."""
        self.name = name
        self.config = config
        self.timeframe_ms = timeframe_ms
        self._span = max(1, window_bars - config.horizon_bars - 1)
        self._open = Positions.none()  # in opening order
        self._lives = Lives._make(np.zeros(0, dtype=np.int64) for _ in Lives._fields)  # recent outcomes
        self._tallies: dict[str, Tally] = {}
        self._symbols = Names()  # the numbers in ``Positions`` and ``Lives``
        self._sources = Names()
        # The calibrated sources. Never changed in place: a change makes a new dict, so a cycle can keep the one
        # that was in force for it.
        self.tables: dict[str, dict[int, float]] = {}
        self._calibrated: dict[str, tuple[float, ...]] = {}  # each table's probabilities, to compare

    @property
    def holds_any(self) -> bool:
        """Whether any virtual position is still open."""
        return len(self._open) > 0

    # -- scoring -----------------------------------------------------------------------------------------------

    def score(self, cycles: Sequence[KarmaCycle]) -> list[Scoring]:
        """Each cycle's karma, in order: the outcomes that matured by its as-of time and the calibration then in
        force; each cycle's openings join the book after its own scoring.

        A batch whose markets were made together (``market.batch``) is scored at once, against each symbol's bars
        from its first window in the batch to its latest. Other cycles go in spans short enough that their latest
        windows hold every bar their positions need."""
        if (covering := covering_views([cycle.market for cycle in cycles])) is not None:
            return self._score_span(cycles, covering)
        scorings: list[Scoring] = []
        for start in range(0, len(cycles), self._span):
            scorings += self._score_span(cycles[start : start + self._span], None)
        return scorings

    def _score_span(self, cycles: Sequence[KarmaCycle], views: Mapping[str, BarsView] | None) -> list[Scoring]:
        """Cycles checked against the same bars at once: each symbol's in ``views``, or in its latest view."""
        if not self.holds_any and not any(c.openings for c in cycles):
            return [Scoring(None, self.tables)] * len(cycles)  # nothing open, nothing opening
        as_ofs = np.array([c.as_of for c in cycles], dtype=np.int64)
        held, start, at = self._held(cycles, as_ofs)
        bars = self._bars(cycles, held, views)
        first = bars.after(held.symbol, held.opened)
        exits = find_exits(held, first, bars, self.config.horizon_bars)
        weights = uniqueness(held, first, exits, self._lives, bars)
        matured, due = self._matured(held, exits, weights, as_ofs)
        versions: list[Tables] = [self.tables]  # the calibration in force before each event, and after the last
        dues, calibrations = self._recalibrate(matured, due, versions)
        in_force = np.searchsorted(np.array(dues, dtype=np.int64), at, side="right").tolist()
        held = self._probabilities(held, start, [versions[v] for v in in_force])
        p = [held.p[row] for row in matured.row.tolist()]
        events = self._events(cycles, matured, p, due, calibrations)
        scorings: list[Scoring] = []
        for group, (index, event) in enumerate(zip(dues, events, strict=True)):
            scorings += [Scoring(None, versions[group])] * (index - len(scorings))
            scorings.append(Scoring(event, versions[group + 1]))
        scorings += [Scoring(None, versions[-1])] * (len(cycles) - len(scorings))
        self._keep(held, exits)
        return scorings

    def _held(self, cycles: Sequence[KarmaCycle], as_ofs: IntArray) -> tuple[Positions, int, IntArray]:
        """The positions open in the span: those carried, then those its cycles open; the row of the first new
        one, and the index of the cycle each new one opens in."""
        carried = len(self._open)
        openings = [opening for cycle in cycles for opening in cycle.openings]
        if not openings:
            return self._open, carried, np.zeros(0, dtype=np.int64)
        at = np.repeat(np.arange(len(cycles)), [len(cycle.openings) for cycle in cycles])
        new, kept = self._positions(openings, as_ofs[at])
        return Positions.join([self._open, new]), carried, at[kept]

    def _positions(self, new: Sequence[NewOpening], opened: IntArray) -> tuple[Positions, IntArray]:
        """The valid ones of ``new`` (a positive, finite entry and a conviction 1–10) as positions opened at
        ``opened``, their probabilities not known yet (None); and the index in ``new`` of each."""
        sources, symbols, directions, convictions, entries = zip(*new, strict=True)
        entry = np.array(entries, dtype=np.float64)
        conviction = np.array(convictions)
        if conviction.dtype.kind == "i":
            known = (conviction >= CONVICTIONS[0]) & (conviction <= CONVICTIONS[-1])
        else:
            known = np.isin(conviction, CONVICTIONS)
        kept = np.flatnonzero((entry > 0) & np.isfinite(entry) & known)
        long = np.array([direction == "long" for direction in directions], dtype=np.bool_)[kept]
        entry = entry[kept]
        stop, target = levels(entry, long, self.config.stop_pct, self.config.target_pct)
        symbol, source = self._symbols.number(symbols)[kept], self._sources.number(sources)[kept]
        conviction = conviction[kept].astype(np.int64)
        return Positions(symbol, source, long, conviction, opened[kept], entry, stop, target, [None] * len(kept)), kept

    def _bars(self, cycles: Sequence[KarmaCycle], held: Positions, views: Mapping[str, BarsView] | None) -> Bars:
        """The bars of the symbols held: each one's in ``views``, or its latest view among ``cycles``."""
        names = self._symbols.names
        held_by = {names[number] for number in np.bincount(held.symbol, minlength=len(names)).nonzero()[0].tolist()}
        if views is None:
            views = latest_views([cycle.market for cycle in cycles], held_by)
        return Bars.of([views.get(name) if name in held_by else None for name in names], self.timeframe_ms)

    def _matured(
        self, held: Positions, exits: Exits, weights: FloatArray, as_ofs: IntArray
    ) -> tuple[Matured, IntArray]:
        """The exits in the order their outcomes are logged: by close time, source, symbol and opening time (a
        stable sort: a full tie keeps its order); and the index of the cycle each matures in."""
        matured = Matured.of(held, exits, weights)
        symbol, source = self._symbols.ranks[matured.symbol], self._sources.ranks[matured.source]
        matured = matured.take(np.lexsort((matured.opened, symbol, source, matured.closed)))
        return matured, np.minimum(np.searchsorted(as_ofs, matured.closed), len(as_ofs) - 1)

    def _recalibrate(
        self, matured: Matured, due: IntArray, versions: list[Tables]
    ) -> tuple[list[int], list[dict[str, list[float]]]]:
        """Walk the cycles where outcomes mature, in order: each source's outcomes join its tally in their logged
        order, and the sources they came from are recalibrated (in name order). Returns each such cycle's index
        and its changed calibration; appends the calibration in force after it to ``versions``."""
        grouped = np.lexsort((self._sources.ranks[matured.source], due))  # stable: a source's outcomes keep order
        due, source = due[grouped], matured.source[grouped]
        bounds = [*_starts(due, source), len(due)]
        cycle, number = due.tolist(), source.tolist()
        convictions, weights = matured.conviction[grouped].tolist(), matured.weight[grouped].tolist()
        won = (matured.result[grouped] == WIN).tolist()
        dues: list[int] = []
        calibrations: list[dict[str, list[float]]] = []
        changed: dict[str, list[float]] = {}
        names, tallies, calibrated = self._sources.names, self._tallies, self._calibrated
        min_samples, prior_strength = self.config.min_samples, self.config.prior_strength
        for low, high in itertools.pairwise(bounds):
            name = names[number[low]]
            if (tally := tallies.get(name)) is None:
                tally = tallies[name] = Tally()
            tally.extend(convictions[low:high], weights[low:high], won[low:high])
            probabilities = calibrate(tally, min_samples=min_samples, prior_strength=prior_strength)
            if probabilities is not None and probabilities != calibrated.get(name):
                changed[name] = list(probabilities)
            if high == len(cycle) or cycle[high] != cycle[low]:  # the cycle's last source
                self._adopt(changed)
                dues.append(cycle[low])
                calibrations.append(changed)
                versions.append(self.tables)
                changed = {}
        return dues, calibrations

    def _probabilities(self, positions: Positions, start: int, tables: Sequence[Tables]) -> Positions:
        """``positions``, the rows from ``start`` on given their probabilities: each row's source and conviction
        in its own one of ``tables``."""
        names = self._sources.names
        rows = zip(tables, positions.source[start:].tolist(), positions.conviction[start:].tolist(), strict=True)
        return replace(positions, p=positions.p[:start] + [t.get(names[n], _UNCALIBRATED).get(c) for t, n, c in rows])

    def _events(
        self,
        cycles: Sequence[KarmaCycle],
        matured: Matured,
        p: list[float | None],
        due: IntArray,
        calibrations: Sequence[dict[str, list[float]]],
    ) -> list[KarmaScored]:
        """The outcomes, with their positions' probabilities ``p``, as one event for each cycle they mature in."""
        sources, symbols = np.array(self._sources.names, dtype=object), np.array(self._symbols.names, dtype=object)
        columns = (
            sources[matured.source].tolist(),
            symbols[matured.symbol].tolist(),
            _DIRECTIONS[matured.long.astype(np.intp)].tolist(),
            matured.conviction.tolist(),
            matured.opened.tolist(),
            matured.entry.tolist(),
            matured.closed.tolist(),
            matured.price.tolist(),
            matured.bars.tolist(),
            _RESULTS[matured.result].tolist(),
            (np.where(matured.long, 1, -1) * (matured.price - matured.entry) / matured.entry).tolist(),
            matured.weight.tolist(),
            p,
        )
        outcomes = [
            KarmaOutcome(source=source, symbol=symbol, direction=direction, conviction=conviction, opened=opened,
                         entry=entry, closed=closed, exit=price, bars=bars, result=result, ret=ret, weight=weight,
                         p=probability)
            for source, symbol, direction, conviction, opened, entry, closed, price, bars, result, ret, weight,
            probability in zip(*columns, strict=True)
        ]  # fmt: skip
        bounds = [*_starts(due), len(outcomes)]  # a cycle's outcomes
        events = []
        for (low, high), changed in zip(itertools.pairwise(bounds), calibrations, strict=True):
            cycle = cycles[int(due[low])]
            events.append(
                KarmaScored(
                    ts=cycle.ts,
                    cycle=cycle.cycle,
                    as_of=cycle.as_of,
                    book=self.name,
                    outcomes=outcomes[low:high],
                    calibration=changed,
                )
            )
        return events

    def _keep(self, held: Positions, exits: Exits) -> None:
        """Keep the positions still open, and the lives of those that exited."""
        still = np.ones(len(held), dtype=np.bool_)
        still[exits.rows] = False
        self._open = held.take(np.flatnonzero(still))
        rows = exits.rows
        ended = Lives(held.symbol[rows], held.source[rows], held.opened[rows], exits.closed)
        self._lives = self._pruned(Lives.join([self._lives, ended]))

    def _pruned(self, lives: Lives) -> Lives:
        """Without the lives that ended before every open position of their source and symbol began: those count
        in no bar of a position open now or opened later (its bars all close after it opened)."""
        sources, open_ = len(self._sources.names), self._open
        earliest = np.full(len(self._symbols.names) * sources, _NEVER, dtype=np.int64)
        np.minimum.at(earliest, open_.symbol * sources + open_.source, open_.opened)
        return lives.take(np.flatnonzero(lives.closed > earliest[lives.symbol * sources + lives.source]))

    # -- calibration -------------------------------------------------------------------------------------------

    def _adopt(self, changed: Mapping[str, Sequence[float]]) -> None:
        """Put a changed calibration in force (in new ``tables``)."""
        if changed:
            tables = self.tables.copy()
            for source, values in changed.items():
                tables[source] = table(values)
                self._calibrated[source] = tuple(values)
            self.tables = tables

    # -- restart -----------------------------------------------------------------------------------------------

    def restore(self, events: Iterable[Event]) -> None:
        """Rebuild the book from the log (events in seq order): every outcome logged, the calibration then in
        force, and the positions still open. Each opening's calibrated probability is the one in force after its
        cycle's karma slot, as it was when the cycle ran."""
        pending: list[NewOpening] = []
        opened: list[int] = []
        ended: list[KarmaOutcome] = []
        closes: Mapping[str, float] = {}
        as_of = 0

        def flush() -> None:
            if pending:
                new, _ = self._positions(pending, np.array(opened, dtype=np.int64))
                new = self._probabilities(new, 0, [self.tables] * len(new))
                self._open = Positions.join([self._open, new])
            pending.clear()
            opened.clear()

        for event in events:
            if isinstance(event, CycleStarted):
                flush()
                closes, as_of = event.closes, event.as_of
            elif isinstance(event, SnapshotRecorded):
                flush()
            elif isinstance(event, KarmaScored) and event.book == self.name:
                self._restore_outcomes(event)  # before this cycle's openings: they come after its karma slot
                ended += event.outcomes
            elif (new := self._logged_opening(event, closes)) is not None:
                pending.append(new)
                opened.append(as_of)
        flush()
        lives = Lives(
            self._symbols.number([o.symbol for o in ended]),
            self._sources.number([o.source for o in ended]),
            np.array([o.opened for o in ended], dtype=np.int64),
            np.array([o.closed for o in ended], dtype=np.int64),
        )
        self._lives = self._pruned(Lives.join([self._lives, lives]))

    def _restore_outcomes(self, event: KarmaScored) -> None:
        """Tally a logged event's outcomes, close their positions, and adopt its calibration."""
        for outcome in event.outcomes:
            self._tallies.setdefault(outcome.source, Tally()).add(
                outcome.conviction, outcome.weight, outcome.result == "win"
            )
        gone = {(o.symbol, o.source, o.opened) for o in event.outcomes}
        held, symbols, sources = self._open, self._symbols.names, self._sources.names
        rows = zip(held.symbol.tolist(), held.source.tolist(), held.opened.tolist(), strict=True)
        self._open = held.take(np.flatnonzero([(symbols[k], sources[s], t) not in gone for k, s, t in rows]))
        self._adopt(event.calibration)

    def _logged_opening(self, event: Event, closes: Mapping[str, float]) -> NewOpening | None:
        """The position a logged signal (producers) or decision (this book's rule) opened, if it opened one (an
        invalid one is dropped later, with the others, as a scored cycle drops it)."""
        if self.name == PRODUCERS and isinstance(event, SignalRecorded):
            signal = event.signal
            if signal.signal == "neutral":
                return None
            entry = closes.get(signal.symbol, 0.0)
            return NewOpening(signal.producer, signal.symbol, signal.signal, signal.conviction, entry)
        if isinstance(event, Decision) and event.strategy == self.name and event.direction is not None:
            conviction = rule_conviction(event.sizing)
            return NewOpening(event.strategy, event.symbol, event.direction, conviction, closes.get(event.symbol, 0.0))
        return None


def _starts(*keys: IntArray) -> list[int]:
    """The rows where a run of equal ``keys`` starts: the first, and each where one differs from the row before."""
    starts = np.zeros(len(keys[0]), dtype=np.bool_)
    starts[:1] = True
    for key in keys:
        starts[1:] |= key[1:] != key[:-1]
    return starts.nonzero()[0].tolist()


def rule_conviction(sizing: Mapping[str, float]) -> int:
    """The conviction a decision reported (its drivers' mean, rounded), from its sizing record; 0 when unsized."""
    return int(sizing.get("conviction", 0))
