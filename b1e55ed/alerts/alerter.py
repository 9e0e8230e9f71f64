"""The alerter: a supervised task outside the cycle that follows the event log and tells a person.

It reads the log from the position kept in ``alerts.db`` (``AlertStore``) up to what was committed when it
started, then takes each commit from the runtime's hub as it happens (no read of ``brain.db`` on the writer's
thread while trading runs). It turns records into notices (``Triggers``), records them with that position in one
transaction, and each channel's courier delivers its pending ones in its own task: a failing channel degrades only
its own health (``alerts.<channel>`` in ``/health``), and the log is only read, so trading never waits for an
alert. The alerter never writes ``brain.db``.

What cannot be read back from the log (a write error on a failing disk) arrives in memory through ``urgent``, and
goes to every channel without touching ``alerts.db``.

Shutdown: the runtime calls ``finish`` once the log has committed its last event; the alerter reads to the end,
delivers what is pending, and returns, or is cancelled when the given time runs out (what is left is delivered at
the next start).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from pathlib import Path

import trio

from b1e55ed.alerts.channels.telegram import TelegramApi
from b1e55ed.alerts.delivery import Courier
from b1e55ed.alerts.store import AlertStore
from b1e55ed.alerts.triggers import FOLLOWED, Notice, Triggers
from b1e55ed.broadcast import Broadcast
from b1e55ed.clock import Clock
from b1e55ed.eventlog.chain import Record
from b1e55ed.eventlog.writer import EventLog

logger = logging.getLogger(__name__)

READ_BATCH = 5_000
WARM_UP = 16  # records read again before the position, so a fill just before it still names the target it hit
SAVE_EVERY = 10_000  # records without an alert between two saves of the position: re-reading them is harmless


class Alerter:
    def __init__(
        self,
        *,
        log: EventLog,
        hub: Broadcast[Record],
        store_path: Path,
        couriers: Sequence[Courier],
        triggers: Triggers,
        clock: Clock,
        dedup_s: float,
        telegram: TelegramApi | None = None,
    ) -> None:
        """``telegram``: the bot, when it is a channel, for the pipeline's Telegram commands to share."""
        self._log = log
        self._path = store_path
        self._couriers = list(couriers)
        self._triggers = triggers
        self._clock = clock
        self._dedup_ms = int(dedup_s * 1000)
        self.telegram = telegram
        self._urgent: dict[str, deque[Notice]] = {c.name: deque() for c in self._couriers}
        self._work = {c.name: trio.lowlevel.ParkingLot() for c in self._couriers}
        self._idle = dict.fromkeys(self._urgent, False)
        self._woken = dict.fromkeys(self._urgent, 0)  # wake-ups per courier, so none is missed while it queries
        self._urgent_seen: set[str] = set()
        self._progress = trio.lowlevel.ParkingLot()
        self._hub = hub
        self._inbox: deque[Record] = deque()
        self._committed = 0  # the last seq the hub handed over
        self._arrived = trio.lowlevel.ParkingLot()
        self._finishing = trio.Event()
        self._finished = trio.Event()
        self._scope: trio.CancelScope | None = None
        self._abandoned = False
        self.store: AlertStore | None = None
        self.position = 0

    @property
    def idle(self) -> bool:
        """Every channel has delivered, and marked, all it was given."""
        return all(self._idle.values())

    @property
    def channels(self) -> list[str]:
        return [c.name for c in self._couriers]

    def urgent(self, notice: Notice) -> None:
        """Deliver ``notice`` by every channel now, from memory: it is not in the log (a write error). Synchronous:
        the runtime calls it from the writer's failure callback."""
        if notice.key in self._urgent_seen:
            return
        self._urgent_seen.add(notice.key)
        for queue in self._urgent.values():
            queue.append(notice)
        self._wake_all()

    async def finish(self, timeout_s: float) -> None:
        """Read to the end of the (closed) log, deliver what is pending, and stop; cancelled after ``timeout_s``."""
        self._finishing.set()
        self._progress.unpark_all()
        self._arrived.unpark_all()
        with trio.move_on_after(timeout_s, shield=True) as waited:
            await self._finished.wait()
        if waited.cancelled_caught:
            pending = {name: len(queue) for name, queue in self._urgent.items() if queue}
            logger.error("alerts not all delivered within %.1f s of shutdown %s", timeout_s, pending or "")
        self._abandoned = True  # a run the supervisor would start again after a failure returns at once
        if self._scope is not None:
            self._scope.cancel()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        if self._abandoned:
            return
        store = await AlertStore.open(self._path)
        self.store = store
        try:
            with trio.CancelScope() as self._scope:
                first = await self._log.store.read(0, 1)
                while not first:
                    await self._log.wait_beyond(0)
                    first = await self._log.store.read(0, 1)
                position, new = await store.start(first[0].hash, self._log.head.seq)
                if new:
                    logger.info("alerts: %s follows the log from seq %d", self._path, position)
                await self._warm_up(position)
                self.position = position
                async with trio.open_nursery() as nursery:
                    for courier in self._couriers:
                        courier.health.mark_running()
                        nursery.start_soon(self._serve, courier, store)
                    task_status.started()
                    await self._follow(store)
                    while not self.idle:
                        await self._progress.park()
                    self._finished.set()
                    nursery.cancel_scope.cancel()
        finally:
            self.store = None
            with trio.CancelScope(shield=True):
                await store.close()

    async def _warm_up(self, position: int) -> None:
        for record in await self._log.store.read(max(0, position - WARM_UP), min(position, WARM_UP)):
            self._triggers.notices(record)

    async def _follow(self, store: AlertStore) -> None:
        """Record the notices of every committed record, until finishing and caught up: first those committed
        before this run listened, read from the store; then those the hub hands over as they commit."""
        remove = self._hub.listen(self._heard)
        try:
            saved = self.position
            while records := await self._log.store.read(self.position, READ_BATCH):
                saved = await self._take(store, records, records[-1].seq, saved)
            while True:
                if self._inbox or self._committed > self.position:
                    records = [record for record in self._inbox if record.seq > self.position]
                    self._inbox.clear()
                    saved = await self._take(store, records, max(self._committed, self.position), saved)
                elif self._finishing.is_set():
                    if saved != self.position:
                        await store.record([], self.channels, self.position, self._dedup_ms)
                    return
                else:
                    await self._arrived.park()
        finally:
            remove()

    def _heard(self, records: Sequence[Record]) -> None:
        """The hub's listener, called in the writer's commit: keeps what may page someone, and never raises."""
        self._inbox.extend(record for record in records if record.kind in FOLLOWED)
        if records:
            self._committed = records[-1].seq
        self._arrived.unpark_all()

    async def _take(self, store: AlertStore, records: Sequence[Record], position: int, saved: int) -> int:
        """Record the notices of ``records`` up to ``position``; the position last saved."""
        notices = [notice for record in records for notice in self._triggers.notices(record)]
        self.position = position
        if not notices and position - saved < SAVE_EVERY:
            return saved
        if await store.record(notices, self.channels, position, self._dedup_ms):
            self._wake_all()
        return position

    async def _serve(self, courier: Courier, store: AlertStore) -> None:
        name = courier.name
        urgent = self._urgent[name]
        while True:
            self._idle[name] = False
            woken = self._woken[name]
            while urgent:  # not rate-limited: it is the one alert that cannot wait its turn
                await courier.deliver(urgent[0], limited=False)
                urgent.popleft()
            pending = await store.pending(name)
            for alert_id, notice in pending:
                if urgent:
                    break  # a write error was handed over meanwhile: it goes first

                async def failed(attempts: int, why: str, alert_id: int = alert_id) -> None:
                    await store.mark(alert_id, name, sent=False, attempts=attempts, error=why, ts=self._clock.now_ms())

                attempts = await courier.deliver(notice, failed)
                await store.mark(alert_id, name, sent=True, attempts=attempts, error="", ts=self._clock.now_ms())
            if pending or urgent or self._woken[name] != woken:  # more was recorded while it looked
                continue
            self._idle[name] = True
            self._progress.unpark_all()
            await self._work[name].park()

    def _wake_all(self) -> None:
        for name, lot in self._work.items():
            self._idle[name] = False
            self._woken[name] += 1
            lot.unpark_all()
