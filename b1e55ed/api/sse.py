"""``GET /stream``: committed events as Server-Sent Events, live from the fan-out, missed ones from the log.

Each frame's ``id`` is the event's ``seq``, its ``event`` one of ``EVENT_TYPES``, its ``data`` the event's JSON
with ``seq`` added. A client that reconnects with ``Last-Event-ID`` first gets what it missed, read from the log,
then the live stream, with no gap and no repeat. A client that asks for ``price`` in ``types`` also gets the price
monitor's mid prices, one frame per poll, with no ``id`` and nothing to resume: they are not events. The default,
with no ``types``, is every event type and not ``price``, so a consumer that reads every frame as a log event
(``id`` and ``seq`` included) keeps working. A client that falls behind is dropped (``fanout``), so a slow
client never slows trading. A comment line every ``heartbeat_s`` keeps proxies from closing an idle stream.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from contextlib import aclosing

import trio
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from b1e55ed.api.context import ApiContext
from b1e55ed.api.errors import ApiError
from b1e55ed.api.fanout import EVENT_TYPES as EVENT_TYPES  # re-exported: the dashboard names the types
from b1e55ed.api.fanout import STREAM_TYPES, TYPE_OF_KIND, Delivery, Fanout, StreamEnded, frame
from b1e55ed.eventlog.chain import Record

BACKFILL_PAGE = 500
RETRY_MS = 1000
LAST_EVENT_ID = re.compile(r"^[0-9]{1,15}$")
TYPES_PATTERN = "^({0})(,({0}))*$".format("|".join(STREAM_TYPES))


def frames(records: Iterable[Record], types: frozenset[str]) -> bytes:
    chunk = bytearray()
    for record in records:
        event_type = TYPE_OF_KIND.get(record.kind)
        if event_type is not None and event_type in types:
            chunk += frame(record, event_type)
    return bytes(chunk)


def _types(request: Request) -> frozenset[str]:
    raw = request.query_params.get("types")
    if not raw:
        return frozenset(EVENT_TYPES)
    wanted = frozenset(raw.split(","))
    if not wanted <= set(STREAM_TYPES):
        raise ApiError(400, f"`types` must be a comma-separated list of {', '.join(STREAM_TYPES)}", "types")
    return wanted


def _last_event_id(request: Request) -> int | None:
    raw = request.headers.get("last-event-id")
    if raw is None:
        return None
    if not LAST_EVENT_ID.match(raw):
        raise ApiError(400, f"`Last-Event-ID` must be an event seq (up to 15 digits), got {raw!r}", "Last-Event-ID")
    return int(raw)


def sse_routes(ctx: ApiContext, fanout: Fanout) -> list[BaseRoute]:
    per_ip = ctx.config.api.max_sse_per_ip
    open_streams: Counter[str] = Counter()  # by client IP

    async def stream(request: Request) -> Response:
        types = _types(request)
        after = _last_event_id(request)
        if not fanout.running:
            raise ApiError(503, "the event stream is not running (the server is starting or stopping)")
        address = request.client.host if request.client else ""
        if open_streams[address] >= per_ip:
            raise ApiError(429, f"{per_ip} event streams are open from {address or 'this client'} (api.max_sse_per_ip)")
        return StreamingResponse(
            _counted(open_streams, address, _events(ctx, fanout, types, after)),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return [Route("/stream", stream, methods=["GET"])]


async def _counted(
    open_streams: Counter[str], address: str, events: AsyncGenerator[bytes, None]
) -> AsyncIterator[bytes]:
    """The stream, counted as open from its first byte to its end (a client that left never started it)."""
    open_streams[address] += 1
    try:
        async with aclosing(events):  # its own ``finally`` (leaving the fan-out) runs now, not at collection
            async for chunk in events:
                yield chunk
    finally:
        open_streams[address] -= 1
        if not open_streams[address]:
            del open_streams[address]


async def _events(
    ctx: ApiContext, fanout: Fanout, types: frozenset[str], after: int | None
) -> AsyncGenerator[bytes, None]:
    client = fanout.register(types)  # before the backfill, so nothing falls between the two
    ctx.metrics.sse_connections += 1
    ctx.metrics.sse_clients += 1
    try:
        yield b"retry: %d\n: connected\n\n" % RETRY_MS
        sent = -1
        if after is not None:
            sent = after
            while records := await ctx.store.read(after=sent, limit=BACKFILL_PAGE):
                sent = records[-1].seq
                if chunk := frames(records, client.types):
                    yield chunk
        while True:
            pending: Delivery | None = None
            with trio.move_on_after(ctx.sse_heartbeat_s):
                try:
                    pending = await client.take()
                except StreamEnded:
                    return
            if pending is None:
                yield b": heartbeat\n\n"
                continue
            fresh = [data for seq, data in pending.frames if seq > sent]
            if fresh:
                sent = pending.frames[-1][0]
            if pending.price is not None:
                fresh.append(pending.price)
            if fresh:
                yield b"".join(fresh)
    finally:
        fanout.unregister(client)
        ctx.metrics.sse_clients -= 1
