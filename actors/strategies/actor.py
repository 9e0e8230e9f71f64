"""A strategy as a supervised actor: on every enriched cycle, one report of candidates."""

from __future__ import annotations

import trio

from actors.stage import PureStage
from b1e55ed.cycle import EnrichedCycle, Strategy, StrategyReport


def strategy_stage(
    strategy: Strategy,
    cycles: trio.MemoryReceiveChannel[EnrichedCycle],
    reports: trio.MemorySendChannel[StrategyReport],
) -> PureStage[EnrichedCycle, StrategyReport]:
    def compute(cycle: EnrichedCycle) -> StrategyReport:
        candidates = tuple(sorted(strategy.evaluate(cycle), key=lambda c: c.symbol))
        return StrategyReport(cycle=cycle.cycle, strategy=strategy.name, status="ok", candidates=candidates)

    def failed(cycle: EnrichedCycle, exc: Exception) -> StrategyReport:
        detail = f"{type(exc).__name__}: {exc}"
        return StrategyReport(cycle=cycle.cycle, strategy=strategy.name, status="failed", detail=detail)

    return PureStage(strategy.name, cycles, reports, compute, failed)
