"""Parquet files that are always whole: written to a temp file beside them, flushed to disk, then renamed over.

``os.replace`` is atomic on POSIX, so a reader (or a run killed mid-write) sees the old file or the new one, never
half of either. The temp file lives in the same folder (a rename cannot cross file systems) and is removed when the
write fails.

A ``SeriesFile`` holds one time series (unique, sorted ``ts``) and the rows collected since its last write. It
writes them out at most every ``flush_interval_s`` (trio time), and always when closed, also on an exception or a
cancellation: a run that fails or is interrupted keeps what it fetched, and the next one resumes from
``last_ts``. Only a hard kill can lose the rows of the last interval; they are fetched again next time.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Final, Self

import polars as pl
import trio

from b1e55ed.market.replay import DataError

Schema = Mapping[str, type[pl.DataType] | pl.DataType]
Writer = Callable[[pl.DataFrame, Path], None]
DEFAULT_FLUSH_INTERVAL_S: Final = 1.0


def write_parquet(frame: pl.DataFrame, path: Path) -> None:
    frame.write_parquet(path, compression="zstd")


def write_atomic(path: Path, frame: pl.DataFrame, writer: Writer = write_parquet) -> None:
    """Replace ``path`` by ``frame`` in one step; on any failure the previous file is left as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    temp = Path(temp_name)
    try:
        writer(frame, temp)
        with temp.open("rb+") as written:  # the data must be on disk before the rename makes it the file
            os.fsync(written.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (a no-op where directories cannot be opened, as on Windows)."""
    try:
        handle = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def read_table(path: Path, schema: Schema) -> pl.DataFrame:
    """The file's ``schema`` columns, cast to it; an empty frame when there is no file yet."""
    if not path.exists():
        return pl.DataFrame(schema=dict(schema))
    try:
        frame = pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise DataError(f"{path}: unreadable Parquet ({exc}); move it away to collect it afresh") from exc
    missing = [column for column in schema if column not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}; move it away to collect it afresh")
    try:
        return frame.select(pl.col(name).cast(dtype) for name, dtype in schema.items())
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"{path}: a column has the wrong type ({exc})") from exc


class SeriesFile:
    """One time series on disk plus the rows fetched since it was last written. Use as a context manager."""

    def __init__(
        self,
        path: Path,
        schema: Schema,
        *,
        flush_interval_s: float = DEFAULT_FLUSH_INTERVAL_S,
        writer: Writer = write_parquet,
    ) -> None:
        self.path = path
        self._stored = read_table(path, schema)
        self._pending: list[pl.DataFrame] = []
        self._flush_interval_s = flush_interval_s
        self._writer = writer
        self._last_flush: float | None = None
        self.added = 0
        self.first_ts: int | None = None if self._stored.is_empty() else int(self._stored["ts"].min())  # type: ignore[arg-type]
        self.last_ts: int | None = None if self._stored.is_empty() else int(self._stored["ts"].max())  # type: ignore[arg-type]

    @property
    def rows(self) -> int:
        return self._stored.height + sum(frame.height for frame in self._pending)

    def add(self, rows: pl.DataFrame) -> None:
        """Take checked rows (none already stored); write everything out if the last write is old enough."""
        if rows.is_empty():
            return
        low, high = int(rows["ts"].min()), int(rows["ts"].max())  # type: ignore[arg-type]
        self.first_ts = low if self.first_ts is None else min(low, self.first_ts)
        self.last_ts = high if self.last_ts is None else max(high, self.last_ts)
        self._pending.append(rows)
        self.added += rows.height
        now = trio.current_time()
        if self._last_flush is None:
            self._last_flush = now
        if now - self._last_flush >= self._flush_interval_s:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        merged = pl.concat([self._stored, *self._pending], how="vertical_relaxed")
        ts = merged["ts"]
        if ts.len() > 1 and not ts.diff().drop_nulls().min() > 0:  # type: ignore[operator]
            merged = merged.unique(subset="ts", keep="last").sort("ts")
        write_atomic(self.path, merged, self._writer)
        self._stored, self._pending = merged, []
        self._last_flush = trio.current_time()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.flush()
