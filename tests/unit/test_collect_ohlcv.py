"""The candle collector against the fake Binance: pages, the open candle, incremental runs, resume, rejects."""

from __future__ import annotations

import json
import math
from pathlib import Path

import httpx
import polars as pl
import pytest
import trio
import trio.testing

from b1e55ed.collect.binance import BinanceMarketData
from b1e55ed.collect.layout import load_ohlcv, ohlcv_path
from b1e55ed.collect.ohlcv import collect_candles
from b1e55ed.collect.session import Session
from b1e55ed.market.replay import load_history
from b1e55ed.messages import Bar
from tests.fakes.binance import FakeCrash, kline_row
from tests.fakes.collect_sources import FakeSources
from tests.fakes.hyperliquid_info import Fault, make_bars

T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
HOUR = 3_600_000
KLINES = "/api/v3/klines"
BARS = make_bars(T0, 2500, HOUR)


def frame_of(bars: list[Bar]) -> pl.DataFrame:
    return pl.DataFrame(
        [(b.ts, b.open, b.high, b.low, b.close, b.volume) for b in bars],
        schema=["ts", "open", "high", "low", "close", "volume"],
        orient="row",
    )


@pytest.fixture
def sources() -> FakeSources:
    # The clock is half-way through candle 2499: it is served (still open) but must not be stored.
    sources = FakeSources(now_ms=T0 + 2499 * HOUR + HOUR // 2)
    sources.binance.add_bars("spot", "BTCUSDT", "1h", BARS)
    return sources


async def collect(session: Session, **kwargs: object) -> None:
    await collect_candles(session, BinanceMarketData(session.fetcher), "BTC", "1h", **kwargs)  # type: ignore[arg-type]


async def test_bulk_download_pages_through_and_never_stores_the_open_candle(
    sources: FakeSources, tmp_path: Path
) -> None:
    async with sources.session(tmp_path) as session:
        await collect(session, since_ms=T0)
    stored = load_ohlcv(tmp_path, "BTC", "1h")
    assert stored.equals(frame_of(BARS[:2499]))
    starts = [int(q["startTime"]) for q in sources.binance.queries(KLINES)]
    assert starts == [T0, T0 + 999 * HOUR + 1, T0 + 1999 * HOUR + 1]
    assert {q["limit"] for q in sources.binance.queries(KLINES)} == {"1000"}
    (report,) = session.reports
    assert (report.file, report.added, report.rows, report.requests) == ("ohlcv/1h/BTCUSDT.parquet", 2499, 2499, 3)
    # the format replay reads
    replay = load_history(tmp_path / "ohlcv" / "1h", ["BTC"], timeframe_ms=HOUR)
    assert replay.report.total_skipped == 0
    assert len(replay.bars["BTC"]) == 2499


async def test_without_since_a_new_file_starts_before_binance_opened(sources: FakeSources, tmp_path: Path) -> None:
    async with sources.session(tmp_path) as session:
        await collect(session)
    assert int(sources.binance.queries(KLINES)[0]["startTime"]) < T0
    assert load_ohlcv(tmp_path, "BTC", "1h").height == 2499


async def test_the_incremental_run_asks_only_from_the_last_stored_candle(sources: FakeSources, tmp_path: Path) -> None:
    async with sources.session(tmp_path) as session:
        await collect(session, since_ms=T0)
    sources.binance.add_bars("spot", "BTCUSDT", "1h", make_bars(T0 + 2500 * HOUR, 10, HOUR, base=3000.0))
    sources.clock.advance(10 * HOUR)
    before = sources.binance.count()
    async with sources.session(tmp_path) as session:
        await collect(session, since_ms=T0, incremental=True)
    assert sources.binance.count() - before == 1
    assert sources.binance.queries(KLINES)[-1]["startTime"] == str(T0 + 2498 * HOUR + 1)
    stored = load_ohlcv(tmp_path, "BTC", "1h")
    assert stored["ts"].to_list() == [T0 + i * HOUR for i in range(2509)]
    assert session.reports[0].added == 10
    # Nothing new: one request that brings back only the still-open candle, and nothing written.
    async with sources.session(tmp_path) as session:
        await collect(session, incremental=True)
    assert session.reports[0].added == 0
    assert load_ohlcv(tmp_path, "BTC", "1h").height == 2509


@pytest.mark.parametrize("flush_interval_s", [0.0, 60.0])
async def test_a_crash_midway_keeps_the_pages_fetched_and_the_rerun_resumes(
    sources: FakeSources, tmp_path: Path, flush_interval_s: float
) -> None:
    sources.binance.faults.crash_at(3)
    with pytest.raises(FakeCrash):
        async with sources.session(tmp_path, flush_interval_s=flush_interval_s) as session:
            await collect(session, since_ms=T0)
    assert load_ohlcv(tmp_path, "BTC", "1h").height == 2000
    assert session.reports[0].added == 2000
    async with sources.session(tmp_path) as session:
        await collect(session, since_ms=T0)
    assert session.reports[0].requests == 1  # from scratch it takes 3
    assert load_ohlcv(tmp_path, "BTC", "1h").equals(frame_of(BARS[:2499]))


async def test_a_cancelled_run_keeps_what_it_fetched(
    sources: FakeSources, tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    sources.binance.faults.fail_from(3, Fault.hang())
    async with sources.session(tmp_path, flush_interval_s=60.0) as session:
        with trio.move_on_after(5.0) as scope:  # before the fetcher's own 30 s timeout
            await collect(session, since_ms=T0)
    assert scope.cancelled_caught
    assert load_ohlcv(tmp_path, "BTC", "1h").height == 2000


async def test_each_page_is_on_disk_before_the_next_is_asked_for(sources: FakeSources, tmp_path: Path) -> None:
    path = ohlcv_path(tmp_path, "BTC", "1h")
    on_disk: list[int] = []

    async def count_rows(request: httpx.Request) -> None:
        on_disk.append(pl.read_parquet(path).height if path.exists() else 0)

    async with sources.session(tmp_path, flush_interval_s=0.0, spy=count_rows) as session:
        await collect(session, since_ms=T0)
    assert on_disk == [0, 1000, 2000]


async def test_bad_rows_are_dropped_counted_and_the_rest_kept(sources: FakeSources, tmp_path: Path) -> None:
    good = BARS[10]
    sources.binance.add_bars(
        "spot",
        "BTCUSDT",
        "1h",
        [
            Bar(good.ts, good.open, good.high, good.low, math.nan, good.volume),
            Bar(BARS[20].ts, 100.0, 90.0, 110.0, 100.0, 1.0),
            Bar(BARS[30].ts, -1.0, 1.0, -2.0, 0.5, 1.0),
        ],
    )
    async with sources.session(tmp_path) as session:
        await collect(session, since_ms=T0)
    rejects = session.reports[0].rejects
    assert dict(rejects.counts) == {"NaN or infinite price": 1, "high below low": 1, "non-positive price": 1}
    assert load_ohlcv(tmp_path, "BTC", "1h").height == 2499 - 3
    assert "rejected 3" in session.reports[0].render()


async def test_out_of_order_rows_in_a_page_are_rejected(sources: FakeSources, tmp_path: Path) -> None:
    rows = [kline_row(BARS[i], HOUR) for i in (0, 2, 1, 3, 3)]
    sources.binance.faults.fail_next(Fault.body(json.dumps(rows)))
    async with sources.session(tmp_path) as session:
        await collect(session, since_ms=T0)
    assert dict(session.reports[0].rejects.counts) == {"timestamp out of order": 1, "duplicate timestamp": 1}
    assert load_ohlcv(tmp_path, "BTC", "1h")["ts"].to_list() == [BARS[i].ts for i in (0, 2, 3)]


async def test_an_earlier_since_backfills_newest_first_and_resumes_without_holes(
    sources: FakeSources, tmp_path: Path
) -> None:
    async with sources.session(tmp_path) as session:
        await collect(session, since_ms=T0 + 1500 * HOUR)
    assert load_ohlcv(tmp_path, "BTC", "1h").height == 999
    sources.binance.faults.crash_at(sources.binance.count() + 2)  # the second backfill window
    with pytest.raises(FakeCrash):
        async with sources.session(tmp_path) as session:
            await collect(session, since_ms=T0)
    assert load_ohlcv(tmp_path, "BTC", "1h")["ts"].min() == T0 + 500 * HOUR
    async with sources.session(tmp_path) as session:
        await collect(session, since_ms=T0)
    assert load_ohlcv(tmp_path, "BTC", "1h").equals(frame_of(BARS[:2499]))
    ends = [int(q["endTime"]) for q in sources.binance.queries(KLINES) if "endTime" in q]
    assert ends == [T0 + 1500 * HOUR - 1, T0 + 500 * HOUR - 1, T0 + 500 * HOUR - 1]
    # --incremental never backfills
    async with sources.session(tmp_path) as session:
        await collect(session, since_ms=T0 - 100 * HOUR, incremental=True)
    assert session.reports[0].requests == 1
