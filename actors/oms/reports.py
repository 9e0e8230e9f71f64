"""The strategies' reports on a batch of cycles, gathered per cycle for the OMS.

Each strategy answers a batch with one message: its report on every cycle, in the batch's order. That message is
taken whole, as the strategy's column of the batch. Anything else (reports split over several messages, a report
on a cycle outside the batch, a second report of a strategy on one cycle) is sorted report by report: the first
report of a strategy on a cycle of the batch counts, the rest are ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import trio

from b1e55ed.cycle import EnrichedCycles, StrategyReport, StrategyReports


async def collect_reports(
    batch: EnrichedCycles, strategies: Sequence[str], reports: trio.MemoryReceiveChannel[StrategyReports]
) -> list[tuple[StrategyReport, ...]]:
    """Each cycle's reports, in the batch's order, one per strategy in the order of ``strategies``."""
    cycles = [enriched.tick.cycle for enriched in batch]
    columns: dict[str, Sequence[StrategyReport | None]] = {}
    while len(columns) < len(strategies) or any(None in column for column in columns.values()):
        message = await reports.receive()
        strategy = message[0].strategy if message else ""
        if (
            strategy in strategies
            and strategy not in columns
            and [report.cycle for report in message] == cycles
            and all(report.strategy == strategy for report in message)
        ):
            columns[strategy] = message
        else:
            _sort_in(message, cycles, strategies, columns)
    if not strategies:
        return [() for _ in batch]
    filled = cast(dict[str, Sequence[StrategyReport]], columns)
    return list(zip(*(filled[name] for name in strategies), strict=True))


def _sort_in(
    message: StrategyReports,
    cycles: list[int],
    strategies: Sequence[str],
    columns: dict[str, Sequence[StrategyReport | None]],
) -> None:
    position = {cycle: i for i, cycle in enumerate(cycles)}
    for report in message:
        i = position.get(report.cycle)
        if i is None or report.strategy not in strategies:
            continue
        column = columns.get(report.strategy)
        if column is None:
            column = columns[report.strategy] = [None] * len(cycles)
        if column[i] is None:
            assert isinstance(column, list)
            column[i] = report
