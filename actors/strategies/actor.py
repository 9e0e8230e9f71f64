"""A strategy as a supervised actor: on every batch of enriched cycles, one report of candidates per cycle.

A strategy with ``evaluate_batch`` judges the whole batch at once; a batch it fails on is judged again cycle by
cycle, so a failure stays that one cycle's "failed" report.

With a karma ``book``, the strategy's own rule is scored too, cycle by cycle in order: the rule's virtual
positions that matured by the cycle's as-of time are resolved (the report carries the karma event), and every
decision with a direction, taken or not, opens one. Whether and which way a rule fires never depends on
calibration, only its size does; so once the rule is calibrated, a cycle where it fired is judged again with the
rule's calibration in force (for a strategy whose ``sizes_by_rule`` is true: one that sizes with
``Driver(self.name, …, rule=True)``), and the answer is the same whatever the batch.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import trio

from actors.pure import PureActor
from b1e55ed.cycle import Candidate, EnrichedCycle, EnrichedCycles, StrategyReport, StrategyReports
from b1e55ed.karma.book import KarmaBook, rule_conviction
from b1e55ed.plugins import BatchStrategy, Strategy

logger = logging.getLogger(__name__)


def strategy_actor(
    strategy: Strategy,
    cycles: trio.MemoryReceiveChannel[EnrichedCycles],
    reports: trio.MemorySendChannel[StrategyReports],
    book: KarmaBook | None = None,
) -> PureActor[EnrichedCycles, StrategyReports]:
    batched = strategy if isinstance(strategy, BatchStrategy) else None
    sizes_by_rule = getattr(strategy, "sizes_by_rule", False) is True

    def report_of(cycle: EnrichedCycle) -> StrategyReport:
        try:
            candidates = strategy.evaluate(cycle)
        except Exception as exc:
            logger.exception("%s failed in cycle %d", strategy.name, cycle.cycle)
            return failed(cycle, exc)
        return StrategyReport(
            cycle=cycle.cycle, strategy=strategy.name, status="ok", candidates=tuple(sorted(candidates, key=_symbol))
        )

    def compute(batch: EnrichedCycles) -> StrategyReports:
        reports = evaluate(batch)
        if book is None:
            return reports
        return tuple(scored(cycle, report) for cycle, report in zip(batch, reports, strict=True))

    def scored(cycle: EnrichedCycle, report: StrategyReport) -> StrategyReport:
        assert book is not None
        tick = cycle.tick
        event = book.score(cycle=tick.cycle, as_of=tick.as_of, ts=tick.ts, market=tick.market)
        own = book.tables.get(strategy.name) if book.config.sizing and sizes_by_rule else None
        if own is not None and report.candidates:
            report = report_of(replace(cycle, calibration=cycle.calibration.with_rule(strategy.name, own)))
        for candidate in report.candidates:
            if candidate.direction is not None and (bars := tick.market.get(candidate.symbol)) is not None:
                book.open(
                    source=strategy.name,
                    symbol=candidate.symbol,
                    direction=candidate.direction,
                    conviction=rule_conviction(candidate.sizing),
                    as_of=tick.as_of,
                    entry=bars.last_close,
                )
        return replace(report, karma=(event,) if event is not None else ())

    def evaluate(batch: EnrichedCycles) -> StrategyReports:
        if batched is None or len(batch) == 1:
            return tuple(report_of(cycle) for cycle in batch)
        try:
            answers = batched.evaluate_batch(batch)
        except Exception:
            logger.debug("%s failed on a batch: judging cycle by cycle", strategy.name, exc_info=True)
            return tuple(report_of(cycle) for cycle in batch)
        return tuple(
            StrategyReport(
                cycle=cycle.cycle, strategy=strategy.name, status="ok", candidates=tuple(sorted(found, key=_symbol))
            )
            for cycle, found in zip(batch, answers, strict=True)
        )

    def failed(cycle: EnrichedCycle, exc: Exception) -> StrategyReport:
        detail = f"{type(exc).__name__}: {exc}"
        return StrategyReport(cycle=cycle.cycle, strategy=strategy.name, status="failed", detail=detail)

    def batch_failed(batch: EnrichedCycles, exc: Exception) -> StrategyReports:
        return tuple(failed(cycle, exc) for cycle in batch)

    return PureActor(strategy.name, cycles, reports, compute, batch_failed)


def _symbol(candidate: Candidate) -> str:
    return candidate.symbol
