"""One hub subscription for every SSE client: frames rendered once, delivered when trading is not busy.

Waking a thousand streams on every commit would queue the trading actors behind a thousand sends, in the same
trio loop. So the fan-out task alone follows the hub: it renders each record's frame once into a journal that
every client reads from its own position (filtering by its types in its own task), and wakes the clients once
per burst: at once outside a cycle, and when the cycle settles (or ``hold_s`` later) inside one. Clients are
woken ``WAKE_CHUNK`` at a time, and no new chunk starts while ``busy()`` says a cycle is running, so a cycle
that starts during a fan-out waits for one chunk at most. A client more than ``client_limit`` frames behind is
dropped (its stream ends; it reconnects with ``Last-Event-ID`` and catches up from the log). So is everyone,
should the fan-out itself fall behind the hub.

Mid prices from the price monitor take a path of their own: not log records, they are never journalled. Each
poll's ``price`` frame is rendered once, without an ``id`` (so a browser's ``Last-Event-ID`` stays the last
event's seq), and left in the one slot of every client that asked for ``price``, replacing one it has not taken
yet: a client gets at most one frame per poll, and a slow one never accumulates them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from itertools import islice
from typing import NamedTuple

import msgspec
import trio

from b1e55ed.api.metrics import ApiMetrics
from b1e55ed.broadcast import Broadcast, Subscription
from b1e55ed.eventlog.chain import Record
from b1e55ed.market.feed import Mids
from b1e55ed.market.mids import PriceBoard

EVENT_TYPES = ("signal", "decision", "order", "fill", "position", "cycle", "karma", "health", "killswitch")
TYPE_OF_KIND = {
    "signal": "signal",
    "decision": "decision",
    "verdict": "decision",
    "trade": "decision",
    "order": "order",
    "fill": "fill",
    "position": "position",
    "funding": "position",
    "cycle": "cycle",
    "snapshot": "cycle",
    "settled": "cycle",
    "karma": "karma",
    "killswitch": "killswitch",
    "alert": "health",
    "actor_restarted": "health",
    "actor_escalated": "health",
    "runtime_started": "health",
    "runtime_stopped": "health",
}
PRICE_TYPE = "price"
STREAM_TYPES = (*EVENT_TYPES, PRICE_TYPE)
"""Every type a client may ask for; the default, ``EVENT_TYPES``, is the log's events only."""
HUB_BUFFER = 65_536
WAKE_CHUNK = 50
BUSY_POLL_S = 0.002


def frame(record: Record, event_type: str) -> bytes:
    """``id`` is the seq; ``data`` is the stored payload with ``seq`` added: nothing is re-encoded."""
    data = b'{"seq":%d,' % record.seq + record.payload[1:]
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (record.seq, event_type.encode(), data)


def price_frame(mids: Mids) -> bytes:
    """A ``price`` frame: no ``id`` (mid prices are not events), ``data`` the poll's mids as JSON."""
    return b"event: %s\ndata: %s\n\n" % (PRICE_TYPE.encode(), msgspec.json.encode(mids))


class Delivery(NamedTuple):
    """What a client takes when woken: log frames as (seq, frame) in commit order, and the latest price frame."""

    frames: list[tuple[int, bytes]]
    price: bytes | None


class StreamEnded(Exception):
    """The client was dropped (it fell behind) or the server is stopping."""


class Journal:
    """Frames in commit order, each rendered once, shared by every client; positions are absolute indexes."""

    def __init__(self) -> None:
        self._entries: deque[tuple[int, str, bytes]] = deque()
        self.start = 0

    @property
    def end(self) -> int:
        return self.start + len(self._entries)

    def append(self, seq: int, event_type: str, data: bytes) -> None:
        self._entries.append((seq, event_type, data))

    def since(self, position: int) -> Iterator[tuple[int, str, bytes]]:
        return islice(self._entries, max(position - self.start, 0), None)

    def trim(self, upto: int) -> None:
        while self.start < upto and self._entries:
            self._entries.popleft()
            self.start += 1


class SseClient:
    def __init__(self, types: frozenset[str], journal: Journal) -> None:
        self.types = types
        self._journal = journal
        self.position = journal.end
        self.price: bytes | None = None  # the latest price frame not yet taken
        self._ready = trio.Event()
        self.dropped = False
        self.ended = False

    def wake(self) -> None:
        self._ready.set()

    def end(self, *, dropped: bool) -> None:
        self.dropped = dropped
        self.ended = True
        self._ready.set()

    async def take(self) -> Delivery:
        """The frames of its types since the last take, once woken, and the price frame left for it. Raises
        ``StreamEnded`` when there is no more (a dropped client reconnects and resumes from the log)."""
        if self.ended:
            await trio.lowlevel.checkpoint()
        else:
            await self._ready.wait()
            self._ready = trio.Event()
        if self.dropped:
            raise StreamEnded
        types, journal = self.types, self._journal
        frames = [(seq, data) for seq, event_type, data in journal.since(self.position) if event_type in types]
        self.position = journal.end
        price, self.price = self.price, None
        if not frames and self.ended:
            raise StreamEnded
        return Delivery(frames, price)


class Fanout:
    def __init__(
        self,
        hub: Broadcast[Record],
        metrics: ApiMetrics,
        *,
        busy: Callable[[], bool] = lambda: False,
        client_limit: int = 4096,
        hold_s: float = 0.25,
        prices: PriceBoard | None = None,
    ) -> None:
        self._hub = hub
        self._prices = prices
        self._price_frame: bytes | None = None
        self._busy = busy
        self._metrics = metrics
        self._client_limit = client_limit
        self._hold_s = hold_s
        self._clients: set[SseClient] = set()
        self._journal = Journal()
        self._running = False

    @property
    def running(self) -> bool:
        return self._running

    def register(self, types: frozenset[str]) -> SseClient:
        """A new client; one that asks for ``price`` gets the latest poll's frame first, if there is one."""
        client = SseClient(types, self._journal)
        if PRICE_TYPE in types:
            client.price = self._price_frame
        self._clients.add(client)
        return client

    def unregister(self, client: SseClient) -> None:
        self._clients.discard(client)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self._running = True
        try:
            async with trio.open_nursery() as nursery:
                if self._prices is not None:
                    nursery.start_soon(self._follow_prices, self._prices)
                started = False
                while not self._hub.closed:
                    async with self._hub.subscribe(HUB_BUFFER) as subscription:
                        if not started:
                            task_status.started()
                            started = True
                        await self._follow(subscription)
                    self._end_all(dropped=subscription.dropped)
                nursery.cancel_scope.cancel()
        finally:
            self._running = False
            self._end_all(dropped=False)

    async def _follow_prices(self, prices: PriceBoard) -> None:
        """Each poll's price frame, rendered once, into the slot of every client that asked for it."""
        version = 0
        while True:
            version, mids = await prices.next_after(version)
            self._price_frame = frame = price_frame(mids)
            clients = [client for client in self._clients if PRICE_TYPE in client.types]
            for client in clients:
                client.price = frame
            await self._wake_in_chunks(clients)

    async def _follow(self, subscription: Subscription[Record]) -> None:
        in_cycle = False
        while True:
            try:
                if in_cycle:
                    with trio.move_on_after(self._hold_s) as held:
                        batch = [await subscription.receive()]
                    if held.cancelled_caught:
                        in_cycle = False
                        await self._wake()
                        continue
                else:
                    batch = [await subscription.receive()]
            except trio.EndOfChannel:
                await self._wake()
                return
            while True:
                try:
                    batch.append(subscription.receive_nowait())
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
            in_cycle = self._deliver(batch, in_cycle)
            if not in_cycle:
                await self._wake()

    def _deliver(self, records: Sequence[Record], in_cycle: bool) -> bool:
        """Journal each record's frame (for clients to read when woken); return whether a cycle is open."""
        journal = self._journal
        for record in records:
            if record.kind == "cycle":
                in_cycle = True
            elif record.kind == "settled":
                in_cycle = False
            event_type = TYPE_OF_KIND.get(record.kind)
            if event_type is not None and self._clients:
                journal.append(record.seq, event_type, frame(record, event_type))
        return in_cycle

    async def _wake(self) -> None:
        """Drop the clients too far behind, then wake the others a chunk at a time, yielding to a cycle."""
        journal = self._journal
        for client in list(self._clients):
            if journal.end - client.position > self._client_limit:
                self._drop(client)
        clients = [client for client in self._clients if client.position < journal.end]
        journal.trim(min((client.position for client in self._clients), default=journal.end))
        await self._wake_in_chunks(clients)

    async def _wake_in_chunks(self, clients: Sequence[SseClient]) -> None:
        for start in range(0, len(clients), WAKE_CHUNK):
            deadline = trio.current_time() + self._hold_s
            while self._busy() and trio.current_time() < deadline:  # noqa: ASYNC110 - a flag, not an event
                await trio.sleep(BUSY_POLL_S)
            for client in clients[start : start + WAKE_CHUNK]:
                client.wake()
            await trio.lowlevel.checkpoint()  # this chunk sends in the next batch, beside any trading step

    def _drop(self, client: SseClient) -> None:
        self._clients.discard(client)
        self._metrics.sse_dropped += 1
        client.end(dropped=True)

    def _end_all(self, *, dropped: bool) -> None:
        for client in list(self._clients):
            if dropped:
                self._drop(client)
            else:
                self._clients.discard(client)
                client.end(dropped=False)
