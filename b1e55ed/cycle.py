"""One brain cycle as it travels between actors: the tick, the producers' reports, the enriched cycle, and the
strategies' reports.

These messages stay in memory (they carry numpy views of the market). Each stage makes the events that are its
own (the tick by the brain, signals and the snapshot by the enricher, decisions and everything after by the OMS)
and hands them on with the cycle; the OMS, which settles cycles strictly in order, logs them all in the canonical
order. Between stages, cycles travel in batches (tuples): one cycle at a time live, many in a history-driven run.
They are frozen ``msgspec.Struct``s, like the events, since a replay makes several per cycle (a frozen dataclass
costs ten times as much to build); change one with ``msgspec.structs.replace``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

import msgspec

from b1e55ed.karma.calibration import Calibration
from b1e55ed.market.bars import BarsView
from b1e55ed.messages import CycleStarted, Direction, Event, MarketSource, Signal, SignalRecorded, SignalRef, Trade


class CycleTick(msgspec.Struct, frozen=True):
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


class ProducerReport(msgspec.Struct, frozen=True):
    cycle: int
    producer: str
    status: ReportStatus
    signals: tuple[Signal, ...] = ()
    detail: str = ""


UNCALIBRATED = Calibration()  # one for every cycle without karma's calibration: it is frozen, changed by copying


class EnrichedCycle(msgspec.Struct, frozen=True):
    """A cycle's signals with their PCS context, as every strategy and the OMS receive it."""

    tick: CycleTick
    signals: tuple[Signal, ...]
    context: Mapping[str, Mapping[str, float]]
    producers: Mapping[str, str]
    # Karma's calibration: source → conviction → win probability, for the sources it has calibrated.
    calibration: Calibration = UNCALIBRATED
    events: tuple[Event, ...] = ()  # the enricher's signals, snapshot and alerts, for the OMS to log in order
    karma: tuple[Event, ...] = ()  # the producers' karma for this cycle

    def logged(self, rule_karma: Iterable[Event] = ()) -> tuple[Event, ...]:
        """The cycle's events before its decisions, in the canonical order: the signals, the producers' karma,
        each rule's karma (``rule_karma``, by strategy), the snapshot and the alerts."""
        split = 0
        while split < len(self.events) and isinstance(self.events[split], SignalRecorded):
            split += 1
        return (*self.events[:split], *self.karma, *rule_karma, *self.events[split:])

    @property
    def cycle(self) -> int:
        return self.tick.cycle

    @property
    def as_of(self) -> int:
        return self.tick.as_of

    def signals_for(self, symbol: str) -> list[Signal]:
        return [s for s in self.signals if s.symbol == symbol]


class Candidate(msgspec.Struct, frozen=True):
    """A strategy's answer for one symbol: a trade to take, or why not."""

    symbol: str
    taken: bool
    reason: str
    direction: Direction | None = None
    trade: Trade | None = None
    signals: tuple[SignalRef, ...] = ()
    sizing: Mapping[str, float] = msgspec.field(default_factory=dict)
    candle_close: int = 0


class StrategyReport(msgspec.Struct, frozen=True):
    cycle: int
    strategy: str
    status: ReportStatus
    candidates: tuple[Candidate, ...] = ()
    detail: str = ""
    karma: tuple[Event, ...] = ()  # the strategy's own rule's karma for this cycle


Ticks = tuple[CycleTick, ...]
ProducerReports = tuple[ProducerReport, ...]
EnrichedCycles = tuple[EnrichedCycle, ...]
StrategyReports = tuple[StrategyReport, ...]
