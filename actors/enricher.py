"""The enricher: gathers a cycle's signals, adds PCS context, snapshots the cycle, and hands it to strategies.

Cycles come in batches (one live, many in a history-driven run) and go on as one batch. The enricher makes its
events (signals, the snapshot, alerts) and hands them on with each cycle; the OMS logs them in the cycle's order.

It waits for every enabled producer's answer (a report, "no data" or "failed"). Live, it waits at most
``deadline_s``; a producer that misses it is recorded as missed, and its health shows degraded. In replay there
is no deadline, so a run is deterministic. Three missed or failed cycles in a row raise an alert.

PCS context per symbol: price (last close), volume relative to its 20-bar mean, ATR% and realised volatility.
Context sources add a field each (the day's Fear & Greed, the perp basis), asked once per symbol for all the
batch's cycles when they can answer many times at once (``BatchContextSource``), else cycle by cycle. Enrichment
plug-ins add fields of their own, cycle by cycle.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from operator import attrgetter
from typing import Protocol, runtime_checkable

import trio

from actors.context import pcs_context_batch
from b1e55ed.cycle import CycleTick, EnrichedCycle, EnrichedCycles, ProducerReport, ProducerReports, Ticks
from b1e55ed.features import snapshot_hash
from b1e55ed.health import HealthRegistry
from b1e55ed.market.bars import BarsView
from b1e55ed.market.batch import windows_by_symbol
from b1e55ed.messages import Alert, SignalRecorded, SnapshotRecorded
from b1e55ed.plugins import DailyIndex

logger = logging.getLogger(__name__)

ALERT_AFTER = 3
_FINE = frozenset({"ok", "no data", "disabled"})
_BY_PRODUCER_AND_SYMBOL = attrgetter("producer", "symbol")
_VALUE = attrgetter("signal")


ContextSource = Callable[[str, int], float | None]
"""A context field known outside the candles, by symbol and time: the day's Fear & Greed, the perp basis."""

BatchAnswer = Callable[[str, Sequence[int]], Sequence[float | None]]
"""A context source's answers for one symbol at many times, in their order."""


@runtime_checkable
class BatchContextSource(Protocol):
    """A context source that also answers many times at once: ``at_times(symbol, times)`` is
    ``[source(symbol, t) for t in times]``, value for value."""

    def __call__(self, symbol: str, at_ms: int, /) -> float | None: ...

    def at_times(self, symbol: str, times: Sequence[int], /) -> Sequence[float | None]: ...


@runtime_checkable
class _DailyIndexOverTimes(Protocol):
    def values_at(self, times: Sequence[int], /) -> Sequence[float | None]: ...


class DailyIndexSource:
    """A daily index (Fear & Greed) as a context source: the same value for every symbol. An index that has
    ``values_at(times)`` (``FearGreedIndex``) finds a batch's values in one search."""

    def __init__(self, index: DailyIndex) -> None:
        self._index = index
        self._over_times = index if isinstance(index, _DailyIndexOverTimes) else None  # a slow check: made once

    def __call__(self, symbol: str, at_ms: int, /) -> float | None:
        return self._index.value_at(at_ms)

    def at_times(self, symbol: str, times: Sequence[int], /) -> Sequence[float | None]:
        if self._over_times is not None:
            return self._over_times.values_at(times)
        return [self._index.value_at(at_ms) for at_ms in times]


def batch_answer(source: ContextSource) -> BatchAnswer:
    """The source's ``at_times``, or a call per time for a source that answers one time only."""
    if isinstance(source, BatchContextSource):
        return source.at_times
    return lambda symbol, times: [source(symbol, at_ms) for at_ms in times]


class EnrichmentPlugin(Protocol):
    name: str

    def enrich(self, symbol: str, bars: BarsView, as_of: int) -> Mapping[str, float]: ...


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
        self._sources = {name: batch_answer(source) for name, source in (sources or {}).items()}
        self._troubles = dict.fromkeys(self._producers, 0)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with self._ticks.clone() as ticks, self._reports.clone() as reports:
            outputs = [output.clone() for output in self._outputs]
            try:
                task_status.started()
                async for batch in ticks:
                    enriched = self._enrich_batch(batch, await self._collect(batch, reports))
                    for output in outputs:
                        await output.send(enriched)
            finally:
                for output in outputs:
                    output.close()  # not ``aclose``: its checkpoint would raise when cancelled, leaving the rest open

    async def _collect(
        self, batch: Ticks, reports: trio.MemoryReceiveChannel[ProducerReports]
    ) -> list[Sequence[ProducerReport]]:
        """Each producer's report for each cycle of the batch: by producer (in name order), in the batch's order.
        A producer that answers the whole batch at once, as it was asked, is taken as it answered."""
        position = {tick.cycle: index for index, tick in enumerate(batch)}
        whole: dict[str, ProducerReports] = {}
        found: dict[str, list[ProducerReport | None]] = {name: [None] * len(batch) for name in self._producers}
        counts = dict.fromkeys(self._producers, 0)
        expected = len(batch) * len(self._producers)
        received = 0
        deadline = trio.move_on_after(self._deadline_s) if self._deadline_s is not None else nullcontext()
        with deadline:
            while received < expected:
                answer = await reports.receive()
                name = answer[0].producer if answer else ""
                if counts.get(name) == 0 and _answers_batch(answer, name, batch):
                    whole[name] = answer
                    counts[name] = len(answer)
                    received += len(answer)
                    continue
                for report in answer:
                    name = report.producer
                    if name not in counts:
                        logger.warning("report from unknown producer %r ignored (cycle %d)", name, report.cycle)
                    elif name in whole:
                        continue  # this batch's answer came whole already: a repeat
                    elif (index := position.get(report.cycle)) is not None and found[name][index] is None:
                        found[name][index] = report
                        counts[name] += 1
                        received += 1
                    # An older cycle's report came after its deadline: that cycle went on without it.
        return [whole[name] if name in whole else _or_missed(found[name], name, batch) for name in self._producers]

    def _enrich_batch(self, batch: Ticks, by_producer: Sequence[Sequence[ProducerReport]]) -> EnrichedCycles:
        """The batch's cycles, each with exactly what it would get alone (``by_producer``: each producer's report
        for each cycle); what can be is worked out per batch (the PCS context and sources per symbol, statuses per
        producer), the rest per cycle."""
        alike = [_alike(reports) for reports in by_producer]
        alerts = self._alerts(batch, by_producer, alike)
        contexts = self._contexts(batch)
        if self._plugins:
            for tick, context in zip(batch, contexts, strict=True):
                for symbol, fields in context.items():
                    self._add_plugins(symbol, tick.market[symbol], tick.as_of, fields)
        reports = zip(*by_producer, strict=True) if by_producer else ((),) * len(batch)
        return tuple(
            self._enrich(tick, answers, context, statuses, cycle_alerts)
            for tick, answers, context, statuses, cycle_alerts in zip(
                batch, reports, contexts, self._statuses(batch, by_producer, alike), alerts, strict=True
            )
        )

    def _statuses(
        self, batch: Ticks, by_producer: Sequence[Sequence[ProducerReport]], alike: Sequence[bool]
    ) -> list[dict[str, str]]:
        """Each cycle's statuses by producer, as the snapshot records them. Each status is made once per batch for
        what it depends on (an answer's status and detail; an ok one's signals' directions), and cycles whose
        statuses are all alike share one dict. ``alike``: whether each producer answered every cycle with one
        status and detail."""
        made: dict[tuple[str, ...], str] = {}
        columns = []
        for reports, same in zip(by_producer, alike, strict=True):
            if same and reports[0].status != "ok":
                columns.append([_describe(reports[0])] * len(reports))
                continue
            column = []
            for report in reports:
                key = tuple(map(_VALUE, report.signals)) if report.status == "ok" else (report.status, report.detail)
                if (status := made.get(key)) is None:
                    made[key] = status = _describe(report)
                column.append(status)
            columns.append(column)
        if not columns:
            return [{} for _ in batch]
        shared: dict[tuple[str, ...], dict[str, str]] = {}
        names = self._producers
        return [
            shared.get(row) or shared.setdefault(row, dict(zip(names, row, strict=True)))
            for row in zip(*columns, strict=True)
        ]

    def _enrich(
        self,
        tick: CycleTick,
        answers: Sequence[ProducerReport],
        context: dict[str, dict[str, float]],
        statuses: dict[str, str],
        alerts: Sequence[Alert],
    ) -> EnrichedCycle:
        """The cycle's signals (those of its symbols, by producer and symbol) and events; ``answers``: each
        producer's report for it, ``context`` holds the cycle's symbols, sorted."""
        signals = [s for report in answers for s in report.signals if s.symbol in context]
        if len(signals) > 1:
            signals.sort(key=_BY_PRODUCER_AND_SYMBOL)
        now, cycle, as_of = tick.ts, tick.cycle, tick.as_of
        directional = [s for s in signals if s.signal != "neutral"]
        snapshot = SnapshotRecorded(
            ts=now,
            cycle=cycle,
            as_of=as_of,
            context=context,
            producers=statuses,
            features_hash=snapshot_hash(cycle, as_of, context, directional),
        )
        events = (*[SignalRecorded(ts=now, cycle=cycle, signal=s) for s in directional], snapshot, *alerts)
        return EnrichedCycle(tick=tick, signals=tuple(signals), context=context, producers=statuses, events=events)

    def _contexts(self, batch: Ticks) -> list[dict[str, dict[str, float]]]:
        """Each cycle's context by symbol (sorted). A symbol's PCS context over the batch's windows is computed
        together; then each source's field, asked once per symbol for the times of the cycles that hold it. A
        source's None, or a value that is not a finite number, leaves the field out for that symbol and cycle."""
        contexts: list[dict[str, dict[str, float]]] = [{} for _ in batch]
        symbols = windows_by_symbol([tick.market for tick in batch], [tick.as_of for tick in batch])
        for symbol, (having, times, windows) in symbols.items():
            fields = pcs_context_batch(windows)
            for name, answer in self._sources.items():
                for symbol_fields, value in zip(fields, answer(symbol, times), strict=True):
                    if value is not None and math.isfinite(value):
                        symbol_fields[name] = float(value)
            for index, symbol_fields in zip(having, fields, strict=True):
                contexts[index][symbol] = symbol_fields
        return contexts

    def _add_plugins(self, symbol: str, bars: BarsView, as_of: int, context: dict[str, float]) -> None:
        """Each plug-in's fields as ``<plugin>.<field>``, after the sources'. A plug-in that raises, or gives a
        value that is not a finite number, loses those fields for this symbol and cycle (with a log line saying
        why); the cycle goes on."""
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

    def _alerts(
        self, batch: Ticks, by_producer: Sequence[Sequence[ProducerReport]], alike: Sequence[bool]
    ) -> list[Sequence[Alert]]:
        """Each cycle's alerts, by producer (``by_producer``: each producer's reports, in the batch's order). A
        producer that answered every cycle of the batch alike (``alike``), and fine, is looked at once: what
        ``_track`` does with such an answer, it does the same the second time."""
        alerts: list[Sequence[Alert]] = [()] * len(batch)
        for name, reports, same in zip(self._producers, by_producer, alike, strict=True):
            if same and reports[0].status in _FINE:
                self._track(name, reports[0], batch[0])
                continue
            for index, (tick, report) in enumerate(zip(batch, reports, strict=True)):
                if (alert := self._track(name, report, tick)) is not None:
                    alerts[index] = (*alerts[index], alert)
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


def _alike(reports: Sequence[ProducerReport]) -> bool:
    """Whether every report has the first one's status and detail."""
    first = reports[0]
    status, detail = first.status, first.detail
    return all(report.status == status and report.detail == detail for report in reports)


def _or_missed(reports: list[ProducerReport | None], producer: str, batch: Ticks) -> list[ProducerReport]:
    """The reports, a "missed" one for each cycle without one."""
    return [
        ProducerReport(cycle=tick.cycle, producer=producer, status="missed") if report is None else report
        for report, tick in zip(reports, batch, strict=True)
    ]


def _answers_batch(answer: ProducerReports, producer: str, batch: Ticks) -> bool:
    """Whether ``answer`` is ``producer``'s report for each cycle of ``batch``, in its order."""
    return len(answer) == len(batch) and all(
        report.cycle == tick.cycle and report.producer == producer for report, tick in zip(answer, batch, strict=True)
    )


def _describe(report: ProducerReport) -> str:
    if report.status == "disabled" and report.detail.startswith("disabled"):
        return report.detail
    if report.status != "ok":
        return report.status + (f": {report.detail}" if report.detail else "")
    directional = sum(1 for s in report.signals if s.signal != "neutral")
    return f"ok: {directional} directional, {len(report.signals) - directional} neutral"
