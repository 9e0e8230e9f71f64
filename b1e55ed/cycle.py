"""One brain cycle as it travels between actors, and the two plug-in contracts: producers and strategies.

These messages stay in memory (they carry numpy views of the market). Each stage makes the events that are its
own (the tick by the brain, signals and the snapshot by the enricher, decisions and everything after by the OMS)
and hands them on with the cycle; the OMS, which settles cycles strictly in order, logs them all in the canonical
order. Between stages, cycles travel in batches (tuples): one cycle at a time live, many in a history-driven run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import trio

from b1e55ed.market.bars import BarsView
from b1e55ed.messages import CycleStarted, Direction, Event, MarketSource, Signal, SignalRef, Trade


@dataclass(frozen=True)
class CycleTick:
    """The brain's tick: producers see the market as of ``as_of`` and nothing after it."""

    cycle: int
    as_of: int
    source: MarketSource
    market: Mapping[str, BarsView]
    started: CycleStarted | None = None  # the brain's event for this cycle, logged first by the OMS

    @property
    def ts(self) -> int:
        """The cycle's event time: when the brain ticked (the as-of time in a history-driven run)."""
        return self.started.ts if self.started is not None else self.as_of


ReportStatus = Literal["ok", "no data", "disabled", "failed", "missed"]


@dataclass(frozen=True)
class ProducerReport:
    cycle: int
    producer: str
    status: ReportStatus
    signals: tuple[Signal, ...] = ()
    detail: str = ""


@dataclass(frozen=True)
class EnrichedCycle:
    """A cycle's signals with their PCS context, as every strategy and the OMS receive it."""

    tick: CycleTick
    signals: tuple[Signal, ...]
    context: Mapping[str, Mapping[str, float]]
    producers: Mapping[str, str]
    # Karma's calibration when there is one: producer → conviction → win probability. Sizing prefers it.
    calibration: Mapping[str, Mapping[int, float]] = field(default_factory=dict)
    events: tuple[Event, ...] = ()  # the enricher's signals, snapshot and alerts, for the OMS to log in order

    @property
    def cycle(self) -> int:
        return self.tick.cycle

    @property
    def as_of(self) -> int:
        return self.tick.as_of

    def signals_for(self, symbol: str) -> list[Signal]:
        return [s for s in self.signals if s.symbol == symbol]


@dataclass(frozen=True)
class Candidate:
    """A strategy's answer for one symbol: a trade to take, or why not."""

    symbol: str
    taken: bool
    reason: str
    direction: Direction | None = None
    trade: Trade | None = None
    signals: tuple[SignalRef, ...] = ()
    sizing: Mapping[str, float] = field(default_factory=dict)
    candle_close: int = 0


@dataclass(frozen=True)
class StrategyReport:
    cycle: int
    strategy: str
    status: ReportStatus
    candidates: tuple[Candidate, ...] = ()
    detail: str = ""


Ticks = tuple[CycleTick, ...]
ProducerReports = tuple[ProducerReport, ...]
EnrichedCycles = tuple[EnrichedCycle, ...]
StrategyReports = tuple[StrategyReport, ...]


class Producer(Protocol):
    """A pure function of a fixed window of bars: the same window always gives the same signal.

    Returns None when the window is too short to say anything ("no data").
    """

    name: str

    def produce(self, symbol: str, bars: BarsView, as_of: int) -> Signal | None: ...


@runtime_checkable
class BatchProducer(Producer, Protocol):
    """A producer that can answer for many consecutive cycles of one symbol at once (a replay's batch), giving
    exactly what ``produce`` gives for each window, only faster: ``windows[i]`` is the symbol's window as of
    ``as_ofs[i]``."""

    def produce_batch(self, symbol: str, windows: Sequence[BarsView], as_ofs: Sequence[int]) -> list[Signal | None]: ...


class Strategy(Protocol):
    """Turns a whole enriched cycle, market views included, into candidates with reasons."""

    name: str

    def evaluate(self, cycle: EnrichedCycle) -> Sequence[Candidate]: ...


@runtime_checkable
class BatchStrategy(Strategy, Protocol):
    """A strategy that can judge many consecutive cycles at once, giving exactly what ``evaluate`` gives for each."""

    def evaluate_batch(self, cycles: Sequence[EnrichedCycle]) -> list[Sequence[Candidate]]: ...


def decision_id(strategy: str, symbol: str, direction: str | None, candle_close: int) -> str:
    """The idempotency key: a Hyperliquid cloid (16 bytes, hex) from what the decision was about.

    The same strategy deciding the same direction on the same latest candle is the same decision, however often
    it is evaluated: across retries, restarts and manual scans.
    """
    key = f"{strategy}|{symbol}|{direction or 'none'}|{candle_close}".encode()
    return "0x" + hashlib.sha256(key).digest()[:16].hex()


def child_id(parent: str, role: str) -> str:
    """A stop's or target's cloid, derived from its entry order's."""
    return "0x" + hashlib.sha256(f"{parent}|{role}".encode()).digest()[:16].hex()


class CycleBarrier:
    """The brain starts cycle N+1 only after the OMS settled cycle N (its events committed)."""

    def __init__(self, settled: int = 0) -> None:
        self.settled = settled
        self._waiters = trio.lowlevel.ParkingLot()

    def settle(self, cycle: int) -> None:
        self.settled = max(self.settled, cycle)
        self._waiters.unpark_all()

    async def wait(self, cycle: int) -> None:
        while self.settled < cycle:
            await self._waiters.park()
