"""The OMS's side of the venue: sending committed orders, resolving pending ones, cancelling, flattening.

Every call goes through ``VenueHealth`` (the kill switch's error rate and disconnect). A transient failure
(``VenueUnavailable``) of a submit is retried with the same cloid, which the venue deduplicates; an order that still
got no answer stays ``pending`` and is resolved by cloid before the next cycle trades, and at start. A reject
(``Ack(accepted=False)``) is final and recorded with the venue's reason. A failed cancel leaves the order open in the
book, and is tried again at the next cycle while the kill switch is not ACTIVE. Nothing here raises on the venue's
weather: the OMS goes on, and the kill switch decides when the weather is too bad to trade.
"""

from __future__ import annotations

import logging
from functools import partial

import trio
from msgspec.structs import replace

from actors.oms.fills import follow_position
from actors.oms.ledger import FINAL_ORDER_STATES, Ledger
from actors.oms.venue_health import VenueHealth
from b1e55ed.clock import Clock
from b1e55ed.ids import child_id
from b1e55ed.messages import OrderStatus, OrderUpdated
from b1e55ed.venues.base import OrderState, Venue, VenueOrder, VenueUnavailable

logger = logging.getLogger(__name__)

SUBMIT_ATTEMPTS = 3
RETRY_DELAY_S = 0.5


class Execution:
    def __init__(self, *, venue: Venue, health: VenueHealth, clock: Clock, ledger: Ledger) -> None:
        self.venue = venue
        self.health = health
        self._clock = clock
        self.ledger = ledger

    async def submit(self, order: OrderUpdated) -> OrderUpdated | None:
        """Send a committed ``pending`` order; its answer (applied to the ledger), or None if the venue could not
        be reached (it stays pending, resolved by cloid later)."""
        request = VenueOrder.of(order)
        for attempt in range(1, SUBMIT_ATTEMPTS + 1):
            if attempt > 1:
                await trio.sleep(RETRY_DELAY_S * 2 ** (attempt - 2))
            try:
                ack = await self.health.call("submit", partial(self.venue.submit, request))
            except VenueUnavailable as exc:
                logger.warning("submit %s attempt %d failed: %s", order.cloid, attempt, exc)
                continue
            if not ack.accepted and attempt > 1:  # an earlier attempt may have got through: a duplicate
                try:
                    state = await self.order_state(order.cloid)
                except VenueUnavailable:
                    return None
                if state is not None and state.status in ("open", "filled"):
                    return self._answer(order, "submitted", "", ack.exchange_order_id)
            if not ack.accepted:
                return self._answer(order, "rejected", ack.reason or "rejected by the venue")
            return self._answer(order, "submitted", ack.reason, ack.exchange_order_id)
        return None

    async def order_state(self, cloid: str) -> OrderState | None:
        """The venue's answer by cloid (None: never received); ``VenueUnavailable`` when it cannot answer."""
        return await self.health.call("order_state", partial(self.venue.order_state, cloid))

    async def resolve_pending(self, *, allow_entries: bool) -> list[OrderUpdated]:
        """Every order the book has as ``pending``: recorded as what the venue says, or sent now with its cloid if
        the venue never got it. With ``allow_entries`` False (the kill switch is not ACTIVE) an entry the venue
        never got is cancelled instead of sent, with the stop and target waiting on it."""
        answers: list[OrderUpdated] = []
        for order in [o for o in self.ledger.open_orders() if o.status == "pending"]:
            try:
                state = await self.order_state(order.cloid)
            except VenueUnavailable:
                continue  # still unknown: tried again next time
            if state is None:
                blocked = not allow_entries and (order.role == "entry" or self._parent_cancelled(order))
                answer = (
                    self._answer(order, "cancelled", "kill switch: not sent") if blocked else await self.submit(order)
                )
            elif state.status in ("open", "filled"):  # a fill is recorded when a poll reports it, never invented
                answer = self._answer(order, "submitted", f"resolved by cloid: the venue has it {state.status}")
            else:
                final: OrderStatus = "cancelled" if state.status == "cancelled" else "rejected"
                answer = self._answer(order, final, f"resolved by cloid: the venue has it {state.status}")
            if answer is not None:
                answers.append(answer)
        return answers

    async def finish_partial_fills(self) -> list[OrderUpdated]:
        """An order the book has as partially filled that the venue is done with (an IOC whose rest was cancelled,
        or a size the venue rounded down) is final: ``filled``, at the size that filled."""
        answers: list[OrderUpdated] = []
        for order in [o for o in self.ledger.open_orders() if o.status == "partially_filled"]:
            try:
                state = await self.order_state(order.cloid)
            except VenueUnavailable:
                continue
            if state is not None and state.status != "open":
                done = f"done at the venue ({state.status}): {order.filled_size or 0:g} of {order.size:g} filled"
                answers.append(self._answer(order, "filled", done))
        return answers

    def _parent_cancelled(self, order: OrderUpdated) -> bool:
        parent = self.ledger.orders.get(order.parent) if order.parent else None
        return parent is not None and parent.status == "cancelled"

    async def cancel_entries(self, reason: str) -> list[OrderUpdated]:
        """Cancel every open entry order, and the stop and target waiting on an entry that never filled (they
        have nothing to protect); the stops and targets of positions stay, so no position loses its protection.

        After each cancel the venue is asked for the order's state: an entry that filled before the cancel (its
        fill comes with the next poll) is left as it is, with its protection; one that partly filled keeps its
        stop and target, sized to what it filled. An order the venue could not be asked about stays open in the
        book, and is tried again at the next cycle."""
        cancels: list[OrderUpdated] = []
        unprotected: set[str] = set()
        partly: list[OrderUpdated] = []
        for entry in [o for o in self.ledger.open_orders() if o.role == "entry"]:
            try:  # a pending order too: its submit may have reached the venue without an answer
                await self.health.call("cancel", partial(self.venue.cancel, entry.cloid))
                state = await self.order_state(entry.cloid)
            except VenueUnavailable:
                continue
            if state is not None and state.status == "filled":
                logger.info("entry %s filled before its cancel: its stop and target stay", entry.cloid)
                continue
            cancels.append(self._answer(entry, "cancelled", reason))
            if entry.filled_size or (state is not None and state.filled_size > 0):
                partly.append(entry)
            else:
                unprotected.add(entry.cloid)
        for order in [o for o in self.ledger.open_orders() if o.parent in unprotected]:
            try:
                await self.health.call("cancel", partial(self.venue.cancel, order.cloid))
            except VenueUnavailable:
                continue
            cancels.append(self._answer(order, "cancelled", reason))
        for entry in partly:
            cancels += follow_position(self.ledger, entry.symbol, self._clock.now_ms())
        return cancels

    def flatten_orders(self, marks: dict[str, float], not_before: int) -> list[OrderUpdated]:
        """Reduce-only market exits closing every position, as ``pending`` orders to commit before sending.

        A position with an exit still open gets no second one. The cloid derives from the position and the number
        of exits the log already has for it, so a restart rebuilds the very same cloid (and finds the pending one in
        the log), while a later halt after a rejected exit gets a fresh one."""
        orders: list[OrderUpdated] = []
        for position in self.ledger.positions.values():
            exits = [o for o in self.ledger.orders.values() if o.role == "exit" and o.parent == position.position_id]
            if any(o.status not in FINAL_ORDER_STATES for o in exits):
                continue
            cloid = child_id(position.position_id, f"flatten:{len(exits)}")
            order = OrderUpdated(
                ts=self._clock.now_ms(),
                cloid=cloid,
                status="pending",
                symbol=position.symbol,
                side=position.side,
                size=position.size,
                exchange=self.venue.name,
                reason="kill switch HALTED: flatten",
                role="exit",
                order_side="sell" if position.side == "long" else "buy",
                reduce_only=True,
                reference_price=marks.get(position.symbol, position.entry_price),
                not_before=not_before,
                parent=position.position_id,
            )
            self.ledger.apply(order)
            orders.append(order)
        return orders

    def _answer(
        self, order: OrderUpdated, status: OrderStatus, reason: str, exchange_order_id: str | None = None
    ) -> OrderUpdated:
        answer = replace(
            order,
            ts=self._clock.now_ms(),
            status=status,
            reason=reason,
            exchange_order_id=exchange_order_id or order.exchange_order_id,
        )
        self.ledger.apply(answer)
        return answer
