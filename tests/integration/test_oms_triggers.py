"""The kill-switch triggers the OMS watches: drawdown, the day's loss, the venue error rate and a venue disconnect.

Each trips HALTED with its cause, in the log with a critical alert, and cancels the resting entries. A scriptable
venue (``tests/fakes/venue.py``) raises ``VenueUnavailable`` / ``VenueDisconnected`` at the seam; the autojump
clock carries the disconnect's seconds.
"""

from __future__ import annotations

from trio.testing import MockClock

from b1e55ed.messages import Alert, AnyEvent, KillSwitchChanged, OrderUpdated
from b1e55ed.trading_config import KillSwitchConfig, RiskPolicy
from b1e55ed.venues.base import VenueDisconnected, VenueUnavailable
from tests.fakes.desk import Desk, as_of, cloids, only, trade

ALL_IN = RiskPolicy(max_position=1.0, max_sector_exposure=1.0, max_daily_loss_pct=50.0)


def halts(events: list[AnyEvent]) -> list[tuple[str, str, str]]:
    return [(c.previous, c.state, c.cause) for c in only(events, KillSwitchChanged)]


def critical(events: list[AnyEvent]) -> list[str]:
    return [a.message for a in only(events, Alert, lambda a: a.severity == "critical" and a.source == "killswitch")]


async def hold_btc(desk: Desk) -> None:
    """All-in long BTC: 100 units at 100 (equity 10,000), filled; and an ETH entry left resting."""
    await desk.cycle(1, trade("BTC", 100.0, size=1.0))
    desk.fake.fill(cloids("BTC", 1)[0], 100.0, 100.0, ts=as_of(1))
    desk.next_bar()
    await desk.cycle(2, trade("ETH", 50.0, size=0.05))


async def test_drawdown_from_the_peak_halts(autojump_clock: MockClock) -> None:
    desk = Desk(policy=ALL_IN, killswitch=KillSwitchConfig(max_drawdown_pct=5.0, max_daily_loss_pct=50.0))
    async with desk.running():
        await hold_btc(desk)
        desk.next_bar(BTC=95.5)  # -4.5%: not yet
        assert halts(await desk.cycle(3)) == []
        desk.next_bar(BTC=94.0)  # -6%
        events = await desk.cycle(4)
        assert halts(events) == [("ACTIVE", "HALTED", "drawdown")]
        assert critical(events) == ["HALTED (drawdown): drawdown 6.0% from peak 10,000.00 ≥ 5%"]
        eth_entry = cloids("ETH", 2)[0]
        assert only(events, OrderUpdated, lambda o: o.cloid == eth_entry)[0].status == "cancelled"
        assert cloids("BTC", 1)[1] in desk.fake.open  # the BTC stop stays


async def test_the_days_loss_halts_measured_from_the_days_first_settled_cycle(
    autojump_clock: MockClock,
) -> None:
    desk = Desk(policy=ALL_IN, killswitch=KillSwitchConfig(max_drawdown_pct=50.0, max_daily_loss_pct=4.0))
    async with desk.running():
        await hold_btc(desk)
        desk.next_bar(BTC=96.5)  # -3.5% on the day
        assert halts(await desk.cycle(3)) == []
        desk.next_bar(BTC=95.5)  # -4.5%
        events = await desk.cycle(4)
        assert halts(events) == [("ACTIVE", "HALTED", "daily_loss")]
        assert critical(events) == ["HALTED (daily_loss): daily loss 4.5% from 10,000.00 at the day's first cycle ≥ 4%"]
        assert desk.gate.state == "HALTED"


async def test_the_venue_error_rate_halts_once_the_window_is_full(autojump_clock: MockClock) -> None:
    desk = Desk(killswitch=KillSwitchConfig(venue_error_window=10, venue_error_rate=0.5))
    async with desk.running():  # reconciliation: 2 calls answered
        await desk.cycle(1, trade("ETH", 50.0))  # poll, funding and 3 submits answered: 7 calls
        desk.fake.down = VenueUnavailable("503")
        for cycle in (2, 3):  # poll and funding fail: 2, then 4 of the last 9 and 10 calls
            desk.next_bar()
            assert halts(await desk.cycle(cycle)) == []
        desk.next_bar()
        events = await desk.cycle(4)  # 6 of the last 10
        assert halts(events) == [("ACTIVE", "HALTED", "venue_errors")]
        assert critical(events) == ["HALTED (venue_errors): venue errors: 6 of the last 10 calls failed (limit 50%)"]
        # The cancel of the resting entry could not reach the venue either: the entry stays open in the book,
        # and is cancelled at the first cycle the venue answers again.
        eth_entry = cloids("ETH", 1)[0]
        assert not only(events, OrderUpdated, lambda o: o.cloid == eth_entry)
        desk.fake.down = None
        desk.next_bar()
        later = await desk.cycle(5)
        assert only(later, OrderUpdated, lambda o: o.cloid == eth_entry)[0].status == "cancelled"
        assert eth_entry not in desk.fake.open


async def test_a_venue_not_answering_a_full_window_below_the_rate_does_not_halt(
    autojump_clock: MockClock,
) -> None:
    desk = Desk(killswitch=KillSwitchConfig(venue_error_window=4, venue_error_rate=0.75))
    async with desk.running():
        desk.fake.fail("poll", VenueUnavailable("503"))
        desk.fake.fail("funding", VenueUnavailable("503"))
        assert halts(await desk.cycle(1)) == []  # open_orders, positions fine; poll, funding not: 2 of 4
        assert desk.gate.state == "ACTIVE"


async def test_a_disconnect_lasting_venue_disconnect_s_halts(autojump_clock: MockClock) -> None:
    desk = Desk(killswitch=KillSwitchConfig(venue_disconnect_s=60.0, venue_error_window=100))
    async with desk.running():
        await desk.cycle(1, trade("ETH", 50.0))
        desk.fake.down = VenueDisconnected("connection refused")
        desk.next_bar()
        assert halts(await desk.cycle(2)) == []  # the poll finds it down: the clock starts
        await desk.settle_down(59.0)
        assert halts(await desk.events()) == []
        await desk.settle_down(2.0)
        events = await desk.events()
        assert halts(events) == [("ACTIVE", "HALTED", "disconnect")]
        (message,) = critical(events)
        assert message.startswith("HALTED (disconnect): venue disconnected for 60s (limit 60s)")
        assert [m for m, _ in desk.fake.calls].count("open_orders") >= 12  # probed every 5 s meanwhile


async def test_a_venue_back_before_venue_disconnect_s_does_not_halt(autojump_clock: MockClock) -> None:
    desk = Desk(killswitch=KillSwitchConfig(venue_disconnect_s=60.0, venue_error_window=100))
    async with desk.running():
        desk.fake.down = VenueDisconnected("connection refused")
        await desk.cycle(1)
        await desk.settle_down(30.0)
        desk.fake.down = None  # the next probe gets an answer
        await desk.settle_down(120.0)
        assert desk.gate.state == "ACTIVE"
        desk.fake.down = VenueDisconnected("dropped")  # a new outage starts its own clock
        desk.next_bar()
        await desk.cycle(2)
        await desk.settle_down(61.0)
        assert halts(await desk.events()) == [("ACTIVE", "HALTED", "disconnect")]


async def test_supervisor_escalation_halts_through_the_gate_and_the_oms_cancels_entries(
    autojump_clock: MockClock,
) -> None:
    desk = Desk()
    async with desk.running():
        await desk.cycle(1, trade("ETH", 50.0))
        change = desk.gate.transition("HALTED", "escalation", "producer crashed 6 times in 60s", desk.clock.now_ms())
        assert change is not None
        await desk.log.append(change)
        await desk.settle_down()
        assert set(desk.fake.open) == set()
        cancelled = only(await desk.events(), OrderUpdated, lambda o: o.status == "cancelled")
        assert {o.cloid for o in cancelled} == set(cloids("ETH", 1))
