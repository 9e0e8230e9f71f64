"""When several strategies want one symbol in one cycle, one intent at most goes on to the risk gate.

The rule, applied per symbol to the cycle's taken decisions:

- **Opposite directions** (some strategies long, others short): every intent on the symbol is rejected. Two
  strategies disagreeing is itself information; netting them would trade a view nobody holds.
- **Same direction**: the intent with the highest conviction wins; a tie goes to the strategy whose name sorts
  first, so the outcome never depends on the order trio ran the strategies. Size and levels are the winner's own,
  never merged.
- Every loser gets a ``RiskVerdict`` with ``approved=False`` and one failed check named ``conflict`` that says who
  won and why; the winner's verdict carries a passed ``conflict`` check naming whom it beat, then goes through
  every other check as usual (so it may still be rejected there, and then nothing trades that symbol this cycle).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from b1e55ed.messages import Check, Trade


@dataclass(frozen=True)
class Intent:
    strategy: str
    decision_id: str
    trade: Trade


def resolve(intents: Sequence[Intent]) -> dict[str, Check]:
    """The ``conflict`` check of every intent, by decision id: passed for a winner, failed for a loser."""
    by_symbol: dict[str, list[Intent]] = {}
    for intent in intents:
        by_symbol.setdefault(intent.trade.symbol, []).append(intent)
    checks: dict[str, Check] = {}
    for symbol, rivals in by_symbol.items():
        checks.update(_resolve_symbol(symbol, rivals))
    return checks


def _resolve_symbol(symbol: str, rivals: list[Intent]) -> dict[str, Check]:
    if len(rivals) == 1:
        (only,) = rivals
        return {only.decision_id: Check("conflict", True, f"no other strategy traded {symbol} this cycle")}
    longs = sorted(i.strategy for i in rivals if i.trade.direction == "long")
    shorts = sorted(i.strategy for i in rivals if i.trade.direction == "short")
    if longs and shorts:
        detail = f"conflict on {symbol}: long ({', '.join(longs)}) vs short ({', '.join(shorts)}); none trades"
        return {i.decision_id: Check("conflict", False, detail) for i in rivals}
    ranked = sorted(rivals, key=lambda i: (-i.trade.conviction, i.strategy))
    winner, losers = ranked[0], ranked[1:]
    beaten = ", ".join(f"{i.strategy} ({i.trade.conviction})" for i in losers)
    checks = {
        winner.decision_id: Check(
            "conflict", True, f"{winner.strategy} (conviction {winner.trade.conviction}) won {symbol} over {beaten}"
        )
    }
    for loser in losers:
        why = "higher conviction" if winner.trade.conviction > loser.trade.conviction else "tie, by name"
        checks[loser.decision_id] = Check(
            "conflict",
            False,
            f"{winner.strategy} won {symbol} {winner.trade.direction} ({why}: conviction"
            f" {winner.trade.conviction} vs {loser.trade.conviction})",
        )
    return checks
