"""``price`` frames on ``GET /stream``, with a real HTTP client against real hypercorn: the price monitor's mids
once per poll, without an ``id``; only for a client that asks for them; and a resumed stream still gets every log
event with no gap. Hyperliquid's ``allMids`` is a fake behind ``httpx.MockTransport``, polled in real time."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import httpx
import pytest
import trio

from b1e55ed.clock import WallClock
from b1e55ed.health import HealthRegistry
from b1e55ed.hyperliquid.info import InfoClient
from b1e55ed.market.hyperliquid import HyperliquidFeed
from b1e55ed.market.mids import PriceBoard
from tests.fakes.hyperliquid_info import FakeHyperliquidInfo
from tests.integration.api_support import Served, served
from tests.integration.test_sse import append_cycle

# As in test_sse.py: httpx's body generators, left suspended on an endless stream, are the client's bookkeeping.
pytestmark = [
    pytest.mark.filterwarnings(
        r"ignore:Exception ignored in. <async_generator object (?!_events):pytest.PytestUnraisableExceptionWarning"
    ),
    pytest.mark.slow,  # a real server polled on the wall clock
]

POLL_S = 0.2


@dataclass
class Frame:
    id: int | None
    event: str
    data: dict[str, object]
    at: float  # trio time when it arrived


class Reader:
    """One SSE stream, frame by frame; a frame may have no ``id``."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.aiter_lines()

    async def next(self) -> Frame:
        fields: dict[str, str] = {}
        async for line in self._lines:
            if line == "" and "data" in fields:
                frame_id = int(fields["id"]) if "id" in fields else None
                return Frame(frame_id, fields["event"], json.loads(fields["data"]), trio.current_time())
            if line == "":
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
        raise AssertionError("the stream ended")

    async def read_log(self, count: int) -> tuple[list[Frame], list[Frame]]:
        """The next ``count`` log events (frames with an ``id``), and the price frames that came between them."""
        events: list[Frame] = []
        prices: list[Frame] = []
        with trio.fail_after(10):
            while len(events) < count:
                frame = await self.next()
                (events if frame.id is not None else prices).append(frame)
        return events, prices

    async def read(self, count: int, *, event: str | None = None) -> list[Frame]:
        """The next ``count`` frames (of ``event`` only, when given)."""
        got: list[Frame] = []
        with trio.fail_after(10):
            while len(got) < count:
                frame = await self.next()
                if event is None or frame.event == event:
                    got.append(frame)
        return got


@dataclass
class Polled:
    server: Served
    fake: FakeHyperliquidInfo


@asynccontextmanager
async def polled(tmp_path: Path, *, cycles: int = 0) -> AsyncIterator[Polled]:
    """The API, with a price monitor polling a fake ``allMids`` every ``POLL_S``."""
    fake = FakeHyperliquidInfo()
    fake.set_mids({"BTC": 42_000.5, "ETH": 2_200.25})
    clock = WallClock()
    board = PriceBoard(HealthRegistry(clock))
    async with httpx.AsyncClient(transport=fake.transport()) as http, trio.open_nursery() as nursery:
        feed = HyperliquidFeed(InfoClient(http), ["BTC", "ETH"], "1h", clock, mids_interval_s=POLL_S)
        async with served(tmp_path, cycles=cycles, prices=board) as server:
            nursery.start_soon(board.watch, feed)
            yield Polled(server, fake)
            nursery.cancel_scope.cancel()


async def test_price_frames_arrive_once_per_poll_with_the_mids_and_no_id(tmp_path: Path) -> None:
    async with (
        polled(tmp_path) as run,
        run.server.client() as client,
        client.stream("GET", "/stream", params={"types": "price"}) as response,
    ):
        reader = Reader(response)
        first = await reader.read(3)
        run.fake.set_mids({"BTC": 43_000.0})
        later = await reader.read(3)
        polls = run.fake.count("allMids")
    frames = first + later
    assert {frame.event for frame in frames} == {"price"}
    assert {frame.id for frame in frames} == {None}
    assert first[0].data["source"] == "hyperliquid"
    assert first[0].data["prices"] == {"BTC": 42_000.5, "ETH": 2_200.25}
    assert later[-1].data["prices"] == {"BTC": 43_000.0, "ETH": 2_200.25}
    times = [int(str(frame.data["ts"])) for frame in frames]
    assert times == sorted(set(times))  # each poll once, in order
    assert len(frames) <= polls
    gaps = [b.at - a.at for a, b in pairwise(frames[1:])]  # the first frame is the latest poll's, at once
    assert POLL_S * 0.7 < sum(gaps) / len(gaps) < POLL_S * 1.5, gaps
    assert all(gap < POLL_S * 4 for gap in gaps), gaps


async def test_only_a_client_that_asks_for_price_gets_price_frames(tmp_path: Path) -> None:
    async with (
        polled(tmp_path) as run,
        run.server.client() as client,
        client.stream("GET", "/stream") as default,
        client.stream("GET", "/stream", params={"types": "cycle"}) as cycles,
        client.stream("GET", "/stream", params={"types": "price"}) as prices,
    ):
        await Reader(prices).read(3)  # three polls went by for every stream
        seqs = await append_cycle(run.server.runtime.log, 1)
        everything = await Reader(default).read(len(seqs))
        only_cycles = await Reader(cycles).read(3)
    assert [frame.id for frame in everything] == seqs  # no price frame in between
    assert {frame.event for frame in only_cycles} == {"cycle"}


async def test_a_resumed_stream_gets_every_log_event_with_no_gap_between_price_frames(tmp_path: Path) -> None:
    async with polled(tmp_path) as run, run.server.client() as client:
        log = run.server.runtime.log
        everything = {"types": "signal,decision,order,fill,position,cycle,karma,health,killswitch,price"}
        async with client.stream("GET", "/stream", params=everything) as response:
            reader = Reader(response)
            await reader.read(1, event="price")  # connected
            seqs = await append_cycle(log, 1)
            first, _ = await reader.read_log(6)
        assert [frame.id for frame in first] == seqs[:6]
        last_id = first[-1].id  # what a browser resumes from: price frames carry no id
        missed = seqs[6:] + await append_cycle(log, 2)
        resumed = {"Last-Event-ID": str(last_id)}
        async with client.stream("GET", "/stream", params=everything, headers=resumed) as response:
            reader = Reader(response)
            caught_up, _ = await reader.read_log(len(missed))
            live = await append_cycle(log, 3)
            after, prices = await reader.read_log(len(live))
            prices += await reader.read(2, event="price")
    assert [frame.id for frame in caught_up] == missed
    assert [frame.id for frame in after] == live
    assert {frame.event for frame in prices} == {"price"}
