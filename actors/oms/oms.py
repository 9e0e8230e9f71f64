"""The OMS: fills from the venue, decisions through the risk gate, orders to the venue, and the cycle's settlement.

Per cycle, in the log's canonical order:

1. decisions (sorted by strategy, symbol), risk verdicts, approved trades; committed before any order is made;
2. new entry orders as ``pending``, then each venue fill with its order update, its position change and, for an
   entry, its stop and target as ``pending`` reduce-only orders; committed *before* the venue is called;
3. the venue's answers to those orders, kill-switch changes, and ``CycleSettled`` with the portfolio.

An order is sent at most once per decision: its cloid is the decision's id, a cloid already in the log is a
duplicate, and at start every ``pending`` order is resolved by asking the venue for that cloid before trading.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import trio
from msgspec.structs import replace

from actors.oms.ledger import Ledger
from actors.oms.risk import entry_checks
from b1e55ed.clock import Clock
from b1e55ed.cycle import CycleBarrier, EnrichedCycle, StrategyReport, child_id, decision_id
from b1e55ed.eventlog.chain import Record
from b1e55ed.eventlog.writer import EventLog
from b1e55ed.market.bars import MarketState
from b1e55ed.messages import (
    Alert,
    Bar,
    CycleSettled,
    Decision,
    Event,
    Fill,
    OrderRole,
    OrderUpdated,
    RiskVerdict,
    Trade,
    TradeDecided,
)
from b1e55ed.trading_config import KillSwitchConfig, RiskPolicy
from b1e55ed.tradingstate import TradingGate
from b1e55ed.venues.base import Venue, VenueFill, VenueOrder, VenuePosition
from b1e55ed.venues.paper import PaperVenue

logger = logging.getLogger(__name__)

SUBMIT_ATTEMPTS = 3


class OMS:
    def __init__(
        self,
        *,
        strategies: Sequence[str],
        cycles: trio.MemoryReceiveChannel[EnrichedCycle],
        reports: trio.MemoryReceiveChannel[StrategyReport],
        venue: Venue,
        market: MarketState,
        log: EventLog,
        clock: Clock,
        gate: TradingGate,
        barrier: CycleBarrier,
        policy: RiskPolicy,
        ledger: Ledger,
        killswitch: KillSwitchConfig,
    ) -> None:
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

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with self._lock:
            await self._restore()
            await self._resolve_pending()
        async with self._cycles.clone() as cycles, self._reports.clone() as reports, trio.open_nursery() as nursery:
            nursery.start_soon(self._cancel_entries_when_halted)
            task_status.started()
            async for enriched in cycles:
                answers = await self._collect(enriched.cycle, reports)
                try:
                    async with self._lock:
                        await self._run_cycle(enriched, answers)
                finally:
                    self._barrier.settle(enriched.cycle)
            nursery.cancel_scope.cancel()

    async def _collect(self, cycle: int, reports: trio.MemoryReceiveChannel[StrategyReport]) -> list[StrategyReport]:
        answers: dict[str, StrategyReport] = {}
        while len(answers) < len(self._strategies):
            report = await reports.receive()
            if report.cycle == cycle:
                answers[report.strategy] = report
        return [answers[name] for name in self._strategies]

    # -- one cycle ---------------------------------------------------------------------------------------------

    async def _run_cycle(self, enriched: EnrichedCycle, reports: list[StrategyReport]) -> None:
        # Fills happened at this cycle's bars, before its decisions: the risk gate must see them.
        fill_events = self._record_fills(await self.venue.poll(self._new_bars(enriched.as_of)), enriched.cycle)
        judged = self._judge(enriched, reports)
        if not judged.trades and not fill_events:
            self._log.enqueue(*judged.decisions, *judged.verdicts)
            await self._settle(enriched, [])
            return
        decided: list[Event] = [*judged.decisions, *judged.verdicts, *judged.trades]
        records = await self._append(*decided)
        trade_seq = {e.decision_id: r.seq for r, e in zip(records, decided, strict=True) if isinstance(e, TradeDecided)}
        entries = [replace(order, trade_seq=trade_seq.get(order.cloid)) for order in judged.entries]
        self.ledger.fold(entries)
        await self._append(*entries, *fill_events)
        answers = [await self._submit(order) for order in entries]
        await self._settle(enriched, [answer for answer in answers if answer is not None])

    def _new_bars(self, as_of: int) -> dict[str, list[Bar]]:
        # A fresh book has no orders: the history before the first cycle has nothing to fill.
        after = self.ledger.last_settled_as_of or as_of
        return {symbol: self._market.new_bars(symbol, after, as_of) for symbol in self._market.symbols}

    def _judge(self, enriched: EnrichedCycle, reports: list[StrategyReport]) -> _Judged:
        judged = _Judged()
        ts = self._clock.now_ms()
        for report in reports:
            if report.status == "failed":
                logger.error("strategy %s failed in cycle %d: %s", report.strategy, enriched.cycle, report.detail)
            for candidate in report.candidates:
                did = decision_id(report.strategy, candidate.symbol, candidate.direction, candidate.candle_close)
                judged.decisions.append(
                    Decision(
                        ts=ts,
                        cycle=enriched.cycle,
                        as_of=enriched.as_of,
                        strategy=report.strategy,
                        symbol=candidate.symbol,
                        decision_id=did,
                        taken=candidate.taken,
                        reason=candidate.reason,
                        direction=candidate.direction,
                        signals=list(candidate.signals),
                        sizing=dict(candidate.sizing),
                        trade=candidate.trade,
                    )
                )
                if candidate.taken and candidate.trade is not None:
                    self._gate_entry(judged, did, candidate.trade, enriched, report.strategy, ts)
        return judged

    def _gate_entry(
        self, judged: _Judged, did: str, trade: Trade, enriched: EnrichedCycle, strategy: str, ts: int
    ) -> None:
        marks = self._marks()
        checks = entry_checks(
            trade, did, ledger=self.ledger, marks=marks, policy=self._policy, trading_state=self._gate.state
        )
        failed = [check.name for check in checks if not check.passed]
        reason = "approved" if not failed else "rejected: " + ", ".join(failed)
        judged.verdicts.append(
            RiskVerdict(
                ts=ts,
                cycle=enriched.cycle,
                decision_id=did,
                strategy=strategy,
                symbol=trade.symbol,
                approved=not failed,
                checks=checks,
                reason=reason,
            )
        )
        if failed:
            return
        judged.trades.append(TradeDecided(ts=ts, trade=trade, cycle=enriched.cycle, decision_id=did))
        units = trade.size * self.ledger.equity(marks) / trade.entry
        order = OrderUpdated(
            ts=ts,
            cloid=did,
            status="pending",
            symbol=trade.symbol,
            side=trade.direction,
            size=units,
            exchange=self.venue.name,
            role="entry",
            order_side="buy" if trade.direction == "long" else "sell",
            reference_price=trade.entry,
            not_before=enriched.as_of,
            cycle=enriched.cycle,
        )
        judged.entries += [order, *self._protect(order, trade)]
        self.ledger.apply(judged.trades[-1])
        self.ledger.fold(judged.entries)  # so later candidates this cycle see them (one position per symbol, leverage)

    def _record_fills(self, fills: Sequence[VenueFill], cycle: int) -> list[Event]:
        events: list[Event] = []
        ts = self._clock.now_ms()
        for venue_fill in fills:
            order = self.ledger.orders.get(venue_fill.cloid)
            if order is None:
                logger.error("venue fill for unknown order %s: %r", venue_fill.cloid, venue_fill)
                continue
            fill = Fill(
                ts=venue_fill.ts,
                cloid=venue_fill.cloid,
                symbol=venue_fill.symbol,
                side=venue_fill.side,
                size=venue_fill.size,
                price=venue_fill.price,
                fee=venue_fill.fee,
                role=venue_fill.role,
                venue=self.venue.name,
                liquidity=venue_fill.liquidity,
                cycle=cycle,
            )
            position = self.ledger.position_after(fill, order, venue_fill.ts)
            filled = replace(order, ts=ts, status="filled", filled_price=fill.price, filled_size=fill.size)
            batch: list[Event] = [filled, fill] + ([position] if position else [])
            if order.role in ("stop", "target"):
                batch += self._close_siblings(order, ts)
                what = "stop hit" if order.role == "stop" else "target reached"
                pnl = position.pnl if position and position.pnl is not None else 0.0
                message = f"{what}: {order.symbol} {order.side} at {fill.price:g}, P&L {pnl:+.2f}"
                batch.append(Alert(ts=ts, severity="info", source="oms", message=message))
            self.ledger.fold(batch)
            events += batch
        return events

    def _protect(self, entry: OrderUpdated, trade: Trade) -> list[OrderUpdated]:
        """Reduce-only stop and target, sent with the entry so they guard it from its first bar; their cloids
        derive from the entry's."""
        exit_side = "sell" if entry.side == "long" else "buy"
        roles: list[tuple[OrderRole, float]] = [("stop", trade.stop), ("target", trade.target)]
        return [
            replace(
                entry,
                cloid=child_id(entry.cloid, role),
                role=role,
                order_side=exit_side,
                reduce_only=True,
                trigger_price=price,
                parent=entry.cloid,
            )
            for role, price in roles
        ]

    def _close_siblings(self, order: OrderUpdated, ts: int) -> list[OrderUpdated]:
        """Once a stop or target closes the position, the venue cancels the other (one cancels the other)."""
        return [
            replace(sibling, ts=ts, status="cancelled", reason=f"{order.role} {order.cloid} closed the position")
            for sibling in self.ledger.open_orders()
            if sibling.parent == order.parent and sibling.cloid != order.cloid
        ]

    # -- talking to the venue ----------------------------------------------------------------------------------

    async def _submit(self, order: OrderUpdated) -> OrderUpdated | None:
        """Send a committed ``pending`` order; None if the venue could not be reached (resolved at restart)."""
        request = VenueOrder.of(order)
        for attempt in range(1, SUBMIT_ATTEMPTS + 1):
            try:
                ack = await self.venue.submit(request)
            except Exception as exc:  # transient: retried with the same cloid, which the venue deduplicates
                logger.warning("submit %s attempt %d failed: %s", order.cloid, attempt, exc)
                continue
            status = "submitted" if ack.accepted or await self._reached_venue(order.cloid) else "rejected"
            answer = replace(
                order,
                ts=self._clock.now_ms(),
                status=status,
                reason=ack.reason,
                exchange_order_id=ack.exchange_order_id,
            )
            self.ledger.apply(answer)
            return answer
        return None

    async def _reached_venue(self, cloid: str) -> bool:
        """A refusal of a retry may mean the first attempt got through (a duplicate cloid): ask the venue."""
        state = await self.venue.order_state(cloid)
        return state is not None and state.status in ("open", "filled")

    async def _restore(self) -> None:
        """The book is what the log says; a simulated venue is rebuilt from it too."""
        self.ledger = Ledger(self.ledger.starting_equity)
        after = 0
        while records := await self._log.store.read(after, 10_000):
            self.ledger.fold(record.event() for record in records)
            after = records[-1].seq
        if isinstance(self.venue, PaperVenue):
            self.venue.restore(
                open_orders=[VenueOrder.of(o) for o in self.ledger.open_orders() if o.status == "submitted"],
                positions=[
                    VenuePosition(symbol=p.symbol, size=p.sign * p.size, entry_price=p.entry_price)
                    for p in self.ledger.positions.values()
                ],
                seen_cloids=[cloid for cloid, order in self.ledger.orders.items() if order.status != "pending"],
            )

    async def _resolve_pending(self) -> None:
        """Before trading: every order the log has as pending either reached the venue or is sent now."""
        answers: list[Event] = []
        for order in [o for o in self.ledger.open_orders() if o.status == "pending"]:
            state = await self.venue.order_state(order.cloid)
            if state is None:
                answer = await self._submit(order)
                if answer is not None:
                    answers.append(answer)
            elif state.status in ("open", "filled"):
                answer = replace(order, ts=self._clock.now_ms(), status="submitted")
                self.ledger.apply(answer)
                answers.append(answer)
        if answers:
            await self._append(*answers)

    async def _cancel_entries_when_halted(self) -> None:
        """HALTED and REDUCING cancel resting entries, which would add exposure when they fill: at start if the
        state already is one of them, then on every change to one."""
        while True:
            version = self._gate.version
            if self._gate.state != "ACTIVE":
                async with self._lock:
                    if cancels := await self._cancel_entries(f"kill switch {self._gate.state}"):
                        await self._append(*cancels)
            await self._gate.wait_changed(version)

    async def _cancel_entries(self, reason: str) -> list[OrderUpdated]:
        """Cancel every open entry order, and the stop and target waiting on it (they have nothing to protect);
        the stops and targets of filled positions stay, so no position loses its protection."""
        cancels = []
        entries = [o for o in self.ledger.open_orders() if o.role == "entry"]
        orphans = [o for o in self.ledger.open_orders() if o.parent in {entry.cloid for entry in entries}]
        for order in [*entries, *orphans]:
            await self.venue.cancel(order.cloid)
            cancel = replace(order, ts=self._clock.now_ms(), status="cancelled", reason=reason)
            self.ledger.apply(cancel)
            cancels.append(cancel)
        return cancels

    # -- settling ----------------------------------------------------------------------------------------------

    async def _settle(self, enriched: EnrichedCycle, answers: list[OrderUpdated]) -> None:
        ts = self._clock.now_ms()
        marks = self._marks()
        equity = self.ledger.equity(marks)
        events: list[Event] = [*answers]
        drawdown_pct = (1 - equity / self.ledger.peak_equity) * 100 if self.ledger.peak_equity > 0 else 0.0
        if drawdown_pct >= self._killswitch.max_drawdown_pct:
            peak, limit = self.ledger.peak_equity, self._killswitch.max_drawdown_pct
            detail = f"drawdown {drawdown_pct:.1f}% from peak {peak:,.2f} ≥ {limit:g}%"
            change = self._gate.transition("HALTED", "drawdown", detail, ts)
            if change is not None:
                events += [change, Alert(ts=ts, severity="critical", source="killswitch", message=detail)]
                events += await self._cancel_entries("kill switch HALTED: " + detail)
        settled = CycleSettled(
            ts=ts,
            cycle=enriched.cycle,
            as_of=enriched.as_of,
            cash=round(self.ledger.cash, 8),
            equity=round(equity, 8),
            exposure=round(self.ledger.exposure(marks), 8),
            open_positions=len(self.ledger.positions),
        )
        events.append(settled)
        self.ledger.fold(events)
        await self._append(*events)

    def _marks(self) -> dict[str, float]:
        closes = {symbol: self._market.last_close(symbol) for symbol in self._market.symbols}
        return {symbol: close for symbol, close in closes.items() if close is not None}

    async def _append(self, *events: Event) -> list[Record]:
        try:
            return await self._log.append(*events)
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


class _Judged:
    def __init__(self) -> None:
        self.decisions: list[Event] = []
        self.verdicts: list[Event] = []
        self.trades: list[TradeDecided] = []
        self.entries: list[OrderUpdated] = []
