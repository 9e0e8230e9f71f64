"""Collector benchmark: candles/s through ``collect ohlcv`` against the in-process fake Binance. ``[--quick]``

Ours: ``collect_ohlcv`` for BTC, ETH and SOL 1h candles from scratch into a fresh temp dir, through the whole path:
``httpx.AsyncClient`` on a ``MockTransport`` (the fake in ``tests/fakes/binance.py``, no sleeps, rows pre-rendered
to JSON), the weight budget, msgspec decoding, the row checks, and atomic Parquet flushes (``flush_every_1s``, the
default, and ``flush_every_page``, the most careful). Baseline, measured in the same run, interleaved: the same
response bodies, already in memory, decoded with a typed msgspec decoder into ``pl.DataFrame`` pages,
concatenated and written once per file (atomically, as ours): no HTTP client, no checks, no resume.
``ratio = ours / baseline``; ``fake_server_share`` is the fraction of our time spent inside the fake server.

One JSON object per line on stdout (notes on stderr); each figure is the median of 3 runs.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import msgspec
import polars as pl
import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.fakes, when run as `python bench/collect.py`

from common import figure, note

from b1e55ed.clock import ManualClock
from b1e55ed.collect.binance import KLINE_LIMIT, BinanceMarketData
from b1e55ed.collect.http import JsonFetcher
from b1e55ed.collect.layout import CANDLE_SCHEMA, ohlcv_path
from b1e55ed.collect.ohlcv import collect_ohlcv
from b1e55ed.collect.session import Session
from b1e55ed.collect.store import DEFAULT_FLUSH_INTERVAL_S, write_atomic
from tests.fakes.binance import FakeBinance
from tests.fakes.hyperliquid_info import make_bars

SYMBOLS = ("BTC", "ETH", "SOL")
T0 = 1_514_764_800_000  # 2018-01-01 UTC
HOUR = 3_600_000
RUNS = 3


class TimedFake:
    """The fake, with the time spent answering added up."""

    def __init__(self, fake: FakeBinance) -> None:
        self.fake = fake
        self.seconds = 0.0

    async def handle(self, request: httpx.Request) -> httpx.Response:
        start = time.perf_counter()
        try:
            return await self.fake.handle(request)
        finally:
            self.seconds += time.perf_counter() - start


def build_fake(candles: int) -> tuple[FakeBinance, ManualClock]:
    clock = ManualClock(T0 + candles * HOUR + 1)  # every candle has closed
    fake = FakeBinance(now_ms=clock.now_ms)
    for index, symbol in enumerate(SYMBOLS):
        fake.add_bars("spot", f"{symbol}USDT", "1h", make_bars(T0, candles, HOUR, base=100.0 * (index + 1)))
    return fake, clock


def page_bodies(fake: FakeBinance, candles: int) -> dict[str, list[bytes]]:
    """Every answer the collector gets, per pair, rendered as the fake renders it."""
    bodies: dict[str, list[bytes]] = {}
    for symbol in SYMBOLS:
        rows = fake.klines[("spot", f"{symbol}USDT", "1h")]
        pages = [rows.select(T0 + i * HOUR, None, KLINE_LIMIT) for i in range(0, candles, KLINE_LIMIT)]
        bodies[symbol] = [("[" + ",".join(page) + "]").encode() for page in pages]
    return bodies


async def ours(fake: TimedFake, clock: ManualClock, data_dir: Path, flush_interval_s: float) -> float:
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake.handle)) as http:
        session = Session(
            data_dir, JsonFetcher(http), clock, progress_stream=io.StringIO(), flush_interval_s=flush_interval_s
        )
        start = time.perf_counter()
        await collect_ohlcv(session, BinanceMarketData(session.fetcher), SYMBOLS, ["1h"], since_ms=T0)
        return time.perf_counter() - start


class Kline(msgspec.Struct, array_like=True):
    """The baseline's own decoding of a kline row: its first six fields, prices as floats (lax: from strings)."""

    ts: int
    open: float
    high: float
    low: float
    close: float
    volume: float


def baseline(bodies: dict[str, list[bytes]], data_dir: Path) -> float:
    decoder = msgspec.json.Decoder(list[Kline], strict=False)
    start = time.perf_counter()
    for symbol, pages in bodies.items():
        frames = []
        for body in pages:
            rows = decoder.decode(body)
            columns = {name: [getattr(row, name) for row in rows] for name in CANDLE_SCHEMA}
            frames.append(pl.DataFrame(columns, schema=dict(CANDLE_SCHEMA)))
        write_atomic(ohlcv_path(data_dir, symbol, "1h"), pl.concat(frames))
    return time.perf_counter() - start


def bench(root: Path, candles: int) -> None:
    fake, clock = build_fake(candles)
    bodies = page_bodies(fake, candles)
    total = candles * len(SYMBOLS)
    for variant, interval in (("flush_every_1s", DEFAULT_FLUSH_INTERVAL_S), ("flush_every_page", 0.0)):
        mine, theirs, shares = [], [], []
        for run in range(RUNS):
            timed = TimedFake(fake)
            with tempfile.TemporaryDirectory(dir=root) as directory:
                seconds = trio.run(ours, timed, clock, Path(directory), interval)
                stored = pl.read_parquet(ohlcv_path(directory, "SOL", "1h"))
                assert stored.height == candles, f"run {run}: {stored.height} candles stored, expected {candles}"
            mine.append(total / seconds)
            shares.append(timed.seconds / seconds)
            with tempfile.TemporaryDirectory(dir=root) as directory:
                theirs.append(total / baseline(bodies, Path(directory)))
        note(f"{variant}: {statistics.median(mine):,.0f} candles/s, baseline {statistics.median(theirs):,.0f}")
        figure(
            "collect",
            f"ohlcv_throughput/{variant}",
            "candles/s",
            mine,
            theirs,
            "the same response bodies in memory: typed msgspec decode, pl.DataFrame per page, concat, one atomic "
            "write_parquet per file (no HTTP client, no checks, no resume)",
            candles=total,
            symbols=len(SYMBOLS),
            pages=sum(len(pages) for pages in bodies.values()),
            fake_server_share=round(statistics.median(shares), 3),
            load_avg_1m=round(os.getloadavg()[0], 2),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description="Collector benchmark: one JSON line per figure on stdout.")
    parser.add_argument("--quick", action="store_true", help="30,000 candles per symbol instead of 60,000")
    quick = parser.parse_args().quick
    with tempfile.TemporaryDirectory(prefix="b1e55ed-bench-") as directory:
        bench(Path(directory), candles=30_000 if quick else 60_000)


if __name__ == "__main__":
    main()
