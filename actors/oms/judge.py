"""The risk gate's side of a cycle: the strategies' candidates become decisions, risk verdicts (conflicts between
strategies first), approved trades, and each trade's pending entry order with its reduce-only stop and target."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from msgspec.structs import replace

from actors.oms.conflicts import Intent, resolve
from actors.oms.ledger import Ledger
from actors.oms.risk import entry_checks
from b1e55ed.cycle import EnrichedCycle, StrategyReport
from b1e55ed.ids import child_id, decision_id
from b1e55ed.messages import (
    Check,
    Decision,
    Event,
    OrderRole,
    OrderUpdated,
    RiskVerdict,
    Trade,
    TradeDecided,
    TradingStateName,
)
from b1e55ed.trading_config import RiskPolicy

logger = logging.getLogger(__name__)


class Judged:
    def __init__(self) -> None:
        self.decisions: list[Event] = []
        self.verdicts: list[Event] = []
        self.trades: list[TradeDecided] = []
        self.entries: list[OrderUpdated] = []


class RiskGate:
    def __init__(self, *, ledger: Ledger, policy: RiskPolicy, venue: str) -> None:
        self.ledger = ledger
        self._policy = policy
        self._venue = venue

    def judge(
        self,
        enriched: EnrichedCycle,
        reports: list[StrategyReport],
        *,
        marks: Callable[[], Mapping[str, float]],
        trading_state: TradingStateName,
        ts: int,
    ) -> Judged:
        """The cycle's decisions, verdicts, approved trades and their pending orders, folded into the ledger as
        they are made, so that a later candidate sees the earlier ones (positions, leverage). ``marks`` is asked
        only when some candidate was taken."""
        judged = Judged()
        intents: list[Intent] = []
        cycle, as_of = enriched.cycle, enriched.as_of
        for report in reports:
            if report.status == "failed":
                logger.error("strategy %s failed in cycle %d: %s", report.strategy, cycle, report.detail)
            for candidate in report.candidates:
                did = decision_id(report.strategy, candidate.symbol, candidate.direction, candidate.candle_close)
                judged.decisions.append(
                    Decision(
                        ts=ts,
                        cycle=cycle,
                        as_of=as_of,
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
                    intents.append(Intent(report.strategy, did, candidate.trade))
        if not intents:
            return judged
        conflicts, prices = resolve(intents), marks()
        for intent in intents:
            self._gate_entry(judged, intent, conflicts[intent.decision_id], enriched, prices, trading_state, ts)
        return judged

    def _gate_entry(
        self,
        judged: Judged,
        intent: Intent,
        conflict: Check,
        enriched: EnrichedCycle,
        marks: Mapping[str, float],
        trading_state: TradingStateName,
        ts: int,
    ) -> None:
        did, trade = intent.decision_id, intent.trade
        checks = [conflict]
        if conflict.passed:
            checks = entry_checks(
                trade,
                did,
                ledger=self.ledger,
                marks=marks,
                policy=self._policy,
                trading_state=trading_state,
                as_of=enriched.as_of,
            )
            checks.append(conflict)
        failed = [check.name for check in checks if not check.passed]
        judged.verdicts.append(
            RiskVerdict(
                ts=ts,
                cycle=enriched.cycle,
                decision_id=did,
                strategy=intent.strategy,
                symbol=trade.symbol,
                approved=not failed,
                checks=checks,
                reason="approved" if not failed else "rejected: " + ", ".join(failed),
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
            exchange=self._venue,
            role="entry",
            order_side="buy" if trade.direction == "long" else "sell",
            reference_price=trade.entry,
            not_before=enriched.as_of,
            cycle=enriched.cycle,
        )
        protection = self._protect(order, trade)
        judged.entries += [order, *protection]
        self.ledger.apply(judged.trades[-1])
        self.ledger.fold([order, *protection])  # later candidates this cycle see them (positions, leverage)

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
