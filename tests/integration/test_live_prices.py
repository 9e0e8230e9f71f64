"""Live, the brain runs the feed's price poller beside its cycles: a failing ``allMids`` degrades the price monitor's
health (with the error) and never the brain, which keeps cycling on candle closes; the next good poll recovers it.
Hyperliquid is a fake of its info API, time the autojump clock, the log in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import trio
import trio.testing

from actors.brain import Brain
from b1e55ed.barrier import CycleBarrier
from b1e55ed.cycle import Ticks
from b1e55ed.eventlog.store import MemoryStore
from b1e55ed.eventlog.writer import EventLog
from b1e55ed.health import HealthRegistry
from b1e55ed.hyperliquid.info import InfoClient
from b1e55ed.market.feed import Feed
from b1e55ed.market.hyperliquid import HyperliquidFeed
from b1e55ed.market.mids import PRICE_MONITOR, PriceBoard
from b1e55ed.market.state import MarketState
from tests.fakes.hyperliquid_info import FakeHyperliquidInfo, Fault, TrioClock, make_bars

MINUTE = 60_000
ALIGNED = 1_700_002_800_000  # a whole hour (UTC)


async def settle_every_cycle(ticks: trio.MemoryReceiveChannel[Ticks], barrier: CycleBarrier) -> None:
    """The trading stages, reduced to what the brain waits for: each cycle settled once its tick arrives."""
    async for batch in ticks:
        for tick in batch:
            barrier.settle(tick.cycle)


async def test_a_failing_poller_degrades_the_price_monitor_and_the_brain_keeps_cycling(
    autojump_clock: trio.testing.MockClock,
) -> None:
    clock = TrioClock(ALIGNED + 30_000)
    fake = FakeHyperliquidInfo(now_ms=clock.now_ms)
    fake.add_bars("BTC", "1m", make_bars(ALIGNED - 60 * MINUTE, 120, MINUTE))
    fake.set_mids({"BTC": 100.25})
    health = HealthRegistry(clock)
    board = PriceBoard(health)
    log = EventLog(MemoryStore())
    barrier = CycleBarrier()
    send, receive = trio.open_memory_channel[Ticks](1)
    async with httpx.AsyncClient(transport=fake.transport()) as http:
        feed = HyperliquidFeed(InfoClient(http, max_retries=0), ["BTC"], "1m", clock, history_bars=5)

        @asynccontextmanager
        async def open_feed() -> AsyncIterator[Feed]:
            yield feed

        brain = Brain(
            open_feed=open_feed,
            market=MarketState(MINUTE, keep=20),
            window=5,
            outputs=[send],
            barrier=barrier,
            log=log,
            clock=clock,
            health=health.register("brain"),
            driven=False,
            interval_s=1.0,
            on_exhausted=lambda: None,
            prices=board,
        )
        async with trio.open_nursery() as nursery:
            await nursery.start(log.run)
            nursery.start_soon(settle_every_cycle, receive, barrier)
            await nursery.start(brain.run)
            await trio.sleep(7)  # polls at 0 and 5 s
            assert health[PRICE_MONITOR].state == "running"
            assert board.latest is not None
            assert board.latest.prices == {"BTC": 100.25}
            cycles_before = brain.cycle
            assert cycles_before >= 1

            fake.failing["allMids"] = Fault.http(503)
            await trio.sleep(3 * 60)
            failing = health[PRICE_MONITOR].snapshot()
            assert failing.state == "degraded"
            assert failing.last_error is not None
            assert "allMids" in failing.last_error
            assert "503" in failing.last_error
            assert failing.detail.startswith("36 price polls in a row failed")  # at 10 s, 15 s, ... 185 s
            assert brain.cycle >= cycles_before + 3  # a cycle on each minute's close, as before
            assert board.latest.ts == ALIGNED + 30_000 + 5_000  # the last good poll's, kept

            del fake.failing["allMids"]
            fake.set_mids({"BTC": 101.5})
            await trio.sleep(5)
            assert health[PRICE_MONITOR].state == "running"
            assert board.latest.prices == {"BTC": 101.5}
            nursery.cancel_scope.cancel()
