"""The price monitor: its health follows the poller (degraded on a failed poll, with the error; running again on
the next good one; stopped, never raised, on a bug), and the simulation's mids are seeded, labelled and move."""

from __future__ import annotations

import math

import trio
import trio.testing

from b1e55ed.clock import ManualClock
from b1e55ed.health import HealthRegistry
from b1e55ed.market.feed import Mids, MidsSink, PricePoller
from b1e55ed.market.mids import PRICE_MONITOR, PriceBoard
from b1e55ed.market.sim import SimFeed, SimMarket
from tests.fakes.hyperliquid_info import TrioClock

HOUR = 3_600_000
T0 = 1_700_000_000_000 // HOUR * HOUR


class ScriptedPoller:
    """Hands the sink one scripted answer a second: mids, an error text, or an exception to raise."""

    mids_interval_s = 1.0

    def __init__(self, *script: dict[str, float] | str | Exception) -> None:
        self.script = list(script)

    async def watch_mids(self, sink: MidsSink) -> None:
        for ts, answer in enumerate(self.script):
            if isinstance(answer, Exception):
                raise answer
            if isinstance(answer, str):
                sink.failed(answer)
            else:
                sink.publish(Mids(ts=ts, source="hyperliquid", prices=answer))
            await trio.sleep(1)
        await trio.sleep_forever()


async def test_a_failed_poll_degrades_the_monitor_with_the_error_and_a_good_one_recovers_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    registry = HealthRegistry(ManualClock(T0))
    board = PriceBoard(registry)
    poller = ScriptedPoller(
        {"BTC": 1.0}, "/info allMids: HTTP 503: down", "/info allMids: HTTP 503: down", {"BTC": 2.0}
    )
    assert isinstance(poller, PricePoller)
    assert PRICE_MONITOR not in registry  # nothing polls yet: no health to report
    async with trio.open_nursery() as nursery:
        nursery.start_soon(board.watch, poller)
        await trio.sleep(0.5)
        assert registry[PRICE_MONITOR].state == "running"
        assert board.latest == Mids(ts=0, source="hyperliquid", prices={"BTC": 1.0})
        await trio.sleep(2)
        failing = registry[PRICE_MONITOR].snapshot()
        assert failing.state == "degraded"
        assert failing.last_error == "/info allMids: HTTP 503: down"
        assert failing.detail == "2 price polls in a row failed: /info allMids: HTTP 503: down"
        assert board.latest.prices == {"BTC": 1.0}  # the last good mids stay, with their time
        await trio.sleep(1)
        assert registry[PRICE_MONITOR].state == "running"
        assert board.latest.prices == {"BTC": 2.0}
        assert board.version == 2
        nursery.cancel_scope.cancel()
    assert registry[PRICE_MONITOR].state == "stopped"


async def test_a_poller_that_raises_stops_the_monitor_and_nothing_else(
    autojump_clock: trio.testing.MockClock,
) -> None:
    registry = HealthRegistry(ManualClock(T0))
    board = PriceBoard(registry)
    await board.watch(ScriptedPoller({"BTC": 1.0}, KeyError("BTC")))  # returns: the caller's nursery goes on
    snapshot = registry[PRICE_MONITOR].snapshot()
    assert snapshot.state == "stopped"
    assert snapshot.last_error == "KeyError: 'BTC'"


async def test_next_after_waits_for_a_newer_poll(autojump_clock: trio.testing.MockClock) -> None:
    board = PriceBoard(HealthRegistry(ManualClock(T0)))
    board.publish(Mids(ts=1, source="simulated", prices={"BTC": 1.0}))
    assert await board.next_after(0) == (1, board.latest)
    with trio.move_on_after(10) as waited:
        await board.next_after(1)
    assert waited.cancelled_caught
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.sleep, 0)
        board.publish(Mids(ts=2, source="simulated", prices={"BTC": 2.0}))
    version, mids = await board.next_after(1)
    assert (version, mids.ts) == (2, 2)


class Collected:
    def __init__(self) -> None:
        self.published: list[Mids] = []

    def publish(self, mids: Mids) -> None:
        self.published.append(mids)

    def failed(self, error: str) -> None:
        raise AssertionError(f"the simulation never fails a poll: {error}")


async def simulated_mids(seed: int, seconds: float, *, history: int = 50) -> tuple[SimFeed, list[Mids]]:
    clock = ManualClock(T0 + 10 * 60_000)
    feed = SimFeed(SimMarket(["BTC", "ETH"], HOUR, seed=seed), pace="wall", clock=clock)
    feed.history(history)
    sink = Collected()
    with trio.move_on_after(seconds):
        await feed.watch_mids(sink)
    return feed, sink.published


async def test_the_simulation_offers_seeded_labelled_mids_that_walk_from_the_last_close(
    autojump_clock: trio.testing.MockClock,
) -> None:
    feed, mids = await simulated_mids(seed=4, seconds=22)
    _, again = await simulated_mids(seed=4, seconds=22)
    _, other = await simulated_mids(seed=5, seconds=22)
    assert len(mids) == 5  # every 5 s: 0, 5, 10, 15, 20
    assert mids == again
    assert [m.prices for m in mids] != [m.prices for m in other]
    assert {m.source for m in mids} == {"simulated"}
    assert all(list(m.prices) == ["BTC", "ETH"] for m in mids)
    last_close = feed.market.bars(50)["BTC"].close[-1]
    btc = [m.prices["BTC"] for m in mids]
    assert len(set(btc)) == len(btc)  # it moves every poll
    step = feed.market.params.annual_vol * math.sqrt(5_000 / (365 * 86_400_000))
    assert all(abs(math.log(price / last_close)) < 8 * step * math.sqrt(5) for price in btc)


async def test_the_simulations_walk_starts_again_at_each_close(autojump_clock: trio.testing.MockClock) -> None:
    clock = TrioClock(T0 + HOUR - 12_000)  # the first bar closes 12 s from now
    feed = SimFeed(SimMarket(["BTC"], HOUR, seed=2), bars=1, pace="wall", clock=clock)
    feed.history(10)
    sink = Collected()
    closes = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(feed.watch_mids, sink)
        async for batch in feed.closes():
            closes.append(batch.bars["BTC"].close)
        await trio.sleep(4)  # the poll at 15 s
        nursery.cancel_scope.cancel()
    assert [m.ts for m in sink.published] == [T0 + HOUR + s for s in (-12_000, -7_000, -2_000, 3_000)]
    after = sink.published[-1].prices["BTC"]
    step = feed.market.params.annual_vol * math.sqrt(5_000 / (365 * 86_400_000))
    assert abs(math.log(after / closes[0])) < 8 * step  # one step from the new close


async def test_at_full_speed_the_simulation_has_no_mids() -> None:
    feed = SimFeed(SimMarket(["BTC"], HOUR, seed=1, start_ms=T0), bars=3, pace="max", clock=ManualClock(T0))
    sink = Collected()
    with trio.fail_after(1):
        await feed.watch_mids(sink)
    assert sink.published == []
