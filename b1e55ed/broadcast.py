"""Lossy fan-out: one publisher, many subscribers, and a slow subscriber is dropped rather than waited for.

Each subscriber has its own bounded memory channel. ``publish`` is synchronous and never blocks: it
``send_nowait``s to every subscriber, and one whose buffer is full is dropped on the spot. A dropped subscriber
reads what was already buffered, then the end of the stream, and ``Subscription.dropped`` tells it why (an SSE
client reconnects and resumes from the log). Trading can never be stalled by a slow browser.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Generic, Self, TypeVar

import trio

T = TypeVar("T")


class Subscription(Generic[T]):
    """One subscriber's stream. Iterate it; leave its ``async with`` (or call ``close``) to unsubscribe."""

    def __init__(self, hub: Broadcast[T], receive: trio.MemoryReceiveChannel[T]) -> None:
        self._hub = hub
        self._receive = receive
        self._dropped = False

    @property
    def dropped(self) -> bool:
        """True once the hub dropped this subscriber for falling behind (not when the hub closed)."""
        return self._dropped

    async def receive(self) -> T:
        """The next item; raises ``trio.EndOfChannel`` after the last one."""
        return await self._receive.receive()

    def receive_nowait(self) -> T:
        """The next item if one is buffered: raises ``trio.WouldBlock`` if none, ``trio.EndOfChannel`` at the end."""
        return self._receive.receive_nowait()

    def close(self) -> None:
        """Unsubscribe. Idempotent."""
        self._hub._unsubscribe(self)
        self._receive.close()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        try:
            return await self._receive.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _mark_dropped(self) -> None:
        self._dropped = True


class Broadcast(Generic[T]):
    """The hub. ``subscriber_count``, ``dropped_count`` and ``published_count`` feed ``/metrics``."""

    def __init__(self) -> None:
        self._subscribers: dict[Subscription[T], trio.MemorySendChannel[T]] = {}
        self._closed = False
        self._dropped_count = 0
        self._published_count = 0
        self._listeners: list[Callable[[Sequence[T]], None]] = []

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    @property
    def dropped_count(self) -> int:
        """Subscribers dropped for falling behind, since the hub was made."""
        return self._dropped_count

    @property
    def published_count(self) -> int:
        return self._published_count

    @property
    def closed(self) -> bool:
        return self._closed

    def subscribe(self, max_buffer: int = 64) -> Subscription[T]:
        """A new subscriber that sees every item published from now on, while it keeps up.

        ``max_buffer`` items may wait unread; one more and the subscriber is dropped.
        """
        if self._closed:
            raise trio.ClosedResourceError("the broadcast hub is closed")
        if max_buffer < 1:
            raise ValueError("max_buffer must be >= 1")
        send, receive = trio.open_memory_channel[T](max_buffer)
        subscription = Subscription(self, receive)
        self._subscribers[subscription] = send
        return subscription

    def listen(self, listener: Callable[[Sequence[T]], None]) -> Callable[[], None]:
        """Call ``listener`` synchronously with every published batch, before the subscribers get it; it is
        never dropped, so it must be quick and must not raise. Returns the function that removes it."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def publish(self, item: T) -> None:
        """Hand ``item`` to every subscriber that has room; drop the ones that do not. Never blocks."""
        self.publish_many((item,))

    def publish_many(self, items: Sequence[T]) -> None:
        """``publish`` each item in order, looking up the subscribers once."""
        if self._closed:
            raise trio.ClosedResourceError("the broadcast hub is closed")
        self._published_count += len(items)
        for listener in self._listeners:
            listener(items)
        for subscription, send in list(self._subscribers.items()):
            try:
                for item in items:
                    send.send_nowait(item)
            except trio.WouldBlock:
                self._drop(subscription)
            except trio.BrokenResourceError:
                # Its receive end was closed without unsubscribing: nobody is reading any more.
                self._unsubscribe(subscription)

    def close(self) -> None:
        """End every subscription (readers see the end after their buffered items). Idempotent."""
        self._closed = True
        for send in self._subscribers.values():
            send.close()
        self._subscribers.clear()

    def _drop(self, subscription: Subscription[T]) -> None:
        subscription._mark_dropped()
        self._dropped_count += 1
        self._unsubscribe(subscription)

    def _unsubscribe(self, subscription: Subscription[T]) -> None:
        send = self._subscribers.pop(subscription, None)
        if send is not None:
            send.close()
