"""Sample events for tests: one plausible instance of each kind a test builds by hand, overridden by keyword.

    samples.trade(entry=102.0, strategy="momentum")     a BTC long with its stop and target
    samples.order(status="filled", filled_size=0.05)    its entry order
    samples.fill(price=103.0)                           a fill of that order
    samples.position(status="closed", pnl=12.0)         the position it opened
    samples.decision(taken=False, reason="no view")     a strategy's decision about BTC
    samples.protection(entry, stop, target)             a long entry's reduce-only stop and target, for a venue
"""

from __future__ import annotations

from typing import Any

from msgspec.structs import replace

from b1e55ed.ids import child_id
from b1e55ed.messages import Decision, Fill, OrderRole, OrderUpdated, PositionUpdated, Trade
from b1e55ed.venues.base import VenueOrder

TS = 1_700_000_000_000
CLOID = "0xabc"

_TRADE = Trade(
    symbol="BTC",
    direction="long",
    size=0.05,
    entry=58_234.0,
    stop=56_487.0,
    target=64_057.0,
    rationale="3 of 4 producers agree",
    strategy="confluence",
    conviction=7,
)
_ORDER = OrderUpdated(
    ts=TS, cloid=CLOID, status="pending", symbol="BTC", side="long", size=0.05, exchange="paper", role="entry"
)
_FILL = Fill(
    ts=TS, cloid=CLOID, symbol="BTC", side="buy", size=0.05, price=58_250.0, fee=0.0, role="entry", venue="paper"
)
_POSITION = PositionUpdated(
    ts=TS,
    position_id=CLOID,
    symbol="BTC",
    side="long",
    entry_price=58_250.0,
    size=0.05,
    stop=56_487.0,
    target=64_057.0,
    status="open",
    opened_at=TS,
)
_DECISION = Decision(
    ts=TS, cycle=1, as_of=TS, strategy="confluence", symbol="BTC", decision_id=CLOID, taken=False, reason="no view"
)


def trade(**changes: Any) -> Trade:
    return replace(_TRADE, **changes)


def order(**changes: Any) -> OrderUpdated:
    return replace(_ORDER, **changes)


def fill(**changes: Any) -> Fill:
    return replace(_FILL, **changes)


def position(**changes: Any) -> PositionUpdated:
    return replace(_POSITION, **changes)


def decision(**changes: Any) -> Decision:
    return replace(_DECISION, **changes)


def protection(parent: VenueOrder, stop: float, target: float) -> list[VenueOrder]:
    """A long entry's reduce-only stop and target at these prices, their cloids derived from the entry's."""
    roles: list[tuple[OrderRole, float]] = [("stop", stop), ("target", target)]
    return [
        VenueOrder(
            cloid=child_id(parent.cloid, role),
            symbol=parent.symbol,
            side="sell",
            size=parent.size,
            role=role,
            reduce_only=True,
            trigger_price=price,
            reference_price=parent.reference_price,
            not_before=parent.not_before,
        )
        for role, price in roles
    ]
