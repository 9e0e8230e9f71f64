"""The Crypto Fear & Greed index (alternative.me), daily, as a ``b1e55ed.plugins.DailyIndex``.

The file is ``fear_greed_daily.parquet`` with columns ``ts`` (the day's 00:00 UTC, ms), ``value`` (0-100) and
``classification`` ("Extreme Fear" ... "Extreme Greed"), as in ``../shared/data/fear_greed``. A day's value is
published at the start of that day, so ``value_at(at_ms)`` is the value of the latest day starting at or before
``at_ms``: never tomorrow's. The series has real gaps (up to four days); a value older than ``max_age_ms`` (two days
by default) is not today's mood any more, and the answer is None ("unknown") rather than a stale number.

Bad rows (missing time, a value that is NaN or outside 0-100, a time not after every earlier good row's) are skipped
and counted in ``report``; a missing or unreadable file, or a missing column, raises ``DataError`` naming it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from b1e55ed.market.replay import DataError, ReplayReport, read_numeric

FILE_NAME: Final = "fear_greed_daily.parquet"
COLUMNS: Final = ("ts", "value")
DAY_MS: Final = 86_400_000


class FearGreedIndex:
    """Daily values over numpy arrays; ``value_at`` is a binary search (O(log n)), ``values_at`` one for many
    times."""

    def __init__(
        self,
        ts: npt.NDArray[np.int64],
        value: npt.NDArray[np.float64],
        classification: list[str] | None = None,
        *,
        max_age_ms: int = 2 * DAY_MS,
        report: ReplayReport | None = None,
    ) -> None:
        if len(ts) != len(value) or (classification is not None and len(classification) != len(ts)):
            raise ValueError("FearGreedIndex: ts, value and classification must have one entry per day")
        if len(ts) > 1 and not bool(np.all(np.diff(ts) > 0)):
            raise ValueError("FearGreedIndex: ts must be strictly increasing")
        self._ts = np.array(ts, dtype=np.int64)
        self._value = np.array(value, dtype=np.float64)
        self._classification = list(classification) if classification is not None else [""] * len(ts)
        self.max_age_ms = max_age_ms
        self.report = report if report is not None else ReplayReport()

    @classmethod
    def load(cls, path: Path, *, max_age_ms: int = 2 * DAY_MS) -> FearGreedIndex:
        """From ``path``: the Parquet file itself or a folder holding ``fear_greed_daily.parquet``."""
        file = Path(path)
        if file.is_dir():
            file = file / FILE_NAME
        if not file.is_file():
            raise DataError(f"{file}: no such Fear & Greed file")
        frame = read_numeric(file, COLUMNS, optional=("classification",))
        ts_column = frame["ts"].cast(pl.Int64, strict=False)
        ts = ts_column.fill_null(0).to_numpy()
        value = frame["value"].cast(pl.Float64).fill_null(np.nan).to_numpy()
        labels = (
            frame["classification"].cast(pl.String).fill_null("").to_list()
            if "classification" in frame.columns
            else [""] * frame.height
        )
        report = ReplayReport()
        bad = ts_column.is_null().to_numpy()
        _skip(report, file.name, bad, "missing timestamp")
        with np.errstate(invalid="ignore"):
            out_of_range = ~((value >= 0) & (value <= 100)) & ~bad
        _skip(report, file.name, out_of_range, "value NaN or outside 0-100")
        bad |= out_of_range
        good = np.flatnonzero(~bad)
        previous = np.maximum.accumulate(np.concatenate(([np.iinfo(np.int64).min], ts[good][:-1])))
        not_after = np.zeros(frame.height, dtype=np.bool_)
        not_after[good[ts[good] <= previous]] = True
        _skip(report, file.name, not_after, "timestamp not after the previous day's")
        keep = ~(bad | not_after)
        report.kept[file.name] = int(keep.sum())
        chosen = [label for label, kept in zip(labels, keep.tolist(), strict=True) if kept]
        return cls(ts[keep], value[keep], chosen, max_age_ms=max_age_ms, report=report)

    def __len__(self) -> int:
        return len(self._ts)

    def latest(self, at_ms: int) -> tuple[int, float, str] | None:
        """``(day ts, value, classification)`` of the latest day at or before ``at_ms``, if recent enough."""
        index = int(self._ts.searchsorted(at_ms, side="right")) - 1
        if index < 0 or at_ms - int(self._ts[index]) > self.max_age_ms:
            return None
        return int(self._ts[index]), float(self._value[index]), self._classification[index]

    def value_at(self, at_ms: int) -> float | None:
        found = self.latest(at_ms)
        return None if found is None else found[1]

    def values_at(self, times: Sequence[int]) -> list[float | None]:
        """``value_at`` of each time, found in one search."""
        if not len(self._ts):
            return [None] * len(times)
        at = np.asarray(times, dtype=np.int64)
        index = np.maximum(self._ts.searchsorted(at, side="right") - 1, 0)
        known = (at >= self._ts[0]) & (at - self._ts[index] <= self.max_age_ms)
        return [value if ok else None for value, ok in zip(self._value[index].tolist(), known.tolist(), strict=True)]


def _skip(report: ReplayReport, file: str, rows: npt.NDArray[np.bool_], reason: str) -> None:
    count = int(rows.sum())
    if count:
        reasons = report.skipped.setdefault(file, {})
        reasons[reason] = reasons.get(reason, 0) + count
