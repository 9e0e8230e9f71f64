"""The risk gate: every check an entry must pass, each kept with its numbers for the decision record.

Checks, in order: trading state (the kill switch), restricted symbols (DCG, "Don't Cross the Guys"),
idempotency (a decision already ordered is a duplicate, never sent twice), one position per symbol, maximum
position size, maximum leverage (Σ|notional| ÷ equity: open positions, entry orders not yet filled, and this
order), and the minimum order notional.
"""

from __future__ import annotations

from collections.abc import Mapping

from actors.oms.ledger import Ledger
from b1e55ed.messages import Check, Trade
from b1e55ed.trading_config import RiskPolicy


def entry_checks(
    trade: Trade,
    cloid: str,
    *,
    ledger: Ledger,
    marks: Mapping[str, float],
    policy: RiskPolicy,
    trading_state: str,
) -> list[Check]:
    equity = ledger.equity(marks)
    notional = trade.size * equity
    exposure = ledger.exposure(marks)
    pending_notional = ledger.pending_entry_notional(marks)
    committed = exposure + pending_notional + notional
    leverage = committed / equity if equity > 0 else float("inf")
    held = ledger.positions.get(trade.symbol)
    pending = ledger.pending_entry(trade.symbol)
    return [
        Check("trading_state", trading_state == "ACTIVE", f"kill switch is {trading_state}; entries need ACTIVE"),
        Check(
            "restricted_symbol",
            trade.symbol not in policy.restricted_symbols,
            f"{trade.symbol} {'is' if trade.symbol in policy.restricted_symbols else 'is not'} on the DCG list",
        ),
        Check(
            "idempotency",
            cloid not in ledger.orders,
            f"order {cloid} already {ledger.orders[cloid].status}" if cloid in ledger.orders else f"new order {cloid}",
        ),
        Check(
            "one_position_per_symbol",
            held is None and pending is None,
            f"{trade.symbol}: "
            + (f"{held.side} position open" if held else f"entry {pending.cloid} pending" if pending else "flat"),
        ),
        Check(
            "max_position",
            trade.size <= policy.max_position + 1e-12,
            f"size {trade.size:.2%} vs limit {policy.max_position:.2%}",
        ),
        Check(
            "max_leverage",
            leverage <= policy.max_leverage + 1e-12,
            f"leverage after order {leverage:.2f}x vs limit {policy.max_leverage:g}x (open ${exposure:,.2f}"
            f" + pending entries ${pending_notional:,.2f} + this order ${notional:,.2f} over equity ${equity:,.2f})",
        ),
        Check(
            "min_notional",
            notional >= policy.min_notional,
            f"notional ${notional:,.2f} vs minimum ${policy.min_notional:,.2f}",
        ),
    ]
