"""What systemd hears from a running brain (``Type=notify``), through ``b1e55ed.systemd``'s datagrams.

- ``READY=1`` once every actor has started, so the API is bound or is retrying its bind, and the first cycle has
  started (its tick is committed);
- ``WATCHDOG=1`` from a task of its own while the brain shows progress (each look at the market, each settled
  cycle), never from inside a cycle, which may legitimately wait a minute or more;
- ``STATUS=`` with the last settled cycle, at most every ``STATUS_EVERY_S``;
- ``STOPPING=1`` when shutdown begins, with the reason.

Outside systemd (no ``NOTIFY_SOCKET``) nothing is sent and ``run`` returns at once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import msgspec
import trio

from b1e55ed.eventlog.chain import Record
from b1e55ed.systemd import Watchdog, notify, watchdog_interval_s

STATUS_EVERY_S = 5.0


class ServiceNotifier:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ
        interval = watchdog_interval_s(self._environ)
        self.watchdog = Watchdog(interval, environ=self._environ) if interval else None
        self._actors_started = trio.Event()
        self._first_cycle = trio.Event()
        self._status = ""

    @property
    def active(self) -> bool:
        return bool(self._environ.get("NOTIFY_SOCKET"))

    def actors_started(self) -> None:
        self._actors_started.set()

    def progress(self) -> None:
        if self.watchdog is not None:
            self.watchdog.progress()

    def on_records(self, records: Sequence[Record]) -> None:
        """A hub listener: the first tick, and each settled cycle (which is progress too)."""
        for record in records:
            if record.kind == "cycle":
                self._first_cycle.set()
            elif record.kind == "settled":
                settled = msgspec.json.decode(record.payload)
                self._status = f"cycle {settled['cycle']} settled (seq {record.seq})"
                self.progress()

    def stopping(self, reason: str) -> None:
        notify("STOPPING=1", f"STATUS=stopping: {reason}", environ=self._environ)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        if not self.active:
            task_status.started()
            return
        async with trio.open_nursery() as nursery:
            if self.watchdog is not None:
                await nursery.start(self.watchdog.run)
            task_status.started()
            await self._actors_started.wait()
            await self._first_cycle.wait()
            notify("READY=1", f"STATUS={self._status or 'first cycle started'}", environ=self._environ)
            said = self._status
            while True:
                await trio.sleep(STATUS_EVERY_S)
                if self._status != said:
                    notify(f"STATUS={self._status}", environ=self._environ)
                    said = self._status
