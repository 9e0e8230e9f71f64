"""A strategy as a supervised actor: on every batch of enriched cycles, one report of candidates per cycle.

A strategy with ``evaluate_batch`` judges the whole batch at once; a batch it fails on is judged again cycle by
cycle, so a failure stays that one cycle's "failed" report.

With a karma ``book``, the strategy's own rule is scored too: every candidate with a direction, taken or not, opens
a virtual position, and each cycle's report carries the rule's karma event. Whether and which way a rule fires
never depends on calibration, only its size does; so the batch's firings are scored at once, and once the rule is
calibrated, the cycles where it fired are judged again, together, each with the rule's calibration then in force
(for a strategy whose ``sizes_by_rule`` is true: one that sizes with ``Driver(self.name, …, rule=True)``). The
answer is the same whatever the batch. A strategy that also judges apart from calibration (``judged.py``:
``judge``, ``judge_batch``) is judged once per batch, and only sized again.

A batch is worked on as answers (each cycle's candidates, in symbol order, and the cycles that failed) and made
into reports once, at the end. Most cycles fire nothing: what karma needs is found only where something fired.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from itertools import repeat
from operator import attrgetter
from typing import TypeVar

import trio
from msgspec.structs import replace

from actors.karma import karma_cycle
from actors.pure import PureActor
from actors.strategies.batch import PerBatch
from actors.strategies.judged import JudgingStrategy, Judgment, sized
from b1e55ed.cycle import (
    Candidate,
    EnrichedCycle,
    EnrichedCycles,
    ReportStatus,
    StrategyReport,
    StrategyReports,
)
from b1e55ed.karma.book import KarmaBook, KarmaCycle, NewOpening, Scoring, rule_conviction
from b1e55ed.karma.calibration import Calibration
from b1e55ed.messages import Event
from b1e55ed.plugins import BatchStrategy, Strategy

logger = logging.getLogger(__name__)

T = TypeVar("T")

Judged = Sequence[list[Judgment] | Exception]  # each cycle's judgments, or why judging it failed
Found = list[tuple[Candidate, ...]]  # each cycle's candidates, in symbol order (none for a cycle that failed)
Failures = dict[int, Exception]  # why judging failed, by the cycle's position in the batch


def strategy_actor(
    strategy: Strategy,
    cycles: trio.MemoryReceiveChannel[EnrichedCycles],
    reports: trio.MemorySendChannel[StrategyReports],
    book: KarmaBook | None = None,
) -> PureActor[EnrichedCycles, StrategyReports]:
    name = strategy.name
    batched = strategy if isinstance(strategy, BatchStrategy) else None
    sizes_by_rule = getattr(strategy, "sizes_by_rule", False) is True
    judging = strategy if sizes_by_rule and isinstance(strategy, JudgingStrategy) else None

    def compute(batch: EnrichedCycles) -> StrategyReports:
        judgments = judge(batch) if judging is not None else None
        found, failures = evaluate(batch) if judgments is None else sized_answers(batch, judgments)
        karma: list[tuple[int, Event]] = []
        if book is not None:
            fired = [i for i, candidates in enumerate(found) if candidates and _directional(candidates)]
            if fired or book.holds_any:  # else nothing open, nothing opening: no outcome can come of this batch
                # Where and which way the rule fired does not depend on its calibration: score the firings at once.
                scorings = book.score(karma_cycles(batch, found, fired))
                if sizes_by_rule and book.config.sizing:
                    rejudge(batch, found, failures, fired, scorings, judgments)
                karma = [(i, scoring.event) for i, scoring in enumerate(scorings) if scoring.event is not None]
        return made(batch, found, failures, karma)

    def karma_cycles(batch: EnrichedCycles, found: Found, fired: list[int]) -> list[KarmaCycle]:
        """Each cycle as the book scores it: the quiet ones shared, those where the rule fired with its openings."""
        quiet = quiet_cycles(batch)
        cycles = quiet
        for index in fired:
            if openings := firings(batch[index], found[index]):
                if cycles is quiet:
                    cycles = list(quiet)
                cycles[index] = karma_cycle(batch[index].tick, openings)
        return cycles

    def firings(cycle: EnrichedCycle, candidates: tuple[Candidate, ...]) -> list[NewOpening]:
        market = cycle.tick.market
        return [
            NewOpening(name, c.symbol, c.direction, rule_conviction(c.sizing), market[c.symbol].last_close)
            for c in candidates
            if c.direction is not None and c.symbol in market and len(market[c.symbol])
        ]

    def rejudge(
        batch: EnrichedCycles,
        found: Found,
        failures: Failures,
        fired: list[int],
        scorings: list[Scoring],
        judgments: Judged | None,
    ) -> None:
        """Judge again, together, the cycles where the rule fired once it was calibrated, each with the rule's
        calibration then in force (in ``found`` and ``failures``)."""
        again = [(index, table) for index in fired if (table := scorings[index].tables.get(name)) is not None]
        if not again:
            return
        if judgments is not None:  # judged already: sized again
            for index, table in again:
                cycle = batch[index]
                calibration = cycle.calibration.with_rule(name, table)
                keep(found, failures, index, sized_answer(cycle, judgments[index], calibration))
            return
        recalibrated = tuple(replace(batch[i], calibration=batch[i].calibration.with_rule(name, t)) for i, t in again)
        answers, failed_again = evaluate(recalibrated)
        for position, (index, _) in enumerate(again):
            keep(found, failures, index, failed_again.get(position, answers[position]))

    def judge(batch: EnrichedCycles) -> Judged:
        """Each cycle's judgments (``judging``'s), or why they failed; a batch it fails on is judged again cycle by
        cycle, as ``evaluate`` does."""
        assert judging is not None
        if len(batch) > 1:
            try:
                judged = judging.judge_batch(batch)
            except Exception:
                logger.debug("%s failed on a batch: judging cycle by cycle", name, exc_info=True)
            else:
                return _one_each(batch, judged)
        found: list[list[Judgment] | Exception] = []
        for cycle in batch:
            try:
                found.append(judging.judge(cycle))
            except Exception as exc:
                logger.exception("%s failed in cycle %d", name, cycle.cycle)
                found.append(exc)
        return found

    def sized_answers(batch: EnrichedCycles, judgments: Judged) -> tuple[Found, Failures]:
        """Each cycle's judgments sized under its calibration."""
        found: Found = [()] * len(batch)
        failures: Failures = {}
        for index in [i for i, judged in enumerate(judgments) if judged]:
            cycle = batch[index]
            keep(found, failures, index, sized_answer(cycle, judgments[index], cycle.calibration))
        return found, failures

    def sized_answer(
        cycle: EnrichedCycle, judged: list[Judgment] | Exception, calibration: Calibration
    ) -> Sequence[Candidate] | Exception:
        """What ``evaluate`` answers for ``cycle`` under ``calibration``, from its judgments."""
        if isinstance(judged, Exception):
            return judged
        assert judging is not None
        try:
            return [sized(name, judging.rule, judgment, calibration) for judgment in judged]
        except Exception as exc:
            logger.exception("%s failed in cycle %d", name, cycle.cycle)
            return exc

    def evaluate(batch: EnrichedCycles) -> tuple[Found, Failures]:
        if batched is None or len(batch) == 1:
            return one_by_one(batch)
        try:
            answers = batched.evaluate_batch(batch)
        except Exception:
            logger.debug("%s failed on a batch: judging cycle by cycle", name, exc_info=True)
            return one_by_one(batch)
        return _in_order(_one_each(batch, answers)), {}

    def one_by_one(batch: EnrichedCycles) -> tuple[Found, Failures]:
        found: Found = []
        failures: Failures = {}
        for index, cycle in enumerate(batch):
            try:
                found.append(_ordered(strategy.evaluate(cycle)))
            except Exception as exc:
                logger.exception("%s failed in cycle %d", name, cycle.cycle)
                failures[index] = exc
                found.append(())
        return found, failures

    def made(
        batch: EnrichedCycles, found: Found, failures: Failures, karma: list[tuple[int, Event]]
    ) -> StrategyReports:
        """The batch's reports: each cycle's candidates, or why it failed, with the rule's karma event."""
        status: ReportStatus = "ok"
        reports = list(map(StrategyReport, cycle_numbers(batch), repeat(name), repeat(status), found))  # in C
        for index, exc in failures.items():
            reports[index] = failed(batch[index], exc)
        for index, event in karma:
            reports[index] = replace(reports[index], karma=(event,))
        return tuple(reports)

    def failed(cycle: EnrichedCycle, exc: Exception) -> StrategyReport:
        detail = f"{type(exc).__name__}: {exc}"
        return StrategyReport(cycle=cycle.cycle, strategy=name, status="failed", detail=detail)

    def batch_failed(batch: EnrichedCycles, exc: Exception) -> StrategyReports:
        return tuple(failed(cycle, exc) for cycle in batch)

    return PureActor(name, cycles, reports, compute, batch_failed)


def keep(found: Found, failures: Failures, index: int, answer: Sequence[Candidate] | Exception) -> None:
    """Put a cycle's answer at ``index``: its candidates, or why it failed."""
    if isinstance(answer, Exception):
        found[index] = ()
        failures[index] = answer
    else:
        found[index] = _ordered(answer)


def _one_each(batch: EnrichedCycles, answers: Sequence[T]) -> Sequence[T]:
    """``answers``, when there is one for each cycle of ``batch``."""
    if len(answers) != len(batch):
        raise ValueError(f"{len(answers)} answers for a batch of {len(batch)} cycles")
    return answers


def _directional(candidates: tuple[Candidate, ...]) -> bool:
    return any(map(_DIRECTION, candidates))  # "long" or "short", never empty


def _in_order(answers: Sequence[Sequence[Candidate]]) -> Found:
    """Each cycle's candidates in symbol order."""
    return [tuple(candidates) if len(candidates) < 2 else _ordered(candidates) for candidates in answers]


def _ordered(candidates: Sequence[Candidate]) -> tuple[Candidate, ...]:
    """The candidates in symbol order."""
    return tuple(sorted(candidates, key=_symbol)) if len(candidates) > 1 else tuple(candidates)


quiet_cycles = PerBatch(lambda batch: [karma_cycle(cycle.tick, []) for cycle in batch])
"""Each cycle of a batch as a book scores it, opening nothing: one list for every strategy of the batch."""

cycle_numbers = PerBatch(lambda batch: [cycle.tick.cycle for cycle in batch])
"""Each cycle's number: one list for every strategy of the batch."""


def _symbol(candidate: Candidate) -> str:
    return candidate.symbol


_DIRECTION = attrgetter("direction")
