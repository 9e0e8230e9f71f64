"""Atomic Parquet writes and the growing series file: a failed write leaves the old file whole."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import trio
import trio.testing

from b1e55ed.collect.layout import FUNDING_SCHEMA
from b1e55ed.collect.store import SeriesFile, read_table, write_atomic
from b1e55ed.market.replay import DataError


def rates(*ts: int) -> pl.DataFrame:
    return pl.DataFrame({"ts": list(ts), "rate": [t / 1e6 for t in ts]}, schema=dict(FUNDING_SCHEMA))


class DiskFull(OSError):
    pass


def test_a_failed_write_leaves_the_previous_file_whole_and_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "funding" / "BTCUSDT.parquet"
    write_atomic(path, rates(1, 2, 3))
    before = path.read_bytes()

    def half_then_fail(frame: pl.DataFrame, target: Path) -> None:
        frame.write_parquet(target)
        with target.open("r+b") as written:
            written.truncate(target.stat().st_size // 2)
        raise DiskFull(28, "No space left on device")

    with pytest.raises(DiskFull):
        write_atomic(path, rates(1, 2, 3, 4), writer=half_then_fail)
    assert path.read_bytes() == before
    assert pl.read_parquet(path)["ts"].to_list() == [1, 2, 3]
    assert [p.name for p in path.parent.iterdir()] == ["BTCUSDT.parquet"]


def test_read_table_casts_and_names_a_broken_file(tmp_path: Path) -> None:
    assert read_table(tmp_path / "absent.parquet", FUNDING_SCHEMA).is_empty()
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match=r"broken\.parquet: unreadable Parquet"):
        read_table(broken, FUNDING_SCHEMA)
    wrong = tmp_path / "wrong.parquet"
    pl.DataFrame({"ts": [1]}).write_parquet(wrong)
    with pytest.raises(DataError, match="missing column"):
        read_table(wrong, FUNDING_SCHEMA)


async def test_series_file_flushes_on_its_interval_and_on_exit(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    path = tmp_path / "s.parquet"
    with SeriesFile(path, FUNDING_SCHEMA, flush_interval_s=10.0) as series:
        series.add(rates(1, 2))
        assert not path.exists()  # the first page starts the interval
        await trio.sleep(10.0)
        series.add(rates(3))
        assert read_table(path, FUNDING_SCHEMA)["ts"].to_list() == [1, 2, 3]
        series.add(rates(4))
        assert series.rows == 4
        assert (series.first_ts, series.last_ts, series.added) == (1, 4, 4)
    assert read_table(path, FUNDING_SCHEMA)["ts"].to_list() == [1, 2, 3, 4]


async def test_series_file_writes_what_it_holds_when_the_run_fails(tmp_path: Path) -> None:
    path = tmp_path / "s.parquet"

    def fetch_then_fail() -> None:
        with SeriesFile(path, FUNDING_SCHEMA, flush_interval_s=60.0) as series:
            series.add(rates(1, 2))
            raise RuntimeError("the network went away")

    with pytest.raises(RuntimeError):
        fetch_then_fail()
    assert read_table(path, FUNDING_SCHEMA)["ts"].to_list() == [1, 2]


async def test_series_file_merges_earlier_rows_in_order_without_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "s.parquet"
    write_atomic(path, rates(5, 6))
    with SeriesFile(path, FUNDING_SCHEMA, flush_interval_s=0.0) as series:
        assert (series.first_ts, series.last_ts) == (5, 6)
        series.add(rates(3, 4))
        series.add(rates(6, 7))  # a duplicate can only come from a bug upstream: the newer row wins
    assert read_table(path, FUNDING_SCHEMA)["ts"].to_list() == [3, 4, 5, 6, 7]
