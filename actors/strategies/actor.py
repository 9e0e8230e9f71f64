"""A strategy as a supervised actor: on every batch of enriched cycles, one report of candidates per cycle.

A strategy with ``evaluate_batch`` judges the whole batch at once; a batch it fails on is judged again cycle by
cycle, so a failure stays that one cycle's "failed" report.
"""

from __future__ import annotations

import logging

import trio

from actors.pure import PureActor
from b1e55ed.cycle import Candidate, EnrichedCycle, EnrichedCycles, StrategyReport, StrategyReports
from b1e55ed.plugins import BatchStrategy, Strategy

logger = logging.getLogger(__name__)


def strategy_actor(
    strategy: Strategy,
    cycles: trio.MemoryReceiveChannel[EnrichedCycles],
    reports: trio.MemorySendChannel[StrategyReports],
) -> PureActor[EnrichedCycles, StrategyReports]:
    batched = strategy if isinstance(strategy, BatchStrategy) else None

    def report(cycle: EnrichedCycle) -> StrategyReport:
        try:
            candidates = strategy.evaluate(cycle)
        except Exception as exc:
            logger.exception("%s failed in cycle %d", strategy.name, cycle.cycle)
            return failed(cycle, exc)
        return StrategyReport(
            cycle=cycle.cycle, strategy=strategy.name, status="ok", candidates=tuple(sorted(candidates, key=_symbol))
        )

    def compute(batch: EnrichedCycles) -> StrategyReports:
        if batched is None or len(batch) == 1:
            return tuple(report(cycle) for cycle in batch)
        try:
            answers = batched.evaluate_batch(batch)
        except Exception:
            logger.debug("%s failed on a batch: judging cycle by cycle", strategy.name, exc_info=True)
            return tuple(report(cycle) for cycle in batch)
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
