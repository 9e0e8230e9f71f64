"""Start-up: the book is folded from the log (``restore_book``, which rebuilds a simulated venue from it too), then
reconciled: before the OMS trades, the book and the venue must agree.

In this order, by cloid:

1. Orders the venue has open and the log has never heard of (placed by hand, or by a process whose log was lost)
   are recorded as ``submitted``, with a warning ``Alert``. They are not cancelled: somebody meant them.
2. Orders the log has as ``pending`` are resolved by asking the venue: unknown → sent now with the same cloid;
   open (or filled: the fill is recorded when a poll reports it) → ``submitted``; cancelled or rejected → final.
3. Orders the log has as open (``submitted``/``partially_filled``) that the venue no longer lists are asked for by
   cloid: cancelled or rejected → final; unknown to the venue → sent again, same cloid (it never got there).
4. A poll without bars: fills the venue made while the OMS was down are recorded (a simulated venue has none).
5. Positions: where the venue's signed size differs from the book's, a critical ``Alert`` names both, and **the
   log adopts the venue's position** (a ``PositionUpdated`` with the venue's size and entry price, or a close with
   no P&L when the venue is flat). The venue is what is really held: risk limits, leverage and the size of the
   stops must be computed from it. The P&L of the difference is unknown, and the alert says so; a position the log
   did not know about gets no stop, which the alert also says.

A venue that cannot answer makes reconciliation raise after a few attempts: the supervisor restarts the OMS with
backoff (and, past its restart intensity, the kill switch halts trading). Trading on an unreconciled book is worse.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TypeVar

import trio
from msgspec.structs import replace

from actors.oms.execution import RETRY_DELAY_S, SUBMIT_ATTEMPTS, Execution
from actors.oms.fills import record_fills
from actors.oms.ledger import Ledger
from b1e55ed.eventlog.store import EventStore
from b1e55ed.ids import child_id
from b1e55ed.messages import Alert, Direction, Event, OrderUpdated, PositionUpdated
from b1e55ed.venues.base import RestorableVenue, Venue, VenueOrder, VenuePosition, VenueUnavailable

logger = logging.getLogger(__name__)

T = TypeVar("T")
_SAME = 1e-9


async def restore_book(store: EventStore, venue: Venue, starting_equity: float) -> Ledger:
    """The book the log holds; a venue rebuilt from the log (``RestorableVenue``) gets its open orders, positions
    and the cloids it has seen."""
    ledger = Ledger(starting_equity)
    after = 0
    while records := await store.read(after, 10_000):
        ledger.fold(record.event() for record in records)
        after = records[-1].seq
    if isinstance(venue, RestorableVenue):
        venue.restore(
            open_orders=[
                VenueOrder.of(o) for o in ledger.open_orders() if o.status in ("submitted", "partially_filled")
            ],
            positions=[
                VenuePosition(symbol=p.symbol, size=p.sign * p.size, entry_price=p.entry_price)
                for p in ledger.positions.values()
            ],
            seen_cloids=[cloid for cloid, order in ledger.orders.items() if order.status != "pending"],
        )
    return ledger


async def reconcile(execution: Execution, ts: int) -> list[Event]:
    """The events that bring the book in line with the venue, already applied to ``execution.ledger``."""
    ledger, venue = execution.ledger, execution.venue
    events: list[Event] = []
    venue_orders = await _patiently(execution, "open_orders", venue.open_orders)
    at_venue = {order.cloid for order in venue_orders}
    for unknown in venue_orders:
        if unknown.cloid not in ledger.orders:
            events += _adopt_order(ledger, unknown, venue.name, ts)
    events += await execution.resolve_pending(allow_entries=True)
    for order in ledger.open_orders():
        if order.status == "pending" or order.cloid in at_venue:
            continue
        state = await _patiently(execution, "order_state", partial(execution.order_state, order.cloid))
        if state is None:
            sent = await execution.submit(order)
            events += [sent] if sent is not None else []
        elif state.status in ("cancelled", "rejected"):
            final = replace(order, ts=ts, status=state.status, reason=f"reconciled: the venue has it {state.status}")
            ledger.apply(final)
            events.append(final)
    # Fills the venue made while the OMS was down (of orders just resolved, say) are recorded before positions
    # are compared, or the position they built would be adopted and then counted again by the first poll.
    fills = await _patiently(execution, "poll", partial(venue.poll, {}))
    events += record_fills(ledger, fills, cycle=ledger.last_settled_cycle, ts=ts, venue=venue.name)
    positions = await _patiently(execution, "positions", venue.positions)
    events += _reconcile_positions(ledger, positions, ts)
    return events


async def _patiently(execution: Execution, what: str, call: Callable[[], Awaitable[T]]) -> T:
    for attempt in range(1, SUBMIT_ATTEMPTS + 1):
        try:
            return await execution.health.call(what, call)
        except VenueUnavailable:
            if attempt == SUBMIT_ATTEMPTS:
                raise
            await trio.sleep(RETRY_DELAY_S * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


def _adopt_order(ledger: Ledger, order: VenueOrder, venue: str, ts: int) -> list[Event]:
    exit_side = order.reduce_only or order.role != "entry"
    side: Direction = ("short" if order.side == "buy" else "long") if exit_side else _direction(order.side)
    adopted = OrderUpdated(
        ts=ts,
        cloid=order.cloid,
        status="submitted",
        symbol=order.symbol,
        side=side,
        size=order.size,
        exchange=venue,
        reason="found open at the venue at start; unknown to the log",
        role=order.role,
        order_side=order.side,
        reduce_only=order.reduce_only,
        trigger_price=order.trigger_price,
        reference_price=order.reference_price,
        not_before=order.not_before,
    )
    ledger.apply(adopted)
    message = (
        f"reconciliation: the venue has an open {order.role} order {order.cloid} ({order.symbol} {order.side}"
        f" {order.size:g}) the log did not know; recorded, not cancelled"
    )
    logger.warning(message)
    return [adopted, Alert(ts=ts, severity="warning", source="oms", message=message)]


def _direction(side: str) -> Direction:
    return "long" if side == "buy" else "short"


def _reconcile_positions(ledger: Ledger, positions: list[VenuePosition], ts: int) -> list[Event]:
    events: list[Event] = []
    venue_sizes = {p.symbol: p for p in positions if p.size != 0}
    for symbol in sorted(set(venue_sizes) | set(ledger.positions)):
        held = ledger.positions.get(symbol)
        booked = held.sign * held.size if held else 0.0
        actual = venue_sizes.get(symbol)
        real = actual.size if actual else 0.0
        if abs(real - booked) <= _SAME * max(abs(real), abs(booked), 1.0):
            continue
        if actual is None:
            assert held is not None
            adopted = PositionUpdated(
                ts=ts,
                position_id=held.position_id,
                symbol=symbol,
                side=held.side,
                entry_price=held.entry_price,
                size=held.size,
                stop=held.stop,
                target=held.target,
                status="closed",
                opened_at=held.opened_at,
                closed_at=ts,
                fees=held.fees,
            )
            note = "the venue is flat: closed in the log, P&L unknown"
        else:
            side = _direction("buy" if actual.size > 0 else "sell")
            same_side = held is not None and held.side == side
            adopted = PositionUpdated(
                ts=ts,
                position_id=held.position_id if held and same_side else child_id(f"reconcile:{symbol}", str(ts)),
                symbol=symbol,
                side=side,
                entry_price=actual.entry_price,
                size=abs(actual.size),
                stop=held.stop if held and same_side else 0.0,
                target=held.target if held and same_side else 0.0,
                status="open",
                opened_at=held.opened_at if held and same_side else ts,
                fees=held.fees if held and same_side else 0.0,
            )
            note = "adopted the venue's position; the P&L of the difference is unknown" + (
                "" if same_side else "; it has no stop from this log"
            )
        message = f"reconciliation: {symbol} position is {real:+g} at the venue but {booked:+g} in the log; {note}"
        logger.critical(message)
        ledger.apply(adopted)
        events += [adopted, Alert(ts=ts, severity="critical", source="oms", message=message)]
    return events
