"""Hostile HTTP against the real server: no secured route without the token, bodies within bounds, a cap on event
streams per client, and no file outside the static folder."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from tests.integration.api_support import TOKEN, api_config, served


async def test_every_secured_operation_answers_401_without_the_token(tmp_path: Path) -> None:
    async with served(tmp_path, api_config(token=TOKEN), cycles=1) as server:
        async with server.client() as client:
            document = (await client.get("/openapi.json")).json()
        secured = [
            (method.upper(), re.sub(r"\{[^}]+\}", "1", path))
            for path, operations in document["paths"].items()
            for method, operation in operations.items()
            if operation.get("security", document.get("security", []))
        ]
        assert len(secured) >= 10
        async with server.client(auth=False) as stranger:
            answers = {}
            for method, path in secured:
                answer = await stranger.request(method, path, json={} if method == "POST" else None)
                answers[method, path] = answer.status_code
    assert {key: status for key, status in answers.items() if status != 401} == {}


async def test_a_body_too_large_gets_413_even_without_a_length(tmp_path: Path) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # chunked: no Content-Length to refuse it by
        for _ in range(10):
            yield b"x" * 1000

    async with served(tmp_path, api_config(token=TOKEN), cycles=0) as server, server.client() as client:
        declared = await client.post("/killswitch", content=b"x" * 5000)
        streamed = await client.post("/killswitch", content=chunks())
        fits = await client.post("/killswitch", json={"state": "ACTIVE"})
    assert (declared.status_code, declared.json()["parameter"]) == (413, "body")
    assert (streamed.status_code, streamed.json()["parameter"]) == (413, "body")
    assert fits.status_code == 200


async def trickle(url: str, path: str, body: bytes, *, every_s: float) -> bytes:
    """POST ``body`` over a raw socket, one byte every ``every_s``; what the server answered (before it all went)."""
    host, port = url.removeprefix("http://").split(":")
    stream = await trio.open_tcp_stream(host, int(port))
    async with stream:
        head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\n"
        await stream.send_all(f"{head}Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode())
        answer = bytearray()
        async with trio.open_nursery() as nursery:

            async def send_slowly() -> None:
                for byte in body:
                    await trio.sleep(every_s)
                    await stream.send_all(bytes([byte]))

            nursery.start_soon(send_slowly)
            while chunk := await stream.receive_some():
                answer += chunk
                if b"\r\n\r\n" in answer:
                    break
            nursery.cancel_scope.cancel()
        return bytes(answer)


@pytest.mark.slow
async def test_headers_sent_a_byte_a_second_are_cut_off_and_block_nobody(tmp_path: Path) -> None:
    config = api_config(token=TOKEN, B1E55ED_API__REQUEST_TIMEOUT_S="2")
    async with served(tmp_path, config, cycles=0) as server, server.client() as client:
        host, port = server.url.removeprefix("http://").split(":")
        stream = await trio.open_tcp_stream(host, int(port))
        async with stream:
            closed_after: list[float] = []
            start = trio.current_time()

            async def slowloris() -> None:
                headers = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"y" * 60
                try:
                    for byte in headers:
                        await stream.send_all(bytes([byte]))
                        await trio.sleep(0.25)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    pass
                closed_after.append(trio.current_time() - start)

            async def watch() -> None:
                while await stream.receive_some():
                    pass  # the server says nothing to a request it never got: only the close
                closed_after.append(trio.current_time() - start)

            with trio.fail_after(10):
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(slowloris)
                    nursery.start_soon(watch)
                    await trio.sleep(0.5)
                    with trio.fail_after(1):  # while the headers trickle in
                        assert (await client.get("/health")).status_code == 200
    assert closed_after, "the trickling connection was never closed"
    assert closed_after[0] < 5  # about request_timeout_s, well before the 15 s the headers would take


async def open_stream(url: str) -> trio.SocketStream:
    """``GET /stream`` over a raw socket, once the server has sent its first frame (the stream is open)."""
    host, port = url.removeprefix("http://").split(":")
    stream = await trio.open_tcp_stream(host, int(port))
    await stream.send_all(f"GET /stream HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode())
    seen = bytearray()
    with trio.fail_after(5):
        while b"retry: 1000" not in seen:
            seen += await stream.receive_some()
    assert seen.startswith(b"HTTP/1.1 200"), bytes(seen)
    return stream


@pytest.mark.slow
async def test_a_body_sent_a_byte_a_second_gets_408_and_blocks_nobody(tmp_path: Path) -> None:
    config = api_config(token=TOKEN, B1E55ED_API__REQUEST_TIMEOUT_S="2")
    async with served(tmp_path, config, cycles=0) as server, server.client() as client:
        answers: dict[str, object] = {}

        async def slow() -> None:
            answers["slow"] = await trickle(server.url, "/killswitch", b'{"state": "HALTED"}', every_s=1.0)

        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(slow)
                await trio.sleep(0.5)
                with trio.fail_after(1):  # while the slow body trickles in
                    answers["health"] = (await client.get("/health")).status_code
        state = server.runtime.gate.state
    assert bytes(answers["slow"]).startswith(b"HTTP/1.1 408")  # type: ignore[call-overload]
    assert answers["health"] == 200
    assert state == "ACTIVE"  # the body never arrived, so nothing changed


async def test_event_streams_beyond_the_per_ip_limit_get_429(tmp_path: Path) -> None:
    config = api_config(token=TOKEN, B1E55ED_API__MAX_SSE_PER_IP="2")
    async with served(tmp_path, config, cycles=1) as server, server.client() as client:
        one, two = await open_stream(server.url), await open_stream(server.url)
        async with one, two:
            third = await client.get("/stream")
            assert third.status_code == 429
            assert "api.max_sse_per_ip" in third.json()["error"]
        with trio.fail_after(5):
            while "b1e55ed_sse_clients 0\n" not in (await client.get("/metrics")).text:  # noqa: ASYNC110 - polled
                await trio.sleep(0.05)
        again = await open_stream(server.url)  # room again
        await again.aclose()


@pytest.mark.parametrize(
    "path", ["/static/../../pyproject.toml", "/static/%2e%2e/%2e%2e/pyproject.toml", "/static/..%2f..%2fpyproject.toml"]
)
async def test_static_assets_never_serve_a_file_outside_their_folder(tmp_path: Path, path: str) -> None:
    async with served(tmp_path, api_config(token=TOKEN), cycles=0) as server, server.client() as client:
        answer = await client.get(path)
    assert answer.status_code in (400, 404)
    assert "[project]" not in answer.text
