"""The strategies' reports on a batch, gathered per cycle: whole columns as the strategies send them, or report by
report when they come otherwise; the first report of a strategy on a cycle of the batch counts."""

from __future__ import annotations

import trio

from actors.oms.reports import collect_reports
from b1e55ed.cycle import CycleTick, EnrichedCycle, StrategyReport, StrategyReports

CYCLES = (4, 5, 6)
BATCH = tuple(
    EnrichedCycle(
        tick=CycleTick(cycle=c, as_of=c * 60_000, source="simulated", market={}), signals=(), context={}, producers={}
    )
    for c in CYCLES
)


def report(strategy: str, cycle: int, detail: str = "") -> StrategyReport:
    return StrategyReport(cycle=cycle, strategy=strategy, status="ok", detail=detail)


async def gathered(messages: list[StrategyReports], strategies: tuple[str, ...]) -> list[tuple[StrategyReport, ...]]:
    send, receive = trio.open_memory_channel[StrategyReports](len(messages))
    for message in messages:
        send.send_nowait(message)
    return await collect_reports(BATCH, strategies, receive)


async def test_each_strategys_batch_message_is_its_column_of_the_batch() -> None:
    answers = await gathered(
        [tuple(report("beta", c) for c in CYCLES), tuple(report("alpha", c) for c in CYCLES)], ("alpha", "beta")
    )
    assert answers == [(report("alpha", c), report("beta", c)) for c in CYCLES]


async def test_reports_that_come_otherwise_are_sorted_in_and_only_the_first_of_a_strategy_on_a_cycle_counts() -> None:
    messages: list[StrategyReports] = [
        (report("alpha", 5), report("beta", 4), report("gamma", 4), report("alpha", 9)),  # gamma: not asked for
        (report("alpha", 4), report("alpha", 5, "again"), report("beta", 6)),
        tuple(report("beta", c, "late") for c in CYCLES),  # beta's column again: only its missing cycle counts
        (report("alpha", 6),),
    ]
    answers = await gathered(messages, ("alpha", "beta"))
    assert answers == [
        (report("alpha", 4), report("beta", 4)),
        (report("alpha", 5), report("beta", 5, "late")),
        (report("alpha", 6), report("beta", 6)),
    ]


async def test_without_strategies_every_cycle_has_no_report() -> None:
    assert await gathered([], ()) == [(), (), ()]
