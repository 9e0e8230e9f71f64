"""Conflicts between strategies, end to end: several strategies on one symbol in one cycle, through the real OMS
against a scriptable exchange. The rule itself is in ``actors/oms/conflicts.py`` (and ``tests/unit/test_conflict.py``).
"""

from __future__ import annotations

from trio.testing import MockClock

from b1e55ed.messages import RiskVerdict, TradeDecided
from tests.fakes.desk import Desk, cloids, only, trade

# -- conflicts between strategies ----------------------------------------------------------------------------------


async def test_opposite_intents_on_one_symbol_are_both_rejected_as_a_conflict(
    autojump_clock: MockClock,
) -> None:
    desk = Desk()
    async with desk.running():
        events = await desk.cycle(1, trade("BTC", direction="long"), trade("BTC", direction="short", strategy="beta"))
        verdicts = only(events, RiskVerdict)
        assert [(v.strategy, v.approved, v.reason) for v in verdicts] == [
            ("alpha", False, "rejected: conflict"),
            ("beta", False, "rejected: conflict"),
        ]
        assert verdicts[0].checks[0].detail == "conflict on BTC: long (alpha) vs short (beta); none trades"
        assert not only(events, TradeDecided)
        assert not desk.fake.open


async def test_same_direction_intents_go_to_the_higher_conviction_and_the_loser_is_recorded(
    autojump_clock: MockClock,
) -> None:
    desk = Desk()
    async with desk.running():
        events = await desk.cycle(
            1, trade("BTC", conviction=6), trade("BTC", conviction=8, strategy="beta"), trade("ETH", 50.0)
        )
        verdicts = {(v.strategy, v.symbol): v for v in only(events, RiskVerdict)}
        loser = verdicts["alpha", "BTC"]
        assert (loser.approved, [c.name for c in loser.checks]) == (False, ["conflict"])
        assert loser.checks[0].detail == "beta won BTC long (higher conviction: conviction 8 vs 6)"
        winner = verdicts["beta", "BTC"]
        assert winner.approved
        assert winner.checks[-1].detail == "beta (conviction 8) won BTC over alpha (6)"
        assert verdicts["alpha", "ETH"].approved
        assert {t.trade.strategy for t in only(events, TradeDecided)} == {"alpha", "beta"}
        assert cloids("BTC", 1, strategy="beta")[0] in desk.fake.open
