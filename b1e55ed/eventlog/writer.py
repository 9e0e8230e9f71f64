"""The event log's single writer: it owns the chain head and group-commits whatever is queued.

``append`` returns only after the events' COMMIT, so an acknowledged event survives ``kill -9``. Appends that
queue up while a commit runs go into the next transaction together, up to ``max_batch`` events; an appender
waits once, for its commit, which is what lets the log take tens of thousands of durable events a second.
If a batch fails, its appends are retried one by one, so a bad append fails alone. When more than
``max_queued`` events wait, appenders wait for room: backpressure, not an unbounded queue.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

import outcome
import trio

from b1e55ed.eventlog.chain import EMPTY_HEAD, ChainHead, Record, Unstorable, extend
from b1e55ed.eventlog.projections import Upsert, project
from b1e55ed.eventlog.store import EventStore
from b1e55ed.messages import Event


class _Append:
    __slots__ = ("abandoned", "events", "task")

    def __init__(self, events: Sequence[Event], task: trio.lowlevel.Task) -> None:
        self.events = events
        self.task = task
        self.abandoned = False

    def resolve(self, result: outcome.Outcome[list[Record]]) -> None:
        if not self.abandoned:
            self.abandoned = True
            trio.lowlevel.reschedule(self.task, result)


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
        self._tip = EMPTY_HEAD
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
        """Seal batches here while the previous one commits on the store's thread."""
        self._head = self._tip = await self.store.head()
        sealed_send, sealed_receive = trio.open_memory_channel[_Sealed](1)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._commit_loop, sealed_receive)
            task_status.started()
            async with sealed_send:
                while True:
                    if not self._queue:
                        if self._closed:
                            return
                        await self._writer_idle.park()
                        continue
                    # Let every task that is ready to append do so first: bigger batches, fewer fsyncs.
                    await trio.lowlevel.cancel_shielded_checkpoint()
                    sealed = self._seal(self._take_batch(), self._tip)
                    if sealed.requests:
                        self._tip = sealed.tip
                        await sealed_send.send(sealed)

    def _take_batch(self) -> list[_Append]:
        batch, size = [], 0
        while self._queue and size < self._max_batch:
            request = self._queue.popleft()
            batch.append(request)
            size += len(request.events)
        self._queued_events -= size
        self._room.unpark_all()
        return batch

    def _seal(self, batch: list[_Append], tip: ChainHead) -> _Sealed:
        """Chain each append after ``tip``; an append that cannot be stored fails alone, here."""
        sealed = _Sealed(tip)
        for request in batch:
            try:
                records = extend(sealed.tip, request.events)
            except Unstorable as exc:
                request.resolve(outcome.Error(exc))
                continue
            sealed.add(request, records)
        return sealed

    async def _commit_loop(self, sealed_receive: trio.MemoryReceiveChannel[_Sealed]) -> None:
        async for sealed in sealed_receive:
            if sealed.after != self.head:
                # An earlier commit failed, so this batch was chained after records that do not exist.
                sealed = self._seal(sealed.requests, self.head)
            try:
                await self._store(sealed)
            except Exception as exc:
                if len(sealed.requests) == 1:
                    sealed.requests[0].resolve(outcome.Error(exc))
                else:
                    for request in sealed.requests:
                        await self._commit_alone(request)
                self._tip = self.head
            except BaseException:
                for request in sealed.requests:
                    request.resolve(outcome.Error(trio.ClosedResourceError("the event log stopped before this commit")))
                raise

    async def _commit_alone(self, request: _Append) -> None:
        sealed = self._seal([request], self.head)
        if sealed.requests:
            try:
                await self._store(sealed)
            except Exception as exc:
                request.resolve(outcome.Error(exc))

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

    __slots__ = ("after", "records", "requests", "tip", "upserts")

    def __init__(self, after: ChainHead) -> None:
        self.after = after
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
