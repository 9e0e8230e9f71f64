"""The conflict rule: several strategies on one symbol in one cycle give at most one intent to the risk gate."""

from __future__ import annotations

from actors.oms.conflicts import Intent, resolve
from b1e55ed.messages import Direction, Trade


def intent(strategy: str, symbol: str = "BTC", direction: Direction = "long", conviction: int = 7) -> Intent:
    trade = Trade(
        symbol=symbol,
        direction=direction,
        size=0.05,
        entry=100.0,
        stop=95.0,
        target=110.0,
        rationale="test",
        strategy=strategy,
        conviction=conviction,
    )
    return Intent(strategy, f"{strategy}-{symbol}-{direction}", trade)


def outcome(*intents: Intent) -> dict[str, tuple[bool, str]]:
    return {did: (check.passed, check.detail) for did, check in resolve(intents).items()}


def test_a_lone_intent_passes() -> None:
    assert outcome(intent("momentum")) == {
        "momentum-BTC-long": (True, "no other strategy traded BTC this cycle"),
    }


def test_opposite_directions_reject_everyone_on_the_symbol() -> None:
    result = outcome(
        intent("momentum", conviction=9),
        intent("rsi_oversold", direction="short"),
        intent("confluence"),
        intent("x", "ETH"),
    )
    detail = "conflict on BTC: long (confluence, momentum) vs short (rsi_oversold); none trades"
    assert result == {
        "momentum-BTC-long": (False, detail),
        "rsi_oversold-BTC-short": (False, detail),
        "confluence-BTC-long": (False, detail),
        "x-ETH-long": (True, "no other strategy traded ETH this cycle"),
    }


def test_same_direction_the_highest_conviction_wins() -> None:
    result = outcome(
        intent("combined", conviction=6), intent("momentum", conviction=8), intent("confluence", conviction=7)
    )
    assert result == {
        "momentum-BTC-long": (True, "momentum (conviction 8) won BTC over confluence (7), combined (6)"),
        "confluence-BTC-long": (False, "momentum won BTC long (higher conviction: conviction 8 vs 7)"),
        "combined-BTC-long": (False, "momentum won BTC long (higher conviction: conviction 8 vs 6)"),
    }


def test_a_tie_goes_to_the_strategy_name_that_sorts_first_whatever_the_order() -> None:
    a, b = intent("ma_crossover", direction="short"), intent("combined", direction="short")
    assert outcome(a, b) == outcome(b, a)
    assert outcome(a, b)["combined-BTC-short"][0]
    assert outcome(a, b)["ma_crossover-BTC-short"] == (
        False,
        "combined won BTC short (tie, by name: conviction 7 vs 7)",
    )
