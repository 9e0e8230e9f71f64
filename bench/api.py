"""API benchmark: requests/s and latency of ``/health`` and ``/signals``, SSE fan-out, and trading under SSE load.

``python bench/api.py [--quick]``. One JSON object per line on stdout (notes on stderr). Servers run in child
processes (``api_servers.py``: hypercorn's trio worker, as in production); the load comes from this process over
raw keep-alive sockets, so the client costs little next to the server.

- ``http``: p50/p95 latency and requests/s for ``GET /health`` and ``GET /signals?symbol=BTC&limit=10`` at 10 and
  50 connections, against a bare Starlette endpoint that returns the same bytes, served the same way, measured
  interleaved with ours in the same run (``ratio = ours / bare``; for requests/s the target is >= 0.7).
- ``sse``: 100 and 1,000 clients on ``/stream``; the server appends 20 events a second, each carrying its
  creation time, and every client notes when each arrives: p95 delivery latency, and clients dropped.
- ``cycles``: the whole trading pipeline on the simulated market, a cycle every 0.25 s: mean cycle time (tick
  to settlement, from ``/metrics``) with 1,000 SSE clients connected and reading, against none (target <= 2x).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import common
import trio
from api_servers import CLIENT_NICENESS, EVENTS_PER_S, TOKEN, Child
from common import note

SIGNALS_PATH = "/signals?symbol=BTC&limit=10"
BENCH_ALERT = re.compile(rb'"seq":(\d+),[^\n]*?bench-sent (\d+)')


# ---------------------------------------------------------------------------------------------- the clients


async def connect(port: int, *, attempts: int = 300) -> trio.SocketStream:
    for _ in range(attempts):
        try:
            return await trio.open_tcp_stream("127.0.0.1", port)
        except OSError:
            await trio.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


class HttpClient:
    """HTTP/1.1 keep-alive over one socket: just enough to time requests whose answers have a Content-Length."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = bytearray()

    async def get(self, path: str) -> tuple[int, bytes]:
        request = f"GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode()
        await self.stream.send_all(request)
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            await self._fill()
        head = bytes(self.buffer[:end]).decode("latin-1")
        status = int(head.split(" ", 2)[1])
        match = re.search(r"(?i)content-length: *(\d+)", head)
        length = int(match.group(1)) if match else 0
        while len(self.buffer) < end + 4 + length:
            await self._fill()
        body = bytes(self.buffer[end + 4 : end + 4 + length])
        del self.buffer[: end + 4 + length]
        return status, body

    async def _fill(self) -> None:
        data = await self.stream.receive_some(65536)
        if not data:
            raise ConnectionError("the server closed the connection")
        self.buffer += data


async def wait_ready(port: int, path: str = "/health", timeout_s: float = 60) -> None:
    with trio.fail_after(timeout_s):
        while True:
            try:
                client = HttpClient(await connect(port))
                status, _ = await client.get(path)
                await client.stream.aclose()
                if status == 200:
                    return
            except (OSError, ConnectionError):
                pass
            await trio.sleep(0.2)


async def load(port: int, path: str, connections: int, seconds: float) -> tuple[float, float, float]:
    """(p50 ms, p95 ms, requests/s) with ``connections`` clients each sending back to back."""
    latencies: list[float] = []
    clients = [HttpClient(await connect(port)) for _ in range(connections)]
    await clients[0].get(path)  # warm

    async def worker(client: HttpClient, deadline: float) -> None:
        while (start := time.perf_counter()) < deadline:
            status, _ = await client.get(path)
            if status != 200:
                raise RuntimeError(f"GET {path}: {status}")
            latencies.append((time.perf_counter() - start) * 1000)

    began = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for client in clients:
            nursery.start_soon(worker, client, began + seconds)
    elapsed = time.perf_counter() - began
    for client in clients:
        await client.stream.aclose()
    return common.percentile(latencies, 50), common.percentile(latencies, 95), len(latencies) / elapsed


async def sse_clients(
    port: int, count: int, seconds: float, types: str, on_open: Callable[[], None] | None = None
) -> tuple[list[tuple[int, int, int]], int]:
    """``count`` clients connect to ``/stream``; once all of them are streaming, ``on_open`` is called and they
    read for ``seconds``: ((seq, created ns, received ns) of every bench alert received in that time, clients
    whose stream ended)."""
    received: list[tuple[int, int, int]] = []
    ended = 0
    connected = 0
    all_connected = trio.Event()
    measuring = False
    request = f"GET /stream?types={types} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode()

    async def client(stream: trio.SocketStream) -> None:
        nonlocal ended, connected
        tail = b""
        await stream.send_all(request)
        first = True
        while True:
            data = await stream.receive_some(65536)
            now = time.time_ns()
            if not data:
                ended += 1
                return
            if first:
                first = False
                connected += 1
                if connected == count:
                    all_connected.set()
            if not measuring:
                continue
            chunk = tail + data
            cut = chunk.rfind(b"\n")
            for match in BENCH_ALERT.finditer(chunk, 0, cut + 1):
                received.append((int(match.group(1)), int(match.group(2)), now))
            tail = chunk[cut + 1 :]

    streams = [await connect(port) for _ in range(count)]
    async with trio.open_nursery() as nursery:
        for stream in streams:
            nursery.start_soon(client, stream)
        with trio.move_on_after(60):
            await all_connected.wait()
        if connected < count:
            note(f"only {connected} of {count} SSE clients connected within 60 s")
        await trio.sleep(0.5)
        measuring = True
        if on_open is not None:
            on_open()
        await trio.sleep(seconds)
        nursery.cancel_scope.cancel()
    for stream in streams:
        await stream.aclose()
    return received, ended


async def scrape(port: int) -> dict[str, float]:
    client = HttpClient(await connect(port))
    _, body = await client.get("/metrics")
    await client.stream.aclose()
    return {
        name: float(value)
        for name, value in (line.split(" ", 1) for line in body.decode().splitlines() if line and line[0] != "#")
    }


# ---------------------------------------------------------------------------------------------- the figures


async def bench_http(repeats: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        api = Child("api", str(Path(tmp) / "brain.db"), "-")
        try:
            await wait_ready(api.port, SIGNALS_PATH, timeout_s=120)
            client = HttpClient(await connect(api.port))
            _, signals_body = await client.get(SIGNALS_PATH)
            await client.stream.aclose()
            body_file = Path(tmp) / "signals.json"
            body_file.write_bytes(signals_body)
            bare = Child("bare", str(body_file))
            try:
                await wait_ready(bare.port)
                for path, name in (("/health", "health"), (SIGNALS_PATH, "signals")):
                    for connections in (10, 50):
                        ours: dict[str, list[float]] = {"p50": [], "p95": [], "rps": []}
                        raw: dict[str, list[float]] = {"p50": [], "p95": [], "rps": []}
                        for _ in range(repeats):
                            for port, into in ((api.port, ours), (bare.port, raw)):
                                p50, p95, rps = await load(port, path, connections, seconds)
                                into["p50"].append(p50)
                                into["p95"].append(p95)
                                into["rps"].append(rps)
                        variant = f"{name}/{connections}conn"
                        note(f"{variant}: rps {statistics.median(ours['rps']):.0f} vs bare "
                             f"{statistics.median(raw['rps']):.0f}")  # fmt: skip
                        extra = {"load": common.load_average(), "path": path, "connections": connections}
                        rps_target = {"target": 0.7} if name == "signals" else {}
                        common.figure("api", f"requests_per_s/{variant}", "req/s", ours["rps"], raw["rps"],
                                      "bare Starlette on hypercorn-trio, same bytes", **extra)  # fmt: skip
                        if rps_target:
                            ratio = statistics.median(ours["rps"]) / statistics.median(raw["rps"])
                            common.emit(bench="api", metric="rps_ratio", variant=variant, unit="ratio",
                                        median=round(ratio, 3), target=0.7, meets_target=ratio >= 0.7)  # fmt: skip
                        p95_target: dict[str, object] = (
                            {"target": 10.0, "at_most": True} if (name, connections) == ("signals", 10) else {}
                        )
                        common.figure("api", f"p50_ms/{variant}", "ms", ours["p50"], raw["p50"], "bare", **extra)
                        common.figure("api", f"p95_ms/{variant}", "ms", ours["p95"], raw["p95"], "bare",
                                      **extra, **p95_target)  # fmt: skip
            finally:
                bare.stop()
        finally:
            api.stop()


async def bench_sse(repeats: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        commits_file = Path(tmp) / "commits.txt"
        api = Child("api", str(Path(tmp) / "brain.db"), str(commits_file))
        runs: dict[int, list[tuple[list[tuple[int, int, int]], float]]] = {100: [], 1000: []}
        try:
            await wait_ready(api.port, timeout_s=120)
            for count in runs:
                for _ in range(repeats):
                    before = await scrape(api.port)
                    received, ended = await sse_clients(api.port, count, seconds, "health")
                    after = await scrape(api.port)
                    drops = after["b1e55ed_sse_dropped_total"] - before["b1e55ed_sse_dropped_total"]
                    runs[count].append((received, max(ended, drops)))
                    await trio.sleep(1.0)
        finally:
            api.stop()
        committed: dict[int, int] = {}
        for line in commits_file.read_text().splitlines():
            seq, ns = line.split()
            committed[int(seq)] = int(ns)
    for count, results in runs.items():
        p95s, end_to_end, dropped = [], [], []
        for received, drops in results:
            after_commit = [(got - committed[seq]) / 1e6 for seq, _, got in received if seq in committed]
            p95s.append(common.percentile(after_commit, 95))
            end_to_end.append(common.percentile([(got - made) / 1e6 for _, made, got in received], 95))
            dropped.append(drops)
        note(f"sse {count} clients: p95 {statistics.median(p95s):.1f} ms after commit, dropped {dropped}")
        target = {"target": 25.0, "meets_target": statistics.median(p95s) <= 25.0} if count == 100 else {}
        common.emit(bench="api", metric="sse_delivery_p95_ms", variant=f"{count}clients", unit="ms",
                    median=round(statistics.median(p95s), 3), runs=common.rounded(p95s),
                    measured="from the event's commit to its arrival at the client",
                    created_to_client_p95_median=round(statistics.median(end_to_end), 3),
                    events_per_s=EVENTS_PER_S, dropped_clients_runs=dropped, load=common.load_average(),
                    **target)  # fmt: skip


async def bench_cycles(repeats: int, seconds: float, clients: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        child = Child("trading", str(Path(tmp) / "brain.db"), str(Path(tmp) / "data"))
        try:
            await wait_ready(child.port, timeout_s=120)
            await trio.sleep(2.0)
            quiet: list[float] = []
            loaded: list[float] = []
            dropped: list[float] = []

            async def window(with_clients: int) -> float:
                marks: dict[str, dict[str, float]] = {}

                async def measure() -> None:
                    marks["before"] = await scrape(child.port)
                    await trio.sleep(seconds)
                    marks["after"] = await scrape(child.port)

                if with_clients:
                    async with trio.open_nursery() as nursery:
                        opened = trio.Event()

                        async def hold() -> None:
                            _, ended = await sse_clients(child.port, with_clients, seconds + 3, "", opened.set)
                            dropped.append(ended)

                        nursery.start_soon(hold)
                        await opened.wait()
                        await measure()
                else:
                    await measure()
                before, after = marks["before"], marks["after"]
                cycles = after["b1e55ed_cycle_seconds_count"] - before["b1e55ed_cycle_seconds_count"]
                spent = after["b1e55ed_cycle_seconds_sum"] - before["b1e55ed_cycle_seconds_sum"]
                return spent / cycles * 1000 if cycles else float("nan")

            for _ in range(repeats):
                quiet.append(await window(0))
                loaded.append(await window(clients))
            note(f"cycle ms: quiet {quiet}, with {clients} SSE clients {loaded}")
            common.figure("api", f"cycle_ms/{clients}sse_clients", "ms", loaded, quiet,
                          "the same pipeline with no SSE client",
                          dropped_clients_runs=dropped, load=common.load_average())  # fmt: skip
            ratio = statistics.median(loaded) / statistics.median(quiet)
            common.emit(bench="api", metric="cycle_ratio", variant=f"{clients}sse_clients", unit="ratio",
                        median=round(ratio, 3), target=2.0, meets_target=ratio <= 2.0)  # fmt: skip
        finally:
            child.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer, shorter runs")
    parser.add_argument("--only", choices=["http", "sse", "cycles"], action="append")
    args = parser.parse_args(argv)
    os.nice(CLIENT_NICENESS)
    repeats, seconds = (3, 2.0) if args.quick else (5, 4.0)
    only = set(args.only or ["http", "sse", "cycles"])
    if "http" in only:
        trio.run(bench_http, repeats, seconds)
    if "sse" in only:
        trio.run(bench_sse, repeats, seconds * 2)
    if "cycles" in only:
        trio.run(bench_cycles, repeats, seconds * 2, 1000)


if __name__ == "__main__":
    main()
