"""The OMS: fills from the venue, decisions through the risk gate, orders to the venue, and the cycle's settlement.

Per cycle, in the log's canonical order:

1. decisions (sorted by strategy, symbol), risk verdicts (conflicts between strategies first: ``conflicts``),
   approved trades; committed before any order is made;
2. new entry orders as ``pending``, then each venue fill with its order update, its position change and, for an
   entry, its stop and target as ``pending`` reduce-only orders, then funding payments; committed *before* the
   venue is called;
3. the venue's answers to those orders (and to pending orders resolved by cloid), kill-switch changes with their
   alerts and cancellations, and ``CycleSettled`` with the portfolio.

Cycles come in batches (one live, many in a history-driven run) and are settled strictly in order, each first
logging the brain's tick and the enricher's events that came with it, and each reading prices as of its own
as-of time only (``BatchPrices``: one search per symbol for the batch), never the batch's last bar. With a venue
rebuilt from the log (``RestorableVenue``, the paper venue) in a history-driven run, a batch's events are queued
and committed once at its end, so the venue may be called before an order's commit: a crash loses the submission
and its fills together.
That commit runs while the other stages compute the next batch (the barrier has it queued), and the OMS logs none
of the next batch before it has settled. Every other venue, and every live run, commits before each call.

A venue that executes only against the bars it is polled with (``BarDrivenVenue``, the paper venue) is polled
with the bars of the symbols it has orders or positions on, and not at all when it has none: other bars could
neither fill nor settle anything. Marks are looked up only when something reads them (a position, or a candidate
the risk gate must size).

An order is sent at most once per decision: its cloid is the decision's id, a cloid already in the log is a
duplicate, and at start the book is reconciled with the venue (``reconcile``) before trading.

Kill-switch triggers checked here (the kill-switch actor applies manual requests, the runtime supervisor
escalation): drawdown from the peak and the day's loss (at settlement, in event time), the venue error rate and a
venue disconnect (``VenueHealth``; a disconnect is also watched between cycles). Entering HALTED or REDUCING
cancels every open entry order and keeps the reduce-only stops and targets; with ``flatten_on_halt``, HALTED also
closes every position with reduce-only market orders.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType

import trio
from msgspec.structs import replace

from actors.oms.execution import Execution
from actors.oms.fills import record_fills, record_funding
from actors.oms.judge import Judged, RiskGate
from actors.oms.ledger import Ledger
from actors.oms.prices import CyclePrices
from actors.oms.reconcile import reconcile, restore_book
from actors.oms.reports import collect_reports
from actors.oms.triggers import KillSwitchTriggers
from actors.oms.venue_health import VenueHealth
from b1e55ed.barrier import CycleBarrier
from b1e55ed.clock import Clock
from b1e55ed.cycle import EnrichedCycle, EnrichedCycles, StrategyReport, StrategyReports
from b1e55ed.eventlog.chain import Record
from b1e55ed.eventlog.writer import EventLog
from b1e55ed.market.state import MarketState
from b1e55ed.messages import (
    Alert,
    Bar,
    CycleSettled,
    EquitySynced,
    Event,
    OrderUpdated,
    TradeDecided,
)
from b1e55ed.trading_config import KillSwitchConfig, RiskPolicy
from b1e55ed.tradingstate import TradingGate
from b1e55ed.venues.base import (
    BarDrivenVenue,
    RestorableVenue,
    Venue,
    VenueUnavailable,
)

logger = logging.getLogger(__name__)

EQUITY_TOLERANCE_USD = 0.01
NO_MARKS: Mapping[str, float] = MappingProxyType({})


class OMS:
    def __init__(
        self,
        *,
        strategies: Sequence[str],
        cycles: trio.MemoryReceiveChannel[EnrichedCycles],
        reports: trio.MemoryReceiveChannel[StrategyReports],
        venue: Venue,
        market: MarketState,
        log: EventLog,
        clock: Clock,
        gate: TradingGate,
        barrier: CycleBarrier,
        policy: RiskPolicy,
        ledger: Ledger,
        killswitch: KillSwitchConfig,
        driven: bool = False,
        follow_clock: Callable[[int], None] | None = None,
    ) -> None:
        """``driven``: history drives the cycles. ``follow_clock``: called with each cycle's as-of time before it
        is settled, so a history-driven run's clock follows its cycles."""
        self._strategies = sorted(strategies)
        self._cycles = cycles
        self._reports = reports
        self.venue = venue
        self._market = market
        self._log = log
        self._clock = clock
        self._gate = gate
        self._barrier = barrier
        self._policy = policy
        self.ledger = ledger
        self._killswitch = killswitch
        self._lock = trio.Lock()
        self._equity_synced = False
        self._follow_clock = follow_clock
        self._commit_per_batch = driven and isinstance(venue, RestorableVenue)
        self._bar_driven = venue if isinstance(venue, BarDrivenVenue) else None
        self._deferring = False  # inside a batch that commits once at its end
        self._prices = CyclePrices(market)
        self._cash_rounded = (math.nan, math.nan)  # the last cash settled, and its rounding
        self._in_play, self._in_play_sorted = frozenset[str](), list[str]()  # the venue's, last asked
        self._queued: list[Event] = []  # the cycle's events from the earlier stages, logged with its first append
        self.health = VenueHealth(
            window=killswitch.venue_error_window,
            error_rate=killswitch.venue_error_rate,
            disconnect_s=killswitch.venue_disconnect_s,
        )
        self._execution = Execution(venue=venue, health=self.health, clock=clock, ledger=ledger)
        self._risk = RiskGate(ledger=ledger, policy=policy, venue=venue.name)
        self._triggers = KillSwitchTriggers(
            gate=gate,
            config=killswitch,
            execution=self._execution,
            append=self._append,
            marks=self._prices.marks,
            lock=self._lock,
        )

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with self._lock:
            await self._restore()
            if reconciled := await reconcile(self._execution, self._clock.now_ms()):
                await self._append(*reconciled)
        async with self._cycles.clone() as cycles, self._reports.clone() as reports, trio.open_nursery() as nursery:
            nursery.start_soon(self._triggers.follow_trading_state)
            nursery.start_soon(self._triggers.watch_disconnect, self._clock.now_ms)
            task_status.started()
            committed = _done()
            async for batch in cycles:
                answers = await collect_reports(batch, self._strategies, reports)
                await committed.wait()  # a batch is logged only once the one before it has settled
                try:
                    await self._run_batch(batch, answers)
                except BaseException:
                    self._barrier.settle(batch[-1].cycle)
                    raise
                if self._commit_per_batch:
                    # The batch commits while the stages compute the next one.
                    self._barrier.queue(batch[-1].cycle)
                    committed = trio.Event()
                    nursery.start_soon(self._commit, batch[-1].cycle, committed)
                else:
                    self._barrier.settle(batch[-1].cycle)
            await committed.wait()
            nursery.cancel_scope.cancel()

    async def _run_batch(self, batch: EnrichedCycles, answers: list[tuple[StrategyReport, ...]]) -> None:
        async with self._lock:  # kill-switch changes apply between batches
            self._deferring = self._commit_per_batch
            self._prices.start_batch([enriched.tick.as_of for enriched in batch])
            try:
                for enriched, reports in zip(batch, answers, strict=True):
                    tick = enriched.tick
                    if self._follow_clock is not None:
                        self._follow_clock(tick.as_of)
                    self._prices.as_of = tick.as_of
                    self._queue_logged(enriched, reports)
                    await self._run_cycle(tick.cycle, tick.as_of, reports)
                    if not self._deferring:
                        self._barrier.settle(tick.cycle)
            except BaseException:
                self._chain_queued()
                raise
            finally:
                self._deferring = False
        if not self._commit_per_batch:
            await self._append()  # commits whatever the batch queued; nothing when each cycle committed already

    def _queue_logged(self, enriched: EnrichedCycle, reports: tuple[StrategyReport, ...]) -> None:
        """The cycle's events from the stages before the OMS, in the canonical order: they go to the log with the
        cycle's first append, ahead of its own events."""
        queued = self._queued
        if enriched.tick.started is not None:
            queued.append(enriched.tick.started)
        rule_karma = [event for report in reports if report.karma for event in report.karma]
        queued.extend(enriched.logged(rule_karma) if rule_karma or enriched.karma else enriched.events)

    def _chain_queued(self) -> None:
        """A cycle that failed: the events it queued are chained anyway, to be committed with the next append."""
        queued, self._queued = self._queued, []
        if queued:
            try:
                self._log.enqueue(*queued)
            except Exception as exc:
                logger.critical("the failed cycle's events could not be chained: %s", exc)

    async def _commit(self, cycle: int, committed: trio.Event) -> None:
        try:
            await self._append()
        finally:
            self._barrier.settle(cycle)
        committed.set()

    # -- one cycle ---------------------------------------------------------------------------------------------

    async def _run_cycle(self, cycle: int, as_of: int, reports: tuple[StrategyReport, ...]) -> None:
        # Fills happened at this cycle's bars, before its decisions: the risk gate must see them.
        fill_events = await self._poll(cycle, as_of)
        if not self._equity_synced:
            fill_events += await self._sync_equity()
        housekeeping = await self._housekeeping() if self._housekeeping_due() else []
        ts = self._clock.now_ms()
        decisions, intents = self._risk.decide(reports, cycle=cycle, as_of=as_of, ts=ts)
        if not intents and not fill_events:
            await self._settle(cycle, as_of, housekeeping, decided=decisions)
            return
        judged = (
            self._risk.judge(
                intents, cycle=cycle, as_of=as_of, marks=self._prices.marks(), trading_state=self._gate.state, ts=ts
            )
            if intents
            else Judged()
        )
        if not judged.trades and not fill_events:
            await self._settle(cycle, as_of, housekeeping, decided=[*decisions, *judged.verdicts])
            return
        decided: list[Event] = [*decisions, *judged.verdicts, *judged.trades]
        records = await self._append(*decided)
        records = records[len(records) - len(decided) :]  # after the records of the cycle's queued events
        trade_seq = {e.decision_id: r.seq for r, e in zip(records, decided, strict=True) if isinstance(e, TradeDecided)}
        entries = [replace(order, trade_seq=trade_seq.get(order.cloid)) for order in judged.entries]
        self.ledger.fold(entries)
        await self._append(*entries, *fill_events)
        answers = [await self._execution.submit(order) for order in entries]
        await self._settle(cycle, as_of, [*housekeeping, *(answer for answer in answers if answer is not None)])

    def _housekeeping_due(self) -> bool:
        """Some order awaits the venue's answer (pending) or the rest of its fill, or open entries must be
        cancelled because trading stopped."""
        if not self.ledger.has_open_orders:
            return False
        return self._gate.state != "ACTIVE" or self.ledger.has_orders_awaiting_venue

    async def _housekeeping(self) -> list[OrderUpdated]:
        """Orders still pending (the venue was unreachable) are resolved by cloid, partial fills the venue is done
        with are closed; entries, if trading stopped, are cancelled instead (a cancel that failed before is tried
        again). Only open orders are concerned."""
        active = self._gate.state == "ACTIVE"
        answers = await self._execution.resolve_pending(allow_entries=active)
        answers += await self._execution.finish_partial_fills()
        if not active:
            answers += await self._execution.cancel_entries(f"kill switch {self._gate.state}")
        return answers

    async def _poll(self, cycle: int, as_of: int) -> list[Event]:
        """The venue's fills and funding since the last cycle, as events (already in the ledger). An unreachable
        venue gives none this cycle: a live venue reports them at the next poll."""
        in_play: frozenset[str] | None = None
        if self._bar_driven is not None and not (in_play := self._bar_driven.symbols_in_play()):
            return []  # nothing a bar could fill or settle funding on
        ts = self._clock.now_ms()
        try:
            fills = await self.health.call("poll", self.venue.poll, self._new_bars(as_of, in_play))
        except VenueUnavailable:
            fills = []
        events = record_fills(self.ledger, fills, cycle=cycle, ts=ts, venue=self.venue.name) if fills else []
        try:
            payments = await self.health.call("funding", self.venue.funding)
        except VenueUnavailable:
            payments = []
        if payments:
            events += record_funding(self.ledger, payments, ts=ts, venue=self.venue.name)
        return events

    async def _sync_equity(self) -> list[Event]:
        """Once per start, before the first decisions are sized: a live venue's account value is the equity
        (the log starts from ``paper.starting_equity`` and never sees deposits, withdrawals or funding paid while
        no process ran). A simulated venue has none: its account is the log."""
        if self._equity_synced:
            return []
        try:
            value = await self.health.call("account_value", self.venue.account_value)
        except VenueUnavailable:
            return []  # tried again next cycle
        self._equity_synced = True
        if value is None:
            return []
        book = self.ledger.equity(self._prices.marks())
        if abs(value - book) < EQUITY_TOLERANCE_USD:
            return []
        ts = self._clock.now_ms()
        synced = EquitySynced(ts=ts, venue=self.venue.name, equity=value, adjustment=value - book)
        message = f"equity set to the venue's account value {value:,.2f} (the log had {book:,.2f})"
        logger.warning(message)
        events: list[Event] = [synced, Alert(ts=ts, severity="warning", source="oms", message=message)]
        self.ledger.fold(events)
        return events

    def _new_bars(self, as_of: int, only: frozenset[str] | None) -> dict[str, list[Bar]]:
        """Each symbol's bars since the last settled cycle (``only`` those in play, when given)."""
        # A fresh book has no orders: the history before the first cycle has nothing to fill.
        after = self.ledger.last_settled_as_of or as_of
        if only is None:
            return self._prices.new_bars(self._market.symbols, after)
        if only is not self._in_play:
            self._in_play, self._in_play_sorted = only, sorted(only)
        return self._prices.new_bars(self._in_play_sorted, after)

    # -- start -------------------------------------------------------------------------------------------------

    async def _restore(self) -> None:
        """The book is what the log says; a simulated venue is rebuilt from it too."""
        self.ledger = await restore_book(self._log.store, self.venue, self.ledger.starting_equity)
        self._execution.ledger = self._risk.ledger = self.ledger
        self._prices.as_of = self.ledger.last_settled_as_of or 0

    # -- settling ----------------------------------------------------------------------------------------------

    async def _settle(self, cycle: int, as_of: int, answers: list[OrderUpdated], decided: Sequence[Event] = ()) -> None:
        """Append ``decided`` (the cycle's decisions and verdicts, when not yet logged), ``answers``, kill-switch
        changes and ``CycleSettled``. The marks are looked up only when a position reads them."""
        ts = self._clock.now_ms()
        ledger = self.ledger
        # Stopping trading only cancels and sends orders: cash and positions, hence equity, stay as they are.
        equity, exposure = ledger.valuation(self._prices.marks() if ledger.positions else NO_MARKS)
        if (trigger := self._triggers.trigger(equity, as_of)) is not None:
            cause, detail = trigger
            if tripped := self._triggers.trip(cause, detail, ts):
                self._queued += decided  # before the venue is called to stop trading
                decided = ()
                await self._triggers.stop_trading([*answers, *tripped], f"kill switch HALTED: {detail}")
                answers = []
        cash = ledger.cash
        if cash != self._cash_rounded[0]:  # ``round`` converts to decimal digits, slowly; the cash seldom moves
            self._cash_rounded = (cash, round(cash, 8))
        rounded_cash = self._cash_rounded[1]
        settled = CycleSettled(
            ts=ts,
            cycle=cycle,
            as_of=as_of,
            cash=rounded_cash,
            equity=rounded_cash if equity == cash and cash else round(equity, 8),  # a flat book's equity is its cash
            exposure=round(exposure, 8),
            open_positions=len(ledger.positions),
        )
        if answers:
            ledger.fold(answers)
        ledger.apply(settled)
        await self._append(*decided, *answers, settled)

    async def _append(self, *events: Event) -> list[Record]:
        """Commit the cycle's queued events and ``events`` (and everything the log has queued before them), and
        return their records; inside a batch that commits at its end, chain and queue them only."""
        queued, self._queued = self._queued, []
        try:
            if self._deferring:
                records = self._log.enqueue(*queued, *events)
            else:
                records = await self._log.append(*queued, *events)
        except Exception as exc:
            logger.critical("database write error: %s", exc)
            try:
                message = f"database write error: {exc}"
                await self._log.append(
                    Alert(ts=self._clock.now_ms(), severity="critical", source="oms", message=message)
                )
            except Exception:
                logger.critical("could not record the database write error either")
            raise
        return records


def _done() -> trio.Event:
    done = trio.Event()
    done.set()
    return done
