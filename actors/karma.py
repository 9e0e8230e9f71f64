"""Karma as a stage of the cycle, between the enricher and the strategies: each cycle's producer outcomes that
matured by its as-of time are scored, and the calibration they have earned goes to the strategies with the cycle.

Per cycle, in order (``KarmaBook`` scores a batch at once, and its answers do not depend on the batch):
1. resolve the virtual positions whose stop, target or time limit was reached by the cycle's as-of time;
2. hand the strategies the calibration in force (empty when ``karma.sizing`` is off) and the cycle's karma event,
   which the OMS logs in karma's slot, after the signals and before the snapshot;
3. open a virtual position for each directional signal of the cycle, at its close.

Each strategy's own rule is scored the same way by its actor (``strategies/actor.py``), with a book of its own.
At start, before the first cycle, every book is rebuilt from the log (one pass), so a restart resumes exactly.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import trio
from msgspec.structs import replace

from b1e55ed.cycle import CycleTick, EnrichedCycle, EnrichedCycles
from b1e55ed.eventlog.writer import EventLog
from b1e55ed.karma.book import KarmaBook, KarmaCycle, NewOpening
from b1e55ed.karma.calibration import Calibration
from b1e55ed.market.bars import BarsView
from b1e55ed.messages import Event

logger = logging.getLogger(__name__)

RESTORE_PAGE = 10_000


class Karma:
    def __init__(
        self,
        *,
        book: KarmaBook,
        rules: Sequence[KarmaBook],
        log: EventLog,
        cycles: trio.MemoryReceiveChannel[EnrichedCycles],
        outputs: Sequence[trio.MemorySendChannel[EnrichedCycles]],
        fee_rate: float,
    ) -> None:
        """``book`` scores the producers; ``rules`` are the strategies' books, rebuilt here at start with it."""
        self._book = book
        self._rules = rules
        self._log = log
        self._cycles = cycles
        self._outputs = outputs
        config = book.config
        self._sizing = config.sizing
        self._calibration = Calibration(stop_pct=config.stop_pct, target_pct=config.target_pct, fee_rate=fee_rate)
        self._restored = False

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        if not self._restored:  # once per process: a supervisor restart keeps the books as they are
            await self._restore()
            self._restored = True
        async with self._cycles.clone() as cycles:
            outputs = [output.clone() for output in self._outputs]
            try:
                task_status.started()
                async for batch in cycles:
                    scored = self.score(batch)
                    for output in outputs:
                        await output.send(scored)
            finally:
                for output in outputs:
                    output.close()

    def score(self, batch: EnrichedCycles) -> EnrichedCycles:
        scorings = self._book.score([karma_cycle(enriched.tick, signal_openings(enriched)) for enriched in batch])
        scored = []
        for enriched, scoring in zip(batch, scorings, strict=True):
            if self._sizing and scoring.tables is not self._calibration.tables:  # a new table: a new calibration
                self._calibration = self._calibration.with_tables(scoring.tables)
            karma = (scoring.event,) if scoring.event is not None else ()
            scored.append(replace(enriched, calibration=self._calibration, karma=karma))
        return tuple(scored)

    async def _restore(self) -> None:
        books = [self._book, *self._rules]
        after, events = 0, list[Event]()
        while records := await self._log.store.read(after, RESTORE_PAGE):
            events.extend(record.event() for record in records if record.kind in RESTORED_KINDS)
            after = records[-1].seq
        for book in books:
            book.restore(events)
        if events:
            calibrated = sorted(source for book in books for source in book.tables)
            logger.info("karma restored from %d events; calibrated: %s", len(events), ", ".join(calibrated) or "none")


def karma_cycle(tick: CycleTick, openings: list[NewOpening]) -> KarmaCycle:
    return KarmaCycle(tick.cycle, tick.as_of, tick.ts, tick.market, openings)


def signal_openings(enriched: EnrichedCycle) -> list[NewOpening]:
    """A virtual position for each directional signal of the cycle, at its symbol's close: as the cycle's tick
    recorded it (what a restart reads back), or, for a tick without its event, as its market shows it."""
    if not enriched.signals:
        return []
    tick = enriched.tick
    closes = tick.started.closes if tick.started is not None else _closes(tick.market)
    return [
        NewOpening(s.producer, s.symbol, s.signal, s.conviction, closes[s.symbol])
        for s in enriched.signals
        if s.signal != "neutral" and s.symbol in closes
    ]


def _closes(market: Mapping[str, BarsView]) -> dict[str, float]:
    return {symbol: bars.last_close for symbol, bars in market.items() if len(bars)}


RESTORED_KINDS = frozenset({"cycle", "signal", "karma", "snapshot", "decision"})
