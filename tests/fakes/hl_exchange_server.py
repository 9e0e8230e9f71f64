"""The mock exchange on a loopback socket: HTTP/1.1 (h11) over trio, in the test's process or in its own.

``await nursery.start(serve, exchange)`` returns the port; ``transport(exchange)`` is the same mock without a
socket. ``python -m tests.fakes.hl_exchange_server --wallet 0x... [--port N]`` runs it as a process: it prints
``PORT <n>`` once it listens, then serves until killed. A ``Reply`` with ``disconnect`` closes the connection
without an answer; one with ``delay_s`` answers late (or never, if the client has given up by then).
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import partial

import h11
import httpx
import trio

from tests.fakes.hl_exchange import MockExchange, Reply

MAX_BODY = 1 << 20


async def serve(
    exchange: MockExchange,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    listeners = await trio.open_tcp_listeners(port, host=host)
    task_status.started(listeners[0].socket.getsockname()[1])
    await trio.serve_listeners(partial(_connection, exchange), listeners)


async def _connection(exchange: MockExchange, stream: trio.SocketStream) -> None:
    conn = h11.Connection(h11.SERVER)
    try:
        while True:
            request = await _read_request(conn, stream)
            if request is None:
                return
            target, body = request
            reply = exchange.handle(target, body)
            if reply.disconnect:
                return
            if reply.delay_s:
                await trio.sleep(reply.delay_s)
            await _send(conn, stream, reply)
            if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                return
            conn.start_next_cycle()
    except (trio.BrokenResourceError, trio.ClosedResourceError, h11.RemoteProtocolError):
        return
    finally:
        await trio.aclose_forcefully(stream)


async def _read_request(conn: h11.Connection, stream: trio.SocketStream) -> tuple[str, bytes] | None:
    target, body = "", b""
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await stream.receive_some(65536)
            conn.receive_data(data)
            if not data and conn.their_state is not h11.DONE:
                return None
            continue
        if isinstance(event, h11.Request):
            target = event.target.decode().split("?")[0]
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > MAX_BODY:
                return None
        elif isinstance(event, h11.EndOfMessage):
            return target, body
        elif isinstance(event, h11.ConnectionClosed):
            return None


async def _send(conn: h11.Connection, stream: trio.SocketStream, reply: Reply) -> None:
    body = (reply.payload if isinstance(reply.payload, str) else json.dumps(reply.payload)).encode()
    kind = b"text/plain" if isinstance(reply.payload, str) else b"application/json"
    headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
    await stream.send_all(conn.send(h11.Response(status_code=reply.status, headers=headers)) or b"")
    await stream.send_all(conn.send(h11.Data(data=body)) or b"")
    await stream.send_all(conn.send(h11.EndOfMessage()) or b"")


def transport(exchange: MockExchange) -> httpx.MockTransport:
    """The mock as an ``httpx.MockTransport``, for autojump-clock tests (no socket): a late answer is a read
    timeout after the request was processed, a disconnect a dropped connection before it was."""

    def handle(request: httpx.Request) -> httpx.Response:
        reply = exchange.handle(request.url.path, request.content)
        if reply.disconnect:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
        if reply.delay_s:
            raise httpx.ReadTimeout("timed out", request=request)
        if isinstance(reply.payload, str):
            return httpx.Response(reply.status, text=reply.payload)
        return httpx.Response(reply.status, json=reply.payload)

    return httpx.MockTransport(handle)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="mock Hyperliquid exchange on loopback")
    parser.add_argument("--wallet", required=True, help="the address every signature must recover to")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--mainnet", action="store_true", help="verify signatures as mainnet (default testnet)")
    args = parser.parse_args(argv)
    exchange = MockExchange(wallet=args.wallet, is_mainnet=args.mainnet)

    async def run() -> None:
        async with trio.open_nursery() as nursery:
            port = await nursery.start(partial(serve, exchange, port=args.port))
            print(f"PORT {port}", flush=True)

    trio.run(run)


if __name__ == "__main__":
    main(sys.argv[1:])
