"""The brain: the cycle scheduler. It ticks, and waits for the cycle to settle before the next one.

Driven by history (a replay, or the simulation at full speed), there is one cycle per distinct candle close time
across the symbols, and a symbol without a candle at that time is absent from the cycle. Live (Hyperliquid, or
the simulation in real time), the feed fills the market in the background; every ``interval_s`` the brain looks,
and starts a cycle when a symbol's latest candle has closed since the last cycle (or its first candle arrived).
A cycle on unchanged candles would only write the same decisions again, and count the same signals twice in
karma; data that does not come with a candle (social, whale flows) is read at the next close, or at once with a
manual scan. Either way a cycle's tick carries its id, its as-of time and read-only views of the market up to
that time, and a run into a database that already holds settled cycles resumes after the last of them.

Driven by history at full speed, the brain hands the stages ``batch`` consecutive cycles in one message: the same
cycles, the same events, far fewer scheduler rounds and commits. It reads the feed in runs of that many closes,
candles in columns, and makes the batch's markets together (``market_batch``: each symbol's windows in one pass,
which the stages that work symbol by symbol read back from it). It hands on the next batch once the OMS has queued
the last one's events, so the stages compute it while the log commits (the OMS logs it only after that commit). Each
cycle's tick still sees the market as of its own time only, although the market already holds the batch's later
bars.

Live, when the feed also polls mid prices (a ``PricePoller``), the brain runs the poller into ``prices``, the
price monitor, beside the cycles: a failing poller degrades the monitor's health and never stops the brain.

Live, ``scan`` (``POST /scan``) starts a cycle now instead of at the next interval and waits for it to settle;
driven by history the candles set the pace, so a manual scan is refused.
"""

from __future__ import annotations

import bisect
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TypeVar

import trio

from b1e55ed.barrier import CycleBarrier
from b1e55ed.clock import Clock
from b1e55ed.cycle import CycleTick, Ticks
from b1e55ed.errors import ScanRefused
from b1e55ed.eventlog.writer import EventLog
from b1e55ed.health import ActorHealth
from b1e55ed.market.batch import market_batch
from b1e55ed.market.feed import Feed, PricePoller
from b1e55ed.market.mids import PriceBoard
from b1e55ed.market.runs import RunFeed, runs_of
from b1e55ed.market.state import MarketState
from b1e55ed.messages import CycleSettled, CycleStarted

logger = logging.getLogger(__name__)

STALL_ATTEMPTS = 3


class Brain:
    def __init__(
        self,
        *,
        open_feed: Callable[[], AbstractAsyncContextManager[Feed]],
        market: MarketState,
        window: int,
        outputs: Sequence[trio.MemorySendChannel[Ticks]],
        barrier: CycleBarrier,
        log: EventLog,
        clock: Clock,
        health: ActorHealth,
        driven: bool,
        interval_s: float,
        on_exhausted: Callable[[], None],
        batch: int = 1,
        stall_timeout_s: float = 60.0,
        on_cycle_time: Callable[[float], None] | None = None,
        prices: PriceBoard | None = None,
        on_progress: Callable[[], None] | None = None,
    ) -> None:
        """``on_progress``: called at each live look at the market, the sign of life systemd's watchdog waits for."""
        self._open_feed = open_feed
        self._market = market
        self._window = window
        self._outputs = outputs
        self._barrier = barrier
        self._log = log
        self._clock = clock
        self._health = health
        self._driven = driven
        self._interval_s = interval_s
        self._on_exhausted = on_exhausted
        self._batch = batch
        self._stall_timeout_s = stall_timeout_s
        self._on_cycle_time = on_cycle_time
        self._prices = prices
        self._on_progress = on_progress
        self.cycle = 0
        self.next_cycle_ms: int | None = None
        self._wake = trio.Event()
        self._running = False

    async def scan(self) -> int:
        """Run a cycle now (live only) and return its number once it has settled.

        Raises ``ScanRefused`` when driven by history, or when the brain is not ticking.
        """
        if self._driven:
            raise ScanRefused(
                "this run is driven by history (a replay or the simulation at full speed): one cycle per candle "
                "close, so a manual scan is refused"
            )
        if not self._running:
            raise ScanRefused("the brain is not running: no cycle can start now")
        wanted = self.cycle + 1
        self._wake.set()
        await self._barrier.wait(wanted)
        return wanted

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        resume_as_of = await self._resume_point()
        async with self._open_feed() as feed:
            self._health.detail = f"market: {feed.source}"
            if feed.source == "simulated":
                logger.warning("MARKET DATA IS SIMULATED: prices are synthetic, not a real market")
            outputs = [output.clone() for output in self._outputs]
            try:
                task_status.started()
                if self._driven:
                    await self._follow_history(feed, resume_as_of, outputs)
                else:
                    await self._tick_live(feed, outputs, resume_as_of)
            finally:
                for output in outputs:
                    output.close()

    async def _resume_point(self) -> int:
        last = await self._log.store.last_of_kind("settled")
        if last is None:
            return 0
        settled = last.event()
        assert isinstance(settled, CycleSettled)
        self.cycle = settled.cycle
        self._barrier.settle(settled.cycle)
        logger.info("resuming after settled cycle %d (as of %d)", settled.cycle, settled.as_of)
        return settled.as_of

    async def _follow_history(
        self, feed: Feed, resume_as_of: int, outputs: list[trio.MemorySendChannel[Ticks]]
    ) -> None:
        runs = feed.runs(self._batch) if isinstance(feed, RunFeed) else runs_of(feed.closes(), self._batch)
        async with _closing(runs) as closes:
            async for run in closes:
                for symbol, bars in run.bars.items():
                    self._market.extend(symbol, bars)
                first = bisect.bisect_right(run.close_ts, resume_as_of)  # the cycles not settled before
                if first < len(run.close_ts):
                    holding = {symbol: (at[at >= first] - first).tolist() for symbol, at in run.at.items()}
                    await self._run_cycles(run.close_ts[first:], holding, feed, outputs)
        await self._barrier.wait(self.cycle)
        logger.info("market data exhausted after cycle %d", self.cycle)
        self._on_exhausted()

    async def _tick_live(self, feed: Feed, outputs: list[trio.MemorySendChannel[Ticks]], resume_as_of: int) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._fill_market, feed)
            if self._prices is not None and isinstance(feed, PricePoller):
                # Live mid prices for the dashboard, within the API's weight budget; a failing poll degrades the
                # price monitor's health, never this task.
                nursery.start_soon(self._prices.watch, feed)
            self._running = True
            try:
                await self._tick_forever(feed, outputs, resume_as_of)
            finally:
                self._running = False
                self.next_cycle_ms = None

    async def _tick_forever(self, feed: Feed, outputs: list[trio.MemorySendChannel[Ticks]], resume_as_of: int) -> None:
        seen: dict[str, int] | None = None  # each symbol's latest close time, as the last cycle saw it
        scan = False
        while True:
            self._wake = trio.Event()  # a scan asked for while this cycle runs starts the next one at once
            if self._on_progress is not None:
                self._on_progress()
            as_of = self._clock.now_ms()
            latest = self._latest_closes(as_of)
            if seen is None and resume_as_of and latest:  # resumed: what the last settled cycle saw is not new
                seen = self._latest_closes(resume_as_of)
            if latest and (scan or latest != seen):
                await self._run_cycles([as_of], dict.fromkeys(latest, (0,)), feed, outputs)
                seen = latest
            self.next_cycle_ms = self._clock.now_ms() + int(self._interval_s * 1000)
            with trio.move_on_after(self._interval_s):
                await self._wake.wait()
            scan = self._wake.is_set()

    def _latest_closes(self, as_of: int) -> dict[str, int]:
        """Each symbol's latest candle close by ``as_of``; a stalled symbol (no candle for two) sits out."""
        fresh_after = as_of - 2 * self._market.timeframe_ms
        return {s: bars.close_ts for s, bars in self._market.view(as_of, 1).items() if bars.close_ts >= fresh_after}

    async def _fill_market(self, feed: Feed) -> None:
        async with _closing(feed.closes()) as closes:
            async for batch in closes:
                self._market.add(batch)

    async def _run_cycles(
        self,
        as_ofs: list[int],
        holding: Mapping[str, Sequence[int]],
        feed: Feed,
        outputs: list[trio.MemorySendChannel[Ticks]],
    ) -> None:
        """Run the cycles as of ``as_ofs``, each holding the symbols ``holding`` lists it under (by position)."""
        markets, closes_by_cycle, _ = market_batch(self._market, as_ofs, holding, self._window)
        source, first = feed.source, self.cycle + 1
        ticks = []
        for offset, (as_of, market, closes) in enumerate(zip(as_ofs, markets, closes_by_cycle, strict=True)):
            cycle = first + offset
            ts = as_of if self._driven else self._clock.now_ms()
            started = CycleStarted(ts=ts, cycle=cycle, as_of=as_of, source=source, closes=closes)
            ticks.append(CycleTick(cycle=cycle, as_of=as_of, source=source, market=market, started=started))
        self.cycle += len(ticks)
        batch = tuple(ticks)
        started_at = time.perf_counter()  # how long the cycles took, for /metrics: a measurement, not event time
        for attempt in range(1, STALL_ATTEMPTS + 1):
            for output in outputs:
                await output.send(batch)
            with trio.move_on_after(self._stall_timeout_s):
                await (self._barrier.wait_queued if self._driven else self._barrier.wait)(self.cycle)
                if self._on_cycle_time is not None:
                    self._on_cycle_time((time.perf_counter() - started_at) / len(batch))
                return
            # A stage that crashed mid-cycle was restarted without the message it held: ask again.
            logger.error(
                "cycle %d did not settle in %gs (attempt %d): sending its tick again",
                self.cycle,
                self._stall_timeout_s,
                attempt,
            )
        raise RuntimeError(f"cycle {self.cycle} did not settle after {STALL_ATTEMPTS} attempts")


_Item = TypeVar("_Item")


@asynccontextmanager
async def _closing(batches: AsyncIterator[_Item]) -> AsyncIterator[AsyncIterator[_Item]]:
    """Close a feed's generator when the brain stops (cancelled mid-history), not when it is collected."""
    try:
        yield batches
    finally:
        aclose = getattr(batches, "aclose", None)
        if aclose is not None:
            with trio.CancelScope(shield=True):
                await aclose()
