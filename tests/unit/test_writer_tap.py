"""A tap: the writer hands a follower in its process the records it committed, in memory, in seq order; one that
falls behind (or opens while a commit runs) is told from where to read the store instead, so nothing is missed."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import trio
import trio.testing

from b1e55ed.eventlog import codec
from b1e55ed.eventlog.chain import Record
from b1e55ed.eventlog.projections import Upsert
from b1e55ed.eventlog.store import MemoryStore
from b1e55ed.eventlog.writer import Tap
from b1e55ed.messages import Event, SignalRecorded
from tests.eventlog_helpers import alert, running_log, signal


def taken(tap: Tap) -> list[tuple[int, Event]]:
    return [(record.seq, record.event()) for record in tap.take()]


class GatedStore(MemoryStore):
    """Holds every append until ``gate`` is set; ``entered`` is set once an append waits there."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = trio.Event()
        self.entered = trio.Event()

    async def append(self, records: Sequence[Record], upserts: Sequence[Upsert]) -> None:
        self.entered.set()
        await self.gate.wait()
        await super().append(records, upserts)


class RefusingStore(MemoryStore):
    """Refuses any append holding one of the ``refused`` events (by payload)."""

    def __init__(self) -> None:
        super().__init__()
        self.refused: set[bytes] = set()

    async def append(self, records: Sequence[Record], upserts: Sequence[Upsert]) -> None:
        if any(record.payload in self.refused for record in records):
            await trio.lowlevel.checkpoint()
            raise OSError("disk I/O error")
        await super().append(records, upserts)


async def test_a_tap_hands_over_the_committed_events_of_its_classes_in_seq_order() -> None:
    store = MemoryStore()
    async with running_log(store) as log:
        await log.append(alert(0))
        with log.tap(SignalRecorded) as tap:
            assert (tap.since, tap.position) == (1, 1)
            enqueued = log.enqueue(signal(1), alert(1))
            assert taken(tap) == []  # chained, not committed
            appended = await log.append(signal(2), signal(3))
            seqs = [enqueued[0].seq, *(r.seq for r in appended)]
            assert taken(tap) == list(zip(seqs, [signal(1), signal(2), signal(3)], strict=True))
            assert taken(tap) == []
            await log.append(alert(2))
            assert taken(tap) == []
            assert tap.position == log.head.seq == 6
            assert (tap.since, tap.dropped) == (1, 0)
        await log.append(signal(4))
        assert taken(tap) == []  # closed: no longer fed


async def test_the_tapped_records_are_the_appended_ones_and_equal_what_the_store_holds() -> None:
    store = MemoryStore()
    events: list[Event] = [signal(i) for i in range(5)]
    async with running_log(store) as log:
        with log.tap(SignalRecorded) as tap:
            appended = await log.append(*events)
            records = tap.take()
    assert all(got is sent for got, sent in zip(records, appended, strict=True))
    assert await store.read() == records


async def test_a_tap_that_falls_behind_drops_what_it_holds_and_moves_since_to_its_position() -> None:
    store = MemoryStore()
    async with running_log(store) as log:
        with log.tap(SignalRecorded, limit=3) as tap:
            await log.append(signal(0), signal(1))
            await log.append(signal(2), signal(3))  # 4 held > 3: the follower must read seq 1-4 from the store
            assert (tap.since, tap.position, tap.dropped) == (4, 4, 1)
            assert taken(tap) == []
            await log.append(signal(4))
            assert taken(tap) == [(5, signal(4))]


async def test_a_tap_opened_while_a_commit_runs_starts_after_that_commit() -> None:
    store = GatedStore()
    async with running_log(store) as log, trio.open_nursery() as nursery:
        nursery.start_soon(log.append, signal(0), signal(1))
        await store.entered.wait()
        tap = log.tap(SignalRecorded)
        assert tap.since == 0
        store.gate.set()
        await log.flush()
        # The commit's events were sorted out before the tap was there: it says to read them from the store.
        assert (tap.since, tap.position) == (2, 2)
        assert taken(tap) == []
        await log.append(signal(2))
        assert taken(tap) == [(3, signal(2))]
        tap.close()


async def test_a_failed_commit_hands_over_nothing() -> None:
    store = RefusingStore()
    async with running_log(store) as log:
        with log.tap(SignalRecorded) as tap:
            await log.append(signal(0))
            store.refused = {codec.encode(signal(1))}
            with pytest.raises(OSError, match="disk I/O"):
                await log.append(signal(1))
            assert taken(tap) == [(1, signal(0))]
            assert tap.position == 1
            await log.append(signal(2))
            assert taken(tap) == [(2, signal(2))]  # chained again after the failure: seq 2


async def test_each_tap_gets_its_own_classes() -> None:
    store = MemoryStore()
    async with running_log(store) as log:
        with log.tap(SignalRecorded) as signals, log.tap(type(alert(0))) as alerts:
            await log.append(signal(0), alert(0), signal(1))
            assert [seq for seq, _ in taken(signals)] == [1, 3]
            assert taken(alerts) == [(2, alert(0))]
        with log.tap(SignalRecorded) as only:
            await log.append(alert(1), signal(2))
            assert taken(only) == [(5, signal(2))]
