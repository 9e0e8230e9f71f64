"""The enricher, in virtual time: deadlines, missed producers, alerts, the log's canonical order, PCS context, plug-ins.

Everything is real except the clock (autojump): real trio channels, a real health registry, and market windows
from a real ``MarketState``. The enricher hands its events on with each cycle, for the OMS to log.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager

import msgspec
import numpy as np
import pytest
import trio
import trio.testing

from actors.enricher import ContextSource, Enricher, EnrichmentPlugin
from b1e55ed.clock import ManualClock
from b1e55ed.cycle import CycleTick, EnrichedCycle, EnrichedCycles, ProducerReport, ProducerReports, ReportStatus, Ticks
from b1e55ed.health import HealthRegistry
from b1e55ed.market.bars import BarArrays, BarsView
from b1e55ed.market.indicators import atr_pct, realised_vol, volume_ratio
from b1e55ed.market.state import MarketState
from b1e55ed.messages import Alert, Event, Signal, SignalRecorded, SignalValue, SnapshotRecorded

MINUTE = 60_000
T0 = 1_700_000_000_000 - 1_700_000_000_000 % MINUTE
BARS = {"BTC": 30, "ETH": 15, "SOL": 3}
"""Bars per symbol: enough for every PCS field, enough for ATR% only, and too few for anything but the price."""
AS_OF = T0 + max(BARS.values()) * MINUTE
OUTPUTS = ("confluence", "mean_reversion", "oms")


def make_market() -> MarketState:
    market = MarketState(MINUTE)
    for k, (symbol, count) in enumerate(sorted(BARS.items())):
        i = np.arange(count, dtype=np.float64)
        close = 100.0 * (k + 1) + 5.0 * np.sin(i / 3.0) + 0.3 * i
        start = AS_OF - count * MINUTE  # every symbol's last bar closes at AS_OF
        market.extend(
            symbol,
            BarArrays(
                ts=np.arange(start, AS_OF, MINUTE, dtype=np.int64),
                open=close - 0.4,
                high=close + 1.0 + 0.1 * (i % 4),
                low=close - 1.2,
                close=close,
                volume=1_000.0 + 50.0 * ((i * 7) % 5),
            ),
        )
    return market


def sig(producer: str, symbol: str, value: SignalValue = "long", conviction: int = 6) -> Signal:
    return Signal(
        symbol=symbol,
        signal=value,
        conviction=conviction,
        rationale=f"{producer} says {value}",
        producer=producer,
        timestamp=AS_OF // 1000,
    )


def ok(cycle: int, producer: str, *signals: Signal) -> ProducerReport:
    return ProducerReport(cycle=cycle, producer=producer, status="ok", signals=signals)


class Rig:
    """An enricher wired like the pipeline does it: a tick channel, a shared report channel, three outputs."""

    def __init__(self, clock: ManualClock, health: HealthRegistry) -> None:
        self.clock, self.health = clock, health
        self.cycles_run = 0
        self.market = make_market()
        self.ticks, self.ticks_out = trio.open_memory_channel[Ticks](1)
        self.reports, self.reports_out = trio.open_memory_channel[ProducerReports](8)
        pairs = [trio.open_memory_channel[EnrichedCycles](1) for _ in OUTPUTS]
        self.logged: list[Event] = []
        self.output_sends = [send for send, _ in pairs]
        self.outputs = dict(zip(OUTPUTS, (receive for _, receive in pairs), strict=True))

    def tick(self, cycle: int, as_of: int = AS_OF) -> CycleTick:
        return CycleTick(cycle=cycle, as_of=as_of, source="simulated", market=self.market.view(as_of))

    async def start(self, cycle: int) -> CycleTick:
        tick = self.tick(cycle)
        await self.ticks.send((tick,))
        return tick

    async def report(
        self, cycle: int, producer: str, status: ReportStatus = "ok", *signals: Signal, detail: str = ""
    ) -> None:
        await self.reports.send(
            (ProducerReport(cycle=cycle, producer=producer, status=status, signals=signals, detail=detail),)
        )

    async def receive(self) -> EnrichedCycle:
        """The cycle from every output: they must all get the very same object."""
        received = [await output.receive() for output in self.outputs.values()]
        assert all(batch is received[0] for batch in received)
        (cycle,) = received[0]
        self.logged += cycle.events
        return cycle

    async def nothing_out_yet(self) -> None:
        await trio.testing.wait_all_tasks_blocked()
        for output in self.outputs.values():
            with pytest.raises(trio.WouldBlock):
                output.receive_nowait()

    async def events(self) -> list[Event]:
        """Every event the enricher handed on with the cycles received so far, for the OMS to log."""
        return list(self.logged)

    async def cycle_events(self, cycle: int) -> list[Event]:
        return [e for e in await self.events() if getattr(e, "cycle", None) == cycle]


@asynccontextmanager
async def enricher(
    producers: Sequence[str],
    *,
    deadline_s: float | None,
    plugins: Sequence[EnrichmentPlugin] = (),
    sources: Mapping[str, ContextSource] | None = None,
) -> AsyncIterator[Rig]:
    clock = ManualClock(AS_OF + 1_500)
    health = HealthRegistry(clock)
    for name in producers:
        health.register(name).mark_running()  # the supervisor's part; the enricher only degrades and recovers
    rig = Rig(clock, health)
    actor = Enricher(
        producers=producers,
        ticks=rig.ticks_out,
        reports=rig.reports_out,
        outputs=rig.output_sends,
        health=health,
        deadline_s=deadline_s,
        plugins=plugins,
        sources=sources,
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(actor.run)
        yield rig
        nursery.cancel_scope.cancel()


# -- replay: no deadline -----------------------------------------------------------------------------------------


async def test_replay_waits_for_every_producer_even_a_slow_one(autojump_clock: trio.testing.MockClock) -> None:
    async with enricher(["fast", "failing", "slow", "silent"], deadline_s=None) as rig:
        start = trio.current_time()
        await rig.start(1)
        await rig.report(1, "fast", "ok", sig("fast", "BTC"))
        await rig.report(1, "failing", "failed", detail="ValueError: boom")
        await rig.report(1, "silent", "no data")
        await rig.nothing_out_yet()

        await trio.sleep(3_600)  # an hour of virtual time: in replay nothing gives up on a producer
        await rig.nothing_out_yet()
        await rig.report(1, "slow", "ok", sig("slow", "ETH", "short"))
        cycle = await rig.receive()

        assert trio.current_time() - start == 3_600
        assert cycle.producers == {
            "failing": "failed: ValueError: boom",
            "fast": "ok: 1 directional, 0 neutral",
            "silent": "no data",
            "slow": "ok: 1 directional, 0 neutral",
        }
        assert [(s.producer, s.symbol) for s in cycle.signals] == [("fast", "BTC"), ("slow", "ETH")]
        assert all(rig.health[name].state == "running" for name in ("fast", "silent", "slow"))
        assert rig.health["failing"].state == "degraded"


async def test_replay_ignores_a_report_from_an_unknown_producer(autojump_clock: trio.testing.MockClock) -> None:
    """A stray report must not stand in for a real producer's answer (which would then be recorded as missed)."""
    async with enricher(["a", "b"], deadline_s=None) as rig:
        await rig.start(1)
        await rig.report(1, "a", "no data")
        await rig.report(1, "stranger", "ok", sig("stranger", "BTC"))
        await rig.nothing_out_yet()
        await rig.report(1, "b", "no data")
        cycle = await rig.receive()
        assert cycle.producers == {"a": "no data", "b": "no data"}
        assert cycle.signals == ()


# -- live: the deadline --------------------------------------------------------------------------------------------


async def test_live_producer_missing_the_deadline_is_recorded_missed_at_exactly_ten_seconds(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with enricher(["fast", "slow"], deadline_s=10) as rig:
        start = trio.current_time()
        await rig.start(1)
        await rig.report(1, "fast", "ok", sig("fast", "BTC"))
        cycle = await rig.receive()

        assert trio.current_time() - start == 10
        assert cycle.producers == {"fast": "ok: 1 directional, 0 neutral", "slow": "missed"}
        assert [s.producer for s in cycle.signals] == ["fast"]
        assert rig.health["slow"].state == "degraded"
        assert rig.health["slow"].detail == "missed cycle 1"
        assert rig.health["fast"].state == "running"
        snapshot = next(e for e in await rig.cycle_events(1) if isinstance(e, SnapshotRecorded))
        assert snapshot.producers == cycle.producers


async def test_live_cycle_ends_as_soon_as_everyone_answered(autojump_clock: trio.testing.MockClock) -> None:
    async with enricher(["a", "b"], deadline_s=10) as rig:
        start = trio.current_time()
        await rig.start(1)
        await trio.sleep(4)
        await rig.report(1, "b", "no data")
        await rig.report(1, "a", "no data")
        await rig.receive()
        assert trio.current_time() - start == 4


async def test_three_troubles_in_a_row_alert_once_and_an_answer_resets_and_recovers(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with enricher(["fast", "flaky"], deadline_s=10) as rig:
        states = []

        async def run_cycle(cycle: int, flaky: ReportStatus | None) -> EnrichedCycle:
            await rig.start(cycle)
            await rig.report(cycle, "fast", "no data")
            if flaky is not None:
                await rig.report(cycle, "flaky", flaky, detail="RuntimeError: feed down" if flaky == "failed" else "")
            enriched = await rig.receive()
            states.append(rig.health["flaky"].state)
            return enriched

        await run_cycle(1, None)  # missed
        await run_cycle(2, "failed")
        assert [e for e in await rig.events() if isinstance(e, Alert)] == []
        third = await run_cycle(3, None)  # missed: the third trouble in a row
        assert third.producers["flaky"] == "missed"
        await run_cycle(4, "failed")  # still in trouble: no second alert
        await run_cycle(5, "ok")  # an answer: the count restarts and the health recovers
        await run_cycle(6, None)
        await run_cycle(7, None)  # two in a row after the reset: no alert

        alerts = [e for e in await rig.events() if isinstance(e, Alert)]
        assert len(alerts) == 1
        (alert,) = alerts
        assert (alert.source, alert.severity) == ("enricher", "warning")
        assert alert.message == "producer flaky missed 3 cycles in a row (last: cycle 3)"
        assert states == ["degraded", "degraded", "degraded", "degraded", "running", "degraded", "degraded"]
        events = await rig.events()
        before = events[events.index(alert) - 1]  # logged right after its cycle's snapshot
        assert isinstance(before, SnapshotRecorded)
        assert before.cycle == 3


async def test_a_late_report_is_discarded_not_applied_to_the_next_cycle(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with enricher(["fast", "slow"], deadline_s=10) as rig:
        await rig.start(1)
        await rig.report(1, "fast", "no data")
        first = await rig.receive()
        assert first.producers["slow"] == "missed"

        await rig.start(2)
        await rig.report(1, "slow", "ok", sig("slow", "BTC", "long"))  # cycle 1's answer, 10 s too late
        await rig.report(2, "fast", "no data")
        await rig.nothing_out_yet()  # the late report is not slow's answer for cycle 2
        await rig.report(2, "slow", "ok", sig("slow", "BTC", "short"))
        second = await rig.receive()

        assert [(s.producer, s.symbol, s.signal) for s in second.signals] == [("slow", "BTC", "short")]
        assert second.producers == {"fast": "no data", "slow": "ok: 1 directional, 0 neutral"}
        logged = [e.signal.signal for e in await rig.events() if isinstance(e, SignalRecorded)]
        assert logged == ["short"]
        assert rig.health["slow"].state == "running"


async def test_a_late_report_alone_does_not_end_the_next_cycle_early(autojump_clock: trio.testing.MockClock) -> None:
    async with enricher(["slow"], deadline_s=10) as rig:
        await rig.start(1)
        await rig.receive()
        start = trio.current_time()
        await rig.start(2)
        await rig.report(1, "slow", "ok", sig("slow", "ETH"))
        second = await rig.receive()
        assert trio.current_time() - start == 10
        assert second.producers == {"slow": "missed"}
        assert second.signals == ()


# -- what the log gets ---------------------------------------------------------------------------------------------


def expected_context(bars: BarsView) -> dict[str, float]:
    """PCS context computed straight from the indicators, with no enricher code in between."""
    expected = {"price": float(bars.close[-1])}
    atr = float(atr_pct(bars.high, bars.low, bars.close, 14)[-1])
    if math.isfinite(atr):
        expected["atr_pct"] = atr
    if math.isfinite(ratio := volume_ratio(bars.volume, 20)):
        expected["volume_ratio"] = ratio
    if math.isfinite(vol := realised_vol(bars.close, 20)):
        expected["realised_vol"] = vol
    return expected


async def test_log_gets_sorted_directional_signals_then_one_snapshot_with_pcs_context(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with enricher(["rsi", "momentum"], deadline_s=None) as rig:
        tick = await rig.start(7)
        await rig.report(
            7,
            "rsi",
            "ok",
            sig("rsi", "SOL", "short", 8),
            sig("rsi", "BTC", "long", 7),
            sig("rsi", "ETH", "neutral", 0),
            sig("rsi", "DOGE", "long", 9),  # not in this cycle's market
        )
        await rig.report(7, "momentum", "ok", sig("momentum", "ETH", "long"), sig("momentum", "BTC", "short"))
        cycle = await rig.receive()

        events = await rig.cycle_events(7)
        signals = [e for e in events if isinstance(e, SignalRecorded)]
        assert [(e.signal.producer, e.signal.symbol, e.signal.signal) for e in signals] == [
            ("momentum", "BTC", "short"),
            ("momentum", "ETH", "long"),
            ("rsi", "BTC", "long"),
            ("rsi", "SOL", "short"),
        ]
        assert [type(e) for e in events] == [SignalRecorded] * 4 + [SnapshotRecorded]
        (snapshot,) = [e for e in events if isinstance(e, SnapshotRecorded)]
        assert (snapshot.ts, snapshot.cycle, snapshot.as_of) == (AS_OF, 7, AS_OF)  # the cycle's event time
        assert all(e.ts == AS_OF for e in signals)
        assert snapshot.producers == {"momentum": "ok: 2 directional, 0 neutral", "rsi": "ok: 3 directional, 1 neutral"}

        # Strategies see every signal of the cycle's symbols, neutral ones too, in the same order.
        assert [(s.producer, s.symbol) for s in cycle.signals] == [
            ("momentum", "BTC"),
            ("momentum", "ETH"),
            ("rsi", "BTC"),
            ("rsi", "ETH"),
            ("rsi", "SOL"),
        ]
        assert cycle.tick is tick

        assert sorted(snapshot.context) == ["BTC", "ETH", "SOL"]
        assert sorted(snapshot.context["BTC"]) == ["atr_pct", "price", "realised_vol", "volume_ratio"]
        assert sorted(snapshot.context["ETH"]) == ["atr_pct", "price"]  # 15 bars: ATR(14) yes, 20-bar stats no
        assert sorted(snapshot.context["SOL"]) == ["price"]
        for symbol, bars in tick.market.items():
            assert len(bars) == BARS[symbol]
            expected = expected_context(bars)
            assert snapshot.context[symbol] == pytest.approx(expected, rel=1e-7, abs=1e-8)
            assert cycle.context[symbol] == snapshot.context[symbol]
        assert snapshot.context["BTC"]["price"] == round(float(tick.market["BTC"].close[-1]), 8)  # rounded to 8 places


async def test_a_cycle_without_directional_signals_still_logs_its_snapshot(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with enricher(["rsi"], deadline_s=None) as rig:
        await rig.start(1)
        await rig.report(1, "rsi", "ok", sig("rsi", "BTC", "neutral", 0))
        await rig.receive()
        assert [type(e) for e in await rig.cycle_events(1)] == [SnapshotRecorded]


# -- plug-ins ------------------------------------------------------------------------------------------------------


class Book:
    name = "book"

    def enrich(self, symbol: str, bars: BarsView, as_of: int) -> Mapping[str, float]:
        return {"imbalance": 0.25, "depth": len(bars)}


class Broken:
    name = "broken"

    def enrich(self, symbol: str, bars: BarsView, as_of: int) -> Mapping[str, float]:
        if symbol == "ETH":
            raise ZeroDivisionError("no order book for ETH")
        return {"spread": 0.5}


class Odd:
    name = "odd"

    def enrich(self, symbol: str, bars: BarsView, as_of: int) -> Mapping[str, float]:
        return {"nan": math.nan, "inf": math.inf, "fine": 1.5}


async def test_plugins_add_namespaced_fields_and_a_raising_plugin_is_skipped(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="actors.enricher")
    async with enricher(["rsi"], deadline_s=None, plugins=[Book(), Broken(), Odd()]) as rig:
        for cycle_id in (1, 2):  # the enricher keeps going after the failure
            await rig.start(cycle_id)
            await rig.report(cycle_id, "rsi", "no data")
            cycle = await rig.receive()
            btc, eth = cycle.context["BTC"], cycle.context["ETH"]
            assert btc["book.imbalance"] == 0.25
            assert btc["book.depth"] == float(BARS["BTC"])
            assert btc["broken.spread"] == 0.5
            assert btc["odd.fine"] == 1.5
            assert not any(key.startswith("broken.") for key in eth)  # it raised for ETH: its fields are skipped
            assert eth["book.depth"] == float(BARS["ETH"])
            for context in cycle.context.values():
                assert "odd.nan" not in context
                assert "odd.inf" not in context
                assert all(math.isfinite(value) for value in context.values())
                assert expected_context(rig.tick(cycle_id).market["BTC"]).keys() <= btc.keys()

        snapshots = [e for e in await rig.events() if isinstance(e, SnapshotRecorded)]
        assert [s.cycle for s in snapshots] == [1, 2]  # readable back from the log: no NaN slipped in
        assert snapshots[0].context == cycle.context
    failures = [r.getMessage() for r in caplog.records if "broken" in r.getMessage()]
    assert failures == ["enrichment plug-in broken failed on ETH: ZeroDivisionError: no order book for ETH"] * 2
    assert any("odd" in r.getMessage() and "nan" in r.getMessage() for r in caplog.records)


# -- outputs -------------------------------------------------------------------------------------------------------


async def test_strategies_and_the_oms_receive_the_same_enriched_cycle(autojump_clock: trio.testing.MockClock) -> None:
    async with enricher(["rsi"], deadline_s=None) as rig:
        await rig.start(1)
        await rig.report(1, "rsi", "ok", sig("rsi", "BTC"))
        received = {name: await output.receive() for name, output in rig.outputs.items()}
        assert received["confluence"] is received["mean_reversion"] is received["oms"]
        assert [cycle.cycle for cycle in received["oms"]] == [1]


async def test_a_batch_of_ticks_goes_on_as_one_batch_in_order_whatever_order_the_reports_come_in(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with enricher(["momentum", "rsi"], deadline_s=None) as rig:
        await rig.ticks.send(tuple(rig.tick(cycle) for cycle in (4, 5, 6)))
        await rig.reports.send(tuple(ok(cycle, "rsi", sig("rsi", "BTC")) for cycle in (6, 4, 5)))
        await rig.nothing_out_yet()
        await rig.reports.send(tuple(ok(cycle, "momentum") for cycle in (4, 5, 6)))
        batch = await rig.outputs["oms"].receive()
        assert [cycle.cycle for cycle in batch] == [4, 5, 6]
        assert [[type(e).__name__ for e in cycle.events] for cycle in batch] == [
            ["SignalRecorded", "SnapshotRecorded"]
        ] * 3


async def test_a_whole_batch_answered_twice_counts_once_and_the_batch_still_waits_for_the_others(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """As when the brain sends a stalled batch again and a producer answers it again."""
    async with enricher(["momentum", "rsi"], deadline_s=None) as rig:
        await rig.ticks.send(tuple(rig.tick(cycle) for cycle in (4, 5)))
        answer = tuple(ok(cycle, "rsi", sig("rsi", "BTC")) for cycle in (4, 5))
        await rig.reports.send(answer)
        await rig.reports.send(answer)
        await rig.nothing_out_yet()
        await rig.reports.send(tuple(ok(cycle, "momentum", sig("momentum", "ETH", "short")) for cycle in (4, 5)))
        batch = await rig.outputs["oms"].receive()
        assert [cycle.producers for cycle in batch] == [
            {"momentum": "ok: 1 directional, 0 neutral", "rsi": "ok: 1 directional, 0 neutral"}
        ] * 2


async def test_in_a_batch_each_trouble_counts_at_its_own_cycle_and_a_batch_answered_alike_sets_the_health_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with enricher(["flaky"], deadline_s=None) as rig:

        async def run_batch(*statuses: ReportStatus) -> EnrichedCycles:
            cycles = range(rig.cycles_run + 1, rig.cycles_run + 1 + len(statuses))
            rig.cycles_run += len(statuses)
            await rig.ticks.send(tuple(rig.tick(cycle) for cycle in cycles))
            reports = (
                ProducerReport(cycle=c, producer="flaky", status=s) for c, s in zip(cycles, statuses, strict=True)
            )
            await rig.reports.send(tuple(reports))
            batches = [await output.receive() for output in rig.outputs.values()]
            return batches[0]

        kinds = [[type(e).__name__ for e in c.events] for c in await run_batch("failed", "failed", "failed", "ok")]
        assert kinds == [["SnapshotRecorded"]] * 2 + [["SnapshotRecorded", "Alert"], ["SnapshotRecorded"]]
        states = [rig.health["flaky"].state]
        await run_batch("failed", "failed")
        states.append(rig.health["flaky"].state)
        await run_batch("no data", "no data", "no data")  # fine throughout: recovered, and the count restarts
        states.append(rig.health["flaky"].state)
        assert states == ["running", "degraded", "running"]
        alerts = [e for c in await run_batch("missed", "failed", "missed") for e in c.events if isinstance(e, Alert)]
        assert [a.message for a in alerts] == ["producer flaky missed 3 cycles in a row (last: cycle 12)"]


async def test_without_producers_each_cycle_of_a_batch_still_gets_its_snapshot(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with enricher([], deadline_s=None) as rig:  # a strategy on candles alone
        await rig.ticks.send(tuple(rig.tick(cycle) for cycle in (1, 2, 3)))
        batch = await rig.outputs["oms"].receive()
        assert [(cycle.cycle, cycle.producers, [type(e).__name__ for e in cycle.events]) for cycle in batch] == [
            (cycle, {}, ["SnapshotRecorded"]) for cycle in (1, 2, 3)
        ]


async def test_a_cancelled_enricher_closes_every_output(autojump_clock: trio.testing.MockClock) -> None:
    """Shutdown relies on it: each downstream stage ends when its input ends."""
    async with enricher(["rsi"], deadline_s=None) as rig:
        for send in rig.output_sends:
            send.close()  # the runtime closes its own ends at shutdown; the enricher holds clones
        await rig.start(1)
        await trio.testing.wait_all_tasks_blocked()
        # leave the context: the enricher is cancelled while waiting for the producer
    for output in rig.outputs.values():
        with pytest.raises(trio.EndOfChannel):
            output.receive_nowait()


# -- a batch is what its cycles one at a time would be ------------------------------------------------------------


class CountingSource:
    """A batch-aware context source: a number per symbol and time, None before a time, NaN or infinite at some."""

    def __init__(self) -> None:
        self.batch_calls: list[tuple[str, int]] = []

    def __call__(self, symbol: str, at_ms: int, /) -> float | None:
        step = (at_ms - T0) // MINUTE
        if step < 20:
            return None
        if step % 7 == 0:
            return math.nan
        if step % 11 == 0:
            return math.inf
        return float(len(symbol) * step) / 3

    def at_times(self, symbol: str, times: Sequence[int], /) -> list[float | None]:
        self.batch_calls.append((symbol, len(times)))
        return [self(symbol, at_ms) for at_ms in times]


def one_time_basis(symbol: str, at_ms: int) -> float | None:
    return None if symbol == "SOL" else ((at_ms - T0) // MINUTE) / 1_000


async def test_a_batch_gives_each_cycle_exactly_what_it_alone_would_get_and_asks_a_source_once_per_symbol(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Context (PCS, sources, plug-ins), statuses, signals and events, byte for byte."""
    cycles = range(1, 13)
    statuses: list[ReportStatus] = ["ok", "no data", "ok", "failed", "ok", "ok", "missed", "ok", "ok", "ok", "ok", "ok"]

    def reports(cycle: int, status: ReportStatus) -> ProducerReports:
        values: list[SignalValue] = ["long", "short", "neutral"]
        signals = tuple(sig("rsi", symbol, values[(cycle + k) % 3], cycle % 9) for k, symbol in enumerate(BARS))
        rsi = ok(cycle, "rsi", *signals[: cycle % 4]) if status == "ok" else ProducerReport(cycle, "rsi", status)
        return (rsi, ProducerReport(cycle=cycle, producer="social", status="disabled", detail="disabled: offline"))

    async def run(batch_size: int) -> tuple[list[bytes], CountingSource]:
        source = CountingSource()
        sources: dict[str, ContextSource] = {"fear_greed": source, "basis": one_time_basis}
        found: list[bytes] = []
        async with enricher(["rsi", "social"], deadline_s=None, plugins=[Book()], sources=sources) as rig:
            ticks = [rig.tick(cycle, as_of=AS_OF - (13 - cycle) * MINUTE) for cycle in cycles]
            for start in range(0, len(ticks), batch_size):
                batch = tuple(ticks[start : start + batch_size])
                await rig.ticks.send(batch)
                for tick in batch:
                    await rig.reports.send(reports(tick.cycle, statuses[tick.cycle - 1]))
                received = [await output.receive() for output in rig.outputs.values()]
                for enriched in received[0]:
                    found.append(msgspec.json.encode((enriched.context, enriched.producers, enriched.signals)))
                    found.append(msgspec.json.encode(enriched.events))
        return found, source

    one_at_a_time, single = await run(1)
    batched, batch = await run(len(cycles))
    assert batched == one_at_a_time
    # SOL's 3 bars close at the end: only the last two cycles hold it (and get its signals).
    assert batch.batch_calls == [("BTC", 12), ("ETH", 12), ("SOL", 2)]
    assert len(single.batch_calls) == 12 + 12 + 2
    last_context = batched[-2]
    assert b'"fear_greed"' in last_context
    assert b'"basis"' in last_context
    assert b'"book.depth"' in last_context
