"""A scriptable venue at the ``Venue`` seam: the test says what the exchange does, the OMS finds out; and ``Desk``,
the OMS wired around it as the pipeline wires it, with an in-memory log.

Orders are accepted (unless ``reject`` names them) and rest until the test fills them, in as many pieces as it
likes (``fill``), or cancels them. ``fail`` scripts transient errors for the next calls of one method (or every
method), and ``down`` makes every call raise until cleared. Every call is recorded in ``calls``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import TypeVar

import trio

from actors.oms.ledger import Ledger
from actors.oms.oms import OMS
from b1e55ed.barrier import CycleBarrier
from b1e55ed.clock import ManualClock
from b1e55ed.cycle import Candidate, CycleTick, EnrichedCycle, EnrichedCycles, StrategyReport, StrategyReports
from b1e55ed.eventlog.store import MemoryStore
from b1e55ed.eventlog.writer import EventLog
from b1e55ed.ids import child_id, decision_id
from b1e55ed.market.bars import MarketState
from b1e55ed.messages import AnyEvent, Bar, Direction, Trade, TradingStateName
from b1e55ed.trading_config import KillSwitchConfig, RiskPolicy
from b1e55ed.tradingstate import TradingGate
from b1e55ed.venues.base import (
    Ack,
    OrderState,
    OrderStateName,
    VenueFill,
    VenueFunding,
    VenueOrder,
    VenuePosition,
)

E = TypeVar("E")
METHODS = ("submit", "cancel", "order_state", "poll", "funding", "open_orders", "positions", "account_value")


class FakeVenue:
    name = "fake"

    def __init__(self) -> None:
        self.open: dict[str, VenueOrder] = {}
        self.states: dict[str, OrderState] = {}
        self.held: dict[str, VenuePosition] = {}
        self.calls: list[tuple[str, str]] = []
        self.reject: dict[str, str] = {}
        self.down: Exception | None = None
        self.value: float | None = None  # the account value; None: simulated, the log's is the truth
        self._failures: dict[str, deque[Exception]] = {name: deque() for name in METHODS}
        self._fills: list[VenueFill] = []
        self._funding: list[VenueFunding] = []

    # -- scripting ---------------------------------------------------------------------------------------------

    def fail(self, method: str, *errors: Exception) -> None:
        """The next ``len(errors)`` calls of ``method`` raise them, in order."""
        self._failures[method].extend(errors)

    def fill(self, cloid: str, size: float, price: float, ts: int, fee: float = 0.0) -> VenueFill:
        """Execute ``size`` of an open order; the fill is reported at the next ``poll``."""
        order = self.open[cloid]
        done = self.states[cloid].filled_size + size
        status: OrderStateName = "filled" if done >= order.size - 1e-12 else "open"
        self.states[cloid] = OrderState(cloid=cloid, status=status, filled_size=done, average_price=price)
        if status == "filled":
            del self.open[cloid]
        signed = size if order.side == "buy" else -size
        before = self.held.get(order.symbol)
        now = (before.size if before else 0.0) + signed
        if abs(now) < 1e-12:
            self.held.pop(order.symbol, None)
        else:
            if before is None:
                entry = price
            elif order.reduce_only:
                entry = before.entry_price
            else:
                entry = (abs(before.size) * before.entry_price + size * price) / (abs(before.size) + size)
            self.held[order.symbol] = VenuePosition(symbol=order.symbol, size=now, entry_price=entry)
        fill = VenueFill(
            cloid=cloid, symbol=order.symbol, side=order.side, size=size, price=price, fee=fee, ts=ts, role=order.role
        )
        self._fills.append(fill)
        return fill

    def pay_funding(self, payment: VenueFunding) -> None:
        self._funding.append(payment)

    def place(self, order: VenueOrder) -> None:
        """An order placed at the venue behind the OMS's back (by hand, or by a process whose log was lost)."""
        self.open[order.cloid] = order
        self.states[order.cloid] = OrderState(cloid=order.cloid, status="open")

    async def _enter(self, method: str, cloid: str = "") -> None:
        await trio.lowlevel.checkpoint()
        self.calls.append((method, cloid))
        if self.down is not None:
            raise self.down
        if self._failures[method]:
            raise self._failures[method].popleft()

    # -- the Venue protocol ------------------------------------------------------------------------------------

    async def submit(self, order: VenueOrder) -> Ack:
        await self._enter("submit", order.cloid)
        if order.cloid in self.states:
            return Ack(cloid=order.cloid, accepted=False, reason="duplicate cloid")
        if order.cloid in self.reject:
            self.states[order.cloid] = OrderState(cloid=order.cloid, status="rejected")
            return Ack(cloid=order.cloid, accepted=False, reason=self.reject[order.cloid])
        self.place(order)
        return Ack(cloid=order.cloid, accepted=True, exchange_order_id=f"x{len(self.states)}")

    async def cancel(self, cloid: str) -> bool:
        await self._enter("cancel", cloid)
        if cloid not in self.open:
            return False
        del self.open[cloid]
        self.states[cloid] = OrderState(cloid=cloid, status="cancelled")
        return True

    async def order_state(self, cloid: str) -> OrderState | None:
        await self._enter("order_state", cloid)
        return self.states.get(cloid)

    async def poll(self, bars: Mapping[str, Sequence[Bar]]) -> list[VenueFill]:
        await self._enter("poll")
        fills, self._fills = self._fills, []
        return fills

    async def funding(self) -> list[VenueFunding]:
        await self._enter("funding")
        payments, self._funding = self._funding, []
        return payments

    async def open_orders(self) -> list[VenueOrder]:
        await self._enter("open_orders")
        return list(self.open.values())

    async def positions(self) -> list[VenuePosition]:
        await self._enter("positions")
        return [self.held[symbol] for symbol in sorted(self.held)]

    async def account_value(self) -> float | None:
        await self._enter("account_value")
        return self.value


# -- the OMS around it ---------------------------------------------------------------------------------------------

MINUTE = 60_000
T0 = 1_700_006_400_000  # midnight UTC, 2023-11-15
STRATEGIES = ("alpha", "beta")
WAIT_S = 30.0


def as_of(cycle: int) -> int:
    """Cycle ``n`` sees the bars that closed by ``as_of(n)``: bars 0-4 before cycle 1, then one bar a cycle."""
    return T0 + (4 + cycle) * MINUTE


def calm(index: int, price: float) -> Bar:
    return Bar(T0 + index * MINUTE, price, price * 1.001, price * 0.999, price, 1_000_000.0)


def trade(
    symbol: str = "BTC",
    entry: float = 100.0,
    *,
    direction: Direction = "long",
    size: float = 0.05,
    conviction: int = 7,
    strategy: str = "alpha",
) -> Trade:
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
    entry = decision_id(strategy, symbol, direction, as_of(cycle))
    return entry, child_id(entry, "stop"), child_id(entry, "target")


class Desk:
    """The OMS as the pipeline wires it, over a ``FakeVenue`` and an in-memory log (safe under the autojump
    clock), driven by hand: bars, cycles and strategy reports go in, the log comes out."""

    def __init__(
        self,
        *,
        policy: RiskPolicy | None = None,
        killswitch: KillSwitchConfig | None = None,
        venue: FakeVenue | None = None,
        store: MemoryStore | None = None,
        prices: Mapping[str, float] | None = None,
        driven: bool = False,
    ) -> None:
        self.driven = driven
        self.store = store or MemoryStore()
        self.venue = venue or FakeVenue()
        self.policy = policy or RiskPolicy()
        self.killswitch = killswitch or KillSwitchConfig()
        self.clock = ManualClock(as_of(1))
        self.gate = TradingGate()
        self.barrier = CycleBarrier()
        self.market = MarketState(MINUTE)
        self.prices = dict(prices or {"BTC": 100.0, "ETH": 50.0, "SOL": 20.0})
        self.bars = 0
        for _ in range(5):
            self.next_bar()
        self.cycles, self._cycles_out = trio.open_memory_channel[EnrichedCycles](1)
        self.reports, self._reports_out = trio.open_memory_channel[StrategyReports](len(STRATEGIES))
        self.log = EventLog(self.store)
        self.oms: OMS | None = None

    def next_bar(self, **prices: float) -> None:
        """One more bar per symbol, at ``prices`` (or the last price)."""
        self.prices.update(prices)
        for symbol, price in self.prices.items():
            self.market.series(symbol).append(calm(self.bars, price))
        self.bars += 1

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Desk]:
        async with trio.open_nursery() as nursery:
            await nursery.start(self.log.run)
            self.oms = OMS(
                strategies=list(STRATEGIES),
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

    async def cycle(self, cycle: int, *trades: Trade) -> list[AnyEvent]:
        """Run one cycle with ``trades`` taken by their strategies; the events it logged."""
        before = self.log.head.seq
        self.clock.set(max(self.clock.now_ms(), as_of(cycle) + 250))
        tick = CycleTick(cycle=cycle, as_of=as_of(cycle), source="simulated", market=self.market.view(as_of(cycle)))
        await self.cycles.send((EnrichedCycle(tick=tick, signals=(), context={}, producers={}),))
        for strategy in STRATEGIES:
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
        with trio.fail_after(WAIT_S):
            await self.barrier.wait(cycle)
        return await self.events(after=before)

    async def events(self, after: int = 0) -> list[AnyEvent]:
        return [record.event() for record in await self.store.read(after, 100_000)]

    async def switch(self, state: TradingStateName) -> None:
        """What the kill-switch actor does with a manual request."""
        change = self.gate.transition(state, "manual", "test", self.clock.now_ms())
        assert change is not None
        await self.log.append(change)

    async def settle_down(self, seconds: float = 30.0) -> None:
        """Let the OMS's background tasks (kill-switch follower, retries, disconnect watcher) run for ``seconds``
        of trio time: instant under the autojump clock, which every test of the OMS uses."""
        await trio.sleep(seconds)


def only(events: Sequence[AnyEvent], kind: type[E], match: Callable[[E], bool] = lambda _: True) -> list[E]:
    return [e for e in events if isinstance(e, kind) and match(e)]
