"""The event log's single writer: it owns the chain head and group-commits whatever is queued.

Events are chained when ``append`` or ``enqueue`` is called, so their seqs are known at once and an event that
cannot be stored fails its caller there. ``append`` returns only after the events' COMMIT, so an acknowledged
event survives ``kill -9``. Appends that queue up while a commit runs go into the next transaction together, up
to ``max_batch`` events; an appender waits once, for its commit, which is what lets the log take tens of
thousands of durable events a second. If a batch fails, its appends are retried one by one, so a bad append
fails alone (see ``_recover`` for what was chained onto it). When more than ``max_queued`` events wait,
appenders wait for room: backpressure, not an unbounded queue. A follower in the same process (the feature store)
can ``tap`` the log: it is handed the committed records themselves, rather than reading them back.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Self

import outcome
import trio

from b1e55ed.eventlog import codec
from b1e55ed.eventlog.chain import ChainHead, Record, extend
from b1e55ed.eventlog.projections import PROJECTORS, Upsert
from b1e55ed.eventlog.store import EventStore
from b1e55ed.messages import Event

logger = logging.getLogger(__name__)


class _Append:
    """Records chained at the call, waiting for their commit. ``task`` None: enqueued, nobody waits, but the
    caller holds the records (and their seqs) already."""

    __slots__ = ("abandoned", "events", "records", "task")

    def __init__(self, events: Sequence[Event], records: list[Record], task: trio.lowlevel.Task | None) -> None:
        self.events = events
        self.records = records
        self.task = task
        self.abandoned = False

    def resolve(self, result: outcome.Outcome[list[Record]]) -> None:
        if self.abandoned:
            return
        self.abandoned = True
        if self.task is not None:
            trio.lowlevel.reschedule(self.task, result)
        elif isinstance(result, outcome.Error) and self.events:
            kinds = ", ".join(sorted({codec.kind_of(e) for e in self.events}))
            # Those chained onto a failed append only follow it: the failure itself was said at its own level.
            level = logging.DEBUG if isinstance(result.error, trio.BrokenResourceError) else logging.ERROR
            logger.log(level, "enqueued events (%s) were not stored: %s", kinds, result.error)


class Tap:
    """Committed records of some event classes, handed over in memory to one follower in the writer's process: what
    it would otherwise read back from the store.

    ``take`` returns, in seq order, each record of those classes committed with a seq above ``since`` and not
    taken yet. ``position`` is the last committed seq the tap has seen (the log's head). A follower that
    lets more than ``limit`` events pile up loses them: the tap drops what it holds and moves ``since`` to its
    ``position``, so the follower must read ``(its place, since]`` from the store, as it does at its start.
    """

    def __init__(
        self,
        classes: frozenset[type[Event]],
        limit: int,
        *,
        head: int,
        mid_commit: bool,
        on_close: Callable[[Tap], None],
    ) -> None:
        self.classes = classes
        self._kinds = frozenset(codec.KINDS[cls] for cls in classes)
        self.since = self.position = head
        self.dropped = 0
        self._limit = limit
        self._on_close = on_close
        self._items: list[Record] = []
        # Opened while a commit runs: that commit's events were sorted out before this tap was there, so it starts
        # after that commit instead (its follower reads the commit from the store).
        self._opened_mid_commit = mid_commit

    def take(self) -> list[Record]:
        items, self._items = self._items, []
        return items

    def close(self) -> None:
        """Stop following; idempotent."""
        self._on_close(self)
        self._items = []

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _publish(self, followed: list[Record], position: int, tapped: frozenset[type[Event]]) -> None:
        """One commit's records of the classes any tap follows (``tapped``), and the seq of its last record."""
        if self._opened_mid_commit:
            self._opened_mid_commit = False
            self._items = []
            self.since = position
        elif followed:
            if self.classes != tapped:
                followed = [record for record in followed if record.kind in self._kinds]
            if len(self._items) + len(followed) > self._limit:
                self._items = []
                self.since = position
                self.dropped += 1
            else:
                self._items += followed
        self.position = position


class EventLog:
    def __init__(
        self,
        store: EventStore,
        *,
        max_batch: int = 1000,
        max_queued: int = 10_000,
        on_commit: Callable[[Sequence[Record]], None] | None = None,
        on_failure: Callable[[Exception], None] | None = None,
    ) -> None:
        """``on_failure``: told of every commit that failed (a full or failing disk), before the appends hear."""
        self.store = store
        self._on_failure = on_failure
        self._max_batch = max_batch
        self._max_queued = max_queued
        self._on_commit = on_commit
        self._queue: deque[_Append] = deque()
        self._queued_events = 0
        self._writer_idle = trio.lowlevel.ParkingLot()
        self._room = trio.lowlevel.ParkingLot()
        self._committed = trio.lowlevel.ParkingLot()
        self._head: ChainHead | None = None
        self._tip: ChainHead | None = None  # the last record chained, committed or queued
        self._closed = False
        self._taps: list[Tap] = []
        self._tapped: frozenset[type[Event]] = frozenset()  # the classes some tap follows
        self._storing = False  # a commit is running (see Tap)

    @property
    def head(self) -> ChainHead:
        """The last committed record; known once ``run`` has started."""
        if self._head is None:
            raise RuntimeError("the event log writer has not started")
        return self._head

    async def append(self, *events: Event) -> list[Record]:
        """Append ``events`` as one atomic unit and wait for their COMMIT (and that of everything queued before).

        ``Unstorable`` is raised at once, and nothing of this append is queued: a bad append fails alone."""
        while self._queued_events >= self._max_queued and not self._closed:
            self._writer_idle.unpark()  # the queue may be full of enqueued events that woke nobody
            await self._room.park()
        request = _Append(events, self._chain(events), trio.lowlevel.current_task())
        self._queue.append(request)
        self._queued_events += len(events)
        self._writer_idle.unpark()

        def abandon(_: trio.lowlevel.RaiseCancelT) -> trio.lowlevel.Abort:
            # The events stay queued and will be committed; only the wait is given up.
            request.abandoned = True
            return trio.lowlevel.Abort.SUCCEEDED

        records: list[Record] = await trio.lowlevel.wait_task_rescheduled(abandon)
        return records

    def enqueue(self, *events: Event) -> list[Record]:
        """Chain ``events`` now and queue them without waiting: they commit with the next ``append`` or ``flush``,
        in order, before its events. The records (their seqs) are known at once, before the commit.

        For a cycle's stage actors: the cycle's last append (awaited) makes everything before it durable, so a
        cycle, or a batch of cycles, costs one fsync. Nothing is lost on shutdown: ``close`` commits what is queued.
        """
        records = self._chain(events)
        if events:
            self._queue.append(_Append(events, records, None))
            self._queued_events += len(events)
        return records

    async def flush(self) -> None:
        """Wait until everything queued so far is committed; raise if any of it could not be stored."""
        await self.append()

    def _chain(self, events: Sequence[Event]) -> list[Record]:
        if self._closed:
            raise trio.ClosedResourceError("the event log is closed")
        records = extend(self._tip or self.head, events)
        if records:
            self._tip = ChainHead(seq=records[-1].seq, hash=records[-1].hash)
        return records

    def close(self) -> None:
        """Take no more appends; ``run`` commits what is queued and returns."""
        self._closed = True
        self._writer_idle.unpark_all()
        self._room.unpark_all()

    def tap(self, *classes: type[Event], limit: int = 100_000) -> Tap:
        """Hand every record of ``classes`` committed from now on to an in-memory ``Tap`` (see there); ``close``
        it, or leave its ``with``, when done. Only once ``run`` has started."""
        tap = Tap(frozenset(classes), limit, head=self.head.seq, mid_commit=self._storing, on_close=self._untap)
        self._taps.append(tap)
        self._tapped |= tap.classes
        return tap

    def _untap(self, tap: Tap) -> None:
        if tap in self._taps:
            self._taps.remove(tap)
            self._tapped = frozenset().union(*(other.classes for other in self._taps))

    async def wait_beyond(self, seq: int) -> None:
        """Sleep until some record after ``seq`` is committed."""
        while self.head.seq <= seq:
            await self._committed.park()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self._head = self._tip = await self.store.head()
        task_status.started()
        while True:
            if not self._queue:
                if self._closed:
                    return
                await self._writer_idle.park()
                continue
            # Let every task that is ready to append do so first: bigger batches, fewer fsyncs.
            await trio.lowlevel.cancel_shielded_checkpoint()
            await self._commit(self._take_batch())

    def _take_batch(self) -> list[_Append]:
        batch: list[_Append] = []
        size = 0
        while self._queue and (size < self._max_batch or not batch):
            request = self._queue.popleft()
            batch.append(request)
            size += len(request.events)
        self._queued_events -= size
        self._room.unpark_all()
        return batch

    async def _commit(self, batch: list[_Append]) -> None:
        try:
            await self._store(batch)
        except Exception as exc:
            if self._on_failure is not None:
                self._on_failure(exc)
            await self._recover(batch, exc)
        except BaseException:
            stopped = trio.ClosedResourceError("the event log stopped before this commit")
            for request in [*batch, *self._queue]:
                request.resolve(outcome.Error(stopped))
            self._queue.clear()
            raise

    async def _recover(self, batch: list[_Append], exc: Exception) -> None:
        """After a failed commit, each append of the batch alone, so a bad one fails alone; then the queue.

        The appends after a failed one were chained onto it. An awaited one is chained again, since its caller has
        no records yet. An enqueued one was handed its seqs, which may be referred to already, so it fails instead
        (a dangling reference is worse than a lost event), and a ``flush`` after it raises."""
        rest = list(self._queue)
        self._queue.clear()
        self._queued_events = 0
        self._tip = self.head
        lost = False
        if len(batch) == 1:
            batch[0].resolve(outcome.Error(exc))
            lost = batch[0].task is None
            batch = []
        for request in batch:
            if not self._rechain(request, lost):
                lost = True
                continue
            try:
                await self._store([request])
            except Exception as error:
                request.resolve(outcome.Error(error))
                self._tip = self.head
                lost = lost or request.task is None
        for request in rest:
            if self._rechain(request, lost):
                self._queue.append(request)
                self._queued_events += len(request.events)
            else:
                lost = True

    def _rechain(self, request: _Append, lost: bool) -> bool:
        tip = self._tip or self.head
        follows = not request.records or (
            request.records[0].seq == tip.seq + 1 and request.records[0].prev_hash == tip.hash
        )
        if (request.task is None and not follows) or (not request.events and lost):
            request.resolve(outcome.Error(trio.BrokenResourceError("an earlier append could not be stored")))
            return False
        if not follows:
            request.records = extend(tip, request.events)
        if request.records:
            self._tip = ChainHead(seq=request.records[-1].seq, hash=request.records[-1].hash)
        return True

    async def _store(self, batch: list[_Append]) -> None:
        records = list(itertools.chain.from_iterable(request.records for request in batch))
        events = list(itertools.chain.from_iterable(request.events for request in batch))
        tapped = self._tapped  # a tap opened while this commit runs starts after it
        upserts, followed = _route(records, events, tapped)
        if records:
            self._storing = True
            try:
                await self.store.append(records, upserts)
            finally:
                self._storing = False
            self._head = head = ChainHead(seq=records[-1].seq, hash=records[-1].hash)
            for tap in self._taps:
                tap._publish(followed, head.seq, tapped)
        for request in batch:
            if request.task is None:
                request.abandoned = True  # resolve(Value): nobody waits for an enqueue that succeeded
            else:
                request.resolve(outcome.Value(request.records))
        self._committed.unpark_all()
        if self._on_commit is not None and records:
            self._on_commit(records)


def _route(
    records: list[Record], events: list[Event], tapped: frozenset[type[Event]]
) -> tuple[list[Upsert], list[Record]]:
    """A commit's projections, and the records of the ``tapped`` classes, in seq order.

    Most events (decisions, cycles, settlements) go to neither: they are passed over by their class, without a
    step of Python each."""
    classes = list(map(type, events))
    routed = {cls for cls in set(classes) if PROJECTORS[cls] is not None or cls in tapped}
    upserts: list[Upsert] = []
    followed: list[Record] = []
    for record, event in itertools.compress(zip(records, events, strict=True), map(routed.__contains__, classes)):
        cls = type(event)
        if (project := PROJECTORS[cls]) is not None:
            upserts.append(project(record.seq, record.hash, event))
        if cls in tapped:
            followed.append(record)
    return upserts, followed
