"""The risk gate: every check an entry must pass, each kept with its numbers for the decision record.

Checks, in order: trading state (the kill switch), restricted symbols (DCG, "Don't Cross the Guys"),
idempotency (a decision already ordered is a duplicate, never sent twice), one position per symbol, maximum
position size, maximum leverage (Σ|notional| ÷ equity: open positions, entry orders not yet filled, and this
order), the minimum order notional, maximum open positions (held, plus entries not yet filled, plus this one),
sector exposure (Σ|notional| of the sector's positions and unfilled entries, plus this order, against
``max_sector_exposure`` × equity; a symbol the sector map does not name is a sector of its own), and the daily
loss limit (equity against the first settled cycle of the UTC day, in event time).

Every check runs, so a verdict names every limit an intent breaks, not only the first.
"""

from __future__ import annotations

from collections.abc import Mapping

from actors.oms.ledger import Ledger
from b1e55ed.messages import Check, Trade
from b1e55ed.trading_config import RiskPolicy

CHECK_NAMES = (
    "trading_state",
    "restricted_symbol",
    "idempotency",
    "one_position_per_symbol",
    "max_position",
    "max_leverage",
    "min_notional",
    "max_open_positions",
    "sector_exposure",
    "daily_loss",
)
_EPSILON = 1e-12


def sector_of(symbol: str, policy: RiskPolicy) -> str:
    return policy.sectors.get(symbol, symbol)


def entry_checks(
    trade: Trade,
    cloid: str,
    *,
    ledger: Ledger,
    marks: Mapping[str, float],
    policy: RiskPolicy,
    trading_state: str,
    as_of: int = 0,
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
            trade.size <= policy.max_position + _EPSILON,
            f"size {trade.size:.2%} vs limit {policy.max_position:.2%}",
        ),
        Check(
            "max_leverage",
            leverage <= policy.max_leverage + _EPSILON,
            f"leverage after order {leverage:.2f}x vs limit {policy.max_leverage:g}x (open ${exposure:,.2f}"
            f" + pending entries ${pending_notional:,.2f} + this order ${notional:,.2f} over equity ${equity:,.2f})",
        ),
        Check(
            "min_notional",
            notional >= policy.min_notional,
            f"notional ${notional:,.2f} vs minimum ${policy.min_notional:,.2f}",
        ),
        _open_positions(trade, ledger, policy),
        _sector_exposure(trade, notional, equity, ledger, marks, policy),
        _daily_loss(ledger, equity, as_of, policy),
    ]


def _open_positions(trade: Trade, ledger: Ledger, policy: RiskPolicy) -> Check:
    symbols = ledger.open_entry_symbols()
    after = len(symbols | {trade.symbol})
    return Check(
        "max_open_positions",
        after <= policy.max_open_positions,
        f"{after} open positions and entries after this order vs limit {policy.max_open_positions}"
        + (f" ({', '.join(sorted(symbols))} already)" if symbols else ""),
    )


def _sector_exposure(
    trade: Trade, notional: float, equity: float, ledger: Ledger, marks: Mapping[str, float], policy: RiskPolicy
) -> Check:
    sector = sector_of(trade.symbol, policy)
    held = sum(
        abs(p.size * marks.get(p.symbol, p.entry_price))
        for p in ledger.positions.values()
        if sector_of(p.symbol, policy) == sector
    )
    pending = ledger.pending_entry_notional(marks, lambda symbol: sector_of(symbol, policy) == sector)
    total = held + pending + notional
    limit = policy.max_sector_exposure * equity
    return Check(
        "sector_exposure",
        total <= limit + _EPSILON * max(1.0, limit),
        f"sector {sector}: ${total:,.2f} after order (open ${held:,.2f} + pending entries ${pending:,.2f} + this"
        f" order ${notional:,.2f}) vs limit {policy.max_sector_exposure:.0%} of equity ${limit:,.2f}",
    )


def _daily_loss(ledger: Ledger, equity: float, as_of: int, policy: RiskPolicy) -> Check:
    loss = ledger.daily_loss_pct(equity, as_of)
    start = ledger.day_start_equity if loss > 0 else equity
    return Check(
        "daily_loss",
        loss < policy.max_daily_loss_pct,
        f"down {loss:.2f}% today (equity ${equity:,.2f} vs ${start:,.2f} at the day's first cycle)"
        f" vs limit {policy.max_daily_loss_pct:g}%",
    )
