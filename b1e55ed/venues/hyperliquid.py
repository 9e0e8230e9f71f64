"""``HyperliquidVenue``: the live venue. Orders are signed with the SDK's helpers and sent with httpx inside trio.

- **Entries** are IOC limit orders at the reference price moved by ``slippage`` (a market order, as the SDK's
  ``market_open`` makes it), or, with ``entry_tif="Gtc"``, resting limits at the reference price. Prices and sizes
  follow ``b1e55ed.hyperliquid.rules``; an entry worth less than $10 is refused here, before it is signed.
- **Stops and targets** (reduce-only, with a trigger price) are market trigger orders grouped ``positionTpsl``: tied
  to the position, the exchange cancels them when it closes, crash or no crash. Hyperliquid lets a
  reduce-only trigger protect only a position that exists, so a child submitted while its entry has not filled is
  *held* (accepted: "waits for entry fill") and placed by ``poll`` once the entry fills; if the entry ends unfilled
  it is dropped (its state: cancelled). A child's entry is found by its cloid: ``child_id(entry, role)``.
- **Fills** come from ``userFills``: ``poll`` reports, once each (by trade id), the fills of the orders this venue
  watches: those submitted through it, those ``order_state`` found (pending in the log, or open there and gone
  from the book: their fills while no process ran are news) and, from the moment it lists them, those resting in
  ``open_orders``. Each fill carries its trade id, so the OMS records a fill once even if it is reported again.
- **Errors**: timeouts, 5xx and 429 are retried with the same cloid (``hl_exchange``), then raise
  ``VenueUnavailable``; no connection raises ``VenueDisconnected``; a refusal is ``Ack(accepted=False, reason)``.
  A refusal of a retry may mean an earlier attempt got through: the venue asks ``orderStatus`` by cloid first.
- ``account`` names the trading account for ``/info``; the signing key may be an API wallet's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, Literal, TypeVar

import httpx
import msgspec
from msgspec.structs import replace

from b1e55ed.hyperliquid.config import HyperliquidConfig
from b1e55ed.hyperliquid.info import InfoClient, InfoError, InfoUnavailable
from b1e55ed.hyperliquid.rules import DEFAULT_SLIPPAGE
from b1e55ed.hyperliquid.signing import Grouping, Signer, cancel_by_cloid_action, modify_action, order_action
from b1e55ed.hyperliquid.wire import WireOpenOrder
from b1e55ed.ids import child_id
from b1e55ed.messages import Bar
from b1e55ed.ratelimit import WeightBudget
from b1e55ed.venues.base import (
    Ack,
    OrderState,
    VenueDisconnected,
    VenueError,
    VenueFill,
    VenueFunding,
    VenueOrder,
    VenuePosition,
    VenueUnavailable,
)
from b1e55ed.venues.hl_exchange import ExchangeAnswer, ExchangeClient, ExchangeRefused
from b1e55ed.venues.hl_orders import wire_for

logger = logging.getLogger(__name__)

T = TypeVar("T")
HELD = "waits for entry fill"
_TRIGGER_ROLES = frozenset({"stop", "target"})


class _Asset(msgspec.Struct, frozen=True):
    index: int
    sz_decimals: int


class HyperliquidVenue:
    name = "hyperliquid"

    def __init__(
        self,
        *,
        info: InfoClient,
        exchange: ExchangeClient,
        account: str = "",
        slippage: float = DEFAULT_SLIPPAGE,
        entry_tif: Literal["Ioc", "Gtc"] = "Ioc",
    ) -> None:
        self.info = info
        self._exchange = exchange
        self.account = account or exchange.signer.address
        self.slippage = slippage
        self.entry_tif = entry_tif
        self._assets: dict[str, _Asset] = {}
        self._orders: dict[str, VenueOrder] = {}  # cloid → what we submitted, or learnt from the exchange
        self._held: dict[str, VenueOrder] = {}
        self._dropped: set[str] = set()
        self._watched: dict[str, int] = {}  # cloid → report its fills from this time (ms) on
        self._reported: set[int] = set()  # trade ids already returned by poll
        self._oids: dict[int, str] = {}
        self._filled: dict[str, float] = {}
        self._funding_after = int(time.time() * 1000)

    @classmethod
    def from_config(
        cls,
        config: HyperliquidConfig,
        private_key: str,
        *,
        http: httpx.AsyncClient,
        info: InfoClient | None = None,
    ) -> HyperliquidVenue:
        """The live venue on ``http``; ``info``, when given, is the process's one info client (and budget), which
        the exchange client then shares; otherwise one is made for ``config.url``."""
        if config.is_mainnet is None:
            raise ValueError("hyperliquid.is_mainnet must be set to true or false for live trading")
        if info is None:
            budget = WeightBudget(config.weight_per_min)
            timeout_s = config.timeout_s
            info = InfoClient(
                http, base_url=config.url, timeout_s=timeout_s, budget=budget, max_retries=2, backoff_initial_s=0.2
            )
        signer = Signer(private_key, is_mainnet=config.is_mainnet)
        exchange = ExchangeClient(http, signer, base_url=config.url, budget=info.budget, timeout_s=config.timeout_s)
        return cls(info=info, exchange=exchange, account=config.account_address)

    # -- placing -------------------------------------------------------------------------------------------------

    async def submit(self, order: VenueOrder) -> Ack:
        if order.role in _TRIGGER_ROLES and order.trigger_price is not None:
            parent = self._parent_of(order)
            if parent is not None:
                filled = await self._entry_filled(parent)
                if filled is None:
                    self._orders[order.cloid] = order
                    self._held[order.cloid] = order
                    return Ack(cloid=order.cloid, accepted=True, reason=HELD)
                if not filled:
                    self._dropped.add(order.cloid)
                    return Ack(cloid=order.cloid, accepted=False, reason=f"entry {parent} ended unfilled")
        return await self._place(order)

    async def modify(self, order: VenueOrder) -> Ack:
        """Change a resting order (a stop's trigger, a limit's size) in place; the cloid stays the same."""
        if order.cloid in self._held:
            self._held[order.cloid] = self._orders[order.cloid] = order
            return Ack(cloid=order.cloid, accepted=True, reason=HELD)
        built = await self._wire(order)
        if isinstance(built, Ack):
            return built
        try:
            answer = await self._exchange.send(modify_action(order.cloid, built))
        except ExchangeRefused as exc:
            return Ack(cloid=order.cloid, accepted=False, reason=str(exc))
        self._orders[order.cloid] = order
        return await self._ack(order, answer)

    async def cancel(self, cloid: str) -> bool:
        if self._held.pop(cloid, None) is not None:
            self._dropped.add(cloid)
            return True
        order = self._orders.get(cloid)
        symbol = order.symbol if order else await self._symbol_of(cloid)
        asset = await self._asset(symbol) if symbol else None
        if asset is None:
            return False
        try:
            answer = await self._exchange.send(cancel_by_cloid_action(asset.index, cloid))
        except ExchangeRefused as exc:
            logger.warning("cancel %s refused: %s", cloid, exc)
            return False
        statuses = answer.statuses()
        return bool(statuses) and statuses[0] == "success"  # held children of a cancelled entry: dropped by poll

    async def _place(self, order: VenueOrder) -> Ack:
        built = await self._wire(order)
        if isinstance(built, Ack):
            return built
        self._orders[order.cloid] = order
        self._watched.setdefault(order.cloid, 0)  # a timed-out attempt may have filled: its fills are real
        grouping: Grouping = "positionTpsl" if order.trigger_price is not None else "na"
        try:
            answer = await self._exchange.send(order_action([built], grouping))
        except ExchangeRefused as exc:
            return await self._refused(order, str(exc))
        return await self._ack(order, answer)

    async def _wire(self, order: VenueOrder) -> dict[str, Any] | Ack:
        """The order's wire form, or the ``Ack`` refusing it before it is signed."""
        asset = await self._asset(order.symbol)
        if asset is None:
            return Ack(cloid=order.cloid, accepted=False, reason=f"Hyperliquid lists no perp named {order.symbol}")
        reference = None
        if order.trigger_price is None:
            reference = order.reference_price or await self._mid(order.symbol)
        built = wire_for(
            order,
            asset=asset.index,
            sz_decimals=asset.sz_decimals,
            reference=reference,
            slippage=self.slippage,
            tif=self.entry_tif if order.role == "entry" else "Ioc",
        )
        return Ack(cloid=order.cloid, accepted=False, reason=built) if isinstance(built, str) else built

    async def _ack(self, order: VenueOrder, answer: ExchangeAnswer) -> Ack:
        statuses = answer.statuses()
        status = statuses[0] if statuses else None
        if isinstance(status, str):  # "waitingForFill", "waitingForTrigger": accepted, not yet live
            return Ack(cloid=order.cloid, accepted=True, reason=status)
        if not isinstance(status, dict):
            raise VenueUnavailable(f"/exchange order {order.cloid}: no status in the answer")
        if "error" in status:
            message = str(status["error"])
            if answer.attempts > 1 or "duplicate" in message.lower():
                return await self._refused(order, message)
            return Ack(cloid=order.cloid, accepted=False, reason=message)
        placed = status.get("resting") or status.get("filled") or {}
        oid = placed.get("oid")
        if isinstance(oid, int):
            self._oids[oid] = order.cloid
        if "filled" in status:
            self._filled.setdefault(order.cloid, 0.0)
        return Ack(cloid=order.cloid, accepted=True, exchange_order_id=None if oid is None else str(oid))

    async def _refused(self, order: VenueOrder, message: str) -> Ack:
        """A refusal after a retry, or as a duplicate: did an earlier attempt get through?"""
        state = await self.order_state(order.cloid)
        if state is not None and state.status in ("open", "filled"):
            return Ack(cloid=order.cloid, accepted=True, reason="reached the exchange on an earlier attempt")
        return Ack(cloid=order.cloid, accepted=False, reason=message)

    # -- reading -------------------------------------------------------------------------------------------------

    async def order_state(self, cloid: str) -> OrderState | None:
        """The order's state by cloid. Asking watches it: the OMS asks about orders the log has as pending, whose
        fills the log does not hold yet."""
        state = await self._state(cloid)
        if state is not None and cloid not in self._held and cloid not in self._dropped:
            self._watched.setdefault(cloid, 0)
        return state

    async def _state(self, cloid: str) -> OrderState | None:
        if cloid in self._held:
            return OrderState(cloid=cloid, status="open")
        if cloid in self._dropped:
            return OrderState(cloid=cloid, status="cancelled")
        wire = await _venue_call(self.info.order_status(self.account, cloid))
        if wire.status != "order" or wire.order is None:
            return None
        entry, placed = wire.order, wire.order.order
        self._learn(placed, cloid)
        filled = max(0.0, placed.orig_sz - placed.sz) if entry.status != "filled" else placed.orig_sz
        if entry.status in ("open", "triggered"):
            status: Literal["open", "filled", "cancelled", "rejected"] = "open"
        elif entry.status == "filled" or filled > 0:
            status = "filled"  # an IOC filled in part, its rest cancelled: it did fill
        elif entry.status == "rejected":
            status = "rejected"
        else:
            status = "cancelled"
        return OrderState(cloid=cloid, status=status, filled_size=filled)

    async def poll(self, bars: Mapping[str, Sequence[Bar]]) -> list[VenueFill]:
        """New fills of the watched orders (``bars`` is ignored: the exchange executes); then held stops and
        targets whose entry has filled are placed."""
        fills: list[VenueFill] = []
        wire_fills = await _venue_call(self.info.user_fills(self.account)) if self._watched else []
        for fill in sorted(wire_fills, key=lambda f: (f.time, f.tid)):
            cloid = fill.cloid or self._oids.get(fill.oid)
            since = self._watched.get(cloid) if cloid is not None else None
            if cloid is None or since is None or fill.tid in self._reported or fill.time < since:
                continue
            self._reported.add(fill.tid)
            self._filled[cloid] = self._filled.get(cloid, 0.0) + fill.sz
            order = self._orders.get(cloid)
            fills.append(
                VenueFill(
                    cloid=cloid,
                    symbol=fill.coin,
                    side="buy" if fill.side == "B" else "sell",
                    size=fill.sz,
                    price=fill.px,
                    fee=max(0.0, fill.fee),
                    ts=fill.time,
                    role=order.role if order else "entry",
                    liquidity="taker" if fill.crossed else "maker",
                    fill_id=str(fill.tid),
                )
            )
        try:
            await self._release_held()
        except VenueError as exc:  # the fills above are reported now; held orders are tried again next poll
            logger.warning("placing held stops and targets failed, retried at the next poll: %s", exc)
        return fills

    async def funding(self) -> list[VenueFunding]:
        """Funding Hyperliquid settled on the account since the last call (since the venue was made, at first:
        what was settled while no process ran is in the account's value, not in the log)."""
        rows = await _venue_call(self.info.user_funding(self.account, self._funding_after + 1))
        settled = []
        for row in sorted(rows, key=lambda r: r.time):
            if row.time <= self._funding_after:
                continue
            self._funding_after = row.time
            delta = row.delta
            notional = abs(delta.usdc / delta.funding_rate) if delta.funding_rate else 0.0
            settled.append(
                VenueFunding(
                    symbol=delta.coin, rate=delta.funding_rate, notional=notional, amount=delta.usdc, ts=row.time
                )
            )
        return settled

    async def open_orders(self) -> list[VenueOrder]:
        resting = await _venue_call(self.info.open_orders(self.account))
        orders: list[VenueOrder] = []
        now_ms = int(time.time() * 1000)
        for wire in resting:
            order = self._learn(wire, wire.cloid or f"oid:{wire.oid}")
            self._watched.setdefault(order.cloid, now_ms)  # resting now: its fills from now on are news to the log
            orders.append(replace(order, size=wire.sz))
        return orders + list(self._held.values())

    async def positions(self) -> list[VenuePosition]:
        state = await _venue_call(self.info.clearinghouse_state(self.account))
        return [
            VenuePosition(symbol=p.coin, size=p.size, entry_price=p.entry_px or 0.0)
            for p in state.positions
            if p.size != 0
        ]

    async def account_value(self) -> float | None:
        state = await _venue_call(self.info.clearinghouse_state(self.account))
        return state.account_value

    # -- helpers -------------------------------------------------------------------------------------------------

    def _parent_of(self, child: VenueOrder) -> str | None:
        """The entry a stop or target belongs to, among the orders this process knows; None after a restart whose
        entry filled (the child is then placed at once: its position exists)."""
        return next((c for c in self._orders if child_id(c, child.role) == child.cloid), None)

    async def _entry_filled(self, cloid: str) -> bool | None:
        """True once the entry has any fill; False if it ended without one; None while it may still fill."""
        if cloid in self._filled:
            return True
        state = await self._state(cloid)
        if state is None:
            return None
        if state.filled_size > 0 or state.status == "filled":
            return True
        return None if state.status == "open" else False

    async def _release_held(self) -> None:
        for child in list(self._held.values()):
            parent = self._parent_of(child)
            filled = True if parent is None else await self._entry_filled(parent)
            if filled is None:
                continue
            if not filled:
                del self._held[child.cloid]
                self._dropped.add(child.cloid)
                continue
            ack = await self._place(child)  # raises, keeping it held, when the exchange cannot be reached
            del self._held[child.cloid]
            if not ack.accepted:
                logger.error("%s %s for entry %s refused: %s", child.role, child.cloid, parent, ack.reason)

    async def _asset(self, symbol: str) -> _Asset | None:
        if not self._assets:
            meta = await _venue_call(self.info.perp_meta())
            self._assets = {a.name: _Asset(i, a.sz_decimals) for i, a in enumerate(meta.universe) if not a.is_delisted}
        return self._assets.get(symbol)

    async def _mid(self, symbol: str) -> float:
        mids = await _venue_call(self.info.all_mids())
        if symbol not in mids:
            raise VenueError(f"Hyperliquid has no mid price for {symbol}")
        return mids[symbol]

    async def _symbol_of(self, cloid: str) -> str | None:
        wire = await _venue_call(self.info.order_status(self.account, cloid))
        return wire.order.order.coin if wire.order is not None else None

    def _learn(self, wire: WireOpenOrder, cloid: str) -> VenueOrder:
        """What the exchange says about an order this process did not send (placed before a restart)."""
        self._oids[wire.oid] = cloid
        known = self._orders.get(cloid)
        if known is None:
            known = self._orders[cloid] = VenueOrder(
                cloid=cloid,
                symbol=wire.coin,
                side="buy" if wire.side == "B" else "sell",
                size=wire.orig_sz or wire.sz,
                role=_role_of(wire.order_type, wire.is_trigger),
                reduce_only=wire.reduce_only,
                trigger_price=wire.trigger_px if wire.is_trigger else None,
                reference_price=wire.limit_px,
            )
        return known


def _role_of(order_type: str, is_trigger: bool) -> Literal["entry", "stop", "target"]:
    if not is_trigger:
        return "entry"
    return "target" if "take profit" in order_type.lower() else "stop"


async def _venue_call(call: Awaitable[T]) -> T:
    """An ``/info`` call with its errors mapped to the venue's: no answer is transient, a bad answer is not."""
    try:
        return await call
    except InfoUnavailable as exc:
        cannot_connect = exc.status is None and any(
            name in exc.detail for name in ("ConnectError", "RemoteProtocolError", "ReadError")
        )
        raise (VenueDisconnected if cannot_connect else VenueUnavailable)(str(exc)) from exc
    except InfoError as exc:
        raise VenueError(str(exc)) from exc
