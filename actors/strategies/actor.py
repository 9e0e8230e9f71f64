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
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import trio
from msgspec.structs import replace

from actors.karma import karma_cycle
from actors.pure import PureActor
from actors.strategies.judged import JudgingStrategy, Judgment, sized
from b1e55ed.cycle import Candidate, EnrichedCycle, EnrichedCycles, StrategyReport, StrategyReports
from b1e55ed.karma.book import KarmaBook, KarmaCycle, NewOpening, Scoring, rule_conviction
from b1e55ed.karma.calibration import Calibration
from b1e55ed.plugins import BatchStrategy, Strategy

logger = logging.getLogger(__name__)

Judged = Sequence[list[Judgment] | Exception]  # each cycle's judgments, or why judging it failed


def strategy_actor(
    strategy: Strategy,
    cycles: trio.MemoryReceiveChannel[EnrichedCycles],
    reports: trio.MemorySendChannel[StrategyReports],
    book: KarmaBook | None = None,
) -> PureActor[EnrichedCycles, StrategyReports]:
    batched = strategy if isinstance(strategy, BatchStrategy) else None
    sizes_by_rule = getattr(strategy, "sizes_by_rule", False) is True
    judging = strategy if sizes_by_rule and isinstance(strategy, JudgingStrategy) else None

    def report_of(cycle: EnrichedCycle) -> StrategyReport:
        try:
            candidates = strategy.evaluate(cycle)
        except Exception as exc:
            logger.exception("%s failed in cycle %d", strategy.name, cycle.cycle)
            return failed(cycle, exc)
        return ok(cycle, candidates)

    def compute(batch: EnrichedCycles) -> StrategyReports:
        judgments = judge(batch) if judging is not None else None
        reports = evaluate(batch) if judgments is None else sized_reports(batch, judgments)
        if book is None or (not book.holds_any and not any(c.direction for r in reports for c in r.candidates)):
            return reports  # nothing open, nothing opening: no outcome can come of this batch
        # Where and which way the rule fired does not depend on its calibration: score the batch's firings at once.
        cycles = [
            quiet if not (openings := firings(cycle, report)) else quiet._replace(openings=openings)
            for cycle, report, quiet in zip(batch, reports, quiet_cycles(batch), strict=True)
        ]
        scorings = book.score(cycles)
        return tuple(
            report if scoring.event is None else replace(report, karma=(scoring.event,))
            for report, scoring in zip(rejudged(batch, reports, scorings, judgments), scorings, strict=True)
        )

    def rejudged(
        batch: EnrichedCycles, reports: StrategyReports, scorings: list[Scoring], judgments: Judged | None
    ) -> StrategyReports:
        """The reports, those of the cycles where the rule fired judged again, together, with the rule's
        calibration then in force, for a strategy that sizes by it."""
        if not sizes_by_rule or book is None or not book.config.sizing:
            return reports
        again = [
            (index, table)
            for index, (report, scoring) in enumerate(zip(reports, scorings, strict=True))
            if (table := scoring.tables.get(strategy.name)) is not None
            and any(c.direction is not None for c in report.candidates)
        ]
        if not again:
            return reports
        found = list(reports)
        if judgments is not None:  # judged already: sized again
            for index, table in again:
                calibration = batch[index].calibration.with_rule(strategy.name, table)
                found[index] = sized_report(batch[index], judgments[index], calibration)
            return tuple(found)
        judged = evaluate(
            tuple(replace(batch[i], calibration=batch[i].calibration.with_rule(strategy.name, t)) for i, t in again)
        )
        for (index, _), report in zip(again, judged, strict=True):
            found[index] = report
        return tuple(found)

    def judge(batch: EnrichedCycles) -> Judged:
        """Each cycle's judgments (``judging``'s), or why they failed; a batch it fails on is judged again cycle by
        cycle, as ``evaluate`` does."""
        assert judging is not None
        if len(batch) > 1:
            try:
                return judging.judge_batch(batch)
            except Exception:
                logger.debug("%s failed on a batch: judging cycle by cycle", strategy.name, exc_info=True)
        found: list[list[Judgment] | Exception] = []
        for cycle in batch:
            try:
                found.append(judging.judge(cycle))
            except Exception as exc:
                logger.exception("%s failed in cycle %d", strategy.name, cycle.cycle)
                found.append(exc)
        return found

    def sized_reports(batch: EnrichedCycles, judgments: Judged) -> StrategyReports:
        return tuple(
            sized_report(cycle, judged, cycle.calibration) for cycle, judged in zip(batch, judgments, strict=True)
        )

    def sized_report(
        cycle: EnrichedCycle, judged: list[Judgment] | Exception, calibration: Calibration
    ) -> StrategyReport:
        """What ``evaluate`` reports for ``cycle`` under ``calibration``, from its judgments."""
        if isinstance(judged, Exception):
            return failed(cycle, judged)
        if not judged:
            return StrategyReport(cycle.cycle, strategy.name, "ok")
        assert judging is not None
        try:
            candidates = [sized(strategy.name, judging.rule, judgment, calibration) for judgment in judged]
        except Exception as exc:
            logger.exception("%s failed in cycle %d", strategy.name, cycle.cycle)
            return failed(cycle, exc)
        return ok(cycle, candidates)

    def firings(cycle: EnrichedCycle, report: StrategyReport) -> list[NewOpening]:
        if not report.candidates:
            return []
        market = cycle.tick.market
        return [
            NewOpening(strategy.name, c.symbol, c.direction, rule_conviction(c.sizing), market[c.symbol].last_close)
            for c in report.candidates
            if c.direction is not None and c.symbol in market and len(market[c.symbol])
        ]

    def evaluate(batch: EnrichedCycles) -> StrategyReports:
        if batched is None or len(batch) == 1:
            return tuple(report_of(cycle) for cycle in batch)
        try:
            answers = batched.evaluate_batch(batch)
        except Exception:
            logger.debug("%s failed on a batch: judging cycle by cycle", strategy.name, exc_info=True)
            return tuple(report_of(cycle) for cycle in batch)
        return tuple(ok(cycle, found) for cycle, found in zip(batch, answers, strict=True))

    def ok(cycle: EnrichedCycle, candidates: Sequence[Candidate]) -> StrategyReport:
        if len(candidates) > 1:
            candidates = sorted(candidates, key=_symbol)
        return StrategyReport(cycle.cycle, strategy.name, "ok", tuple(candidates))

    def failed(cycle: EnrichedCycle, exc: Exception) -> StrategyReport:
        detail = f"{type(exc).__name__}: {exc}"
        return StrategyReport(cycle=cycle.cycle, strategy=strategy.name, status="failed", detail=detail)

    def batch_failed(batch: EnrichedCycles, exc: Exception) -> StrategyReports:
        return tuple(failed(cycle, exc) for cycle in batch)

    return PureActor(strategy.name, cycles, reports, compute, batch_failed)


_quiet: list[tuple[EnrichedCycles, list[KarmaCycle]]] = []
_QUIET_KEPT = 1  # the batch the strategies are at: an older one is kept alive no longer


def quiet_cycles(batch: EnrichedCycles) -> list[KarmaCycle]:
    """Each cycle of ``batch`` as a book scores it, opening nothing: one list for every strategy of the batch (a
    tuple: the same one each strategy receives)."""
    for kept, cycles in _quiet:
        if kept is batch:
            return cycles
    cycles = [karma_cycle(cycle.tick, []) for cycle in batch]
    if isinstance(batch, tuple):
        _quiet.insert(0, (batch, cycles))
        del _quiet[_QUIET_KEPT:]
    return cycles


def _symbol(candidate: Candidate) -> str:
    return candidate.symbol
