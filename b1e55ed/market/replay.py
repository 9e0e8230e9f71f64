"""Replay of recorded history: Parquet candles loaded, checked row by row, and fed back as close batches.

The files are ``<SYMBOL>USDT.parquet`` with columns ``ts`` (candle open, ms, UTC), ``open``, ``high``, ``low``,
``close``, ``volume``, as in ``../shared/data/ohlcv_1h``.

Policy for bad data: a bad *row* (NaN, infinite or non-positive price, NaN or negative volume, high below low,
open or close outside [low, high], a timestamp missing or not after every earlier good row's) is skipped and
counted, per file and reason, in the ``ReplayReport``; the replay goes on. A bad *file* (missing, unreadable, a
column missing or not numeric) raises ``DataError`` naming it: there is nothing sensible to replay. Gaps in the
time grid are normal and kept as gaps: a symbol without a candle at some close is absent from that batch.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl
import trio

from b1e55ed.errors import WorldError
from b1e55ed.market.bars import BarArrays
from b1e55ed.market.feed import CloseBatch
from b1e55ed.market.runs import CloseRun
from b1e55ed.messages import Bar, MarketSource

COLUMNS = ("ts", "open", "high", "low", "close", "volume")
FILE_SUFFIX = "USDT.parquet"
EXAMPLES_PER_FILE = 5
_BATCH_CHUNK = 4096


class DataError(WorldError, ValueError):
    """History that cannot be replayed at all: a missing or unreadable file, a missing column."""


@dataclass(frozen=True, slots=True)
class SkippedRow:
    file: str
    row: int
    reason: str


@dataclass
class ReplayReport:
    """What loading found: rows kept per file, rows skipped per file and reason, and the first few examples."""

    kept: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, dict[str, int]] = field(default_factory=dict)
    examples: list[SkippedRow] = field(default_factory=list)

    @property
    def total_skipped(self) -> int:
        return sum(sum(reasons.values()) for reasons in self.skipped.values())

    def summary(self) -> str:
        lines = [f"{file}: {count} rows" for file, count in self.kept.items()]
        for file, reasons in self.skipped.items():
            detail = ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
            lines.append(f"{file}: skipped {detail}")
        lines.extend(f"  e.g. {ex.file} row {ex.row}: {ex.reason}" for ex in self.examples)
        return "\n".join(lines)


@dataclass(frozen=True)
class ReplayData:
    """Checked history per symbol, on one timeframe."""

    bars: dict[str, BarArrays]
    timeframe_ms: int
    report: ReplayReport

    @property
    def symbols(self) -> list[str]:
        return sorted(self.bars)


def load_history(
    path: Path,
    symbols: Sequence[str] | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    timeframe_ms: int | None = None,
) -> ReplayData:
    """Load candles whose open time is in ``[start_ms, end_ms)`` from a folder of Parquet files or one file.

    ``symbols`` picks files (``BTC`` → ``BTCUSDT.parquet``); None takes every file in the folder. The timeframe
    is the median step between candles; when ``timeframe_ms`` is given, the data must agree with it.
    """
    report = ReplayReport()
    bars: dict[str, BarArrays] = {}
    steps: dict[str, npt.NDArray[np.int64]] = {}
    for symbol, file in _files(Path(path), symbols):
        bars[symbol] = _read_checked(file, start_ms, end_ms, report)
        steps[file.name] = np.diff(bars[symbol].ts)
    return ReplayData(bars, _timeframe(steps, timeframe_ms), report)


def _files(path: Path, symbols: Sequence[str] | None) -> list[tuple[str, Path]]:
    if path.is_file():
        if not path.name.endswith(FILE_SUFFIX):
            raise DataError(f"{path}: expected a file named <SYMBOL>{FILE_SUFFIX}")
        symbol = path.name.removesuffix(FILE_SUFFIX)
        if symbols is not None and list(symbols) != [symbol]:
            raise DataError(f"{path} holds {symbol} only, not {', '.join(symbols)}")
        return [(symbol, path)]
    if not path.is_dir():
        raise DataError(f"{path}: no such file or folder")
    if symbols is None:
        found = sorted(path.glob(f"*{FILE_SUFFIX}"))
        if not found:
            raise DataError(f"{path}: no *{FILE_SUFFIX} files")
        return [(file.name.removesuffix(FILE_SUFFIX), file) for file in found]
    chosen = []
    for symbol in symbols:
        file = path / f"{symbol}{FILE_SUFFIX}"
        if not file.is_file():
            raise DataError(f"{symbol}: missing file {file}")
        chosen.append((symbol, file))
    return chosen


def _timeframe(steps: dict[str, npt.NDArray[np.int64]], expected: int | None) -> int:
    """The median step between candles over every file; a file whose own median is off that grid is an error."""
    pooled = np.concatenate(list(steps.values()))
    if not len(pooled):
        if expected is None:
            raise DataError(f"{', '.join(steps)}: too few candles to infer the timeframe: pass timeframe_ms")
        return expected
    timeframe = int(np.median(pooled))
    if expected is not None and timeframe != expected:
        raise DataError(f"{', '.join(steps)}: candles are {timeframe} ms apart, expected a {expected} ms timeframe")
    for file, file_steps in steps.items():
        step = int(np.median(file_steps)) if len(file_steps) else timeframe
        if step % timeframe:
            raise DataError(f"{file}: candles are {step} ms apart, off the {timeframe} ms grid of the others")
    return timeframe


def read_numeric(file: Path, columns: Sequence[str], optional: Sequence[str] = ()) -> pl.DataFrame:
    """``columns`` of a Parquet file, each present and numeric, plus the ``optional`` ones it has; ``DataError``
    naming the file, and the column, when it is unreadable or a column is missing or not numeric."""
    try:
        schema = pl.read_parquet_schema(file)
        for column in columns:
            if column not in schema:
                raise DataError(f"{file}: missing column {column!r}")
            if not schema[column].is_numeric():
                raise DataError(f"{file}: column {column!r} is {schema[column]}, not numeric")
        return pl.read_parquet(file, columns=[*columns, *(c for c in optional if c in schema)])
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise DataError(f"{file}: unreadable Parquet ({exc})") from exc


def _read_checked(file: Path, start_ms: int | None, end_ms: int | None, report: ReplayReport) -> BarArrays:
    frame = read_numeric(file, COLUMNS)
    row = np.arange(frame.height)
    ts_column = frame["ts"].cast(pl.Int64, strict=False)
    has_ts = ~ts_column.is_null().to_numpy()
    _count(report, file.name, row[~has_ts], "missing timestamp")
    ts = ts_column.fill_null(0).to_numpy()
    in_range = has_ts
    if start_ms is not None:
        in_range &= ts >= start_ms
    if end_ms is not None:
        in_range &= ts < end_ms
    prices = [frame[c].cast(pl.Float64).fill_null(math.nan).to_numpy()[in_range] for c in COLUMNS[1:]]
    arrays = BarArrays(ts[in_range], *prices)
    keep = _check_rows(file.name, arrays, row[in_range], report)
    kept = arrays.select(keep)
    report.kept[file.name] = len(kept)
    return kept


def _check_rows(file: str, bars: BarArrays, row: npt.NDArray[np.int64], report: ReplayReport) -> npt.NDArray[np.bool_]:
    o, h, lo, c, v = bars.open, bars.high, bars.low, bars.close, bars.volume
    with np.errstate(invalid="ignore"):
        checks: list[tuple[str, npt.NDArray[np.bool_]]] = [
            ("NaN or infinite price", ~(np.isfinite(o) & np.isfinite(h) & np.isfinite(lo) & np.isfinite(c))),
            ("non-positive price", (o <= 0) | (h <= 0) | (lo <= 0) | (c <= 0)),
            ("NaN or negative volume", ~(v >= 0)),
            ("high below low", h < lo),
            ("open or close outside [low, high]", (o < lo) | (o > h) | (c < lo) | (c > h)),
        ]
    bad = np.zeros(len(bars), dtype=np.bool_)
    for reason, failed in checks:
        _count(report, file, row[failed & ~bad], reason)
        bad |= failed
    # Time must move forward: a row at or before the last good row's time is a duplicate or out of order.
    good = np.flatnonzero(~bad)
    ts = bars.ts[good]
    previous = np.maximum.accumulate(np.concatenate(([np.iinfo(np.int64).min], ts[:-1])))
    _count(report, file, row[good[ts == previous]], "duplicate timestamp")
    _count(report, file, row[good[ts < previous]], "timestamp out of order")
    bad[good[ts <= previous]] = True
    return ~bad


def _count(report: ReplayReport, file: str, rows: npt.NDArray[np.int64], reason: str) -> None:
    if not len(rows):
        return
    reasons = report.skipped.setdefault(file, {})
    reasons[reason] = reasons.get(reason, 0) + len(rows)
    shown = sum(1 for example in report.examples if example.file == file)
    for index in sorted(rows.tolist())[: max(0, EXAMPLES_PER_FILE - shown)]:
        report.examples.append(SkippedRow(file, int(index), reason))


class ReplayFeed:
    """Candles from ``ReplayData`` as close batches merged across symbols, in close-time order.

    ``speed=None`` replays as fast as possible (yielding to trio between batches); ``speed=60.0`` replays an
    hour of market time per real minute. ``start_after`` skips every batch closing at or before it (resume).
    """

    source: MarketSource = "replay"

    def __init__(self, data: ReplayData, speed: float | None = None, start_after: int | None = None) -> None:
        if speed is not None and not speed > 0:
            raise ValueError(f"speed must be positive or None, got {speed}")
        self.data = data
        self.speed = speed
        self.timeframe_ms = data.timeframe_ms
        self._symbols = data.symbols
        closes = [data.bars[s].ts + data.timeframe_ms for s in self._symbols]
        self.close_times: npt.NDArray[np.int64] = np.unique(np.concatenate(closes)) if closes else np.zeros(0, np.int64)
        # Each symbol's candles mapped to their batch: position in close_times.
        self._positions = [np.searchsorted(self.close_times, c) for c in closes]
        self._first = 0 if start_after is None else int(np.searchsorted(self.close_times, start_after, side="right"))

    def __len__(self) -> int:
        """How many batches the feed will yield."""
        return len(self.close_times) - self._first

    def batches(self) -> Iterator[CloseBatch]:
        """The batches, synchronously: for backtests and benchmarks that need no pacing."""
        for chunk_start in range(self._first, len(self.close_times), _BATCH_CHUNK):
            chunk_stop = min(chunk_start + _BATCH_CHUNK, len(self.close_times))
            chunk: list[dict[str, Bar]] = [{} for _ in range(chunk_stop - chunk_start)]
            for symbol, positions in zip(self._symbols, self._positions, strict=True):
                lo, hi = np.searchsorted(positions, (chunk_start, chunk_stop)).tolist()
                if hi <= lo:
                    continue
                part = self.data.bars[symbol].slice(lo, hi)
                for slot, bar in zip((positions[lo:hi] - chunk_start).tolist(), part.to_bars(), strict=True):
                    chunk[slot][symbol] = bar
            yield from map(CloseBatch, self.close_times[chunk_start:chunk_stop].tolist(), chunk)

    async def runs(self, limit: int) -> AsyncIterator[CloseRun]:
        """The batches of ``closes`` in runs of ``limit`` consecutive closes, candles in columns as loaded; a paced
        replay yields each run when its last candle has closed."""
        if limit < 1:
            raise ValueError(f"a run holds at least one close, got {limit}")
        started = trio.current_time()
        first_close: int | None = None
        for start in range(self._first, len(self.close_times), limit):
            stop = min(start + limit, len(self.close_times))
            close_ts: list[int] = self.close_times[start:stop].tolist()
            bars: dict[str, BarArrays] = {}
            at: dict[str, npt.NDArray[np.int64]] = {}
            for symbol, positions in zip(self._symbols, self._positions, strict=True):
                lo, hi = np.searchsorted(positions, (start, stop)).tolist()
                if hi > lo:
                    bars[symbol] = self.data.bars[symbol].slice(lo, hi)
                    at[symbol] = positions[lo:hi] - start
            if self.speed is None:
                await trio.lowlevel.checkpoint()
            else:
                if first_close is None:
                    first_close = close_ts[0]
                await trio.sleep_until(started + (close_ts[-1] - first_close) / 1000 / self.speed)
            yield CloseRun(close_ts, bars, at)

    async def closes(self) -> AsyncIterator[CloseBatch]:
        started = trio.current_time()
        first_close: int | None = None
        for batch in self.batches():
            if self.speed is None:
                await trio.lowlevel.checkpoint()
            else:
                if first_close is None:
                    first_close = batch.close_ts
                await trio.sleep_until(started + (batch.close_ts - first_close) / 1000 / self.speed)
            yield batch
