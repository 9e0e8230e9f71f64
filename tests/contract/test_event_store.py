"""One contract for every event store: the SQLite store on disk and the in-memory store."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio
import trio.testing
from msgspec.structs import replace

from b1e55ed.eventlog.chain import EMPTY_HEAD, GENESIS, ChainHead, Unstorable, extend, link
from b1e55ed.eventlog.projections import PROJECTION_TABLES
from b1e55ed.eventlog.sqlite_store import ROWS_PER_STATEMENT, SqliteStore
from b1e55ed.eventlog.store import EventStore, MemoryStore, StoreError
from b1e55ed.messages import ConsumerAdvanced, Event
from tests.eventlog_helpers import alert, lifecycle, running_log, signal


@pytest.fixture(params=["sqlite", "memory"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventStore]:
    opened: EventStore = await SqliteStore.open(tmp_path / "brain.db") if request.param == "sqlite" else MemoryStore()
    yield opened
    await opened.close()


async def test_an_empty_store_has_the_genesis_head(store: EventStore) -> None:
    assert await store.head() == EMPTY_HEAD
    assert await store.read() == []
    assert (await store.verify()).count == 0
    assert await store.consumer_position("karma") == 0


async def test_appended_events_read_back_in_order_after_a_position(store: EventStore) -> None:
    events = [alert(i) for i in range(10)]
    async with running_log(store) as log:
        await log.append(*events[:3])
        await log.append(events[3])
        await log.append(*events[4:])
    records = await store.read(after=0)
    assert [r.seq for r in records] == list(range(1, 11))
    assert [r.event() for r in records] == events
    assert [r.seq for r in await store.read(after=4, limit=3)] == [5, 6, 7]
    assert await store.read(after=10) == []


async def test_each_hash_chains_the_previous_one_over_the_stored_bytes(store: EventStore) -> None:
    async with running_log(store) as log:
        returned = await log.append(*[alert(i) for i in range(5)])
    records = await store.read()
    assert records == returned
    prev = GENESIS
    for record in records:
        assert record.prev_hash == prev
        assert record.hash == link(prev, record.seq, record.payload)
        assert (record.ts, record.kind) == (record.event().ts, "alert")
        prev = record.hash
    verified = await store.verify()
    assert verified.count == 5
    assert verified.head == ChainHead(seq=5, hash=prev) == await store.head()


async def test_a_commit_of_more_rows_than_one_statement_holds_reads_back_byte_for_byte(store: EventStore) -> None:
    count = 2 * ROWS_PER_STATEMENT + 5  # two full multi-row statements and a rest
    async with running_log(store) as log:
        returned = await log.append(*[alert(i) for i in range(count)])
    records = await store.read(limit=count)
    assert records == returned
    assert all(type(field) is bytes for r in records for field in (r.payload, r.prev_hash, r.hash))
    assert (await store.verify()).count == count


async def test_the_head_hash_depends_only_on_the_events(store: EventStore) -> None:
    events: list[Event] = [*lifecycle(), *(alert(i) for i in range(20))]
    async with running_log(store, max_batch=3) as log:
        for event in events:
            await log.append(event)
    expected = extend(EMPTY_HEAD, events)[-1]
    assert await store.head() == ChainHead(seq=expected.seq, hash=expected.hash)


async def test_projections_follow_the_events_and_rebuild_identically(store: EventStore) -> None:
    async with running_log(store) as log:
        await log.append(*lifecycle())
    signals = await store.projection("signal_events")
    assert [(s["id"], s["symbol"], s["signal"], s["conviction"], s["producer"]) for s in signals] == [
        (1, "BTC", "long", 7, "rsi")
    ]
    assert signals[0]["metadata"] == '{"rsi":27.0,"window":14}'
    (trade,) = await store.projection("trade_events")
    assert (trade["id"], trade["strategy"], trade["size"], trade["stop"]) == (2, "confluence", 0.05, 56_487.0)
    (order,) = await store.projection("order_events")
    assert (order["id"], order["cloid"], order["trade_id"], order["status"]) == (3, "0xabc", 2, "filled")
    assert (order["filled_price"], order["last_seq"]) == (58_250.0, 4)
    (position,) = await store.projection("position_events")
    assert (position["id"], position["status"], position["pnl"], position["last_seq"]) == (5, "closed", 290.35, 6)
    assert await store.consumer_position("karma") == 6

    before = {table: await store.projection(table) for table in PROJECTION_TABLES}
    assert await store.rebuild() == 7
    assert {table: await store.projection(table) for table in PROJECTION_TABLES} == before


async def test_a_store_refuses_records_that_do_not_follow_its_head(store: EventStore) -> None:
    async with running_log(store) as log:
        await log.append(alert(0))
    stale = extend(EMPTY_HEAD, [alert(1)])  # seq 1 again, as a second writer would send
    with pytest.raises(StoreError, match="does not follow"):
        await store.append(stale, [])
    assert (await store.head()).seq == 1
    assert (await store.verify()).count == 1


async def test_an_unstorable_event_fails_alone(store: EventStore) -> None:
    good = signal(1)
    bad = replace(good, signal=replace(good.signal, metadata={"rsi": math.nan}))
    results: dict[str, object] = {}

    async def append(name: str, *events: Event) -> None:
        try:
            results[name] = [r.seq for r in await log.append(*events)]
        except Unstorable as exc:
            results[name] = exc

    async with running_log(store) as log, trio.open_nursery() as nursery:
        nursery.start_soon(append, "before", alert(0))
        nursery.start_soon(append, "bad", bad)
        nursery.start_soon(append, "after", alert(1))
    assert isinstance(results.pop("bad"), Unstorable)
    assert sorted(results.values()) == [[1], [2]]  # type: ignore[type-var]
    assert (await store.verify()).count == 2


async def test_a_consumer_resumes_from_its_recorded_position(store: EventStore) -> None:
    async with running_log(store) as log:
        await log.append(*[signal(i) for i in range(6)])
        processed: list[int] = []

        async def consume(crash_after: int | None) -> None:
            position = await store.consumer_position("counter")
            for record in await store.read(after=position):
                if record.kind != "signal":
                    continue
                if crash_after is not None and len(processed) == crash_after:
                    raise RuntimeError("crash")
                processed.append(record.seq)
                # The output and the new position commit together: exactly once.
                await log.append(ConsumerAdvanced(ts=record.ts, consumer="counter", position=record.seq))

        with pytest.raises(RuntimeError):
            await consume(crash_after=4)
        await consume(crash_after=None)
    assert processed == [1, 2, 3, 4, 5, 6]
    assert await store.consumer_position("counter") == 6


async def test_waiting_for_new_records_wakes_on_commit(store: EventStore) -> None:
    async with running_log(store) as log:
        await log.append(alert(0))
        seen: list[int] = []

        async def tail() -> None:
            await log.wait_beyond(1)
            seen.extend(r.seq for r in await store.read(after=1))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(tail)
            await trio.sleep(0.01)
            assert seen == []
            await log.append(alert(1), alert(2))
    assert seen == [2, 3]


async def test_closing_commits_what_is_queued_and_refuses_more(store: EventStore) -> None:
    async with running_log(store) as log:
        async with trio.open_nursery() as nursery:
            for i in range(50):
                nursery.start_soon(log.append, alert(i))
            await trio.testing.wait_all_tasks_blocked()
            log.close()
        with pytest.raises(trio.ClosedResourceError):
            await log.append(alert(99))
    assert (await store.verify()).count == 50


async def test_projection_rows_filter_newest_first(store: EventStore) -> None:
    async with running_log(store) as log:
        await log.append(*[signal(i, symbol=("BTC", "ETH")[i % 2], producer=("rsi", "momentum")[i % 3 == 0])
                           for i in range(12)])  # fmt: skip
        await log.append(*lifecycle()[1:])
    btc = await store.rows("signal_events", equals={"symbol": "BTC"})
    assert [row["id"] for row in btc] == [11, 9, 7, 5, 3, 1]
    rsi_btc = await store.rows("signal_events", equals={"symbol": "BTC", "producer": "rsi"}, limit=2)
    assert [row["cycle"] for row in rsi_btc] == [10, 8]
    recent = await store.rows("signal_events", at_least={"timestamp": 1_700_000_009}, limit=10)
    assert [row["cycle"] for row in recent] == [11, 10, 9]
    assert await store.rows("signal_events", equals={"symbol": "DOGE"}) == []
    (order,) = await store.rows("order_events", equals={"cloid": "0xabc"})
    assert order["status"] == "filled"  # the upserted row, in its first place
    with pytest.raises(KeyError):
        await store.rows("no_such_table")


async def test_recent_records_of_kinds_newest_first_with_a_field_filter(store: EventStore) -> None:
    async with running_log(store) as log:
        await log.append(*[signal(i) for i in range(5)], *[alert(i) for i in range(3)], *lifecycle())
    kinds = [r.kind for r in await store.recent(["alert", "position"], limit=4)]
    assert kinds == ["position", "position", "alert", "alert"]
    by_cycle = await store.recent(["signal"], limit=10, field=("cycle", 3))
    assert [r.event().cycle for r in by_cycle] == [3]  # type: ignore[union-attr]
    by_text = await store.recent(["order"], limit=10, field=("cloid", "0xabc"))
    assert [r.event().status for r in by_text] == ["filled", "submitted"]  # type: ignore[union-attr]
    assert await store.recent(["alert"], limit=10, field=("message", "nothing")) == []
    assert await store.recent([], limit=10) == []
