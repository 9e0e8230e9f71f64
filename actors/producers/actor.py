"""A producer as a supervised actor: on every tick, one report with a signal per symbol it can speak for.

A network producer first refreshes its data under ``refresh_timeout_s``: a slow or failing API makes it "failed"
for that cycle, and a producer without its key (or in an offline replay) reports "disabled"; neither stalls the
cycle. An exception inside ``produce`` is a "failed" report too, never a crash.
"""

from __future__ import annotations

import logging

import trio

from b1e55ed.cycle import CycleTick, Producer, ProducerReport, ReportStatus
from b1e55ed.messages import Signal
from b1e55ed.plugins import NetworkProducer

logger = logging.getLogger(__name__)


class ProducerStage:
    def __init__(
        self,
        producer: Producer,
        ticks: trio.MemoryReceiveChannel[CycleTick],
        reports: trio.MemorySendChannel[ProducerReport],
        refresh_timeout_s: float = 10.0,
    ) -> None:
        self.name = producer.name
        self._producer = producer
        self._ticks = ticks
        self._reports = reports
        self._refresh_timeout_s = refresh_timeout_s
        self._network = producer if isinstance(producer, NetworkProducer) else None  # checked once: it is slow

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with self._ticks.clone() as ticks, self._reports.clone() as reports:
            task_status.started()
            async for tick in ticks:
                await reports.send(await self.report(tick))

    async def report(self, tick: CycleTick) -> ProducerReport:
        producer = self._producer
        try:
            if (network := self._network) is not None:
                if reason := network.availability():
                    return ProducerReport(cycle=tick.cycle, producer=self.name, status="disabled", detail=reason)
                with trio.fail_after(self._refresh_timeout_s):
                    await network.refresh(sorted(tick.market), tick.as_of)
            signals: list[Signal] = []
            for symbol in sorted(tick.market):
                signal = producer.produce(symbol, tick.market[symbol], tick.as_of)
                if signal is not None:
                    signals.append(signal)
        except (Exception, trio.TooSlowError) as exc:
            logger.debug("producer %s failed in cycle %d", self.name, tick.cycle, exc_info=exc)
            detail = f"{type(exc).__name__}: {exc}"
            return ProducerReport(cycle=tick.cycle, producer=self.name, status="failed", detail=detail)
        status: ReportStatus = "ok" if signals else "no data"
        return ProducerReport(cycle=tick.cycle, producer=self.name, status=status, signals=tuple(signals))
