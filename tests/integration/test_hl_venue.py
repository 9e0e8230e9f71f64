"""HyperliquidVenue against the mock exchange on loopback, through the real signing code (the mock verifies every
signature with the SDK's recovery function)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial

import httpx
import pytest
import trio
from eth_account import Account
from msgspec.structs import replace

from b1e55ed.hyperliquid.config import HyperliquidConfig
from b1e55ed.ids import decision_id
from b1e55ed.venues.base import VenueOrder, VenueUnavailable
from b1e55ed.venues.hyperliquid import HELD, HyperliquidVenue
from tests.fakes.hl_exchange import MockExchange
from tests.fakes.hl_exchange_server import serve
from tests.samples import protection


@dataclass
class Rig:
    exchange: MockExchange
    url: str
    key: str
    http: httpx.AsyncClient

    def venue(self, *, key: str | None = None, timeout_s: float = 0.5, **kwargs: object) -> HyperliquidVenue:
        config = HyperliquidConfig(url=self.url, is_mainnet=False, timeout_s=timeout_s)
        venue = HyperliquidVenue.from_config(config, key or self.key, http=self.http)
        for name, value in kwargs.items():
            setattr(venue, name, value)
        return venue


@pytest.fixture
async def rig(nursery: trio.Nursery) -> AsyncIterator[Rig]:
    account = Account.create()
    exchange = MockExchange(wallet=account.address, hang_s=1.0)
    port = await nursery.start(partial(serve, exchange))
    async with httpx.AsyncClient() as http:
        yield Rig(exchange, f"http://127.0.0.1:{port}", account.key.hex(), http)


def entry(symbol: str = "BTC", size: float = 0.02, price: float = 50_000.0, tag: str = "a") -> VenueOrder:
    return VenueOrder(
        cloid=decision_id("test", symbol, tag, 1),
        symbol=symbol,
        side="buy",
        size=size,
        role="entry",
        reference_price=price,
    )


def placed(exchange: MockExchange, cloid: str) -> int:
    return sum(1 for order in exchange.orders.values() if order.cloid == cloid)


@pytest.mark.slow
async def test_a_timeout_after_acceptance_then_a_retry_sends_exactly_one_order(rig: Rig) -> None:
    venue = rig.venue()
    order = entry()
    rig.exchange.inject("timeout_after_accept")
    ack = await venue.submit(order)
    assert ack.accepted, ack.reason
    assert rig.exchange.order_attempts[order.cloid] == 2  # the retry reached the exchange too ...
    assert placed(rig.exchange, order.cloid) == 1  # ... and was refused as a duplicate
    assert [(p.symbol, p.size) for p in await venue.positions()] == [("BTC", 0.02)]
    fills = await venue.poll({})
    assert [(f.cloid, f.size, f.role) for f in fills] == [(order.cloid, 0.02, "entry")]


@pytest.mark.slow
async def test_5xx_is_retried_with_the_same_cloid_and_a_disconnect_is_typed(rig: Rig) -> None:
    venue = rig.venue()
    order = entry()
    rig.exchange.inject("http_5xx")
    assert (await venue.submit(order)).accepted
    assert placed(rig.exchange, order.cloid) == 1
    rig.exchange.inject("disconnect", "disconnect", "disconnect")
    with pytest.raises(VenueUnavailable, match="gave up"):
        await venue.submit(entry(tag="b"))


@pytest.mark.slow
async def test_a_restart_while_an_order_is_pending_reconciles_it(rig: Rig) -> None:
    crashed = rig.venue()
    crashed._exchange._max_retries = 0  # the process dies with the order unanswered: the log has it pending
    order, never_sent = entry(), entry(symbol="ETH", size=0.5, price=3000.0)
    rig.exchange.inject("timeout_after_accept")
    with pytest.raises(VenueUnavailable):
        await crashed.submit(order)

    restarted = rig.venue()  # a new process: it knows nothing but what the OMS asks
    state = await restarted.order_state(order.cloid)
    assert state is not None
    assert (state.status, state.filled_size) == ("filled", 0.02)
    assert await restarted.order_state(never_sent.cloid) is None
    fills = await restarted.poll({})
    assert [(f.cloid, f.size) for f in fills] == [(order.cloid, 0.02)]
    assert await restarted.poll({}) == []  # reported once
    assert (await restarted.submit(never_sent)).accepted  # the OMS re-sends what never arrived
    assert placed(rig.exchange, order.cloid) == placed(rig.exchange, never_sent.cloid) == 1


async def test_a_restart_does_not_report_fills_the_log_already_has_and_places_lost_stops(rig: Rig) -> None:
    first = rig.venue()
    order = entry()
    assert (await first.submit(order)).accepted
    await first.poll({})  # the fill is in the log now
    stop, target = protection(order, 49_000.0, 52_000.0)

    restarted = rig.venue()  # crashed before the stop and target reached the exchange; the log has them open
    for lost in (stop, target):  # what the OMS's reconciliation does: unknown to the exchange → sent again
        assert await restarted.order_state(lost.cloid) is None
        assert (await restarted.submit(lost)).accepted
    assert await restarted.poll({}) == []
    resting = {o.cloid: o.role for o in await restarted.open_orders()}
    assert resting == {stop.cloid: "stop", target.cloid: "target"}


async def test_a_partial_fill_updates_the_position_by_what_filled(rig: Rig) -> None:
    venue = rig.venue()
    order = entry(size=0.02)
    rig.exchange.inject("partial_fill")
    assert (await venue.submit(order)).accepted
    fills = await venue.poll({})
    assert [(f.size, f.role) for f in fills] == [(0.01, "entry")]
    assert [(p.symbol, p.size) for p in await venue.positions()] == [("BTC", 0.01)]
    state = await venue.order_state(order.cloid)
    assert state is not None
    assert (state.status, state.filled_size) == ("filled", 0.01)


async def test_halted_cancels_open_entries_and_leaves_the_stops(rig: Rig) -> None:
    rig.exchange.mids.update({"BTC": 50_000.0, "ETH": 3_000.0})
    venue = rig.venue(entry_tif="Gtc")
    filled, resting = entry(), entry(symbol="ETH", size=0.5, price=2_900.0)
    for order in (filled, *protection(filled, 49_000.0, 52_000.0)):
        assert (await venue.submit(order)).accepted
    waiting = protection(resting, 2_800.0, 3_200.0)
    assert (await venue.submit(resting)).accepted
    assert [(await venue.submit(child)).reason for child in waiting] == [HELD, HELD]

    # What the OMS does on HALTED: cancel every open entry, and the stop and target waiting on it.
    for cloid in (resting.cloid, *(child.cloid for child in waiting)):
        assert await venue.cancel(cloid)
    assert {o.role for o in await venue.open_orders()} == {"stop", "target"}
    assert {o.symbol for o in await venue.open_orders()} == {"BTC"}
    await venue.poll({})

    rig.exchange.set_mid("BTC", 48_900.0)  # the stop still protects the position
    fills = await venue.poll({})
    assert [(f.role, f.side, f.size) for f in fills] == [("stop", "sell", 0.02)]
    assert await venue.positions() == []


async def test_a_stop_submitted_before_its_entry_fills_is_placed_when_it_fills(rig: Rig) -> None:
    rig.exchange.mids["BTC"] = 50_000.0
    venue = rig.venue(entry_tif="Gtc")
    order = entry(price=49_500.0)
    stop, target = protection(order, 48_000.0, 52_000.0)
    assert (await venue.submit(order)).accepted
    assert (await venue.submit(stop)).reason == HELD
    assert (await venue.submit(target)).reason == HELD
    assert await venue.poll({}) == []
    rig.exchange.set_mid("BTC", 49_400.0)  # the resting entry fills
    fills = await venue.poll({})
    assert [f.cloid for f in fills] == [order.cloid]
    assert {o.cloid for o in await venue.open_orders()} == {stop.cloid, target.cloid}
    assert placed(rig.exchange, stop.cloid) == 1


async def test_rejects_are_final_and_named(rig: Rig) -> None:
    venue = rig.venue()
    rig.exchange.inject("reject")
    ack = await venue.submit(entry())
    assert not ack.accepted
    assert "Insufficient margin" in ack.reason
    small = await venue.submit(entry(size=0.0001))
    assert not small.accepted
    assert "$10" in small.reason
    assert rig.exchange.requests["/exchange order"] == 1  # the small one was refused before signing


async def test_a_signature_from_another_key_is_refused_by_the_exchange(rig: Rig) -> None:
    stranger = rig.venue(key=Account.create().key.hex())
    ack = await stranger.submit(entry())
    assert not ack.accepted
    assert "does not exist" in ack.reason
    assert rig.exchange.orders == {}


async def test_modify_moves_a_resting_stop(rig: Rig) -> None:
    venue = rig.venue()
    order = entry()
    stop, _ = protection(order, 49_000.0, 52_000.0)
    assert (await venue.submit(order)).accepted
    assert (await venue.submit(stop)).accepted
    assert (await venue.modify(replace(stop, trigger_price=49_500.0))).accepted
    assert [o.trigger_price for o in await venue.open_orders()] == [49_500.0]


async def test_a_duplicate_refusal_is_checked_by_cloid(rig: Rig) -> None:
    venue = rig.venue()
    never_placed, placed_once = entry(tag="never"), entry(tag="once")
    rig.exchange.inject("duplicate_cloid")
    refused = await venue.submit(never_placed)
    assert not refused.accepted
    assert "duplicate" in refused.reason  # the exchange has no such order: the refusal stands
    assert (await venue.submit(placed_once)).accepted
    again = await venue.submit(placed_once)
    assert again.accepted  # the exchange has it: a duplicate of an order that got through is not a reject
    assert placed(rig.exchange, placed_once.cloid) == 1


@pytest.mark.slow
async def test_a_held_stop_survives_an_outage_while_it_is_placed(rig: Rig) -> None:
    rig.exchange.mids["BTC"] = 50_000.0
    venue = rig.venue(entry_tif="Gtc")
    order = entry(price=49_500.0)
    stop, _ = protection(order, 48_000.0, 52_000.0)
    assert (await venue.submit(order)).accepted
    assert (await venue.submit(stop)).reason == HELD
    rig.exchange.set_mid("BTC", 49_400.0)
    rig.exchange.inject("disconnect", "disconnect", "disconnect")  # placing the stop fails
    assert [f.cloid for f in await venue.poll({})] == [order.cloid]  # the fill is reported all the same
    assert placed(rig.exchange, stop.cloid) == 0
    assert await venue.poll({}) == []
    assert placed(rig.exchange, stop.cloid) == 1


async def test_funding_the_exchange_settled_is_reported_once(rig: Rig) -> None:
    rig.exchange.mids["BTC"] = 50_000.0
    venue = rig.venue()
    assert (await venue.submit(entry(size=0.02))).accepted
    await trio.sleep(0.01)  # settled after the venue started: the log has not seen it
    rig.exchange.settle_funding("BTC", 0.0001)
    [paid] = await venue.funding()
    assert (paid.symbol, paid.rate) == ("BTC", 0.0001)
    assert paid.amount == pytest.approx(-0.02 * 50_000.0 * 0.0001)  # a long pays a positive rate
    assert paid.notional == pytest.approx(0.02 * 50_000.0)
    assert await venue.funding() == []
