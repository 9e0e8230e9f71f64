"""Trading under API load, briefly: a real ``b1e55ed run`` on the simulated market (a cycle a second) while a fleet
of clients sends mixed GETs and SSE clients stream every type. No answer is a 5xx, cycles keep settling, and every
SSE client receives every streamed event in seq order with no gap (checked against the log). The figures, cycle
latency against the same run without load, are ``bench/load.py``'s."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

import httpx
import pytest
import trio

from b1e55ed.api.fanout import TYPE_OF_KIND
from b1e55ed.api.server import free_port

TOKEN = "load-test-token-0123456789"
PATHS = ("/health", "/signals?limit=20", "/positions", "/decisions?limit=20", "/strategies", "/karma")
SECONDS = 6.0
READERS = 10

pytestmark = [
    pytest.mark.slow,
    # httpx leaves a stream's body generator suspended when the client stops reading: its own bookkeeping.
    pytest.mark.filterwarnings(
        r"ignore:Exception ignored in. <async_generator object:pytest.PytestUnraisableExceptionWarning"
    ),
]


def start(workdir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("B1E55ED_")}
    env |= {
        "B1E55ED_API__PORT": str(port),
        "B1E55ED_API__AUTH_TOKEN": TOKEN,
        "B1E55ED_API__RATE_LIMIT_PER_MIN": "0",
        "B1E55ED_API__MAX_SSE_PER_IP": "100",
        "B1E55ED_MARKET__SIM_PACE": "wall",
        "B1E55ED_BRAIN__INTERVAL_S": "1",
        "B1E55ED_TIMEFRAME": "1s",  # a candle a second: a cycle a second
        "B1E55ED_SYMBOLS": "[BTC, ETH, SOL, DOGE, AVAX]",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "b1e55ed", "run", "--market", "sim", "--db", str(workdir / "brain.db")],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def wait_ready(client: httpx.AsyncClient) -> None:
    with trio.fail_after(60):
        while True:
            try:
                health = await client.get("/health")
                if health.status_code == 200 and health.json()["last_cycle"] is not None:
                    return
            except httpx.TransportError:
                pass
            await trio.sleep(0.2)


async def drive(base: str) -> tuple[Counter[int], list[list[int]]]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    statuses: Counter[int] = Counter()
    seen: list[list[int]] = [[] for _ in range(READERS)]
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        await wait_ready(client)

        async def reader(index: int) -> None:
            async with client.stream("GET", "/stream") as response:
                async for line in response.aiter_lines():
                    if line.startswith("id: "):
                        seen[index].append(int(line[4:]))

        async def getter(index: int) -> None:
            sent = 0
            while True:
                response = await client.get(PATHS[(index + sent) % len(PATHS)])
                statuses[response.status_code] += 1
                sent += 1
                await trio.sleep(0.01)

        async with trio.open_nursery() as nursery:
            for index in range(READERS):
                nursery.start_soon(reader, index)
            for index in range(5):
                nursery.start_soon(getter, index)
            await trio.sleep(SECONDS)
            nursery.cancel_scope.cancel()
    return statuses, seen


def test_trading_goes_on_under_a_client_fleet_and_sse_clients_miss_nothing(tmp_path: Path) -> None:
    port = free_port()
    process = start(tmp_path, port)
    began = int(time.time() * 1000)
    try:
        statuses, seen = trio.run(drive, f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert sum(statuses.values()) > 100
    assert all(status < 500 for status in statuses), statuses
    with closing(sqlite3.connect(f"file:{tmp_path / 'brain.db'}?mode=ro", uri=True)) as conn:
        streamed = [
            seq for seq, kind in conn.execute("SELECT seq, kind FROM events ORDER BY seq") if kind in TYPE_OF_KIND
        ]
        settled = conn.execute("SELECT COUNT(*) FROM events WHERE kind = 'settled' AND ts >= ?", (began,)).fetchone()[0]
    assert settled >= 3, "cycles stopped settling under load"
    index = {seq: i for i, seq in enumerate(streamed)}
    for seqs in seen:
        assert len(seqs) > 10
        assert seqs == streamed[index[seqs[0]] : index[seqs[-1]] + 1]
