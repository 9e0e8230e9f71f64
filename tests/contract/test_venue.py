"""One contract, every venue: the same tests against ``PaperVenue`` and ``HyperliquidVenue`` (on the loopback mock
exchange, through the real signing code).

The venues fill differently (the paper venue at the next bar's open and triggers on the bar's range, the exchange at
its mid), so each runs behind a ``Market`` that moves its price its own way; what the OMS relies on is the same:
an entry fills once and opens the position; a cloid is used once; stops and targets close the position and cancel
each other; a resting order cancels; every order can be asked for by its cloid; a fill is reported once; what fills
adds up and never exceeds the order (the exchange may fill part of one; the paper venue never does, by design, so
there the same holds of the whole); and a venue asked afresh after a restart tells the same story, which is what
reconciliation compares the log against.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

import httpx
import pytest
import trio
from eth_account import Account

from b1e55ed.hyperliquid.config import HyperliquidConfig
from b1e55ed.ids import decision_id
from b1e55ed.messages import Bar, OrderRole
from b1e55ed.venues.base import Venue, VenueFill, VenueOrder
from b1e55ed.venues.fees import FeeSchedule, SlippageModel
from b1e55ed.venues.hyperliquid import HyperliquidVenue
from b1e55ed.venues.paper import PaperVenue
from tests.fakes.hl_exchange import MockExchange
from tests.fakes.hl_exchange_server import serve
from tests.samples import protection

HOUR = 3_600_000
PRICE = 50_000.0
SIZE = 0.02


class Market(Protocol):
    @property
    def venue(self) -> Venue: ...

    async def trade_at(self, price: float) -> list[VenueFill]:
        """Move the market to ``price`` (through every level between) and return the fills it caused."""
        ...

    def fill_part_of_the_next_order(self) -> bool:
        """Make the next crossing order fill only in part, where the venue can; whether it can."""
        ...

    async def restarted(self, cloids: Sequence[str]) -> Venue:
        """The venue as a restarted process finds it; a simulated one is handed what the OMS rebuilds from its log
        (the open orders, the positions, the ``cloids`` it sent and their states)."""
        ...


@dataclass
class PaperMarket:
    venue: PaperVenue = field(
        default_factory=lambda: PaperVenue(fees=FeeSchedule(), slippage=SlippageModel(), timeframe_ms=HOUR)
    )
    ts: int = 1_000 * HOUR
    last: float = PRICE

    async def trade_at(self, price: float) -> list[VenueFill]:
        low, high = min(self.last, price), max(self.last, price)
        bar = Bar(self.ts, self.last, high, low, price, 1_000.0)
        self.ts += HOUR
        self.last = price
        return await self.venue.poll({"BTC": [bar]})

    def fill_part_of_the_next_order(self) -> bool:
        return False

    async def restarted(self, cloids: Sequence[str]) -> Venue:
        states = [state for cloid in cloids if (state := await self.venue.order_state(cloid)) is not None]
        fresh = PaperVenue(fees=FeeSchedule(), slippage=SlippageModel(), timeframe_ms=HOUR)
        fresh.restore(await self.venue.open_orders(), await self.venue.positions(), cloids, states)
        return fresh


@dataclass
class ExchangeMarket:
    venue: HyperliquidVenue
    exchange: MockExchange
    connect: Callable[[], HyperliquidVenue]

    async def trade_at(self, price: float) -> list[VenueFill]:
        self.exchange.set_mid("BTC", price)
        return await self.venue.poll({})

    def fill_part_of_the_next_order(self) -> bool:
        self.exchange.inject("partial_fill")
        return True

    async def restarted(self, cloids: Sequence[str]) -> Venue:
        return self.connect()


@pytest.fixture(params=["paper", "hyperliquid"])
async def market(request: pytest.FixtureRequest, nursery: trio.Nursery) -> AsyncIterator[Market]:
    if request.param == "paper":
        yield PaperMarket()
        return
    account = Account.create()
    exchange = MockExchange(wallet=account.address, hang_s=1.0)
    exchange.set_mid("BTC", PRICE)
    port = await nursery.start(partial(serve, exchange))
    async with httpx.AsyncClient() as http:
        config = HyperliquidConfig(url=f"http://127.0.0.1:{port}", is_mainnet=False, timeout_s=2.0)
        connect = partial(HyperliquidVenue.from_config, config, account.key.hex(), http=http)
        yield ExchangeMarket(connect(), exchange, connect)


def entry(tag: str = "a") -> VenueOrder:
    return VenueOrder(
        cloid=decision_id("contract", "BTC", tag, 1),
        symbol="BTC",
        side="buy",
        size=SIZE,
        role="entry",
        reference_price=PRICE,
        not_before=1_000 * HOUR,
    )


async def opened(market: Market) -> VenueOrder:
    """A long entry submitted and filled, the position open."""
    order = entry()
    assert (await market.venue.submit(order)).accepted
    fills = await market.trade_at(PRICE)
    assert [(f.cloid, f.role, f.size) for f in fills] == [(order.cloid, "entry", SIZE)]
    return order


async def test_an_entry_fills_once_and_opens_the_position(market: Market) -> None:
    order = await opened(market)
    assert [(p.symbol, p.size) for p in await market.venue.positions()] == [("BTC", SIZE)]
    state = await market.venue.order_state(order.cloid)
    assert state is not None
    assert (state.status, state.filled_size) == ("filled", SIZE)
    assert await market.trade_at(PRICE) == []  # reported once


async def test_a_cloid_is_used_once(market: Market) -> None:
    """The same cloid again never places a second order: the paper venue refuses it as a duplicate; the exchange,
    where a retry after a timeout looks the same, answers that it has the order already."""
    order = await opened(market)
    again = await market.venue.submit(order)
    refused = not again.accepted and "duplicate" in again.reason.lower()
    known = again.accepted and "earlier attempt" in again.reason
    assert refused or known, again
    assert [(p.symbol, p.size) for p in await market.venue.positions()] == [("BTC", SIZE)]
    assert await market.trade_at(PRICE) == []


@pytest.mark.parametrize(("move", "fires", "cancelled"), [(0.96, "stop", "target"), (1.11, "target", "stop")])
async def test_the_stop_or_the_target_closes_the_position_and_cancels_the_other(
    market: Market, move: float, fires: OrderRole, cancelled: OrderRole
) -> None:
    order = await opened(market)
    children = {child.role: child for child in protection(order, PRICE * 0.97, PRICE * 1.10)}
    for child in children.values():
        assert (await market.venue.submit(child)).accepted
    fills = await market.trade_at(PRICE * move)
    assert [(f.cloid, f.role) for f in fills] == [(children[fires].cloid, fires)]
    assert await market.venue.positions() == []
    other = await market.venue.order_state(children[cancelled].cloid)
    assert other is not None
    assert other.status == "cancelled"


async def test_a_resting_order_cancels_and_says_so_by_its_cloid(market: Market) -> None:
    order = await opened(market)
    stop, _ = protection(order, PRICE * 0.97, PRICE * 1.10)
    assert (await market.venue.submit(stop)).accepted
    assert [o.cloid for o in await market.venue.open_orders()] == [stop.cloid]
    assert await market.venue.cancel(stop.cloid)
    state = await market.venue.order_state(stop.cloid)
    assert state is not None
    assert state.status == "cancelled"
    assert await market.venue.open_orders() == []
    assert await market.trade_at(PRICE * 0.9) == []  # cancelled: it no longer fires
    assert await market.venue.order_state(entry("never sent").cloid) is None


@pytest.mark.parametrize("in_part", [False, True], ids=["whole", "in part where the venue can"])
async def test_what_fills_adds_up_and_never_exceeds_the_order(market: Market, in_part: bool) -> None:
    order = entry()
    partly = in_part and market.fill_part_of_the_next_order()
    assert (await market.venue.submit(order)).accepted
    fills = await market.trade_at(PRICE) + await market.trade_at(PRICE)
    filled = sum(f.size for f in fills)
    state = await market.venue.order_state(order.cloid)
    assert state is not None
    assert state.filled_size == pytest.approx(filled)
    assert 0 < filled <= SIZE
    assert (filled < SIZE) == partly
    (position,) = await market.venue.positions()
    assert position.symbol == "BTC"
    assert position.size == pytest.approx(filled)


async def test_a_restarted_venue_tells_the_same_story(market: Market) -> None:
    order = await opened(market)
    stop, target = protection(order, PRICE * 0.97, PRICE * 1.10)
    for child in (stop, target):
        assert (await market.venue.submit(child)).accepted
    cloids = [order.cloid, stop.cloid, target.cloid]
    before = market.venue
    after = await market.restarted(cloids)
    assert await after.positions() == await before.positions()
    assert [(o.cloid, o.role) for o in await after.open_orders()] == [
        (o.cloid, o.role) for o in await before.open_orders()
    ]
    for cloid in cloids:
        was, now = await before.order_state(cloid), await after.order_state(cloid)
        assert was is not None
        assert now is not None
        assert (now.status, now.filled_size) == (was.status, was.filled_size)
    again = await after.submit(order)  # the same decision once more after the restart: never a second order
    assert not again.accepted or "earlier attempt" in again.reason
    assert [(p.symbol, p.size) for p in await after.positions()] == [("BTC", SIZE)]
