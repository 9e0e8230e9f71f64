"""Which logged events page a person, and what the message says: what happened, the symbol, the numbers, the
decision id. Never a secret: messages are built from event fields, and the log holds no secret.

    trigger          from
    stop_hit         PositionUpdated status "stopped"
    target_reached   PositionUpdated status "closed" right after a Fill of role "target"
    producer         Alert from the enricher (a producer missed or failed 3 cycles in a row)
    storage          the runtime, in memory (``storage_notice``): a failed write cannot be read back
                     (an Alert "database write error" that did reach the log goes out too)
    killswitch       KillSwitchChanged (critical when HALTED)
    venue            KillSwitchChanged of cause "disconnect" or "venue_errors"
    reconciliation   Alert from the OMS starting "reconciliation:"
    escalation       ActorEscalated
    equity_sync      EquitySynced: warning, critical past ``alerts.equity_drift_pct``
    alert            any other Alert, at its own severity

The Alerts that only restate one of the events above (the kill switch's, the supervisor's, the stop's and the
target's, the equity sync's) are not sent twice.
"""

from __future__ import annotations

import hashlib

import msgspec

from b1e55ed.eventlog.chain import Record
from b1e55ed.messages import (
    ActorEscalated,
    Alert,
    EquitySynced,
    Fill,
    KillSwitchChanged,
    PositionUpdated,
    Severity,
)

FOLLOWED = frozenset({"position", "fill", "killswitch", "actor_escalated", "equity_synced", "alert"})
"""The kinds worth decoding: the rest of the log is skipped unread."""

_RESTATED = ("stop hit:", "target reached:", "equity set to")


class Notice(msgspec.Struct, frozen=True, kw_only=True):
    """One alert to deliver. ``seq`` is the event's (0: from memory); ``key`` identifies identical alerts."""

    trigger: str
    severity: Severity
    text: str
    ts: int
    seq: int = 0

    @property
    def key(self) -> str:
        return hashlib.sha256(f"{self.trigger}\n{self.text}".encode()).hexdigest()[:32]

    def render(self) -> str:
        """The message as a person reads it."""
        return f"[{self.severity.upper()}] {self.text}"


def storage_notice(detail: str, ts: int) -> Notice:
    return Notice(trigger="storage", severity="critical", text=f"database write error: {detail}", ts=ts)


class Triggers:
    """Turns records into notices. It remembers the last fill's role per symbol, so that a closed position can be
    told apart: by its target, or otherwise (an exit, a reconciliation)."""

    def __init__(self, *, equity_drift_pct: float) -> None:
        self._drift_pct = equity_drift_pct
        self._last_role: dict[str, str] = {}

    def notices(self, record: Record) -> list[Notice]:
        if record.kind not in FOLLOWED:
            return []
        event = record.event()
        text_severity = self._describe(event)
        if text_severity is None:
            return []
        trigger, severity, text = text_severity
        return [Notice(trigger=trigger, severity=severity, text=text, ts=record.ts, seq=record.seq)]

    def _describe(self, event: object) -> tuple[str, Severity, str] | None:
        match event:
            case Fill():
                self._last_role[event.symbol] = event.role
            case PositionUpdated(status="stopped"):
                return "stop_hit", "warning", "stop hit: " + _position(event)
            case PositionUpdated(status="closed") if self._last_role.pop(event.symbol, None) == "target":
                return "target_reached", "info", "target reached: " + _position(event)
            case KillSwitchChanged():
                return _killswitch(event)
            case ActorEscalated():
                return (
                    "escalation",
                    "critical",
                    f"actor {event.actor} escalated after {event.restarts} restarts in {event.window_s:g} s: "
                    f"{event.error}; trading HALTED",
                )
            case EquitySynced():
                return self._equity(event)
            case Alert():
                return _alert(event)
        return None

    def _equity(self, event: EquitySynced) -> tuple[str, Severity, str]:
        book = event.equity - event.adjustment
        drift = abs(event.adjustment) / abs(book) * 100 if book else float("inf")
        severity: Severity = "critical" if drift > self._drift_pct else "warning"
        text = (
            f"equity synced to {event.venue}'s account value {event.equity:,.2f} (the log had {book:,.2f}: "
            f"{event.adjustment:+,.2f}, {drift:.1f}%; critical above {self._drift_pct:g}%)"
        )
        return "equity_sync", severity, text


def _position(event: PositionUpdated) -> str:
    exit_price = "?" if event.exit_price is None else f"{event.exit_price:,.6g}"
    pnl = "unknown" if event.pnl is None else f"{event.pnl:+,.2f}"
    return (
        f"{event.symbol} {event.side} {event.size:g} entry {event.entry_price:,.6g} exit {exit_price} "
        f"(stop {event.stop:,.6g}, target {event.target:,.6g}), P&L {pnl}, fees {event.fees:,.2f}; "
        f"decision {event.position_id}"
    )


def _killswitch(event: KillSwitchChanged) -> tuple[str, Severity, str]:
    severity: Severity = "critical" if event.state == "HALTED" else "warning"
    if event.cause in ("disconnect", "venue_errors"):
        return "venue", severity, f"venue unreachable: trading {event.state} ({event.cause}): {event.detail}"
    text = f"kill switch {event.previous} → {event.state} ({event.cause}): {event.detail}"
    return "killswitch", severity, text


def _alert(event: Alert) -> tuple[str, Severity, str] | None:
    if event.source in ("killswitch", "supervisor") or event.message.startswith(_RESTATED):
        return None
    if event.source == "enricher":
        return "producer", event.severity, event.message
    if event.message.startswith("reconciliation:"):
        return "reconciliation", event.severity, event.message
    if event.message.startswith("database write error"):
        return "storage", event.severity, event.message
    return "alert", event.severity, f"{event.source}: {event.message}"
