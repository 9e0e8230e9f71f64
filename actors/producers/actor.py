"""A producer as a supervised actor: on every tick, one report with a signal per symbol it can speak for.

Ticks come in batches (one live, many in a history-driven run) and the reports go back as one batch. A producer
with ``produce_batch`` answers each symbol's consecutive windows at once; a batch it fails on is answered again
cycle by cycle, so a failure stays that one cycle's.

A network producer first refreshes its data under ``refresh_timeout_s``: a slow or failing API makes it "failed"
for that cycle, and a producer without its key (or in an offline replay) reports "disabled"; neither stalls the
cycle. An exception inside ``produce`` is a "failed" report too, never a crash.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import trio
from msgspec.structs import replace

from b1e55ed.cycle import CycleTick, ProducerReport, ProducerReports, ReportStatus, Ticks
from b1e55ed.market.batch import SymbolWindows, windows_by_symbol
from b1e55ed.messages import Signal
from b1e55ed.plugins import BatchProducer, NetworkProducer, Producer

logger = logging.getLogger(__name__)


class ProducerActor:
    def __init__(
        self,
        producer: Producer,
        ticks: trio.MemoryReceiveChannel[Ticks],
        reports: trio.MemorySendChannel[ProducerReports],
        refresh_timeout_s: float = 10.0,
    ) -> None:
        self.name = producer.name
        self._producer = producer
        self._ticks = ticks
        self._reports = reports
        self._refresh_timeout_s = refresh_timeout_s
        self._network = producer if isinstance(producer, NetworkProducer) else None  # checked once: it is slow
        self._batch = producer if isinstance(producer, BatchProducer) else None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with self._ticks.clone() as ticks, self._reports.clone() as reports:
            task_status.started()
            async for batch in ticks:
                await reports.send(await self.reports(batch))

    async def reports(self, batch: Ticks) -> ProducerReports:
        """One report per tick, in the batch's order."""
        if len(batch) > 1 and self._network is not None and (reason := self._network.availability()):
            return tuple(_disabled(tick.cycle, self.name, reason) for tick in batch)
        if len(batch) == 1 or self._batch is None:
            return tuple([await self.report(tick) for tick in batch])
        symbols = windows_by_symbol([tick.market for tick in batch], [tick.as_of for tick in batch])
        # Batches come only from history-driven runs, where a network producer is offline or reads its history by
        # as-of time: it is asked once per batch, as of the batch's first cycle.
        if self._network is not None and (unready := await self._unready(list(symbols), batch[0])) is not None:
            return tuple(replace(unready, cycle=tick.cycle) for tick in batch)
        try:
            signals = self._signals_by_batch(self._batch, len(batch), symbols)
        except Exception:
            logger.debug("producer %s failed on a batch: answering cycle by cycle", self.name, exc_info=True)
            return tuple([await self.report(tick) for tick in batch])
        return tuple(_report(tick.cycle, self.name, found) for tick, found in zip(batch, signals, strict=True))

    async def _unready(self, symbols: Sequence[str], tick: CycleTick) -> ProducerReport | None:
        """A network producer's report when it cannot speak for ``tick`` (disabled, or its refresh failed)."""
        network = self._network
        if network is None:
            return None
        if reason := network.availability():
            return _disabled(tick.cycle, self.name, reason)
        try:
            with trio.fail_after(self._refresh_timeout_s):
                await network.refresh(symbols, tick.as_of)
        except (Exception, trio.TooSlowError) as exc:
            logger.debug("producer %s failed in cycle %d", self.name, tick.cycle, exc_info=exc)
            detail = f"{type(exc).__name__}: {exc}"
            return ProducerReport(cycle=tick.cycle, producer=self.name, status="failed", detail=detail)
        return None

    @staticmethod
    def _signals_by_batch(
        producer: BatchProducer, cycles: int, symbols: Mapping[str, SymbolWindows]
    ) -> list[list[Signal]]:
        """Each cycle's signals (``cycles`` of them), by symbol: ``symbols`` holds each one's windows, in order."""
        found: list[list[Signal]] = [[] for _ in range(cycles)]
        for symbol, (at, as_ofs, windows) in symbols.items():
            for index, signal in zip(at, producer.produce_batch(symbol, windows, as_ofs), strict=True):
                if signal is not None:
                    found[index].append(signal)
        return found

    async def report(self, tick: CycleTick) -> ProducerReport:
        if (unready := await self._unready(sorted(tick.market), tick)) is not None:
            return unready
        signals: list[Signal] = []
        try:
            for symbol in sorted(tick.market):
                signal = self._producer.produce(symbol, tick.market[symbol], tick.as_of)
                if signal is not None:
                    signals.append(signal)
        except Exception as exc:
            logger.debug("producer %s failed in cycle %d", self.name, tick.cycle, exc_info=exc)
            detail = f"{type(exc).__name__}: {exc}"
            return ProducerReport(cycle=tick.cycle, producer=self.name, status="failed", detail=detail)
        return _report(tick.cycle, self.name, signals)


def _report(cycle: int, producer: str, signals: list[Signal]) -> ProducerReport:
    status: ReportStatus = "ok" if signals else "no data"
    return ProducerReport(cycle=cycle, producer=producer, status=status, signals=tuple(signals))


def _disabled(cycle: int, producer: str, reason: str) -> ProducerReport:
    return ProducerReport(cycle=cycle, producer=producer, status="disabled", detail=reason)
