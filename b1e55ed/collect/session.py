"""What every collector shares in one command run: where to write, how to fetch, the time, and what to report.

A collector opens one ``SeriesFile`` per output file through ``Session.series`` and pages through the source with
``fill_forward``: each page is checked (``validate``), handed to the file (which writes it out atomically often
enough that an interrupted run loses little), and the next page starts after the last row the source sent. The
``FileReport`` of every file touched, finished or not, is kept for the command's output.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import polars as pl

from b1e55ed.clock import Clock

from .http import JsonFetcher
from .progress import Progress
from .store import DEFAULT_FLUSH_INTERVAL_S, Schema, SeriesFile, Writer, write_parquet
from .validate import Check, Rejects, check_rows


@dataclass
class FileReport:
    """One output file's outcome: rows added and held, the time span, requests spent, rows rejected by reason."""

    file: str
    added: int = 0
    rows: int = 0
    first_ts: int | None = None
    last_ts: int | None = None
    requests: int = 0
    rejects: Rejects = field(default_factory=Rejects)
    note: str = ""

    def render(self) -> str:
        span = f", {_day(self.first_ts)} → {_day(self.last_ts)}" if self.first_ts is not None else ""
        text = f"{self.file}: +{self.added:,} rows ({self.rows:,} held{span}), {self.requests} requests"
        if self.rejects.total:
            text += f"; rejected {self.rejects.total:,}: {self.rejects.summary()}"
            text += "".join(f"\n  e.g. {example}" for example in self.rejects.examples)
        return text + (f"; {self.note}" if self.note else "")


def _day(ts: int | None) -> str:
    if ts is None:
        return "-"
    moment = datetime.fromtimestamp(ts / 1000, UTC)
    return moment.strftime("%Y-%m-%d %H:%M" if moment.hour or moment.minute else "%Y-%m-%d")


@dataclass(frozen=True, slots=True)
class Page:
    """Checked-to-be rows from one request, and where the next request starts (None: this was the last page)."""

    rows: pl.DataFrame
    next_cursor: int | None


class Session:
    def __init__(
        self,
        data_dir: Path,
        fetcher: JsonFetcher,
        clock: Clock,
        *,
        progress_stream: TextIO | None = None,
        flush_interval_s: float = DEFAULT_FLUSH_INTERVAL_S,
        writer: Writer = write_parquet,
    ) -> None:
        self.data_dir = data_dir
        self.fetcher = fetcher
        self.clock = clock
        self.reports: list[FileReport] = []
        self._progress_stream = progress_stream
        self._flush_interval_s = flush_interval_s
        self.writer = writer

    def report(self, path: Path) -> FileReport:
        report = FileReport(self._relative(path))
        self.reports.append(report)
        return report

    @contextmanager
    def series(self, path: Path, schema: Schema) -> Iterator[tuple[SeriesFile, FileReport]]:
        """The file at ``path`` and its report; on leaving (also by an exception) the rows are written out."""
        report = self.report(path)
        requests_before = self.fetcher.requests
        series = SeriesFile(path, schema, flush_interval_s=self._flush_interval_s, writer=self.writer)
        try:
            with series:
                yield series, report
        finally:
            report.added, report.rows = series.added, series.rows
            report.first_ts, report.last_ts = series.first_ts, series.last_ts
            report.requests = self.fetcher.requests - requests_before

    def progress(self, label: str, start_ms: int, end_ms: int) -> Progress:
        return Progress(label, start_ms, end_ms, stream=self._progress_stream)

    def _relative(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.data_dir))
        except ValueError:
            return str(path)


async def fill_forward(
    session: Session,
    series: SeriesFile,
    report: FileReport,
    fetch: Callable[[int], Awaitable[Page]],
    *,
    start_ms: int,
    checks: Sequence[Check],
    label: str,
) -> None:
    """Page forward from ``start_ms`` until the source says it has no more, storing each page's good rows."""
    end_ms = session.clock.now_ms()
    progress = session.progress(label, start_ms, end_ms)
    cursor: int | None = start_ms
    while cursor is not None:
        page = await fetch(cursor)
        series.add(check_rows(page.rows, checks, report.rejects, after_ts=series.last_ts))
        if page.next_cursor is not None and page.next_cursor <= cursor:
            report.note = f"the source stopped advancing at ts {cursor}"
            break
        cursor = page.next_cursor
        progress.update(cursor if cursor is not None else end_ms, series.rows)
    progress.finish(end_ms, series.rows)
