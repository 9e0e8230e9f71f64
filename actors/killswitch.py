"""The kill-switch actor: restores TradingState from the log at start and applies manual requests.

The other triggers move the same ``TradingGate``: drawdown, the day's loss, the venue error rate and a venue
disconnect are watched by the OMS (``actors/oms/triggers.py``), the supervisor's restart intensity by the runtime.
This actor owns what comes from outside: the request file of ``python -m b1e55ed killswitch``, and the one the
runtime writes when the log cannot be written (``storage``). Whatever moves the
gate, the OMS then cancels the open entry orders (and flattens, if configured), keeping every stop and target.
"""

from __future__ import annotations

import logging
from pathlib import Path

import trio

from b1e55ed import killswitch_file
from b1e55ed.clock import Clock
from b1e55ed.eventlog.writer import EventLog
from b1e55ed.messages import Alert, KillSwitchCause, KillSwitchChanged, Severity, TradingStateName
from b1e55ed.tradingstate import TradingGate

logger = logging.getLogger(__name__)


class KillSwitch:
    def __init__(self, *, gate: TradingGate, log: EventLog, clock: Clock, db: Path, poll_s: float) -> None:
        self._gate = gate
        self._log = log
        self._clock = clock
        self._db = db
        self._poll_s = poll_s

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        last = await self._log.store.last_of_kind("killswitch")
        if last is not None:
            event = last.event()
            assert isinstance(event, KillSwitchChanged)
            self._gate.restore(event.state)
            logger.info("trading state restored from the log: %s", event.state)
        await self._apply_request()
        task_status.started()
        while True:
            await trio.sleep(self._poll_s)
            await self._apply_request()

    async def _apply_request(self) -> None:
        pending = killswitch_file.read(self._db)
        if pending is None:
            return
        if pending.state is None:
            logger.error("%s; request ignored and removed", pending.problem)
            killswitch_file.clear_request(self._db, pending)
            return
        state = pending.state
        ts = self._clock.now_ms()
        cause: KillSwitchCause = "storage" if pending.note.startswith("storage") else "manual"
        detail = pending.note or "requested with python -m b1e55ed killswitch"
        change = self._gate.transition(state, cause, detail, ts)
        logged = await self._logged_state()
        if change is None and logged != state:  # the gate moved (a storage failure) but its change is not logged
            change = KillSwitchChanged(ts=ts, state=state, previous=logged, cause=cause, detail=detail)
        if change is not None:
            severity: Severity = "critical" if state == "HALTED" else "warning"
            message = f"kill switch {change.previous} → {state} ({cause}): {detail}"
            await self._log.append(change, Alert(ts=ts, severity=severity, source="killswitch", message=message))
            logger.warning(message)
        # Only this request, and only once its change is in the log (a write that fails keeps it for the restart):
        # one written while the change was being committed is applied at the next poll.
        killswitch_file.clear_request(self._db, pending)

    async def _logged_state(self) -> TradingStateName:
        last = await self._log.store.last_of_kind("killswitch")
        if last is None:
            return "ACTIVE"
        event = last.event()
        assert isinstance(event, KillSwitchChanged)
        return event.state
