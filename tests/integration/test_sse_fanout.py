"""The SSE fan-out on its own (no HTTP, autojump clock): a cycle's frames go out when it settles, a client that
falls behind is dropped, and a running cycle holds new wake-ups back."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from b1e55ed.api.fanout import Fanout, SseClient, StreamEnded
from b1e55ed.api.metrics import ApiMetrics
from b1e55ed.broadcast import Broadcast
from b1e55ed.eventlog.chain import EMPTY_HEAD, Record, extend
from b1e55ed.messages import Alert, CycleSettled, CycleStarted, Event

ALL = frozenset({"cycle", "health"})


def records(events: list[Event]) -> list[Record]:
    return extend(EMPTY_HEAD, events)


def tick(cycle: int) -> CycleStarted:
    return CycleStarted(ts=cycle, cycle=cycle, as_of=cycle, source="simulated", closes={})


def settled(cycle: int) -> CycleSettled:
    return CycleSettled(ts=cycle, cycle=cycle, as_of=cycle, cash=1.0, equity=1.0, exposure=0.0, open_positions=0)


def alert(i: int) -> Alert:
    return Alert(ts=i, severity="info", source="test", message=f"alert {i}")


async def take_now(client: SseClient) -> list[int] | None:
    """What the client would get without waiting, or None if it has not been woken."""
    with trio.move_on_after(0.001):
        return [seq for seq, _ in (await client.take()).frames]
    return None


async def test_a_cycles_frames_go_out_when_it_settles(autojump_clock: trio.testing.MockClock) -> None:
    hub: Broadcast[Record] = Broadcast()
    fanout = Fanout(hub, ApiMetrics(), hold_s=10.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(fanout.run)
        client = fanout.register(ALL)
        story = records([tick(1), alert(1), alert(2), settled(1), alert(3)])
        hub.publish_many(story[:3])
        await trio.testing.wait_all_tasks_blocked()
        assert await take_now(client) is None  # mid-cycle: held
        hub.publish_many(story[3:4])
        await trio.testing.wait_all_tasks_blocked()
        assert await take_now(client) == [1, 2, 3, 4]
        hub.publish(story[4])  # outside a cycle: at once
        await trio.testing.wait_all_tasks_blocked()
        assert await take_now(client) == [5]
        nursery.cancel_scope.cancel()


async def test_a_cycle_that_never_settles_is_held_only_hold_s(autojump_clock: trio.testing.MockClock) -> None:
    hub: Broadcast[Record] = Broadcast()
    fanout = Fanout(hub, ApiMetrics(), hold_s=0.5)
    async with trio.open_nursery() as nursery:
        await nursery.start(fanout.run)
        client = fanout.register(ALL)
        hub.publish_many(records([tick(1), alert(1)]))
        started = trio.current_time()
        assert [seq for seq, _ in (await client.take()).frames] == [1, 2]
        assert trio.current_time() - started >= 0.5
        nursery.cancel_scope.cancel()


async def test_a_busy_trading_loop_holds_wake_ups_back(autojump_clock: trio.testing.MockClock) -> None:
    hub: Broadcast[Record] = Broadcast()
    busy = [True]
    fanout = Fanout(hub, ApiMetrics(), busy=lambda: busy[0], hold_s=5.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(fanout.run)
        client = fanout.register(ALL)
        hub.publish(records([alert(1)])[0])
        await trio.sleep(1.0)
        assert await take_now(client) is None
        busy[0] = False
        await trio.sleep(0.01)
        assert await take_now(client) == [1]
        nursery.cancel_scope.cancel()


async def test_a_client_that_falls_behind_is_dropped(autojump_clock: trio.testing.MockClock) -> None:
    hub: Broadcast[Record] = Broadcast()
    metrics = ApiMetrics()
    fanout = Fanout(hub, metrics, client_limit=3)
    async with trio.open_nursery() as nursery:
        await nursery.start(fanout.run)
        slow = fanout.register(ALL)
        reading = fanout.register(ALL)
        story = records([alert(i) for i in range(5)])
        hub.publish_many(story[:2])
        assert [seq for seq, _ in (await reading.take()).frames] == [1, 2]
        hub.publish_many(story[2:])
        assert [seq for seq, _ in (await reading.take()).frames] == [3, 4, 5]
        with pytest.raises(StreamEnded):  # it resumes from the log, with its Last-Event-ID
            await slow.take()
        assert slow.dropped
        assert not reading.dropped
        assert metrics.sse_dropped == 1
        nursery.cancel_scope.cancel()
