"""The live venue keeps inside Hyperliquid's request weight, and maps the exchange's faults to typed errors
(the mock exchange as an httpx transport, the autojump clock for the waits)."""

from __future__ import annotations

import httpx
import pytest
import trio
import trio.testing
from eth_account import Account

from b1e55ed.hyperliquid.config import HyperliquidConfig
from b1e55ed.ids import decision_id
from b1e55ed.venues.base import VenueDisconnected, VenueOrder, VenueUnavailable
from b1e55ed.venues.hyperliquid import HyperliquidVenue
from tests.fakes.hl_exchange import MockExchange
from tests.fakes.hl_exchange_server import transport


def order(index: int) -> VenueOrder:
    return VenueOrder(
        cloid=decision_id("limits", "BTC", "long", index),
        symbol="BTC",
        side="buy" if index % 2 == 0 else "sell",
        size=0.01,
        role="entry",
        reference_price=50_000.0,
    )


async def test_orders_wait_for_the_weight_budget(autojump_clock: trio.testing.MockClock) -> None:
    account = Account.create()
    exchange = MockExchange(wallet=account.address)
    config = HyperliquidConfig(url="http://hyperliquid.mock", is_mainnet=False, weight_per_min=30)
    async with httpx.AsyncClient(transport=transport(exchange)) as http:
        venue = HyperliquidVenue.from_config(config, account.key.hex(), http=http)
        started = trio.current_time()
        for index in range(20):  # meta (20) + 20 orders (1 each) = 40 weight: 10 over a 30-a-minute budget
            assert (await venue.submit(order(index))).accepted
        waited = trio.current_time() - started
    assert waited == pytest.approx(10 / 30 * 60, rel=0.05)
    assert exchange.requests["/exchange order"] == 20


async def test_5xx_exhausted_is_unavailable_and_no_connection_is_disconnected(
    autojump_clock: trio.testing.MockClock,
) -> None:
    account = Account.create()
    exchange = MockExchange(wallet=account.address)
    config = HyperliquidConfig(url="http://hyperliquid.mock", is_mainnet=False)
    async with httpx.AsyncClient(transport=transport(exchange)) as http:
        venue = HyperliquidVenue.from_config(config, account.key.hex(), http=http)
        exchange.inject("http_5xx", "http_5xx", "http_5xx")
        with pytest.raises(VenueUnavailable, match="HTTP 502") as unavailable:
            await venue.submit(order(1))
        assert not isinstance(unavailable.value, VenueDisconnected)
        exchange.inject("disconnect", "disconnect", "disconnect")
        with pytest.raises(VenueDisconnected):
            await venue.submit(order(1))
        assert (await venue.submit(order(1))).accepted  # the same cloid, once the exchange answers
    assert [o.cloid for o in exchange.orders.values()] == [order(1).cloid]


async def test_the_key_never_shows(autojump_clock: trio.testing.MockClock) -> None:
    account = Account.create()
    config = HyperliquidConfig(url="http://hyperliquid.mock", is_mainnet=False)
    async with httpx.AsyncClient() as http:
        venue = HyperliquidVenue.from_config(config, account.key.hex(), http=http)
        shown = repr(venue._exchange.signer) + repr(vars(venue._exchange.signer))
    assert account.key.hex().removeprefix("0x") not in shown


async def test_is_mainnet_must_be_explicit() -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(ValueError, match="is_mainnet must be set"):
            HyperliquidVenue.from_config(HyperliquidConfig(), Account.create().key.hex(), http=http)
