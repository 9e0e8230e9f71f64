"""The real OMS trading through HyperliquidVenue, the real signing code and the mock exchange (as an httpx
transport, so the autojump clock carries the retries): a restart while an order is pending, and HALTED."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import httpx
import pytest
import trio.testing
from eth_account import Account
from eth_account.signers.local import LocalAccount

from b1e55ed.eventlog.store import MemoryStore
from b1e55ed.hyperliquid.config import HyperliquidConfig
from b1e55ed.messages import AnyEvent, OrderUpdated
from b1e55ed.venues.hyperliquid import HyperliquidVenue
from tests.fakes.desk import Desk, cloids, only, trade
from tests.fakes.hl_exchange import MockExchange
from tests.fakes.hl_exchange_server import transport
from tests.fakes.venue import FakeVenue


def live_venue(http: httpx.AsyncClient, account: LocalAccount, **settings: object) -> FakeVenue:
    config = HyperliquidConfig(url="http://hyperliquid.mock", is_mainnet=False, timeout_s=1.0)
    venue = HyperliquidVenue.from_config(config, account.key.hex(), http=http)
    for name, value in settings.items():
        setattr(venue, name, value)
    return cast(FakeVenue, venue)  # Desk is typed for its fake; any Venue drives the OMS


def last_status(events: Sequence[AnyEvent], cloid: str) -> str:
    return only(events, OrderUpdated, lambda o: o.cloid == cloid)[-1].status


def orders_at(exchange: MockExchange, status: str = "open") -> set[str]:
    return {o.cloid for o in exchange.orders.values() if o.status == status and o.cloid}


async def test_a_restart_while_an_entry_is_pending_reconciles_it(autojump_clock: trio.testing.MockClock) -> None:
    account = Account.create()
    exchange = MockExchange(wallet=account.address)
    store = MemoryStore()
    entry, stop, target = cloids("BTC", 1)
    async with httpx.AsyncClient(transport=transport(exchange)) as http:
        # The entry reaches the exchange and fills, but every answer is lost: the process dies with it pending.
        exchange.inject("timeout_after_accept", *["disconnect"] * 40)
        crashed = Desk(store=store, venue=live_venue(http, account))
        async with crashed.running():
            await crashed.cycle(1, trade("BTC", 100.0))
        assert last_status(await crashed.events(), entry) == "pending"
        assert exchange.orders[min(exchange.orders)].cloid == entry

        exchange.faults.clear()
        restarted = Desk(store=store, venue=live_venue(http, account))
        async with restarted.running():
            restarted.next_bar()
            await restarted.cycle(2)
            events = await restarted.events()
    assert last_status(events, entry) in ("filled", "partially_filled")
    assert {last_status(events, stop), last_status(events, target)} == {"submitted"}
    assert [o.cloid for o in exchange.orders.values()].count(entry) == 1
    assert orders_at(exchange) == {stop, target}
    held = exchange.positions["BTC"][0]
    assert restarted.oms is not None
    booked = restarted.oms.ledger.positions["BTC"]
    assert booked.sign * booked.size == pytest.approx(held)


async def test_halted_cancels_every_open_entry_and_leaves_the_stops(autojump_clock: trio.testing.MockClock) -> None:
    account = Account.create()
    exchange = MockExchange(wallet=account.address, mids={"BTC": 105.0})  # a BTC buy at 100 rests
    async with httpx.AsyncClient(transport=transport(exchange)) as http:
        desk = Desk(venue=live_venue(http, account, entry_tif="Gtc"))
        async with desk.running():
            await desk.cycle(1, trade("BTC", 100.0), trade("ETH", 50.0))
            desk.next_bar()
            await desk.cycle(2)  # the poll records ETH's fill
            btc, eth = cloids("BTC", 1), cloids("ETH", 1)
            assert orders_at(exchange) == {btc[0], eth[1], eth[2]}  # BTC's stop and target wait for its fill

            await desk.switch("HALTED")
            await desk.settle_down()
            events = await desk.events()
    assert [last_status(events, cloid) for cloid in btc] == ["cancelled"] * 3
    assert [last_status(events, cloid) for cloid in eth[1:]] == ["submitted"] * 2
    assert orders_at(exchange) == {eth[1], eth[2]}  # ETH keeps its stop and target at the exchange
    assert orders_at(exchange, "canceled") == {btc[0]}
    assert exchange.positions["ETH"][0] > 0


async def test_halted_right_after_an_entry_filled_keeps_its_stop(autojump_clock: trio.testing.MockClock) -> None:
    account = Account.create()
    exchange = MockExchange(wallet=account.address)
    async with httpx.AsyncClient(transport=transport(exchange)) as http:
        desk = Desk(venue=live_venue(http, account))
        async with desk.running():
            await desk.cycle(1, trade("ETH", 50.0))  # an IOC entry: filled at once, its fill not yet polled
            _, stop, target = cloids("ETH", 1)
            assert orders_at(exchange) == {stop, target}
            await desk.switch("HALTED")
            await desk.settle_down()
    assert exchange.positions["ETH"][0] > 0
    assert orders_at(exchange) == {stop, target}
