"""TradingState, the kill switch's output: ACTIVE trades; REDUCING only shrinks exposure; HALTED adds none.

The gate is one object shared by the kill-switch actor (manual control), the runtime (supervisor escalation) and
the OMS (drawdown, daily loss, venue error rate and disconnect; and the orders it lets through). Every transition
becomes a ``KillSwitchChanged`` event in the log, and the state at start is the last one the log recorded.
"""

from __future__ import annotations

from typing import get_args

import trio

from b1e55ed.messages import KillSwitchCause, KillSwitchChanged, TradingStateName

STATES: tuple[TradingStateName, ...] = get_args(TradingStateName)


class TradingGate:
    def __init__(self, state: TradingStateName = "ACTIVE") -> None:
        self.state: TradingStateName = state
        self._changed = trio.lowlevel.ParkingLot()
        self.version = 0

    def allows(self, adds_exposure: bool) -> bool:
        """Orders that only reduce exposure always pass: halting must never strip a position of its stop."""
        return not adds_exposure or self.state == "ACTIVE"

    def transition(
        self, state: TradingStateName, cause: KillSwitchCause, detail: str, ts: int
    ) -> KillSwitchChanged | None:
        """Move to ``state``; the event to log, or None if nothing changed."""
        if state == self.state:
            return None
        event = KillSwitchChanged(ts=ts, state=state, previous=self.state, cause=cause, detail=detail)
        self.state = state
        self.version += 1
        self._changed.unpark_all()
        return event

    def restore(self, state: TradingStateName) -> None:
        self.state = state

    async def wait_changed(self, seen_version: int) -> None:
        while self.version == seen_version:
            await self._changed.park()
