"""The guide's data-source example (docs/examples/my_collector.py) against a fake of Binance's open-interest
endpoint behind ``httpx.MockTransport``: the spec's layout, checked rows, and a resume after the last stored row."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import polars as pl

from b1e55ed.clock import ManualClock
from b1e55ed.collect.http import JsonFetcher
from b1e55ed.collect.session import Session
from docs.examples.my_collector import OPEN_INTEREST_SCHEMA, collect_open_interest, open_interest_path

T0 = 1_714_521_600_000  # 2024-05-01 00:00 UTC
HOUR = 3_600_000


class FakeOpenInterest:
    """``GET /futures/data/openInterestHist``: the rows published by ``now``, from ``startTime``, ``limit`` at most,
    numbers as strings, as Binance sends them."""

    def __init__(self, clock: ManualClock, hours: int) -> None:
        self.clock = clock
        self.rows = [(T0 + i * HOUR, 20_000.0 + i, (20_000.0 + i) * 60_000.0) for i in range(hours)]
        self.starts: list[int] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/futures/data/openInterestHist"
        query = request.url.params
        assert query["symbol"] == "BTCUSDT"
        assert query["period"] == "1h"
        start, limit = int(query["startTime"]), int(query["limit"])
        self.starts.append(start)
        served = [row for row in self.rows if start <= row[0] <= self.clock.now_ms()][:limit]
        body = [
            {"symbol": "BTCUSDT", "sumOpenInterest": str(oi), "sumOpenInterestValue": str(usd), "timestamp": ts}
            for ts, oi, usd in served
        ]
        return httpx.Response(200, content=json.dumps(body).encode())


async def collect(fake: FakeOpenInterest, data_dir: Path) -> Session:
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake.handle)) as http:
        session = Session(data_dir, JsonFetcher(http), fake.clock, flush_interval_s=0.0)
        await collect_open_interest(session, "BTC", since_ms=T0)
    return session


async def test_the_collector_writes_the_layout_counts_a_bad_row_and_resumes_after_the_last_stored_row(
    tmp_path: Path,
) -> None:
    clock = ManualClock(T0 + 1_200 * HOUR)
    fake = FakeOpenInterest(clock, hours=1_500)
    fake.rows[700] = (fake.rows[700][0], -1.0, -60_000.0)  # garbage: dropped and counted, never stored

    session = await collect(fake, tmp_path)
    path = open_interest_path(tmp_path, "BTC")
    assert path == tmp_path / "open_interest" / "BTCUSDT.parquet"
    stored = pl.read_parquet(path)
    assert dict(stored.schema) == dict(OPEN_INTEREST_SCHEMA)
    assert stored.height == 1_200  # hours 0..1200 published by now, one rejected
    assert stored["ts"].is_sorted()
    assert stored["ts"].is_unique().all()
    assert fake.starts == [T0, T0 + 499 * HOUR + 1, T0 + 999 * HOUR + 1]
    (report,) = session.reports
    assert report.file == "open_interest/BTCUSDT.parquet"
    assert dict(report.rejects.counts) == {"NaN or negative open interest": 1}

    clock.set(T0 + 1_300 * HOUR)
    fake.starts.clear()
    await collect(fake, tmp_path)
    assert fake.starts == [T0 + 1_200 * HOUR + 1]  # only what came after the last stored row
    resumed = pl.read_parquet(path)
    assert resumed.height == 1_300
    assert resumed["ts"][-1] == T0 + 1_300 * HOUR
