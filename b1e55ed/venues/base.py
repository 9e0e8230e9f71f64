"""What the OMS needs from a place that executes orders. ``PaperVenue`` simulates one; ``HyperliquidVenue`` is real.

Orders are identified by ``cloid``, the idempotency key the OMS derived from the decision: a venue must refuse
a second order with a cloid it has seen, and must answer ``order_state`` by cloid, so that after a crash the
OMS can tell an order that reached the venue from one that never did.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Literal, Protocol, runtime_checkable

import msgspec

from b1e55ed.errors import Unavailable, WorldError
from b1e55ed.messages import Bar, OrderRole, OrderUpdated, Side


class VenueError(WorldError):
    """A venue call that did not get an answer. A reject is an answer: ``Ack(accepted=False)``, final."""


class VenueUnavailable(VenueError, Unavailable):
    """Transient (timeout, 5xx, rate limit): the call may be retried with the same cloid, which the venue
    deduplicates. Counts towards the kill switch's venue error rate."""


class VenueDisconnected(VenueUnavailable):
    """The venue cannot be reached at all (connection refused or dropped): the kill switch's disconnect trigger."""


class VenueOrder(msgspec.Struct, frozen=True, kw_only=True):
    """``size`` is in units. A trigger order (stop, target) fires when the price crosses ``trigger_price``.
    A paper market order fills on the first bar that opens at or after ``not_before`` (ms)."""

    cloid: str
    symbol: str
    side: Side
    size: float
    role: OrderRole
    reduce_only: bool = False
    trigger_price: float | None = None
    reference_price: float | None = None
    not_before: int = 0

    @classmethod
    def of(cls, order: OrderUpdated) -> VenueOrder:
        """The venue's view of an order the OMS logged."""
        return cls(
            cloid=order.cloid,
            symbol=order.symbol,
            side=order.order_side,
            size=order.size,
            role=order.role,
            reduce_only=order.reduce_only,
            trigger_price=order.trigger_price,
            reference_price=order.reference_price,
            not_before=order.not_before,
        )


class Ack(msgspec.Struct, frozen=True, kw_only=True):
    cloid: str
    accepted: bool
    reason: str = ""
    exchange_order_id: str | None = None


class VenueFill(msgspec.Struct, frozen=True, kw_only=True):
    cloid: str
    symbol: str
    side: Side
    size: float
    price: float
    fee: float
    ts: int
    role: OrderRole
    liquidity: Literal["taker", "maker"] = "taker"
    fill_id: str = ""  # the venue's id of this execution: a fill reported again (after a restart) is recorded once


class VenuePosition(msgspec.Struct, frozen=True, kw_only=True):
    """``size`` is signed units: positive long, negative short."""

    symbol: str
    size: float
    entry_price: float


class VenueFunding(msgspec.Struct, frozen=True, kw_only=True):
    """A perpetual funding settlement on an open position. ``amount`` is cash to the account (negative: paid);
    ``notional`` is |size| × the mark at ``ts``, the settlement time (ms). A long pays ``rate × notional`` when the
    rate is positive, a short receives it."""

    symbol: str
    rate: float
    notional: float
    amount: float
    ts: int


OrderStateName = Literal["open", "filled", "cancelled", "rejected"]


class OrderState(msgspec.Struct, frozen=True, kw_only=True):
    cloid: str
    status: OrderStateName
    filled_size: float = 0.0
    average_price: float | None = None


class Venue(Protocol):
    name: str

    async def submit(self, order: VenueOrder) -> Ack:
        """Place ``order``; a cloid the venue has already seen is rejected as a duplicate."""
        ...

    async def cancel(self, cloid: str) -> bool:
        """Cancel an open order; False if it was not open."""
        ...

    async def order_state(self, cloid: str) -> OrderState | None:
        """The order's state, or None if the venue never received it."""
        ...

    async def poll(self, bars: Mapping[str, Sequence[Bar]]) -> list[VenueFill]:
        """Fills since the last poll. A simulated venue executes against ``bars`` (new candles per symbol, in
        time order); a live venue ignores them and asks the exchange."""
        ...

    async def funding(self) -> list[VenueFunding]:
        """Funding settled since the last call, in time order. A simulated venue settles it while ``poll``
        executes bars; a live venue whose exchange settles funding itself may return ``[]``."""
        ...

    async def open_orders(self) -> list[VenueOrder]: ...

    async def account_value(self) -> float | None:
        """The account's value in USD (cash plus unrealised P&L), or None for a simulated venue, whose value is
        what the log says."""
        ...

    async def positions(self) -> list[VenuePosition]: ...


@runtime_checkable
class RestorableVenue(Venue, Protocol):
    """A simulated venue whose whole state the OMS rebuilds from the log at start (``PaperVenue``).

    An order it was sent before the order's commit, and lost in a crash, vanishes together with its fills: so a
    history-driven run may call it before committing, and commit once per batch. A real venue never may."""

    def restore(
        self,
        open_orders: Sequence[VenueOrder],
        positions: Sequence[VenuePosition],
        seen_cloids: Iterable[str],
        order_states: Iterable[OrderState] = (),
    ) -> None: ...


@runtime_checkable
class BarDrivenVenue(Venue, Protocol):
    """A simulated venue that executes only against the bars ``poll`` hands it (``PaperVenue``).

    A symbol with neither an open order nor a position has nothing a bar could fill or settle funding on, so the
    OMS polls only the symbols in play, and not at all when there are none."""

    def symbols_in_play(self) -> frozenset[str]:
        """Symbols with an open order or a position: the only ones whose bars can change anything."""
        ...
