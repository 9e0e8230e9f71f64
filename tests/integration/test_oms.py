"""The OMS against a scriptable exchange (``tests/fakes/venue.py``): partial fills, the kill switch's cancellations
and flattening, retries and rejects, reconciliation at start, funding, and conflicts between strategies.

In-memory log, autojump clock (retries and probes sleep in trio time): the venue is a fake at the ``Venue`` seam,
everything else is the real OMS.
"""

from __future__ import annotations

import pytest
from trio.testing import MockClock

from b1e55ed.ids import child_id
from b1e55ed.messages import (
    Alert,
    AnyEvent,
    CycleSettled,
    EquitySynced,
    Fill,
    FundingPaid,
    KillSwitchChanged,
    OrderUpdated,
    PositionUpdated,
)
from b1e55ed.trading_config import KillSwitchConfig
from b1e55ed.venues.base import VenueFunding, VenueOrder, VenuePosition, VenueUnavailable
from tests.fakes.desk import Desk, as_of, cloids, only, trade


def statuses(events: list[AnyEvent], cloid: str) -> list[tuple[str, float, float | None]]:
    return [(o.status, o.size, o.filled_size) for o in only(events, OrderUpdated, lambda o: o.cloid == cloid)]


# -- partial fills -------------------------------------------------------------------------------------------------


async def test_a_partial_fill_grows_the_position_and_the_rest_completes_it(
    autojump_clock: MockClock,
) -> None:
    desk = Desk()
    async with desk.running():
        await desk.cycle(1, trade("BTC", 100.0))  # 5% of 10,000 at 100: 5 units
        entry, stop, target = cloids("BTC", 1)
        assert set(desk.fake.open) == {entry, stop, target}

        desk.fake.fill(entry, 2.0, 100.0, ts=as_of(1), fee=0.09)
        desk.next_bar()
        second = await desk.cycle(2)
        assert statuses(second, entry) == [("partially_filled", 5.0, 2.0)]
        (fill,) = only(second, Fill)
        assert (fill.size, fill.price) == (2.0, 100.0)
        (opened,) = only(second, PositionUpdated)
        assert (opened.status, opened.size, opened.entry_price) == ("open", 2.0, 100.0)
        # The stop still covers the 5 units the entry may yet fill.
        assert not only(second, OrderUpdated, lambda o: o.cloid in (stop, target))
        assert desk.oms is not None
        assert desk.oms.ledger.orders[entry].status == "partially_filled"

        desk.fake.fill(entry, 3.0, 102.0, ts=as_of(2), fee=0.14)
        desk.next_bar()
        third = await desk.cycle(3)
        (done,) = only(third, OrderUpdated, lambda o: o.cloid == entry)
        assert (done.status, done.filled_size) == ("filled", 5.0)
        assert done.filled_price == pytest.approx(101.2)
        (grown,) = only(third, PositionUpdated)
        assert grown.size == pytest.approx(5.0)
        assert grown.entry_price == pytest.approx(101.2)  # (2 × 100 + 3 × 102) ÷ 5
        assert grown.fees == pytest.approx(0.23)
        position = desk.oms.ledger.positions["BTC"]
        assert (position.size, position.position_id) == (5.0, entry)

        # A partial exit: the target takes 2 units; the stop shrinks to the 3 left.
        desk.fake.fill(target, 2.0, 110.0, ts=as_of(3))
        desk.next_bar()
        fourth = await desk.cycle(4)
        assert statuses(fourth, target) == [("partially_filled", 5.0, 2.0)]
        (shrunk,) = only(fourth, PositionUpdated)
        assert (shrunk.status, shrunk.size) == ("open", 3.0)
        assert statuses(fourth, stop) == [("submitted", 3.0, None)]
        assert desk.oms.ledger.cash == pytest.approx(10_000.0 - 0.23 + 2.0 * (110.0 - 101.2))

        # The stop takes the rest: closed, stopped, and the target's rest cancelled.
        desk.fake.fill(stop, 3.0, 95.0, ts=as_of(4))
        desk.next_bar()
        fifth = await desk.cycle(5)
        (closed,) = only(fifth, PositionUpdated)
        assert closed.status == "stopped"
        assert closed.pnl == pytest.approx(2.0 * 8.8 + 3.0 * (95.0 - 101.2) - 0.23)
        assert statuses(fifth, stop)[0][0] == "filled"
        assert statuses(fifth, target)[-1][0] == "cancelled"
        assert "BTC" not in desk.oms.ledger.positions


async def test_a_partly_filled_entry_cancelled_by_halt_keeps_its_stop_sized_to_the_position(
    autojump_clock: MockClock,
) -> None:
    desk = Desk()
    async with desk.running():
        await desk.cycle(1, trade("BTC", 100.0))
        entry, stop, target = cloids("BTC", 1)
        desk.fake.fill(entry, 2.0, 100.0, ts=as_of(1))
        desk.next_bar()
        await desk.cycle(2)
        before = desk.log.head.seq
        await desk.switch("HALTED")
        await desk.settle_down()
        halted = await desk.events(after=before)
        assert statuses(halted, entry) == [("cancelled", 5.0, 2.0)]
        assert statuses(halted, stop) == [("submitted", 2.0, None)]
        assert statuses(halted, target) == [("submitted", 2.0, None)]
        assert set(desk.fake.open) == {stop, target}


# -- the kill switch against the exchange --------------------------------------------------------------------------


async def test_halted_cancels_every_open_entry_and_leaves_the_stops_in_place(
    autojump_clock: MockClock,
) -> None:
    desk = Desk()
    async with desk.running():
        await desk.cycle(1, trade("BTC", 100.0))
        btc_entry, btc_stop, btc_target = cloids("BTC", 1)
        desk.fake.fill(btc_entry, 5.0, 100.0, ts=as_of(1))
        desk.next_bar()
        await desk.cycle(2, trade("ETH", 50.0), trade("SOL", 20.0, strategy="beta"))
        eth = cloids("ETH", 2)
        sol = cloids("SOL", 2, strategy="beta")
        assert set(desk.fake.open) == {btc_stop, btc_target, *eth, *sol}

        before = desk.log.head.seq
        await desk.switch("HALTED")
        await desk.settle_down()
        assert set(desk.fake.open) == {btc_stop, btc_target}
        cancelled = only(await desk.events(after=before), OrderUpdated, lambda o: o.status == "cancelled")
        assert {o.cloid for o in cancelled} == {*eth, *sol}
        assert {o.reason for o in cancelled} == {"kill switch HALTED"}
        assert ("cancel", btc_stop) not in desk.fake.calls
        assert desk.oms is not None
        assert [p.symbol for p in desk.oms.ledger.positions.values()] == ["BTC"]


async def test_an_entry_the_venue_filled_just_before_the_halt_keeps_its_stop_and_target(
    autojump_clock: MockClock,
) -> None:
    desk = Desk()
    async with desk.running():
        await desk.cycle(1, trade("BTC", 100.0))
        entry, stop, target = cloids("BTC", 1)
        desk.fake.fill(entry, 5.0, 100.0, ts=as_of(1))  # filled at the venue; the OMS hears at the next poll
        before = desk.log.head.seq
        await desk.switch("HALTED")
        await desk.settle_down()
        assert not only(await desk.events(after=before), OrderUpdated)
        assert set(desk.fake.open) == {stop, target}
        desk.next_bar()
        second = await desk.cycle(2)
        assert statuses(second, entry) == [("filled", 5.0, 5.0)]
        assert [(p.status, p.size) for p in only(second, PositionUpdated)] == [("open", 5.0)]
        assert set(desk.fake.open) == {stop, target}


async def test_flatten_on_halt_closes_positions_with_reduce_only_exits_sent_once_across_a_restart(
    autojump_clock: MockClock,
) -> None:
    desk = Desk(killswitch=KillSwitchConfig(flatten_on_halt=True))
    async with desk.running():
        await desk.cycle(1, trade("BTC", 100.0), trade("ETH", 50.0, direction="short", strategy="beta"))
        btc, btc_stop, _ = cloids("BTC", 1)
        eth, _, _ = cloids("ETH", 1, strategy="beta", direction="short")
        desk.fake.fill(btc, 5.0, 100.0, ts=as_of(1))
        desk.fake.fill(eth, 10.0, 50.0, ts=as_of(1))
        desk.next_bar()
        await desk.cycle(2)
        desk.fake.fail("submit", VenueUnavailable("503"), VenueUnavailable("503"), VenueUnavailable("503"))
        before = desk.log.head.seq
        await desk.switch("HALTED")
        await desk.settle_down()
        exits = only(await desk.events(after=before), OrderUpdated, lambda o: o.role == "exit")
        btc_exit, eth_exit = child_id(btc, "flatten:0"), child_id(eth, "flatten:0")
        # BTC's exit never got an answer (three 503s): still pending. ETH's went through.
        assert [(o.cloid, o.status, o.order_side, o.reduce_only, o.size) for o in exits] == [
            (btc_exit, "pending", "sell", True, 5.0),
            (eth_exit, "pending", "buy", True, 10.0),
            (eth_exit, "submitted", "buy", True, 10.0),
        ]
        assert btc_stop in desk.fake.open  # the stop stays while the exit is out

    # A restart: the pending exit is resolved by its cloid (sent once), and no second exit is made.
    restarted = Desk(killswitch=KillSwitchConfig(flatten_on_halt=True), venue=desk.venue, store=desk.store)
    restarted.gate.restore("HALTED")
    async with restarted.running():
        await restarted.settle_down()
        submits = [cloid for method, cloid in desk.fake.calls if method == "submit"]
        assert submits.count(btc_exit) == 4  # three failures, then the one that got through
        assert submits.count(eth_exit) == 1
        logged = await restarted.events()
        assert {o.cloid for o in only(logged, OrderUpdated, lambda o: o.role == "exit")} == {btc_exit, eth_exit}
        # The exits fill: both positions close.
        desk.fake.fill(btc_exit, 5.0, 99.0, ts=as_of(2))
        desk.fake.fill(eth_exit, 10.0, 51.0, ts=as_of(2))
        restarted.next_bar()
        restarted.next_bar()
        third = await restarted.cycle(3)
        assert {(p.symbol, p.status) for p in only(third, PositionUpdated)} == {("BTC", "closed"), ("ETH", "closed")}
        assert restarted.oms is not None
        assert restarted.oms.ledger.positions == {}


# -- venue errors: retried with the same cloid, rejects final, nothing crashes -------------------------------------


async def test_a_transient_submit_error_is_retried_with_the_same_cloid(autojump_clock: MockClock) -> None:
    desk = Desk()
    desk.fake.fail("submit", VenueUnavailable("timeout"))
    async with desk.running():
        first = await desk.cycle(1, trade("BTC", 100.0))
        entry, _, _ = cloids("BTC", 1)
        assert [c for m, c in desk.fake.calls if m == "submit"][:2] == [entry, entry]
        assert statuses(first, entry) == [("pending", 5.0, None), ("submitted", 5.0, None)]


async def test_an_order_without_an_answer_stays_pending_and_is_resolved_next_cycle(
    autojump_clock: MockClock,
) -> None:
    desk = Desk()
    desk.fake.fail("submit", *[VenueUnavailable("503")] * 3)
    async with desk.running():
        first = await desk.cycle(1, trade("BTC", 100.0))
        entry, stop, target = cloids("BTC", 1)
        assert statuses(first, entry) == [("pending", 5.0, None)]
        desk.next_bar()
        second = await desk.cycle(2)
        assert statuses(second, entry) == [("submitted", 5.0, None)]
        assert set(desk.fake.open) == {entry, stop, target}


async def test_a_reject_is_final_and_recorded_with_the_venues_reason(autojump_clock: MockClock) -> None:
    desk = Desk()
    entry, _, _ = cloids("BTC", 1)
    desk.fake.reject[entry] = "insufficient margin"
    async with desk.running():
        first = await desk.cycle(1, trade("BTC", 100.0))
        (rejected,) = only(first, OrderUpdated, lambda o: o.cloid == entry and o.status == "rejected")
        assert rejected.reason == "insufficient margin"
        assert [c for m, c in desk.fake.calls if m == "submit"].count(entry) == 1
        desk.next_bar()
        await desk.cycle(2)
        assert [c for m, c in desk.fake.calls if m == "submit"].count(entry) == 1


async def test_failed_polls_cancels_and_order_states_do_not_stop_the_oms(
    autojump_clock: MockClock,
) -> None:
    desk = Desk(killswitch=KillSwitchConfig(venue_error_window=50))
    async with desk.running():
        await desk.cycle(1, trade("BTC", 100.0))
        entry, _, _ = cloids("BTC", 1)
        desk.fake.fail("poll", VenueUnavailable("503"))
        desk.fake.fail("cancel", VenueUnavailable("503"))
        desk.next_bar()
        await desk.cycle(2)
        await desk.switch("HALTED")
        await desk.settle_down()
        assert entry in desk.fake.open  # the cancel failed: the entry still rests, and the book knows it
        assert desk.oms is not None
        assert desk.oms.ledger.orders[entry].status == "submitted"
        desk.next_bar()
        third = await desk.cycle(3)  # tried again while not ACTIVE
        assert statuses(third, entry)[0][0] == "cancelled"
        assert entry not in desk.fake.open


# -- reconciliation at start ---------------------------------------------------------------------------------------


async def test_start_records_unknown_venue_orders_resolves_pending_ones_and_adopts_the_venues_positions(
    autojump_clock: MockClock,
) -> None:
    first = Desk()
    first.fake.fail("submit", *[VenueUnavailable("503")] * 6)  # entry and stop stay pending; the target goes
    async with first.running():
        await first.cycle(1, trade("BTC", 100.0))
    entry, stop, target = cloids("BTC", 1)
    logged = {o.cloid: o.status for o in only(await first.events(), OrderUpdated)}
    assert (logged[entry], logged[stop], logged[target]) == ("pending", "pending", "submitted")

    venue = first.fake
    # While the OMS was down: the stop reached the venue after all; somebody placed an ETH order by hand; and
    # the venue holds SOL the log knows nothing of.
    venue.place(VenueOrder.of(only(await first.events(), OrderUpdated, lambda o: o.cloid == stop)[0]))
    manual = VenueOrder(cloid="0xmanual", symbol="ETH", side="buy", size=1.0, role="entry", reference_price=50.0)
    venue.place(manual)
    venue.held["SOL"] = VenuePosition(symbol="SOL", size=3.0, entry_price=20.0)

    second = Desk(venue=venue, store=first.store)
    logged_before = len(await first.events())
    submits_before = [c for m, c in venue.calls if m == "submit"]
    async with second.running():
        start = await second.events(after=logged_before)
        adopted = only(start, OrderUpdated, lambda o: o.cloid == "0xmanual")
        assert [(o.status, o.symbol, o.side, o.size) for o in adopted] == [("submitted", "ETH", "long", 1.0)]
        assert statuses(start, entry) == [("submitted", 5.0, None)]
        assert statuses(start, stop) == [("submitted", 5.0, None)]
        submits = [c for m, c in venue.calls if m == "submit"][len(submits_before) :]
        assert submits == [entry]  # the stop was already there: asked for by cloid, not sent again
        (position,) = only(start, PositionUpdated)
        assert (position.symbol, position.side, position.size, position.status) == ("SOL", "long", 3.0, "open")
        alerts = only(start, Alert)
        assert [a.severity for a in alerts] == ["warning", "critical"]
        assert "0xmanual" in alerts[0].message
        assert "SOL position is +3 at the venue but +0 in the log" in alerts[1].message
        assert second.oms is not None
        assert second.oms.ledger.positions["SOL"].size == 3.0


async def test_a_pending_entry_the_venue_filled_while_the_oms_was_down_is_booked_once(
    autojump_clock: MockClock,
) -> None:
    crashed = Desk()
    crashed.fake.fail("submit", *[VenueUnavailable("503")] * 3)
    async with crashed.running():
        await crashed.cycle(1, trade("BTC", 100.0))
    entry, _, _ = cloids("BTC", 1)
    order = only(await crashed.events(), OrderUpdated, lambda o: o.cloid == entry)[-1]
    assert order.status == "pending"
    # The last attempt did reach the venue (its answer was lost), and the order filled while nothing ran.
    crashed.fake.place(VenueOrder.of(order))
    crashed.fake.fill(entry, 5.0, 100.5, ts=as_of(1), fee=0.2)
    logged = len(await crashed.events())

    restarted = Desk(venue=crashed.venue, store=crashed.store)
    async with restarted.running():
        start = await restarted.events(after=logged)
        assert statuses(start, entry) == [("submitted", 5.0, None), ("filled", 5.0, 5.0)]
        assert [(p.size, p.entry_price) for p in only(start, PositionUpdated)] == [(5.0, 100.5)]
        assert not only(start, Alert)  # nothing to adopt: the fill built the position the venue holds
        restarted.next_bar()
        assert not only(await restarted.cycle(2), Fill)  # and the next poll does not report it again
        assert restarted.oms is not None
        assert restarted.oms.ledger.positions["BTC"].size == 5.0


async def test_a_venue_that_cannot_answer_at_start_stops_the_oms_before_it_trades(
    autojump_clock: MockClock,
) -> None:
    desk = Desk()
    desk.fake.down = VenueUnavailable("503")
    with pytest.raises(ExceptionGroup) as raised:
        async with desk.running():
            pytest.fail("the OMS started without reconciling")
    assert raised.group_contains(VenueUnavailable)
    assert [m for m, _ in desk.fake.calls] == ["open_orders"] * 3  # tried three times, then gave up


# -- funding -------------------------------------------------------------------------------------------------------


async def test_funding_reported_by_the_venue_moves_cash_and_the_positions_pnl(
    autojump_clock: MockClock,
) -> None:
    desk = Desk()
    async with desk.running():
        await desk.cycle(1, trade("BTC", 100.0))
        entry, _, target = cloids("BTC", 1)
        desk.fake.fill(entry, 5.0, 100.0, ts=as_of(1))
        desk.fake.pay_funding(VenueFunding(symbol="BTC", rate=0.0001, notional=500.0, amount=-0.05, ts=as_of(1)))
        desk.next_bar()
        second = await desk.cycle(2)
        (paid,) = only(second, FundingPaid)
        assert (paid.symbol, paid.amount, paid.funding_ts, paid.venue) == ("BTC", -0.05, as_of(1), "fake")
        assert desk.oms is not None
        assert desk.oms.ledger.cash == pytest.approx(10_000.0 - 0.05)
        desk.fake.fill(target, 5.0, 110.0, ts=as_of(2))
        desk.next_bar()
        (closed,) = only(await desk.cycle(3), PositionUpdated)
        assert closed.pnl == pytest.approx(50.0 - 0.05)


# -- the live account's value --------------------------------------------------------------------------------------


async def test_a_live_account_sets_the_equity_once_before_the_first_trade_is_sized(autojump_clock: MockClock) -> None:
    desk = Desk()
    desk.fake.value = 2_500.0  # the real account is smaller than paper.starting_equity
    async with desk.running():
        first = await desk.cycle(1, trade("BTC", 100.0))  # 5% of equity at 100
        (synced,) = only(first, EquitySynced)
        assert (synced.equity, synced.adjustment) == (2_500.0, -7_500.0)
        entry, _, _ = cloids("BTC", 1)
        (pending, *_) = only(first, OrderUpdated, lambda o: o.cloid == entry)
        assert pending.size == pytest.approx(1.25)  # 5% of 2,500, not of 10,000
        # An external cash flow, not a loss: the drawdown trigger stays quiet.
        assert not only(first, KillSwitchChanged)
        (settled,) = only(first, CycleSettled)
        assert settled.equity == pytest.approx(2_500.0)

        desk.fake.value = 2_600.0
        desk.next_bar()
        assert not only(await desk.cycle(2), EquitySynced)  # once per start


async def test_a_simulated_venue_keeps_the_logs_equity(autojump_clock: MockClock) -> None:
    desk = Desk()  # FakeVenue.value None: simulated
    async with desk.running():
        first = await desk.cycle(1, trade("BTC", 100.0))
        assert not only(first, EquitySynced)
        assert ("account_value", "") in desk.fake.calls
