"""``Desk``: the OMS as the pipeline wires it, driven by hand. Bars, cycles and strategy reports go in; the log comes
out. Over a ``FakeVenue`` and an in-memory log by default (safe under the autojump clock); over any venue, and a
real SQLite log with the kill-switch actor beside the OMS, when a test needs them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import pytest
import trio

from actors.killswitch import KillSwitch
from actors.oms.ledger import Ledger
from actors.oms.oms import OMS
from b1e55ed.barrier import CycleBarrier
from b1e55ed.clock import ManualClock
from b1e55ed.cycle import Candidate, CycleTick, EnrichedCycle, EnrichedCycles, StrategyReport, StrategyReports
from b1e55ed.eventlog.sqlite_store import SqliteStore
from b1e55ed.eventlog.store import EventStore, MemoryStore
from b1e55ed.eventlog.writer import EventLog
from b1e55ed.ids import child_id, decision_id
from b1e55ed.market.state import MarketState
from b1e55ed.messages import AnyEvent, Bar, Direction, KillSwitchChanged, Trade, TradingStateName
from b1e55ed.trading_config import KillSwitchConfig, RiskPolicy
from b1e55ed.tradingstate import TradingGate
from b1e55ed.venues.base import Venue
from tests.fakes.venue import FakeVenue

E = TypeVar("E")

MINUTE = 60_000
T0 = 1_700_006_400_000  # midnight UTC, 2023-11-15
STRATEGIES = ("alpha", "beta")
WAIT_S = 30.0


def as_of(cycle: int) -> int:
    """Cycle ``n`` sees the bars that closed by ``as_of(n)``: bars 0-4 before cycle 1, then one bar a cycle."""
    return T0 + (4 + cycle) * MINUTE


def bar(index: int, open_: float, high: float, low: float, close: float) -> Bar:
    return Bar(T0 + index * MINUTE, open_, high, low, close, 1_000_000.0)


def calm(index: int, price: float) -> Bar:
    return bar(index, price, price * 1.001, price * 0.999, price)


def trade(
    symbol: str = "BTC",
    entry: float = 100.0,
    *,
    direction: Direction = "long",
    size: float = 0.05,
    conviction: int = 7,
    strategy: str = "alpha",
) -> Trade:
    """A trade with its stop 5% and its target 10% from the entry."""
    sign = 1 if direction == "long" else -1
    return Trade(
        symbol=symbol,
        direction=direction,
        size=size,
        entry=entry,
        stop=entry * (1 - sign * 0.05),
        target=entry * (1 + sign * 0.10),
        rationale="test",
        strategy=strategy,
        conviction=conviction,
    )


def cloids(symbol: str, cycle: int, strategy: str = "alpha", direction: Direction = "long") -> tuple[str, str, str]:
    """The entry's cloid (the decision id) and its stop's and target's, derived from it."""
    entry = decision_id(strategy, symbol, direction, as_of(cycle))
    return entry, child_id(entry, "stop"), child_id(entry, "target")


def only(events: Sequence[AnyEvent], kind: type[E], match: Callable[[E], bool] = lambda _: True) -> list[E]:
    return [e for e in events if isinstance(e, kind) and match(e)]


class Desk:
    """``db``: a real SQLite log at that path (for restarts, and the kill-switch actor's request file); otherwise
    ``store``, or an in-memory one."""

    def __init__(
        self,
        *,
        policy: RiskPolicy | None = None,
        killswitch: KillSwitchConfig | None = None,
        venue: Venue | None = None,
        store: EventStore | None = None,
        db: Path | None = None,
        prices: Mapping[str, float] | None = None,
        strategies: Sequence[str] = STRATEGIES,
        driven: bool = False,
    ) -> None:
        self.driven = driven
        self.db = db
        self._store = store
        self.venue: Venue = venue or FakeVenue()
        self.policy = policy or RiskPolicy()
        self.killswitch = killswitch or KillSwitchConfig()
        self.strategies = tuple(strategies)
        self.clock = ManualClock(as_of(1))
        self.gate = TradingGate()
        self.barrier = CycleBarrier()
        self.market = MarketState(MINUTE)
        self.prices = dict(prices or {"BTC": 100.0, "ETH": 50.0, "SOL": 20.0})
        self.bars = 0
        for _ in range(5):
            self.next_bar()
        self.cycles, self._cycles_out = trio.open_memory_channel[EnrichedCycles](1)
        self.reports, self._reports_out = trio.open_memory_channel[StrategyReports](len(self.strategies))
        self._log: EventLog | None = None
        self.oms: OMS | None = None

    @property
    def log(self) -> EventLog:
        assert self._log is not None, "the desk is not running"
        return self._log

    @property
    def fake(self) -> FakeVenue:
        """The venue, when it is the scriptable fake."""
        assert isinstance(self.venue, FakeVenue)
        return self.venue

    def next_bar(self, **moves: float | Bar) -> None:
        """One more bar per symbol: a calm one at the price given (or the last price), or the bar given."""
        for symbol, move in moves.items():
            self.prices[symbol] = move if isinstance(move, float | int) else move.close
        for symbol, price in self.prices.items():
            given = moves.get(symbol)
            self.market.series(symbol).append(given if isinstance(given, Bar) else calm(self.bars, price))
        self.bars += 1

    @asynccontextmanager
    async def running(self, *, with_killswitch: bool = False) -> AsyncIterator[Desk]:
        """The writer and the OMS; with the kill-switch actor (which needs ``db``) started before the OMS, as the
        pipeline does."""
        store = await SqliteStore.open(self.db) if self.db is not None else (self._store or MemoryStore())
        self._store = store if self.db is None else None
        try:
            self._log = EventLog(store)
            async with trio.open_nursery() as nursery:
                await nursery.start(self.log.run)
                if with_killswitch:
                    assert self.db is not None, "the kill-switch actor reads its requests beside a database file"
                    actor = KillSwitch(gate=self.gate, log=self.log, clock=self.clock, db=self.db, poll_s=0.01)
                    await nursery.start(actor.run)
                self.oms = OMS(
                    strategies=list(self.strategies),
                    cycles=self._cycles_out,
                    reports=self._reports_out,
                    venue=self.venue,
                    market=self.market,
                    log=self.log,
                    clock=self.clock,
                    gate=self.gate,
                    barrier=self.barrier,
                    policy=self.policy,
                    ledger=Ledger(10_000.0),
                    killswitch=self.killswitch,
                    driven=self.driven,
                )
                await nursery.start(self.oms.run)
                yield self
                nursery.cancel_scope.cancel()
        finally:
            if self.db is not None:
                with trio.CancelScope(shield=True):
                    await store.close()

    @property
    def store(self) -> EventStore:
        return self.log.store

    async def cycle(self, cycle: int, *trades: Trade) -> list[AnyEvent]:
        """Run one cycle with ``trades`` taken by their strategies; the events it logged."""
        before = self.log.head.seq
        await self.hand_on(cycle, *trades)
        with trio.fail_after(WAIT_S):
            await self.barrier.wait(cycle)
        return await self.events(after=before)

    async def hand_on(self, cycle: int, *trades: Trade) -> None:
        """Hand the OMS one cycle with ``trades`` taken by their strategies, without waiting for it to settle."""
        self.clock.set(max(self.clock.now_ms(), as_of(cycle) + 250))
        tick = CycleTick(cycle=cycle, as_of=as_of(cycle), source="simulated", market=self.market.view(as_of(cycle)))
        await self.cycles.send((EnrichedCycle(tick=tick, signals=(), context={}, producers={}),))
        for strategy in self.strategies:
            candidates = tuple(
                Candidate(
                    symbol=t.symbol,
                    taken=True,
                    reason="test",
                    direction=t.direction,
                    trade=t,
                    candle_close=as_of(cycle),
                )
                for t in trades
                if t.strategy == strategy
            )
            await self.reports.send(
                (StrategyReport(cycle=cycle, strategy=strategy, status="ok", candidates=candidates),)
            )

    async def events(self, after: int = 0) -> list[AnyEvent]:
        return [record.event() for record in await self.store.read(after, 100_000)]

    async def wait_for(self, after: int, match: Callable[[AnyEvent], bool], what: str) -> AnyEvent:
        """The first event after ``after`` that matches, waiting for commits; fails naming ``what`` if none comes."""
        with trio.move_on_after(WAIT_S):
            while True:
                for record in await self.store.read(after, 1000):
                    if match(record.event()):
                        return record.event()
                    after = record.seq
                await self.log.wait_beyond(after)
        pytest.fail(f"no {what} in the log within {WAIT_S:g}s")

    async def switch(self, state: TradingStateName) -> KillSwitchChanged:
        """What the kill-switch actor does with a manual request: move the gate, log the change."""
        change = self.gate.transition(state, "manual", "test", self.clock.now_ms())
        assert change is not None
        await self.log.append(change)
        return change

    async def state_of(self, cloid: str) -> str | None:
        """The venue's status of ``cloid``; None when it never heard of it."""
        state = await self.venue.order_state(cloid)
        return None if state is None else state.status

    async def settle_down(self, seconds: float = 30.0) -> None:
        """Let the OMS's background tasks (kill-switch follower, retries, disconnect watcher) run for ``seconds``
        of trio time: instant under the autojump clock, which every test of the OMS uses."""
        await trio.sleep(seconds)
