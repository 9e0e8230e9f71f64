"""Trading under API load: cycle latency with a client fleet and 100 SSE clients, against the same run without.
``[--quick]``

The whole pipeline runs in a child process (``api_servers.py trading``) on the simulated market at wall pace,
50 symbols, a cycle every second, with its API (rate limit off). First a bare Starlette endpoint, served the same
way, measures the request rate one machine reaches (``GET /health``, 10 connections); then the pipeline runs a
quiet window, then a loaded one: 100 SSE clients on ``/stream`` (every type) and a fleet of 10 connections
sending mixed GETs (health, signals, positions, decisions, strategies, karma, trades) paced to half the bare rate.

Figures: cycle latency (the brain's tick to its settlement, read from the log: ``CycleSettled.ts −
CycleStarted.ts``) p50 and p95, loaded against quiet (goal: p95 ratio ≤ 2); the 5xx answers (goal: none); and
every SSE client that kept up received every event of its types, in seq order, with no gap (checked against the
log). ``--quick`` runs 15-second windows with 20 symbols.
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import statistics
import tempfile
import time
from collections import Counter
from contextlib import closing
from pathlib import Path
from typing import Any

import common
import trio
from api import HttpClient, connect, load, wait_ready
from api_servers import CLIENT_NICENESS, TOKEN, Child
from common import note

from b1e55ed.api.fanout import TYPE_OF_KIND
from b1e55ed.eventlog import codec
from b1e55ed.messages import CycleSettled, CycleStarted

PATHS = (
    "/health", "/signals?limit=20", "/positions", "/decisions?limit=20", "/strategies", "/karma", "/trades?limit=20",
)  # fmt: skip
SSE_ID = re.compile(rb"^id: (\d+)$", re.MULTILINE)


async def fleet(port: int, rate: float, seconds: float, statuses: Counter[int], closed: Counter[str]) -> None:
    """10 connections, mixed GETs, ``rate`` requests a second in all, each connection on its own pace."""
    connections = 10
    gap = connections / rate

    async def worker(index: int) -> None:
        client = HttpClient(await connect(port))
        deadline = time.perf_counter() + seconds
        next_at = time.perf_counter() + index * gap / connections
        sent = 0
        while next_at < deadline:
            await trio.sleep_until(trio.current_time() + max(0.0, next_at - time.perf_counter()))
            path = PATHS[(index + sent) % len(PATHS)]
            try:
                status, _ = await client.get(path)
            except ConnectionError:  # the server closed a kept-alive connection: a client opens another
                closed[path] += 1
                await client.stream.aclose()
                client = HttpClient(await connect(port))
                continue
            statuses[status] += 1
            sent += 1
            next_at += gap
        await client.stream.aclose()

    async with trio.open_nursery() as nursery:
        for index in range(connections):
            nursery.start_soon(worker, index)


async def sse_readers(port: int, count: int, seconds: float) -> tuple[list[list[int]], int]:
    """``count`` clients on ``/stream`` (every type) for ``seconds``: each one's seqs in arrival order, and how many
    streams ended early (dropped)."""
    request = f"GET /stream HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode()
    seen: list[list[int]] = [[] for _ in range(count)]
    ended = 0

    async def reader(index: int) -> None:
        nonlocal ended
        stream = await connect(port)
        await stream.send_all(request)
        tail = b""
        try:
            while True:
                data = await stream.receive_some(65536)
                if not data:
                    ended += 1
                    return
                chunk = tail + data
                cut = chunk.rfind(b"\n")
                seen[index] += [int(m.group(1)) for m in SSE_ID.finditer(chunk, 0, cut + 1)]
                tail = chunk[cut + 1 :]
        finally:
            await stream.aclose()

    async with trio.open_nursery() as nursery:
        for index in range(count):
            nursery.start_soon(reader, index)
        await trio.sleep(seconds)
        nursery.cancel_scope.cancel()
    return seen, ended


def cycle_latencies(db: Path, first_ms: int, last_ms: int) -> list[float]:
    started: dict[int, int] = {}
    latencies: list[float] = []
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        rows = conn.execute("SELECT payload FROM events WHERE kind IN ('cycle', 'settled') ORDER BY seq")
        for (payload,) in rows:
            event = codec.decode(payload)
            if isinstance(event, CycleStarted) and first_ms <= event.ts <= last_ms:
                started[event.cycle] = event.ts
            elif isinstance(event, CycleSettled) and event.cycle in started:
                latencies.append(float(event.ts - started.pop(event.cycle)))
    return latencies


def gaps(db: Path, seen: list[list[int]]) -> int:
    """Clients whose seqs differ from the log's streamed events between their first and last."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        streamed = [
            seq for seq, kind in conn.execute("SELECT seq, kind FROM events ORDER BY seq") if kind in TYPE_OF_KIND
        ]
    index = {seq: i for i, seq in enumerate(streamed)}
    broken = 0
    for seqs in seen:
        if seqs and seqs != streamed[index[seqs[0]] : index[seqs[-1]] + 1]:
            broken += 1
    return broken


async def bench(seconds: float, symbols: int, clients: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        body = Path(tmp) / "health.json"
        body.write_bytes(b'{"status":"ok"}')
        bare = Child("bare", str(body))
        try:
            await wait_ready(bare.port)
            _, _, bare_rps = await load(bare.port, "/health", 10, 3.0)
        finally:
            bare.stop()
        db = Path(tmp) / "brain.db"
        child = Child("trading", str(db), str(Path(tmp) / "data"), "1", str(symbols))
        try:
            await wait_ready(child.port, timeout_s=180)
            await trio.sleep(5.0)
            quiet_from = int(time.time() * 1000)
            await trio.sleep(seconds)
            quiet_to = loaded_from = int(time.time() * 1000)
            statuses: Counter[int] = Counter()
            closed: Counter[str] = Counter()
            async with trio.open_nursery() as nursery:
                result: dict[str, Any] = {}

                async def hold() -> None:
                    result["seen"], result["ended"] = await sse_readers(child.port, clients, seconds + 2)

                nursery.start_soon(hold)
                await trio.sleep(1.0)
                loaded_from = int(time.time() * 1000)
                await fleet(child.port, bare_rps / 2, seconds, statuses, closed)
                loaded_to = int(time.time() * 1000)
        finally:
            child.stop()
        quiet, loaded = cycle_latencies(db, quiet_from, quiet_to), cycle_latencies(db, loaded_from, loaded_to)
        return {
            "bare_rps": bare_rps, "quiet": quiet, "loaded": loaded, "statuses": statuses,
            "sse_clients": clients, "sse_ended": result["ended"], "sse_gaps": gaps(db, result["seen"]),
            "sse_events_min": min(len(s) for s in result["seen"]), "symbols": symbols, "closed": closed,
        }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description="Trading under API load: one JSON line per figure on stdout.")
    parser.add_argument("--quick", action="store_true", help="15-second windows, 20 symbols")
    args = parser.parse_args()
    os.nice(CLIENT_NICENESS)
    os.environ["B1E55ED_API__MAX_SSE_PER_IP"] = "1000"  # every SSE client comes from this one address
    seconds, symbols = (15.0, 20) if args.quick else (60.0, 50)
    found = trio.run(bench, seconds, symbols, 100)
    quiet, loaded = found["quiet"], found["loaded"]
    note(f"cycles: quiet {len(quiet)}, loaded {len(loaded)}; requests {sum(found['statuses'].values())}")
    errors = sum(n for status, n in found["statuses"].items() if status >= 500)
    for p in (50, 95):
        ours, base = common.percentile(loaded, p), common.percentile(quiet, p)
        goal = {"goal_ratio": 2.0, "meets_goal": ours <= 2 * base} if p == 95 else {}
        baseline = "the same run before the load (no client)"
        common.figure("load", f"cycle_ms_p{p}/{symbols}symbols", "ms", [ours], [base], baseline, **goal,
                      load_avg_1m=common.load_average())  # fmt: skip
    common.emit(bench="load", metric="requests", variant=f"{symbols}symbols", unit="count",
                median=sum(found["statuses"].values()), rate_per_s=round(found["bare_rps"] / 2, 1),
                bare_rps=round(found["bare_rps"], 1), statuses=dict(found["statuses"]), server_errors=errors,
                closed_by_server=dict(found["closed"]),
                meets_target=errors == 0)  # fmt: skip
    common.emit(bench="load", metric="sse", variant=f"{found['sse_clients']}clients", unit="clients",
                dropped=found["sse_ended"], with_gaps=found["sse_gaps"], events_received_min=found["sse_events_min"],
                meets_target=found["sse_gaps"] == 0)  # fmt: skip
    quiet_ms, loaded_ms = statistics.median(quiet), statistics.median(loaded)
    note(f"median cycle {quiet_ms:.0f} ms quiet, {loaded_ms:.0f} ms loaded ({loaded_ms / quiet_ms:.2f}x)")


if __name__ == "__main__":
    main()
