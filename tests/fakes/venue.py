"""A scriptable venue at the ``Venue`` seam: the test says what the exchange does, the OMS finds out (``Desk``, in
``desk.py``, wires the OMS around it).

Orders are accepted (unless ``reject`` names them) and rest until the test fills them, in as many pieces as it
likes (``fill``), or cancels them. ``fail`` scripts transient errors for the next calls of one method (or every
method), and ``down`` makes every call raise until cleared. Every call is recorded in ``calls``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import TypeVar

import trio

from b1e55ed.messages import Bar
from b1e55ed.venues.base import (
    Ack,
    OrderState,
    OrderStateName,
    VenueFill,
    VenueFunding,
    VenueOrder,
    VenuePosition,
)

E = TypeVar("E")
METHODS = ("submit", "cancel", "order_state", "poll", "funding", "open_orders", "positions", "account_value")


class FakeVenue:
    name = "fake"

    def __init__(self) -> None:
        self.open: dict[str, VenueOrder] = {}
        self.states: dict[str, OrderState] = {}
        self.held: dict[str, VenuePosition] = {}
        self.calls: list[tuple[str, str]] = []
        self.reject: dict[str, str] = {}
        self.down: Exception | None = None
        self.value: float | None = None  # the account value; None: simulated, the log's is the truth
        self._failures: dict[str, deque[Exception]] = {name: deque() for name in METHODS}
        self._fills: list[VenueFill] = []
        self._funding: list[VenueFunding] = []

    # -- scripting ---------------------------------------------------------------------------------------------

    def fail(self, method: str, *errors: Exception) -> None:
        """The next ``len(errors)`` calls of ``method`` raise them, in order."""
        self._failures[method].extend(errors)

    def fill(self, cloid: str, size: float, price: float, ts: int, fee: float = 0.0) -> VenueFill:
        """Execute ``size`` of an open order; the fill is reported at the next ``poll``."""
        order = self.open[cloid]
        done = self.states[cloid].filled_size + size
        status: OrderStateName = "filled" if done >= order.size - 1e-12 else "open"
        self.states[cloid] = OrderState(cloid=cloid, status=status, filled_size=done, average_price=price)
        if status == "filled":
            del self.open[cloid]
        signed = size if order.side == "buy" else -size
        before = self.held.get(order.symbol)
        now = (before.size if before else 0.0) + signed
        if abs(now) < 1e-12:
            self.held.pop(order.symbol, None)
        else:
            if before is None:
                entry = price
            elif order.reduce_only:
                entry = before.entry_price
            else:
                entry = (abs(before.size) * before.entry_price + size * price) / (abs(before.size) + size)
            self.held[order.symbol] = VenuePosition(symbol=order.symbol, size=now, entry_price=entry)
        fill = VenueFill(
            cloid=cloid, symbol=order.symbol, side=order.side, size=size, price=price, fee=fee, ts=ts, role=order.role
        )
        self._fills.append(fill)
        return fill

    def pay_funding(self, payment: VenueFunding) -> None:
        self._funding.append(payment)

    def place(self, order: VenueOrder) -> None:
        """An order placed at the venue behind the OMS's back (by hand, or by a process whose log was lost)."""
        self.open[order.cloid] = order
        self.states[order.cloid] = OrderState(cloid=order.cloid, status="open")

    async def _enter(self, method: str, cloid: str = "") -> None:
        await trio.lowlevel.checkpoint()
        self.calls.append((method, cloid))
        if self.down is not None:
            raise self.down
        if self._failures[method]:
            raise self._failures[method].popleft()

    # -- the Venue protocol ------------------------------------------------------------------------------------

    async def submit(self, order: VenueOrder) -> Ack:
        await self._enter("submit", order.cloid)
        if order.cloid in self.states:
            return Ack(cloid=order.cloid, accepted=False, reason="duplicate cloid")
        if order.cloid in self.reject:
            self.states[order.cloid] = OrderState(cloid=order.cloid, status="rejected")
            return Ack(cloid=order.cloid, accepted=False, reason=self.reject[order.cloid])
        self.place(order)
        return Ack(cloid=order.cloid, accepted=True, exchange_order_id=f"x{len(self.states)}")

    async def cancel(self, cloid: str) -> bool:
        await self._enter("cancel", cloid)
        if cloid not in self.open:
            return False
        del self.open[cloid]
        self.states[cloid] = OrderState(cloid=cloid, status="cancelled")
        return True

    async def order_state(self, cloid: str) -> OrderState | None:
        await self._enter("order_state", cloid)
        return self.states.get(cloid)

    async def poll(self, bars: Mapping[str, Sequence[Bar]]) -> list[VenueFill]:
        await self._enter("poll")
        fills, self._fills = self._fills, []
        return fills

    async def funding(self) -> list[VenueFunding]:
        await self._enter("funding")
        payments, self._funding = self._funding, []
        return payments

    async def open_orders(self) -> list[VenueOrder]:
        await self._enter("open_orders")
        return list(self.open.values())

    async def positions(self) -> list[VenuePosition]:
        await self._enter("positions")
        return [self.held[symbol] for symbol in sorted(self.held)]

    async def account_value(self) -> float | None:
        await self._enter("account_value")
        return self.value
