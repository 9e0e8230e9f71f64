"""Broadcast hub: fan-out in order, a slow subscriber is dropped, publish never blocks."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from b1e55ed.broadcast import Broadcast, Subscription


async def drain(subscription: Subscription[int]) -> list[int]:
    """Everything buffered for ``subscription``; its stream must have ended, so this never waits."""
    with trio.fail_after(1):
        return [item async for item in subscription]


async def test_every_subscriber_gets_every_item_in_order() -> None:
    hub = Broadcast[int]()
    first, second = hub.subscribe(), hub.subscribe()
    for item in range(5):
        hub.publish(item)
    hub.publish_many([5, 6])
    hub.close()
    assert await drain(first) == await drain(second) == [0, 1, 2, 3, 4, 5, 6]
    assert hub.published_count == 7


async def test_subscriber_sees_only_items_after_it_subscribed() -> None:
    hub = Broadcast[int]()
    hub.publish(1)
    late = hub.subscribe()
    hub.publish(2)
    hub.close()
    assert await drain(late) == [2]


async def test_slow_subscriber_is_dropped_while_others_keep_receiving(
    autojump_clock: trio.testing.MockClock,
) -> None:
    hub = Broadcast[int]()
    slow = hub.subscribe(max_buffer=2)
    received: list[int] = []

    async def keep_up(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with hub.subscribe(max_buffer=1) as fast:
            task_status.started()
            async for item in fast:
                received.append(item)
            assert not fast.dropped

    async with trio.open_nursery() as nursery:
        await nursery.start(keep_up)
        for item in range(10):
            hub.publish(item)
            await trio.sleep(0.1)
        assert hub.subscriber_count == 1
        hub.close()

    assert received == list(range(10))
    assert slow.dropped
    assert await drain(slow) == [0, 1]  # what was buffered, then the end of the stream
    assert hub.dropped_count == 1


async def test_publish_never_blocks() -> None:
    hub = Broadcast[int]()
    stuck = [hub.subscribe(max_buffer=1) for _ in range(3)]
    with trio.testing.assert_no_checkpoints():
        for item in range(1_000):
            hub.publish(item)
        hub.publish_many(list(range(1_000)))
    assert all(subscription.dropped for subscription in stuck)
    assert hub.subscriber_count == 0
    assert hub.dropped_count == 3


async def test_publish_many_drops_at_the_item_that_overflows() -> None:
    hub = Broadcast[int]()
    small, large = hub.subscribe(max_buffer=3), hub.subscribe(max_buffer=10)
    hub.publish_many([1, 2, 3, 4, 5])
    hub.close()
    assert (await drain(small), small.dropped) == ([1, 2, 3], True)
    assert (await drain(large), large.dropped) == ([1, 2, 3, 4, 5], False)


async def test_leaving_the_subscription_unsubscribes() -> None:
    hub = Broadcast[int]()
    async with hub.subscribe() as subscription:
        assert hub.subscriber_count == 1
        hub.publish(1)
        assert await subscription.receive() == 1
    assert hub.subscriber_count == 0
    hub.publish(2)  # nobody left; no error
    subscription.close()  # idempotent
    assert hub.dropped_count == 0


async def test_closed_receive_end_is_forgotten_without_counting_a_drop() -> None:
    hub = Broadcast[int]()
    subscription = hub.subscribe()
    subscription._receive.close()
    hub.publish(1)
    assert hub.subscriber_count == 0
    assert not subscription.dropped
    assert hub.dropped_count == 0


async def test_close_ends_every_subscription(autojump_clock: trio.testing.MockClock) -> None:
    hub = Broadcast[int]()
    results: dict[int, tuple[list[int], bool]] = {}

    async def read(reader: int, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with hub.subscribe() as subscription:
            task_status.started()
            results[reader] = ([item async for item in subscription], subscription.dropped)

    async with trio.open_nursery() as nursery:
        for reader in range(3):
            await nursery.start(read, reader)
        hub.publish_many([7, 8])
        hub.close()
        hub.close()  # idempotent

    assert results == {reader: ([7, 8], False) for reader in range(3)}
    assert hub.subscriber_count == 0


async def test_closed_hub_refuses_subscribers_and_items() -> None:
    hub = Broadcast[int]()
    hub.close()
    assert hub.closed
    with pytest.raises(trio.ClosedResourceError):
        hub.subscribe()
    with pytest.raises(trio.ClosedResourceError):
        hub.publish(1)


def test_buffer_must_hold_at_least_one_item() -> None:
    with pytest.raises(ValueError, match="max_buffer"):
        Broadcast[int]().subscribe(max_buffer=0)
