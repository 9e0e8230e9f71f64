"""The API's hands on trading: kill-switch requests through the gate, as the kill-switch actor applies them."""

from __future__ import annotations

import logging
from typing import Any

from b1e55ed.api.context import KillSwitchRequest
from b1e55ed.clock import Clock
from b1e55ed.eventlog.writer import EventLog
from b1e55ed.messages import Alert, Severity, TradingStateName
from b1e55ed.tradingstate import TradingGate

logger = logging.getLogger(__name__)


def gate_control(gate: TradingGate, log: EventLog, clock: Clock) -> KillSwitchRequest:
    """Apply a state now and answer once the change (and its alert) are committed."""

    async def request(state: TradingStateName) -> dict[str, Any]:
        previous = gate.state
        ts = clock.now_ms()
        change = gate.transition(state, "manual", "requested with POST /killswitch", ts)
        if change is not None:
            severity: Severity = "critical" if state == "HALTED" else "warning"
            message = f"kill switch {change.previous} → {state} (manual, API)"
            await log.append(change, Alert(ts=ts, severity=severity, source="killswitch", message=message))
            logger.warning(message)
        return {"state": gate.state, "previous": previous, "changed": change is not None}

    return request
