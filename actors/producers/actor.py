"""A producer as a supervised actor: on every tick, one report with a signal per symbol it can speak for."""

from __future__ import annotations

import trio

from actors.stage import PureStage
from b1e55ed.cycle import CycleTick, Producer, ProducerReport, ReportStatus
from b1e55ed.messages import Signal


def producer_stage(
    producer: Producer,
    ticks: trio.MemoryReceiveChannel[CycleTick],
    reports: trio.MemorySendChannel[ProducerReport],
) -> PureStage[CycleTick, ProducerReport]:
    def compute(tick: CycleTick) -> ProducerReport:
        signals: list[Signal] = []
        for symbol in sorted(tick.market):
            signal = producer.produce(symbol, tick.market[symbol], tick.as_of)
            if signal is not None:
                signals.append(signal)
        status: ReportStatus = "ok" if signals else "no data"
        return ProducerReport(cycle=tick.cycle, producer=producer.name, status=status, signals=tuple(signals))

    def failed(tick: CycleTick, exc: Exception) -> ProducerReport:
        detail = f"{type(exc).__name__}: {exc}"
        return ProducerReport(cycle=tick.cycle, producer=producer.name, status="failed", detail=detail)

    return PureStage(producer.name, ticks, reports, compute, failed)
