"""``GET /stream`` with a real HTTP client against real hypercorn: frames, reconnection, filters, heartbeats,
and a slow client dropped without slowing the log."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import trio

from b1e55ed.messages import Alert
from tests.integration.api_support import TOKEN, api_config, cycle_events, served

# httpx and httpcore leave their body generators suspended when a client stops reading an endless stream, and
# trio's finalizer warns about each: the client library's bookkeeping. The server's own generator stays checked.
pytestmark = pytest.mark.filterwarnings(
    r"ignore:Exception ignored in. <async_generator object (?!_events):pytest.PytestUnraisableExceptionWarning"
)


@dataclass
class Frame:
    id: int
    event: str
    data: dict[str, object]


class Reader:
    """One SSE stream, parsed frame by frame; comment lines are kept in ``comments``."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.aiter_lines()
        self.comments: list[str] = []

    async def next(self) -> Frame | None:
        """The next frame, or None at the end of the stream."""
        fields: dict[str, str] = {}
        async for line in self._lines:
            if line == "":
                if "data" in fields:
                    return Frame(int(fields["id"]), fields["event"], json.loads(fields["data"]))
                fields = {}
            elif line.startswith(":"):
                self.comments.append(line[1:].strip())
            else:
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
        return None

    async def connected(self) -> None:
        """Wait for the server's first comment: the subscription exists from then on."""
        with trio.fail_after(5):
            async for line in self._lines:
                if line.startswith(":"):
                    self.comments.append(line[1:].strip())
                    return

    async def read(self, count: int) -> list[Frame]:
        got: list[Frame] = []
        with trio.fail_after(10):
            while len(got) < count and (frame := await self.next()) is not None:
                got.append(frame)
        return got


async def append_cycle(server_log: object, cycle: int) -> list[int]:
    log = server_log
    first = log.head.seq + 1  # type: ignore[attr-defined]
    records = await log.append(*cycle_events(cycle, first_seq=first))  # type: ignore[attr-defined]
    return [r.seq for r in records]


async def test_a_client_reads_events_then_resumes_with_last_event_id(tmp_path: Path) -> None:
    async with served(tmp_path, api_config(token=TOKEN), cycles=0) as server, server.client() as client:
        log = server.runtime.log
        async with client.stream("GET", "/stream") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            reader = Reader(response)
            await reader.connected()  # subscribed from here on
            seqs = await append_cycle(log, 1)
            first = await reader.read(5)
        assert [f.id for f in first] == seqs[:5]
        assert [f.event for f in first] == ["cycle", "signal", "signal", "cycle", "decision"]
        assert first[1].data["seq"] == seqs[1]
        assert first[1].data["kind"] == "signal"
        assert first[1].data["signal"]["producer"] == "momentum"  # type: ignore[index]

        # Disconnected: the rest of cycle 1 and all of cycle 2 happen without us.
        more = await append_cycle(log, 2)
        missed = seqs[5:] + more
        async with client.stream("GET", "/stream", headers={"Last-Event-ID": str(first[-1].id)}) as response:
            reader = Reader(response)
            caught_up = await reader.read(len(missed))
            live = await append_cycle(log, 3)
            after = await reader.read(len(live))
    assert [f.id for f in caught_up] == missed
    assert [f.id for f in after] == live


async def test_types_filter_the_stream(tmp_path: Path) -> None:
    async with (
        served(tmp_path, cycles=0) as server,
        server.client() as client,
        client.stream("GET", "/stream", params={"types": "order,fill"}) as response,
    ):
        reader = Reader(response)
        await reader.connected()
        await append_cycle(server.runtime.log, 1)
        got = await reader.read(3)
    assert [f.event for f in got] == ["order", "order", "fill"]
    assert [f.data["kind"] for f in got] == ["order", "order", "fill"]


@pytest.mark.slow
async def test_an_idle_stream_sends_heartbeats(tmp_path: Path) -> None:
    async with (
        served(tmp_path, cycles=0, heartbeat_s=0.05) as server,
        server.client() as client,
        client.stream("GET", "/stream") as response,
    ):
        reader = Reader(response)
        with trio.move_on_after(0.5):
            await reader.next()
    assert reader.comments[0] == "connected"
    assert reader.comments.count("heartbeat") >= 3


@pytest.mark.slow
async def test_a_slow_client_is_dropped_and_never_slows_the_log(tmp_path: Path) -> None:
    async with served(tmp_path, cycles=0) as server, server.client() as client:
        log = server.runtime.log
        async with client.stream("GET", "/stream", params={"types": "health"}) as response:
            reader = Reader(response)
            await reader.connected()
            # Nobody reads: the client's socket and its hub buffer fill, and the hub drops it.
            for start in range(0, 20_000, 1000):
                with trio.fail_after(5):  # appends are never held up by the silent client
                    await log.append(
                        *[
                            Alert(ts=i, severity="info", source="test", message="x" * 200)
                            for i in range(start, start + 1000)
                        ]
                    )
            async with server.client() as other:
                metrics = (await other.get("/metrics")).text
            assert "b1e55ed_sse_dropped_total 1" in metrics
            assert "b1e55ed_sse_clients 1" in metrics  # dropped, but its buffered frames are still going out
            got = 0
            with trio.fail_after(10):
                while (frame := await reader.next()) is not None:  # what was buffered arrives, then the end
                    got = frame.id
        assert got < log.head.seq
        # It reconnects from where it stopped and gets the rest from the log.
        async with client.stream("GET", "/stream", headers={"Last-Event-ID": str(got)}) as response:
            rest = await Reader(response).read(log.head.seq - got)
    assert [f.id for f in rest] == list(range(got + 1, got + 1 + len(rest)))
