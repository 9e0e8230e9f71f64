"""One SQLite connection on one dedicated thread, driven from trio.

aiosqlite is asyncio-only, and ``trio.to_thread.run_sync`` hops between pooled threads while a sqlite3
connection belongs to the thread that made it. Here each call goes through a queue to the connection's own
thread, and the result comes back by rescheduling the waiting trio task: about 60 µs a call.

A call in progress cannot be abandoned: cancellation waits for it to finish, so a COMMIT that started is
never half-acknowledged.
"""

from __future__ import annotations

import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import outcome
import trio

from b1e55ed.eventlog.connect import LogKey, connect

T = TypeVar("T")

_Job = tuple[Callable[[sqlite3.Connection], Any], trio.lowlevel.Task, trio.lowlevel.TrioToken]
_STOP = None


class SqliteThread:
    def __init__(
        self,
        path: Path | str,
        *,
        setup: Callable[[sqlite3.Connection], None],
        connection: type[sqlite3.Connection] = sqlite3.Connection,
        key: LogKey | None = None,
    ) -> None:
        """Start the thread; ``await ready()`` before the first call. ``connection`` is the class ``sqlite3.connect``
        makes (its ``factory``): the seam where a test injects failing writes. ``key``: an encrypted log's."""
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._opened: queue.SimpleQueue[BaseException | None] = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._serve, args=(Path(path), setup, connection, key), name=f"sqlite:{path}", daemon=True
        )
        self._closed = False
        self._thread.start()

    async def ready(self) -> None:
        """Wait for the connection and its ``setup``; re-raise what they raised."""
        error = await trio.to_thread.run_sync(self._opened.get)
        if error is not None:
            self._closed = True
            await trio.to_thread.run_sync(self._thread.join)
            raise error

    def _serve(
        self,
        path: Path,
        setup: Callable[[sqlite3.Connection], None],
        connection: type[sqlite3.Connection],
        key: LogKey | None,
    ) -> None:
        try:
            conn = connect(path, key, mode="rwc", isolation_level=None, factory=connection)
        except BaseException as exc:
            self._opened.put(exc)
            return
        try:
            setup(conn)
        except BaseException as exc:
            conn.close()
            self._opened.put(exc)
            return
        self._opened.put(None)
        try:
            while (job := self._jobs.get()) is not _STOP:
                fn, task, token = job
                result = outcome.capture(fn, conn)
                with contextlib.suppress(trio.RunFinishedError):
                    token.run_sync_soon(trio.lowlevel.reschedule, task, result)
        finally:
            conn.close()

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(connection)`` on the connection's thread and return its result."""
        if self._closed:
            raise trio.ClosedResourceError("the SQLite connection is closed")
        await trio.lowlevel.checkpoint_if_cancelled()
        self._jobs.put((fn, trio.lowlevel.current_task(), trio.lowlevel.current_trio_token()))
        result: T = await trio.lowlevel.wait_task_rescheduled(lambda _: trio.lowlevel.Abort.FAILED)
        return result

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._jobs.put(_STOP)
        await trio.to_thread.run_sync(self._thread.join)
