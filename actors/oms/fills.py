"""What a venue's fills and funding payments become in the log, and in the ledger as they are recorded.

A venue may fill one order in several pieces (a partial fill, then the rest). Each piece is one ``Fill``, the
order's state (``partially_filled`` with the cumulative ``filled_size`` and average ``filled_price``, or ``filled``
once the whole size is done) and the position change it causes: an entry grows the position by each piece, an exit
shrinks it. A reduce-only order is done when the position it reduces is flat, even if its size was larger (the
venue caps it at the position).

Stops and targets follow the position: after any change, each open reduce-only order of the position gets the
size it must cover (the position, plus whatever its entry may still fill), logged as an ``OrderUpdated`` with the
new size. No venue call is needed: the venue caps a reduce-only order at the position it reduces.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from msgspec.structs import replace

from actors.oms.ledger import Ledger, Position
from b1e55ed.messages import Alert, Event, Fill, FundingPaid, OrderUpdated, PositionStatus, PositionUpdated
from b1e55ed.venues.base import VenueFill, VenueFunding

logger = logging.getLogger(__name__)

_DONE = 1e-9  # relative: a remainder this small is float residue


def record_fills(ledger: Ledger, fills: Sequence[VenueFill], *, cycle: int, ts: int, venue: str) -> list[Event]:
    """The events of ``fills``, folded into ``ledger`` as they are made (a later fill sees the earlier ones)."""
    events: list[Event] = []
    for venue_fill in fills:
        order = ledger.orders.get(venue_fill.cloid)
        if order is None:
            logger.error("venue fill for unknown order %s: %r", venue_fill.cloid, venue_fill)
            message = f"fill for an order the log does not know: {venue_fill.cloid} {venue_fill.symbol}"
            events.append(Alert(ts=ts, severity="critical", source="oms", message=message))
            continue
        if venue_fill.fill_id and venue_fill.fill_id in ledger.fill_ids:
            logger.info("fill %s of %s is already in the log", venue_fill.fill_id, venue_fill.cloid)
            continue
        fill = Fill(
            ts=venue_fill.ts,
            cloid=venue_fill.cloid,
            symbol=venue_fill.symbol,
            side=venue_fill.side,
            size=venue_fill.size,
            price=venue_fill.price,
            fee=venue_fill.fee,
            role=venue_fill.role,
            venue=venue,
            liquidity=venue_fill.liquidity,
            cycle=cycle,
            fill_id=venue_fill.fill_id,
        )
        position = position_after(ledger, fill, order, venue_fill.ts)
        closed = position is not None and position.status != "open"
        batch: list[Event] = [_order_after(order, fill, ts, closes_position=closed), fill]
        if position is not None:
            batch.append(position)
        ledger.fold(batch)
        follow: list[Event] = []
        if order.role != "entry" and closed:
            follow += _close_siblings(ledger, order, ts)
            if order.role != "exit":
                what = "stop hit" if order.role == "stop" else "target reached"
                pnl = position.pnl if position and position.pnl is not None else 0.0
                message = f"{what}: {order.symbol} {order.side} at {fill.price:g}, P&L {pnl:+.2f}"
                follow.append(Alert(ts=ts, severity="info", source="oms", message=message))
        elif position is not None:
            follow += follow_position(ledger, position.symbol, ts)
        ledger.fold(follow)
        events += batch + follow
    return events


def position_after(ledger: Ledger, fill: Fill, order: OrderUpdated, ts: int) -> PositionUpdated | None:
    """The position event that ``fill`` (of ``order``) causes, computed before the fill is folded."""
    current = ledger.positions.get(fill.symbol)
    if order.role == "entry":
        trade = ledger.trades.get(order.cloid)
        stop, target = (trade.stop, trade.target) if trade else (0.0, 0.0)
        if current is None:
            return PositionUpdated(
                ts=ts,
                position_id=order.cloid,
                symbol=fill.symbol,
                side=order.side,
                entry_price=fill.price,
                size=fill.size,
                stop=stop,
                target=target,
                status="open",
                opened_at=ts,
                fees=fill.fee,
            )
        size = current.size + fill.size
        entry = (current.entry_price * current.size + fill.price * fill.size) / size
        return _position(current, ts, size=size, entry_price=entry, fees=current.fees + fill.fee)
    if current is None:
        return None
    fees = current.fees + fill.fee
    remaining = max(0.0, current.size - fill.size)
    if remaining > 1e-12:
        return _position(current, ts, size=remaining, fees=fees)
    realised = current.realised + current.realised_by(fill.price, fill.size)
    status: PositionStatus = "stopped" if order.role == "stop" else "closed"
    pnl = realised - fees + current.funding
    return _position(current, ts, status=status, exit_price=fill.price, pnl=pnl, closed_at=ts, fees=fees)

def _position(current: Position, ts: int, **changes: object) -> PositionUpdated:
    fields: dict[str, object] = {
        "ts": ts,
        "position_id": current.position_id,
        "symbol": current.symbol,
        "side": current.side,
        "entry_price": current.entry_price,
        "size": current.size,
        "stop": current.stop,
        "target": current.target,
        "status": "open",
        "opened_at": current.opened_at,
        "fees": current.fees,
    }
    fields.update(changes)
    return PositionUpdated(**fields)  # type: ignore[arg-type]


def _order_after(order: OrderUpdated, fill: Fill, ts: int, *, closes_position: bool) -> OrderUpdated:
    before = order.filled_size or 0.0
    filled = before + fill.size
    price = (
        fill.price if before <= 0 else ((order.filled_price or fill.price) * before + fill.price * fill.size) / filled
    )
    done = filled >= order.size * (1 - _DONE) or (order.reduce_only and closes_position)
    return replace(
        order,
        ts=ts,
        status="filled" if done else "partially_filled",
        filled_price=price,
        filled_size=filled,
    )


def _close_siblings(ledger: Ledger, order: OrderUpdated, ts: int) -> list[OrderUpdated]:
    """Once an exit closes the position, the venue cancels its other reduce-only orders (one cancels the other)."""
    family = order.parent or order.cloid
    return [
        replace(sibling, ts=ts, status="cancelled", reason=f"{order.role} {order.cloid} closed the position")
        for sibling in ledger.open_orders()
        if sibling.reduce_only and sibling.cloid != order.cloid and (sibling.parent or sibling.cloid) == family
    ]


def follow_position(ledger: Ledger, symbol: str, ts: int) -> list[OrderUpdated]:
    """Resize the open stop and target of ``symbol``'s position to what they must cover now (applied)."""
    position = ledger.positions.get(symbol)
    if position is None:
        return []
    entry = ledger.orders.get(position.position_id)
    unfilled = 0.0
    if entry is not None and entry.status in ("pending", "submitted", "partially_filled"):
        unfilled = max(0.0, entry.size - (entry.filled_size or 0.0))
    cover = position.size + unfilled
    resized = [
        replace(order, ts=ts, size=cover, reason=f"resized to follow the position: {cover:g} units")
        for order in ledger.open_orders()
        if order.reduce_only
        and order.parent == position.position_id
        and order.role in ("stop", "target")
        and not order.filled_size
        and abs(order.size - cover) > _DONE * max(cover, order.size)
    ]
    ledger.fold(resized)
    return resized


def record_funding(ledger: Ledger, payments: Sequence[VenueFunding], *, ts: int, venue: str) -> list[Event]:
    events: list[Event] = [
        FundingPaid(
            ts=ts,
            symbol=p.symbol,
            rate=p.rate,
            notional=p.notional,
            amount=p.amount,
            venue=venue,
            funding_ts=p.ts,
        )
        for p in payments
    ]
    ledger.fold(events)
    return events
