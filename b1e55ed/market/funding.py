"""Perpetual funding rates by symbol and time: collected files (``FundingHistory``) or Hyperliquid (``LiveFunding``).

Both implement ``b1e55ed.plugins.FundingRates``: ``rates(symbol, until_ms)`` is every settlement at or before
``until_ms``, oldest first, so a replayed cycle never sees a rate from its future. The answer is a ``FundingSeries``,
a read-only view over numpy arrays found by binary search: asking costs O(log n) however long the history, and
slicing the last few rates copies nothing.

Files are ``<SYMBOL>USDT.parquet`` (Binance USDT-M, every 8 h, as in ``../shared/data/funding`` and the collector's
``funding/binance/``) or ``<SYMBOL>.parquet`` (Hyperliquid, hourly: ``funding/hyperliquid/``), with columns ``ts``
(settlement, ms, UTC) and ``rate`` (0.0001 = 0.01% per interval). Policy for bad data, as for candles: a bad *row*
(missing time, NaN or infinite rate, a rate beyond ±100%, a time not after every earlier good row's) is skipped and
counted in the ``FundingReport``; a missing *file* for a requested symbol leaves that symbol without funding
(reported: the producer says "no data"); a missing folder, an unreadable file, a missing column, or the collector's
parent ``funding/`` folder (which venue's rates?) raises ``DataError`` naming it.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final, Protocol, overload

import numpy as np
import numpy.typing as npt
import polars as pl

from b1e55ed.market.replay import DataError, ReplayReport, SkippedRow, read_numeric

if TYPE_CHECKING:
    from b1e55ed.hyperliquid.info import InfoClient

logger = logging.getLogger(__name__)

BINANCE_SUFFIX: Final = "USDT.parquet"
PLAIN_SUFFIX: Final = ".parquet"
COLUMNS: Final = ("ts", "rate")
MAX_ABS_RATE: Final = 1.0  # 100% per interval: no venue allows it; such a row is garbage, not an extreme
HOUR_MS: Final = 3_600_000
_EXAMPLES_PER_FILE: Final = 5


class FundingRates(Protocol):
    """Funding rates by symbol and time: collected or replayed history, and the live rate where known."""

    def rates(self, symbol: str, until_ms: int) -> Sequence[tuple[int, float]]:
        """``(ts, rate)`` pairs with ``ts <= until_ms``, oldest first (rate 0.0001 = 0.01% per interval)."""
        ...


class FundingSeries(Sequence[tuple[int, float]]):
    """``(ts, rate)`` pairs over read-only numpy columns; a slice is another view, never a copy."""

    __slots__ = ("_rate", "_ts")

    def __init__(self, ts: npt.NDArray[np.int64], rate: npt.NDArray[np.float64]) -> None:
        self._ts = ts
        self._rate = rate

    @property
    def ts(self) -> npt.NDArray[np.int64]:
        return self._ts

    @property
    def rate(self) -> npt.NDArray[np.float64]:
        return self._rate

    def __len__(self) -> int:
        return len(self._ts)

    @overload
    def __getitem__(self, index: int) -> tuple[int, float]: ...
    @overload
    def __getitem__(self, index: slice) -> FundingSeries: ...
    def __getitem__(self, index: int | slice) -> tuple[int, float] | FundingSeries:
        if isinstance(index, slice):
            return FundingSeries(self._ts[index], self._rate[index])
        return int(self._ts[index]), float(self._rate[index])

    def __iter__(self) -> Iterator[tuple[int, float]]:
        return zip(self._ts.tolist(), self._rate.tolist(), strict=True)

    def __repr__(self) -> str:
        last = f", last {self[-1]}" if len(self) else ""
        return f"FundingSeries({len(self)} rates{last})"

    def until(self, until_ms: int) -> FundingSeries:
        """The rates settled at or before ``until_ms``: the no-lookahead cut, by binary search."""
        stop = int(self._ts.searchsorted(until_ms, side="right"))
        return self[:stop]


def _frozen(ts: npt.NDArray[np.int64], rate: npt.NDArray[np.float64]) -> FundingSeries:
    ts, rate = ts.copy(), rate.copy()
    ts.flags.writeable = False
    rate.flags.writeable = False
    return FundingSeries(ts, rate)


_EMPTY: Final = _frozen(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))  # read-only: safe to share


@dataclass
class FundingReport(ReplayReport):
    """Rows kept and skipped per file (as for candles), and the requested symbols that have no file."""

    missing: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [super().summary()] if self.kept or self.skipped else []
        if self.missing:
            lines.append(f"no funding file for {', '.join(self.missing)}")
        return "\n".join(lines)


class FundingHistory:
    """Collected or replayed funding history, checked row by row. Build with ``FundingHistory.load``."""

    def __init__(self, series: dict[str, FundingSeries], report: FundingReport | None = None) -> None:
        self._series = dict(series)
        # Each series' times as a list as well: a search from Python is quicker there than numpy's (a paper venue
        # asks once per bar of each position).
        self._times = {symbol: rates.ts.tolist() for symbol, rates in self._series.items()}
        self.report = report if report is not None else FundingReport()

    @classmethod
    def load(cls, path: Path, symbols: Sequence[str] | None = None) -> FundingHistory:
        """Every symbol in the folder ``path``, or only ``symbols`` (BTC: ``BTCUSDT.parquet`` or ``BTC.parquet``)."""
        folder = Path(path)
        if not folder.is_dir():
            raise DataError(f"{folder}: no such funding folder")
        report = FundingReport()
        series: dict[str, FundingSeries] = {}
        found = _files(folder)
        venues = sorted(sub.name for sub in folder.iterdir() if sub.is_dir() and any(sub.glob(f"*{PLAIN_SUFFIX}")))
        if not found and venues:  # the collector's layout: funding/binance/, funding/hyperliquid/
            raise DataError(f"{folder} holds funding per venue ({', '.join(venues)}): pass one of those folders")
        for symbol in sorted(found) if symbols is None else symbols:
            file = found.get(symbol)
            if file is None:
                report.missing.append(symbol)
                continue
            series[symbol] = _read_checked(file, report)
        if report.missing:
            logger.warning("funding: no file in %s for %s", folder, ", ".join(report.missing))
        if report.total_skipped:
            logger.warning("funding: skipped bad rows in %s\n%s", folder, report.summary())
        return cls(series, report)

    @property
    def symbols(self) -> list[str]:
        return sorted(self._series)

    def rates(self, symbol: str, until_ms: int) -> FundingSeries:
        series = self._series.get(symbol)
        if series is None:
            return _EMPTY
        return series[: bisect.bisect_right(self._times[symbol], until_ms)]


class LiveFunding:
    """Hyperliquid funding, kept per symbol from ``InfoClient.funding_history`` (hourly settlements).

    The first ``refresh`` of a symbol fetches ``history_ms`` back from ``now_ms``; later ones fetch only what
    settled after the last known rate, and skip the request while the next settlement is not yet due, so a
    refresh every cycle costs nothing between settlements. Only settled rates are kept: a predicted rate would
    rewrite the past the next hour, and ``rates`` must answer the same for the same ``until_ms``.
    """

    def __init__(self, info: InfoClient, *, history_ms: int = 31 * 24 * HOUR_MS, interval_ms: int = HOUR_MS) -> None:
        if history_ms <= 0 or interval_ms <= 0:
            raise ValueError("LiveFunding needs history_ms > 0 and interval_ms > 0")
        self._info = info
        self.history_ms = history_ms
        self.interval_ms = interval_ms
        self._series: dict[str, FundingSeries] = {}

    async def refresh(self, symbols: Sequence[str], now_ms: int) -> None:
        """Fetch what settled up to ``now_ms`` for each symbol; an ``InfoError`` propagates (the caller's cycle
        fails), keeping whatever the symbols before it gained."""
        for symbol in symbols:
            known = self._series.get(symbol, _EMPTY)
            # Settlements land a few ms after the hour: the next is due from the start of the next slot.
            if len(known) and now_ms < (int(known.ts[-1]) // self.interval_ms + 1) * self.interval_ms:
                continue
            start = int(known.ts[-1]) + 1 if len(known) else now_ms - self.history_ms
            fresh = await self._info.funding_history(symbol, start, now_ms)
            if not fresh and len(known):
                continue
            ts = np.array([t for t, _ in fresh], dtype=np.int64)
            rate = np.array([r for _, r in fresh], dtype=np.float64)
            self._series[symbol] = _frozen(np.concatenate((known.ts, ts)), np.concatenate((known.rate, rate)))

    def rates(self, symbol: str, until_ms: int) -> FundingSeries:
        return self._series.get(symbol, _EMPTY).until(until_ms)


def _files(folder: Path) -> dict[str, Path]:
    """Symbol → file. A symbol with both a Binance and a Hyperliquid file is ambiguous (8 h and 1 h rates must
    not be mixed) and an error."""
    found: dict[str, Path] = {}
    for file in sorted(folder.glob(f"*{PLAIN_SUFFIX}")):
        name = file.name
        symbol = name.removesuffix(BINANCE_SUFFIX) if name.endswith(BINANCE_SUFFIX) else name.removesuffix(PLAIN_SUFFIX)
        if symbol in found:
            raise DataError(f"{folder}: both {found[symbol].name} and {name} hold {symbol}'s funding; keep one")
        found[symbol] = file
    return found


def _read_checked(file: Path, report: FundingReport) -> FundingSeries:
    frame = read_numeric(file, COLUMNS)
    ts_column = frame["ts"].cast(pl.Int64, strict=False)
    ts = ts_column.fill_null(0).to_numpy()
    rate = frame["rate"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    row = np.arange(frame.height)
    bad = np.zeros(frame.height, dtype=np.bool_)
    with np.errstate(invalid="ignore"):
        checks = [
            ("missing timestamp", ts_column.is_null().to_numpy()),
            ("NaN or infinite rate", ~np.isfinite(rate)),
            (f"rate beyond ±{MAX_ABS_RATE:.0%}", np.abs(rate) > MAX_ABS_RATE),
        ]
    for reason, failed in checks:
        _count(report, file.name, row[failed & ~bad], reason)
        bad |= failed
    # Time must move forward: a row at or before the last good row's time is a duplicate or out of order.
    good = np.flatnonzero(~bad)
    previous = np.maximum.accumulate(np.concatenate(([np.iinfo(np.int64).min], ts[good][:-1])))
    _count(report, file.name, row[good[ts[good] == previous]], "duplicate timestamp")
    _count(report, file.name, row[good[ts[good] < previous]], "timestamp out of order")
    bad[good[ts[good] <= previous]] = True
    report.kept[file.name] = int((~bad).sum())
    return _frozen(ts[~bad], rate[~bad])


def _count(report: FundingReport, file: str, rows: npt.NDArray[np.int64], reason: str) -> None:
    if not len(rows):
        return
    reasons = report.skipped.setdefault(file, {})
    reasons[reason] = reasons.get(reason, 0) + len(rows)
    shown = sum(1 for example in report.examples if example.file == file)
    report.examples.extend(SkippedRow(file, int(index), reason) for index in rows[: max(0, _EXAMPLES_PER_FILE - shown)])
