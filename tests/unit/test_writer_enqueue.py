"""The writer chains at the call: an enqueued event has its seq before its commit, and a failed commit never
leaves a record that someone was handed pointing at the wrong place."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import trio

from b1e55ed.eventlog import codec
from b1e55ed.eventlog.chain import Record
from b1e55ed.eventlog.projections import Upsert
from b1e55ed.eventlog.store import MemoryStore
from b1e55ed.eventlog.writer import EventLog
from b1e55ed.messages import Event
from tests.eventlog_helpers import alert, running_log


class FailingStore(MemoryStore):
    """An in-memory store that refuses any append holding one of the ``failing`` events (by payload)."""

    def __init__(self) -> None:
        super().__init__()
        self.failing: set[bytes] = set()

    def fail_on(self, *events: Event) -> None:
        self.failing = {codec.encode(event) for event in events}

    async def append(self, records: Sequence[Record], upserts: Sequence[Upsert]) -> None:
        if any(record.payload in self.failing for record in records):
            await trio.lowlevel.checkpoint()
            raise OSError("disk I/O error")
        await super().append(records, upserts)


async def test_enqueued_events_have_their_seqs_at_once_and_commit_with_the_next_flush() -> None:
    store = MemoryStore()
    async with running_log(store) as log:
        first = log.enqueue(alert(1), alert(2))
        second = log.enqueue(alert(3))
        assert [r.seq for r in first + second] == [1, 2, 3]
        assert second[0].prev_hash == first[-1].hash
        assert (await store.head()).seq == 0  # nothing is durable yet
        await log.flush()
        assert await store.read(0, 10) == first + second
        appended = await log.append(alert(4))
        assert appended[0].seq == 4


async def test_a_failed_commit_fails_the_enqueued_events_after_it_and_chains_later_appends_again() -> None:
    store = FailingStore()
    async with running_log(store) as log:
        await log.append(alert(0))
        store.fail_on(alert(1))
        handed = log.enqueue(alert(1), alert(2))  # seqs 2 and 3: their commit fails
        later = log.enqueue(alert(3))  # seq 4, chained onto events that will never be stored
        with pytest.raises(trio.BrokenResourceError):
            await log.flush()
        assert [r.seq for r in handed + later] == [2, 3, 4]
        store.fail_on()
        again = await log.append(alert(4))
    assert again[0].seq == 2  # chained again after the failure, onto what is really stored
    assert [r.event() for r in await store.read(0, 10)] == [alert(0), alert(4)]
    assert (await store.verify()).count == 2


async def test_an_awaited_append_after_a_failed_one_is_chained_again_and_stored() -> None:
    store = FailingStore()
    async with running_log(store) as log:
        store.fail_on(alert(1))
        outcomes: dict[str, object] = {}

        async def append(name: str, index: int) -> None:
            try:
                outcomes[name] = [r.seq for r in await log.append(alert(index))]
            except OSError as exc:
                outcomes[name] = exc

        async with trio.open_nursery() as nursery:
            nursery.start_soon(append, "bad", 1)
            nursery.start_soon(append, "good", 2)
    assert isinstance(outcomes["bad"], OSError)
    assert outcomes["good"] == [1]
    assert [r.event() for r in await store.read(0, 10)] == [alert(2)]


async def test_an_append_behind_more_enqueued_events_than_the_queue_holds_still_commits() -> None:
    store = MemoryStore()
    log = EventLog(store, max_queued=10)  # a batch of cycles can enqueue more than the queue's room
    async with trio.open_nursery() as nursery:
        await nursery.start(log.run)
        log.enqueue(*[alert(i) for i in range(25)])
        with trio.fail_after(5):
            await log.append(alert(25))
        log.close()
    assert (await store.head()).seq == 26
