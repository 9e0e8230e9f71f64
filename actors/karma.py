"""Karma as a stage of the cycle, between the enricher and the strategies: each cycle's producer outcomes that
matured by its as-of time are scored, and the calibration they have earned goes to the strategies with the cycle.

Per cycle, in order (a batch is walked cycle by cycle, so batching changes nothing):
1. score the virtual positions still open against the bars that closed since the last cycle (``KarmaBook``);
2. hand the strategies the calibration in force (empty when ``karma.sizing`` is off) and the cycle's karma event,
   which the OMS logs in karma's slot, after the signals and before the snapshot;
3. open a virtual position for each directional signal of the cycle, at its close.

Each strategy's own rule is scored the same way by its actor (``strategies/actor.py``), with a book of its own.
At start, before the first cycle, every book is rebuilt from the log (one pass), so a restart resumes exactly.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

import trio

from b1e55ed.cycle import EnrichedCycle, EnrichedCycles
from b1e55ed.eventlog.writer import EventLog
from b1e55ed.karma.book import KarmaBook
from b1e55ed.karma.calibration import Calibration
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
                    scored = tuple(self.score(enriched) for enriched in batch)
                    for output in outputs:
                        await output.send(scored)
            finally:
                for output in outputs:
                    output.close()

    def score(self, enriched: EnrichedCycle) -> EnrichedCycle:
        tick = enriched.tick
        event = self._book.score(cycle=tick.cycle, as_of=tick.as_of, ts=tick.ts, market=tick.market)
        tables = dict(self._book.tables) if self._sizing else {}
        for signal in enriched.signals:
            if signal.signal != "neutral" and (bars := tick.market.get(signal.symbol)) is not None and len(bars):
                self._book.open(
                    source=signal.producer,
                    symbol=signal.symbol,
                    direction=signal.signal,
                    conviction=signal.conviction,
                    as_of=tick.as_of,
                    entry=bars.last_close,
                )
        calibration = self._calibration.with_tables(tables)
        return replace(enriched, calibration=calibration, karma=(event,) if event is not None else ())

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


RESTORED_KINDS = frozenset({"cycle", "signal", "karma", "snapshot", "decision"})
