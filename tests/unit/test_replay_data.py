"""Replay: loading Parquet history with row checks, and merging symbols into close batches."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import trio

from b1e55ed.market.feed import CloseBatch
from b1e55ed.market.replay import DataError, ReplayFeed, SkippedRow, load_history
from b1e55ed.market.runs import CloseRun, close_run, runs_of
from b1e55ed.messages import Bar

HOUR = 3_600_000
T0 = 1_700_000_000_000 // HOUR * HOUR


def ms(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1000)


def rows(*hours: int) -> list[dict[str, float]]:
    """Good candles opening ``hours`` after T0."""
    return [{"ts": T0 + h * HOUR, "open": 10.0, "high": 12.0, "low": 9.0, "close": 11.0, "volume": 5.0} for h in hours]


def write(folder: Path, symbol: str, data: Sequence[Mapping[str, float | None]]) -> Path:
    path = folder / f"{symbol}USDT.parquet"
    pl.DataFrame(
        data, schema={"ts": pl.Int64, **dict.fromkeys(("open", "high", "low", "close", "volume"), pl.Float64)}
    ).write_parquet(path)
    return path


async def collect(feed: ReplayFeed) -> list[CloseBatch]:
    return [batch async for batch in feed.closes()]


def test_bad_rows_are_skipped_and_counted_with_file_and_row(tmp_path: Path) -> None:
    data = rows(0, 1, 2, 3, 4, 5, 6, 7)
    data[1]["close"] = math.nan
    data[2]["volume"] = -1.0
    data[4]["ts"] = data[3]["ts"]  # duplicate of row 3
    data[5]["high"], data[5]["low"] = 8.0, 13.0  # high below low
    data[6]["low"] = 0.0  # non-positive price
    write(tmp_path, "BTC", data)

    history = load_history(tmp_path)

    np.testing.assert_array_equal(history.bars["BTC"].ts, T0 + HOUR * np.array([0, 3, 7]))
    report = history.report
    assert report.kept == {"BTCUSDT.parquet": 3}
    assert report.skipped == {
        "BTCUSDT.parquet": {
            "NaN or infinite price": 1,
            "NaN or negative volume": 1,
            "duplicate timestamp": 1,
            "high below low": 1,
            "non-positive price": 1,
        }
    }
    assert report.total_skipped == 5
    assert SkippedRow("BTCUSDT.parquet", 4, "duplicate timestamp") in report.examples
    assert SkippedRow("BTCUSDT.parquet", 1, "NaN or infinite price") in report.examples
    assert "BTCUSDT.parquet row 5: high below low" in report.summary()


def test_open_or_close_outside_the_range_and_time_going_back_are_skipped(tmp_path: Path) -> None:
    data = rows(*range(8))
    data[1]["open"] = 20.0  # above the high
    data[3]["ts"] = T0 - HOUR  # before row 2
    write(tmp_path, "ETH", data)
    history = load_history(tmp_path, ["ETH"], timeframe_ms=HOUR)
    assert len(history.bars["ETH"]) == 6
    assert history.report.skipped["ETHUSDT.parquet"] == {
        "open or close outside [low, high]": 1,
        "timestamp out of order": 1,
    }


def test_a_missing_symbol_names_the_file_it_expected(tmp_path: Path) -> None:
    write(tmp_path, "BTC", rows(0, 1))
    with pytest.raises(DataError, match=r"ETH: missing file .*ETHUSDT\.parquet"):
        load_history(tmp_path, ["BTC", "ETH"])
    with pytest.raises(DataError, match="no such file or folder"):
        load_history(tmp_path / "nowhere")


def test_a_missing_column_is_named(tmp_path: Path) -> None:
    pl.DataFrame(rows(0, 1)).drop("volume").write_parquet(tmp_path / "BTCUSDT.parquet")
    with pytest.raises(DataError, match=r"BTCUSDT\.parquet: missing column 'volume'"):
        load_history(tmp_path)


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "BTCUSDT.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match=r"BTCUSDT\.parquet: unreadable Parquet"):
        load_history(tmp_path / "BTCUSDT.parquet")


def test_the_timeframe_is_inferred_and_checked(tmp_path: Path) -> None:
    write(tmp_path, "BTC", rows(0, 1, 2, 5, 6))  # a gap does not change the median step
    assert load_history(tmp_path).timeframe_ms == HOUR
    with pytest.raises(DataError, match="3600000 ms apart, expected a 60000 ms timeframe"):
        load_history(tmp_path, timeframe_ms=60_000)


def test_time_range_is_half_open_on_candle_open(tmp_path: Path) -> None:
    write(tmp_path, "BTC", rows(*range(10)))
    history = load_history(tmp_path, start_ms=T0 + 2 * HOUR, end_ms=T0 + 5 * HOUR)
    np.testing.assert_array_equal(history.bars["BTC"].ts, T0 + HOUR * np.array([2, 3, 4]))


async def test_batches_merge_symbols_in_close_order_and_gaps_leave_a_symbol_out(tmp_path: Path) -> None:
    write(tmp_path, "BTC", rows(0, 1, 2, 3))
    write(tmp_path, "ETH", rows(0, 3))  # no candles at hours 1 and 2
    batches = await collect(ReplayFeed(load_history(tmp_path, timeframe_ms=HOUR)))
    assert [b.close_ts for b in batches] == [T0 + h * HOUR for h in (1, 2, 3, 4)]
    assert [sorted(b.bars) for b in batches] == [["BTC", "ETH"], ["BTC"], ["BTC"], ["BTC", "ETH"]]
    assert batches[3].bars["ETH"].ts == T0 + 3 * HOUR


async def test_start_after_skips_closed_batches_for_a_resume(tmp_path: Path) -> None:
    write(tmp_path, "BTC", rows(*range(6)))
    data = load_history(tmp_path)
    feed = ReplayFeed(data, start_after=T0 + 3 * HOUR)
    assert len(feed) == 3
    assert [b.close_ts for b in await collect(feed)] == [T0 + h * HOUR for h in (4, 5, 6)]
    # Resuming mid-run gives exactly the tail of the uninterrupted run.
    whole = list(ReplayFeed(data).batches())
    assert whole[3:] == list(ReplayFeed(data, start_after=whole[2].close_ts).batches())


async def test_paced_replay_sleeps_market_time_over_speed(tmp_path: Path, autojump_clock: trio.abc.Clock) -> None:
    write(tmp_path, "BTC", rows(0, 1, 2, 5))
    feed = ReplayFeed(load_history(tmp_path, timeframe_ms=HOUR), speed=3600.0)  # an hour a second
    start = trio.current_time()
    seen = [(b.close_ts, trio.current_time() - start) async for b in feed.closes()]
    assert [round(elapsed, 6) for _, elapsed in seen] == [0.0, 1.0, 2.0, 5.0]


async def test_a_paced_run_comes_when_its_last_candle_has_closed(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    write(tmp_path, "BTC", rows(0, 1, 2, 5, 6))
    feed = ReplayFeed(load_history(tmp_path, timeframe_ms=HOUR), speed=3600.0)
    start = trio.current_time()
    seen = [(run.close_ts, round(trio.current_time() - start, 6)) async for run in feed.runs(2)]
    assert seen == [([T0 + HOUR, T0 + 2 * HOUR], 1.0), ([T0 + 3 * HOUR, T0 + 6 * HOUR], 5.0), ([T0 + 7 * HOUR], 6.0)]


def test_speed_must_be_positive(tmp_path: Path) -> None:
    write(tmp_path, "BTC", rows(0, 1))
    with pytest.raises(ValueError, match="speed"):
        ReplayFeed(load_history(tmp_path), speed=0.0)


@pytest.mark.shared_data
def test_real_history_loads_and_replays_in_close_order(shared_data: Path) -> None:
    history = load_history(
        shared_data / "ohlcv_1h", ["BTC", "ETH", "SOL"], start_ms=ms("2023-01-01"), end_ms=ms("2025-01-01")
    )
    assert history.timeframe_ms == HOUR
    assert history.report.total_skipped == 0
    for symbol in ("BTC", "ETH", "SOL"):
        assert 17_400 <= len(history.bars[symbol]) <= 17_544  # two years of hours, a few missing
    closes = np.array([batch.close_ts for batch in ReplayFeed(history).batches()])
    assert bool(np.all(np.diff(closes) > 0))
    assert closes[0] == ms("2023-01-01") + HOUR


@pytest.mark.shared_data
def test_known_check_btc_low_on_2020_03_13(shared_data: Path) -> None:
    history = load_history(
        shared_data / "ohlcv_1h" / "BTCUSDT.parquet", start_ms=ms("2020-03-13"), end_ms=ms("2020-03-14")
    )
    assert float(history.bars["BTC"].low.min()) == 3_782.13


def test_a_row_without_a_timestamp_is_skipped_and_a_text_column_is_refused(tmp_path: Path) -> None:
    data: list[dict[str, float | None]] = [dict(row) for row in rows(0, 1, 2, 3)]
    data[3]["ts"] = None
    write(tmp_path, "BTC", data)
    history = load_history(tmp_path, timeframe_ms=HOUR)
    assert history.report.skipped == {"BTCUSDT.parquet": {"missing timestamp": 1}}
    pl.DataFrame(rows(0, 1)).with_columns(pl.col("close").cast(pl.String)).write_parquet(tmp_path / "ETHUSDT.parquet")
    with pytest.raises(DataError, match=r"ETHUSDT\.parquet: column 'close' is String, not numeric"):
        load_history(tmp_path / "ETHUSDT.parquet")


def closes_of(runs: Sequence[CloseRun]) -> list[tuple[int, dict[str, Bar]]]:
    """The runs' closes, one by one, as ``closes`` yields them."""
    found = []
    for run in runs:
        bars = {symbol: arrays.to_bars() for symbol, arrays in run.bars.items()}
        for index, close_ts in enumerate(run.close_ts):
            at = {symbol: run.at[symbol].tolist().index(index) for symbol in run.at if index in run.at[symbol]}
            found.append((close_ts, {symbol: bars[symbol][row] for symbol, row in sorted(at.items())}))
    return found


@pytest.mark.parametrize("limit", [1, 2, 5, 100])
async def test_runs_hold_the_same_closes_as_the_batches_however_long(tmp_path: Path, limit: int) -> None:
    write(tmp_path, "BTC", rows(*range(9)))
    write(tmp_path, "ETH", rows(0, 3, 4, 8))  # gaps: ETH sits out most closes
    feed = ReplayFeed(load_history(tmp_path, timeframe_ms=HOUR), start_after=T0 + 2 * HOUR)
    runs = [run async for run in feed.runs(limit)]
    assert all(len(run.close_ts) <= limit for run in runs)
    expected = [(batch.close_ts, dict(sorted(batch.bars.items()))) for batch in await collect(feed)]
    assert closes_of(runs) == expected
    assert closes_of([close_run([CloseBatch(ts, bars) for ts, bars in expected])]) == expected


async def test_any_feeds_closes_make_the_same_runs(tmp_path: Path) -> None:
    write(tmp_path, "BTC", rows(*range(7)))
    write(tmp_path, "SOL", rows(2, 5))
    feed = ReplayFeed(load_history(tmp_path, timeframe_ms=HOUR))
    made = [run async for run in runs_of(feed.closes(), 3)]
    assert [run.close_ts for run in made] == [run.close_ts async for run in feed.runs(3)]
    assert closes_of(made) == [(batch.close_ts, dict(sorted(batch.bars.items()))) for batch in await collect(feed)]
