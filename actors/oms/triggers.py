"""The OMS's kill-switch duties: the triggers it watches, and what it does when trading stops.

Triggers (the kill-switch actor handles manual requests, the runtime the supervisor's restart intensity):

- **drawdown**: equity at settlement ``max_drawdown_pct`` or more below its peak;
- **daily_loss**: equity ``max_daily_loss_pct`` or more below the first settled cycle of the UTC day (event time);
- **venue_errors**: of the last ``venue_error_window`` venue calls, ``venue_error_rate`` or more raised
  ``VenueUnavailable`` (only once the window is full);
- **disconnect**: calls found the venue ``VenueDisconnected`` continuously for ``venue_disconnect_s`` (trio time;
  between cycles the venue is probed, so a venue that came back is not halted on).

Each trips HALTED: a ``KillSwitchChanged`` with its cause and a critical ``Alert``, in the log. Whenever the state
is not ACTIVE (whatever moved it), open entry orders are cancelled with the stop and target waiting on them, while
the reduce-only stops and targets of held positions stay. With ``flatten_on_halt``, HALTED also closes every
position with reduce-only market exits, committed as ``pending`` before they are sent.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable

import trio

from actors.oms.execution import Execution
from actors.oms.ledger import Ledger
from actors.oms.venue_health import VenueHealth
from b1e55ed.eventlog.chain import Record
from b1e55ed.messages import Alert, Event, KillSwitchCause, OrderUpdated
from b1e55ed.trading_config import KillSwitchConfig
from b1e55ed.tradingstate import TradingGate
from b1e55ed.venues.base import VenueUnavailable

logger = logging.getLogger(__name__)

PROBE_S = 5.0


class KillSwitchTriggers:
    def __init__(
        self,
        *,
        gate: TradingGate,
        config: KillSwitchConfig,
        execution: Execution,
        append: Callable[..., Awaitable[list[Record]]],
        marks: Callable[[], dict[str, float]],
        lock: trio.Lock,
    ) -> None:
        self._gate = gate
        self._config = config
        self._execution = execution
        self._append = append
        self._marks = marks
        self._lock = lock

    @property
    def health(self) -> VenueHealth:
        return self._execution.health

    @property
    def ledger(self) -> Ledger:
        return self._execution.ledger

    def trigger(self, equity: float, as_of: int) -> tuple[KillSwitchCause, str] | None:
        """The first trigger breached at settlement, with its numbers."""
        ledger, config = self._execution.ledger, self._config
        peak = ledger.peak_equity
        drawdown = (1 - equity / peak) * 100 if peak > 0 else 0.0
        if drawdown >= config.max_drawdown_pct:
            return "drawdown", f"drawdown {drawdown:.1f}% from peak {peak:,.2f} ≥ {config.max_drawdown_pct:g}%"
        daily = ledger.daily_loss_pct(equity, as_of)
        if daily >= config.max_daily_loss_pct:
            start, limit = ledger.day_start_equity, config.max_daily_loss_pct
            return "daily_loss", f"daily loss {daily:.1f}% from {start:,.2f} at the day's first cycle ≥ {limit:g}%"
        health = self._execution.health
        if errors := health.error_rate_breach():
            return "venue_errors", errors
        if down := health.disconnect_breach():
            return "disconnect", down
        return None

    def trip(self, cause: KillSwitchCause, detail: str, ts: int) -> list[Event]:
        """HALTED for ``cause``: the change and its alert, or nothing when already HALTED."""
        change = self._gate.transition("HALTED", cause, detail, ts)
        if change is None:
            return []
        logger.critical("kill switch HALTED (%s): %s", cause, detail)
        self.health.reset_errors()
        self.ledger.apply(change)
        return [change, Alert(ts=ts, severity="critical", source="killswitch", message=f"HALTED ({cause}): {detail}")]

    async def stop_trading(self, events: list[Event], reason: str) -> None:
        """Append ``events``, the cancellation of every open entry and, when HALTED with ``flatten_on_halt``, the
        pending exits of every position; then send the exits and append their answers. Called under the lock."""
        batch = [*events]
        if self._gate.state != "ACTIVE":
            batch += await self._execution.cancel_entries(reason)
        exits: list[OrderUpdated] = []
        if self._gate.state == "HALTED" and self._config.flatten_on_halt:
            exits = self._execution.flatten_orders(self._marks(), self.ledger.last_settled_as_of)
        if batch or exits:
            await self._append(*batch, *exits)
        answers = [answer for order in exits if (answer := await self._execution.submit(order)) is not None]
        if answers:
            await self._append(*answers)

    async def follow_trading_state(self) -> None:
        """Whatever moved the state (manual, escalation, a trigger): at start if it already is not ACTIVE, then on
        every change, stop trading."""
        while True:
            version = self._gate.version
            if self._gate.state != "ACTIVE":
                async with self._lock:
                    await self.stop_trading([], f"kill switch {self._gate.state}")
            await self._gate.wait_changed(version)

    async def watch_disconnect(self, now_ms: Callable[[], int]) -> None:
        """A venue found disconnected is probed until it answers; down for ``venue_disconnect_s``, trading halts."""
        probe_s = min(PROBE_S, self._config.venue_disconnect_s / 4)
        while True:
            since = await self.health.wait_disconnected()
            deadline = since + self._config.venue_disconnect_s
            while self.health.disconnected_since == since and trio.current_time() < deadline:
                await trio.sleep(min(probe_s, deadline - trio.current_time()))
                with contextlib.suppress(VenueUnavailable):
                    await self.health.call("probe", self._execution.venue.open_orders, count=False)
            if self.health.disconnected_since == since and (detail := self.health.disconnect_breach()):
                async with self._lock:
                    if tripped := self.trip("disconnect", detail, now_ms()):
                        await self.stop_trading(tripped, f"kill switch HALTED: {detail}")
            await self.health.wait_connected()
