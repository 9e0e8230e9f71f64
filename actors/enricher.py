"""The enricher: gathers a cycle's signals, adds PCS context, snapshots the cycle, and hands it to strategies.

Cycles come in batches (one live, many in a history-driven run) and go on as one batch. The enricher makes its
events (signals, the snapshot, alerts) and hands them on with each cycle; the OMS logs them in the cycle's order.

It waits for every enabled producer's answer (a report, "no data" or "failed"). Live, it waits at most
``deadline_s``; a producer that misses it is recorded as missed, and its health shows degraded. In replay there
is no deadline, so a run is deterministic. Three missed or failed cycles in a row raise an alert.

PCS context per symbol: price (last close), volume relative to its 20-bar mean, ATR% and realised volatility.
Enrichment plug-ins add fields of their own.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from typing import Protocol

import trio

from actors.context import pcs_context_batch
from b1e55ed.cycle import CycleTick, EnrichedCycle, EnrichedCycles, ProducerReport, ProducerReports, Ticks
from b1e55ed.features import snapshot_hash
from b1e55ed.health import HealthRegistry
from b1e55ed.market.bars import BarsView
from b1e55ed.messages import Alert, SignalRecorded, SnapshotRecorded

logger = logging.getLogger(__name__)

ALERT_AFTER = 3
_FINE = frozenset({"ok", "no data", "disabled"})


ContextSource = Callable[[str, int], float | None]
"""A context field known outside the candles, by symbol and time: the day's Fear & Greed, the perp basis."""


class EnrichmentPlugin(Protocol):
    name: str

    def enrich(self, symbol: str, bars: BarsView, as_of: int) -> Mapping[str, float]: ...


def pcs_contexts(batch: Ticks) -> list[dict[str, dict[str, float]]]:
    """Each tick's PCS context by symbol; each symbol's windows over the batch are computed together."""
    contexts: list[dict[str, dict[str, float]]] = [{} for _ in batch]
    for symbol in sorted({symbol for tick in batch for symbol in tick.market}):
        having = [index for index, tick in enumerate(batch) if symbol in tick.market]
        for index, context in zip(having, pcs_context_batch([batch[i].market[symbol] for i in having]), strict=True):
            contexts[index][symbol] = context
    return contexts


class Enricher:
    def __init__(
        self,
        *,
        producers: Sequence[str],
        ticks: trio.MemoryReceiveChannel[Ticks],
        reports: trio.MemoryReceiveChannel[ProducerReports],
        outputs: Sequence[trio.MemorySendChannel[EnrichedCycles]],
        health: HealthRegistry,
        deadline_s: float | None,
        plugins: Sequence[EnrichmentPlugin] = (),
        sources: Mapping[str, ContextSource] | None = None,
    ) -> None:
        self._producers = sorted(producers)
        self._ticks = ticks
        self._reports = reports
        self._outputs = outputs
        self._health = health
        self._deadline_s = deadline_s
        self._plugins = plugins
        self._sources = dict(sources or {})
        self._troubles = dict.fromkeys(self._producers, 0)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with self._ticks.clone() as ticks, self._reports.clone() as reports:
            outputs = [output.clone() for output in self._outputs]
            try:
                task_status.started()
                async for batch in ticks:
                    answers = await self._collect(batch, reports)
                    contexts, alerts = pcs_contexts(batch), self._alerts(batch, answers)
                    enriched = tuple(
                        self._enrich(tick, answers[tick.cycle], pcs, cycle_alerts)
                        for tick, pcs, cycle_alerts in zip(batch, contexts, alerts, strict=True)
                    )
                    for output in outputs:
                        await output.send(enriched)
            finally:
                for output in outputs:
                    output.close()  # not ``aclose``: its checkpoint would raise when cancelled, leaving the rest open

    async def _collect(
        self, batch: Ticks, reports: trio.MemoryReceiveChannel[ProducerReports]
    ) -> dict[int, dict[str, ProducerReport]]:
        answers: dict[int, dict[str, ProducerReport]] = {tick.cycle: {} for tick in batch}
        expected = len(batch) * len(self._producers)
        received = 0
        deadline = trio.move_on_after(self._deadline_s) if self._deadline_s is not None else nullcontext()
        with deadline:
            while received < expected:
                for report in await reports.receive():
                    if report.producer not in self._troubles:
                        logger.warning(
                            "report from unknown producer %r ignored (cycle %d)", report.producer, report.cycle
                        )
                    elif (found := answers.get(report.cycle)) is not None and report.producer not in found:
                        found[report.producer] = report
                        received += 1
                    # An older cycle's report came after its deadline: that cycle went on without it.
        for cycle, reported in answers.items():
            for name in self._producers:
                if name not in reported:
                    reported[name] = ProducerReport(cycle=cycle, producer=name, status="missed")
        return answers

    def _enrich(
        self,
        tick: CycleTick,
        answers: Mapping[str, ProducerReport],
        pcs: Mapping[str, dict[str, float]],
        alerts: Sequence[Alert],
    ) -> EnrichedCycle:
        signals = sorted(
            (s for name in self._producers for s in answers[name].signals if s.symbol in tick.market),
            key=lambda s: (s.producer, s.symbol),
        )
        context = {
            symbol: self._context(symbol, bars, tick.as_of, pcs[symbol]) for symbol, bars in sorted(tick.market.items())
        }
        statuses = {name: _describe(answers[name]) for name in self._producers}
        now = tick.ts
        directional = [s for s in signals if s.signal != "neutral"]
        snapshot = SnapshotRecorded(
            ts=now,
            cycle=tick.cycle,
            as_of=tick.as_of,
            context=context,
            producers=statuses,
            features_hash=snapshot_hash(tick.cycle, tick.as_of, context, directional),
        )
        events = (*(SignalRecorded(ts=now, cycle=tick.cycle, signal=s) for s in directional), snapshot, *alerts)
        return EnrichedCycle(tick=tick, signals=tuple(signals), context=context, producers=statuses, events=events)

    def _context(self, symbol: str, bars: BarsView, as_of: int, context: dict[str, float]) -> dict[str, float]:
        """PCS ``context``, then each source's field and each plug-in's fields as ``<plugin>.<field>``. A plug-in
        that raises, or gives a value that is not a finite number, loses those fields for this symbol and cycle
        (with a log line saying why); the cycle goes on."""
        for name, source in self._sources.items():
            value = source(symbol, as_of)
            if value is not None and math.isfinite(value):
                context[name] = float(value)
        for plugin in self._plugins:
            try:
                fields = dict(plugin.enrich(symbol, bars, as_of))
            except Exception as exc:
                logger.error("enrichment plug-in %s failed on %s: %s: %s", plugin.name, symbol, type(exc).__name__, exc)
                continue
            for key, value in sorted(fields.items()):
                if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                    logger.error("enrichment plug-in %s: %s %s=%r is not a number", plugin.name, symbol, key, value)
                    continue
                context[f"{plugin.name}.{key}"] = float(value)
        return context

    def _alerts(self, batch: Ticks, answers: Mapping[int, Mapping[str, ProducerReport]]) -> list[list[Alert]]:
        """Each cycle's alerts, by producer. A producer that answered every cycle of the batch alike, and fine, is
        looked at once: what ``_track`` does with such an answer, it does the same the second time."""
        alerts: list[list[Alert]] = [[] for _ in batch]
        for name in self._producers:
            reports = [answers[tick.cycle][name] for tick in batch]
            first = reports[0]
            if first.status in _FINE and all(r.status == first.status and r.detail == first.detail for r in reports):
                self._track(name, first, batch[0])
                continue
            for found, tick, report in zip(alerts, batch, reports, strict=True):
                if (alert := self._track(name, report, tick)) is not None:
                    found.append(alert)
        return alerts

    def _track(self, name: str, report: ProducerReport, tick: CycleTick) -> Alert | None:
        """Health and alerts: a missed or failed answer is trouble; three in a row raise an alert."""
        health = self._health.register(name)
        if report.status in _FINE:
            # Disabled (no key, offline replay) is a setting, not a fault: health says why, nothing alerts.
            self._troubles[name] = 0
            health.recovered()
            if report.status == "disabled":
                health.detail = report.detail
            return None
        self._troubles[name] += 1
        detail = f"{report.status} cycle {tick.cycle}" + (f": {report.detail}" if report.detail else "")
        logger.warning("producer %s %s", name, detail)
        health.degraded(detail)
        if self._troubles[name] != ALERT_AFTER:
            return None
        message = f"producer {name} {report.status} {ALERT_AFTER} cycles in a row (last: cycle {tick.cycle})"
        return Alert(ts=tick.ts, severity="warning", source="enricher", message=message)


def _describe(report: ProducerReport) -> str:
    if report.status == "disabled" and report.detail.startswith("disabled"):
        return report.detail
    if report.status != "ok":
        return report.status + (f": {report.detail}" if report.detail else "")
    directional = sum(1 for s in report.signals if s.signal != "neutral")
    return f"ok: {directional} directional, {len(report.signals) - directional} neutral"
