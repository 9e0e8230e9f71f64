"""The risk gate's side of a cycle: the strategies' candidates become decisions (``decide``), and those taken
become risk verdicts (conflicts between strategies first), approved trades, and each trade's pending entry order
with its reduce-only stop and target (``judge``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from msgspec.structs import replace

from actors.oms.conflicts import Intent, resolve
from actors.oms.ledger import Ledger
from actors.oms.risk import entry_checks
from b1e55ed.cycle import StrategyReport
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
    """The risk gate's answers to a cycle's intents: verdicts, approved trades and their pending orders."""

    def __init__(self) -> None:
        self.verdicts: list[Event] = []
        self.trades: list[TradeDecided] = []
        self.entries: list[OrderUpdated] = []


class RiskGate:
    def __init__(self, *, ledger: Ledger, policy: RiskPolicy, venue: str) -> None:
        self.ledger = ledger
        self._policy = policy
        self._venue = venue

    @staticmethod
    def decide(
        reports: Sequence[StrategyReport], *, cycle: int, as_of: int, ts: int
    ) -> tuple[list[Event], list[Intent]]:
        """The cycle's decisions, one per candidate of each report (in the reports' order), and the intents among
        them: the candidates taken with a trade, for ``judge``."""
        decisions: list[Event] = []
        intents: list[Intent] = []
        for report in reports:
            if report.status == "failed":
                logger.error("strategy %s failed in cycle %d: %s", report.strategy, cycle, report.detail)
            strategy = report.strategy
            for candidate in report.candidates:
                did = decision_id(strategy, candidate.symbol, candidate.direction, candidate.candle_close)
                decisions.append(
                    Decision(
                        ts=ts,
                        cycle=cycle,
                        as_of=as_of,
                        strategy=strategy,
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
                    intents.append(Intent(strategy, did, candidate.trade))
        return decisions, intents

    def judge(
        self,
        intents: list[Intent],
        *,
        cycle: int,
        as_of: int,
        marks: Mapping[str, float],
        trading_state: TradingStateName,
        ts: int,
    ) -> Judged:
        """The verdicts on the cycle's intents (conflicts between strategies first), approved trades and their
        pending orders, folded into the ledger as they are made, so that a later intent sees the earlier ones
        (positions, leverage)."""
        judged = Judged()
        conflicts = resolve(intents)
        for intent in intents:
            self._gate_entry(judged, intent, conflicts[intent.decision_id], cycle, as_of, marks, trading_state, ts)
        return judged

    def _gate_entry(
        self,
        judged: Judged,
        intent: Intent,
        conflict: Check,
        cycle: int,
        as_of: int,
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
                as_of=as_of,
            )
            checks.append(conflict)
        failed = [check.name for check in checks if not check.passed]
        judged.verdicts.append(
            RiskVerdict(
                ts=ts,
                cycle=cycle,
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
        judged.trades.append(TradeDecided(ts=ts, trade=trade, cycle=cycle, decision_id=did))
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
            not_before=as_of,
            cycle=cycle,
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
