"""The event log's single writer: it owns the chain head and group-commits whatever is queued.

``append`` returns only after the events' COMMIT, so an acknowledged event survives ``kill -9``. Appends that
queue up while a commit runs go into the next transaction together, up to ``max_batch`` events; an appender
waits once, for its commit, which is what lets the log take tens of thousands of durable events a second.
If a batch fails, its appends are retried one by one, so a bad append fails alone. When more than
``max_queued`` events wait, appenders wait for room: backpressure, not an unbounded queue.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence

import outcome
import trio

from b1e55ed.eventlog import codec
from b1e55ed.eventlog.chain import ChainHead, Record, Unstorable, extend
from b1e55ed.eventlog.projections import Upsert, project
from b1e55ed.eventlog.store import EventStore
from b1e55ed.messages import Event

logger = logging.getLogger(__name__)


class _Append:
    __slots__ = ("abandoned", "events", "task")

    def __init__(self, events: Sequence[Event], task: trio.lowlevel.Task | None) -> None:
        self.events = events
        self.task = task  # None: enqueued, nobody waits
        self.abandoned = False

    def resolve(self, result: outcome.Outcome[list[Record]]) -> None:
        if self.abandoned:
            return
        self.abandoned = True
        if self.task is not None:
            trio.lowlevel.reschedule(self.task, result)
        elif isinstance(result, outcome.Error):
            kinds = ", ".join(sorted({codec.kind_of(e) for e in self.events}))
            logger.error("enqueued events (%s) were not stored: %s", kinds, result.error)


class EventLog:
    def __init__(
        self,
        store: EventStore,
        *,
        max_batch: int = 1000,
        max_queued: int = 10_000,
        on_commit: Callable[[Sequence[Record]], None] | None = None,
    ) -> None:
        self.store = store
        self._max_batch = max_batch
        self._max_queued = max_queued
        self._on_commit = on_commit
        self._queue: deque[_Append] = deque()
        self._queued_events = 0
        self._writer_idle = trio.lowlevel.ParkingLot()
        self._room = trio.lowlevel.ParkingLot()
        self._committed = trio.lowlevel.ParkingLot()
        self._head: ChainHead | None = None
        self._closed = False

    @property
    def head(self) -> ChainHead:
        """The last committed record; known once ``run`` has started."""
        if self._head is None:
            raise RuntimeError("the event log writer has not started")
        return self._head

    async def append(self, *events: Event) -> list[Record]:
        """Append ``events`` as one atomic unit and wait for their COMMIT."""
        while self._queued_events >= self._max_queued and not self._closed:
            await self._room.park()
        if self._closed:
            raise trio.ClosedResourceError("the event log is closed")
        if not events:
            await trio.lowlevel.checkpoint()
            return []
        request = _Append(events, trio.lowlevel.current_task())
        self._queue.append(request)
        self._queued_events += len(events)
        self._writer_idle.unpark()

        def abandon(_: trio.lowlevel.RaiseCancelT) -> trio.lowlevel.Abort:
            # The events stay queued and will be committed; only the wait is given up.
            request.abandoned = True
            return trio.lowlevel.Abort.SUCCEEDED

        records: list[Record] = await trio.lowlevel.wait_task_rescheduled(abandon)
        return records

    def enqueue(self, *events: Event) -> None:
        """Queue ``events`` without waiting: they commit with the next ``append``, in order, before its events.

        For a cycle's stage actors: the cycle's last append (awaited) makes everything before it durable, so a
        cycle costs one fsync, not one per stage. Nothing is lost on shutdown: ``close`` commits what is queued.
        """
        if self._closed:
            raise trio.ClosedResourceError("the event log is closed")
        if events:
            self._queue.append(_Append(events, None))
            self._queued_events += len(events)

    def close(self) -> None:
        """Take no more appends; ``run`` commits what is queued and returns."""
        self._closed = True
        self._writer_idle.unpark_all()
        self._room.unpark_all()

    async def wait_beyond(self, seq: int) -> None:
        """Sleep until some record after ``seq`` is committed."""
        while self.head.seq <= seq:
            await self._committed.park()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self._head = await self.store.head()
        task_status.started()
        while True:
            if not self._queue:
                if self._closed:
                    return
                await self._writer_idle.park()
                continue
            # Let every task that is ready to append do so first: bigger batches, fewer fsyncs.
            await trio.lowlevel.cancel_shielded_checkpoint()
            await self._commit(self._seal(self._take_batch()))

    def _take_batch(self) -> list[_Append]:
        batch, size = [], 0
        while self._queue and size < self._max_batch:
            request = self._queue.popleft()
            batch.append(request)
            size += len(request.events)
        self._queued_events -= size
        self._room.unpark_all()
        return batch

    def _seal(self, batch: list[_Append]) -> _Sealed:
        """Chain each append after the head; an append that cannot be stored fails alone, here."""
        sealed = _Sealed(self.head)
        for request in batch:
            try:
                records = extend(sealed.tip, request.events)
            except Unstorable as exc:
                request.resolve(outcome.Error(exc))
                continue
            sealed.add(request, records)
        return sealed

    async def _commit(self, sealed: _Sealed) -> None:
        if not sealed.requests:
            return
        try:
            await self._store(sealed)
        except Exception as exc:
            if len(sealed.requests) == 1:
                sealed.requests[0].resolve(outcome.Error(exc))
                return
            for request in sealed.requests:
                await self._commit(self._seal([request]))
        except BaseException:
            for request in sealed.requests:
                request.resolve(outcome.Error(trio.ClosedResourceError("the event log stopped before this commit")))
            raise

    async def _store(self, sealed: _Sealed) -> None:
        await self.store.append(sealed.records, sealed.upserts)
        self._head = sealed.tip
        start = 0
        for request in sealed.requests:
            request.resolve(outcome.Value(sealed.records[start : start + len(request.events)]))
            start += len(request.events)
        self._committed.unpark_all()
        if self._on_commit is not None:
            self._on_commit(sealed.records)


class _Sealed:
    """A batch chained and projected, ready for one transaction."""

    __slots__ = ("records", "requests", "tip", "upserts")

    def __init__(self, after: ChainHead) -> None:
        self.tip = after
        self.requests: list[_Append] = []
        self.records: list[Record] = []
        self.upserts: list[Upsert] = []

    def add(self, request: _Append, records: list[Record]) -> None:
        self.requests.append(request)
        self.records.extend(records)
        for record, event in zip(records, request.events, strict=True):
            upsert = project(record.seq, record.hash, event)
            if upsert is not None:
                self.upserts.append(upsert)
        if records:
            self.tip = ChainHead(seq=records[-1].seq, hash=records[-1].hash)
