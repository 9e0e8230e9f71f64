"""The backtest's progress bar on stderr: cycles settled, candles per second and the time left.

It follows the log, not the actors: the runtime's broadcast hub hands every committed batch of records to
``on_records`` (``Broadcast.listen``), where ``CycleStarted`` says how many candles a cycle closed and
``CycleSettled`` that it is done. Nothing is drawn unless stderr is a terminal, so logs, pipes and test output stay
clean. Drawn with rich, which is well kept and made for exactly this (live bars, rates and ETAs on a terminal,
redrawn in place); redrawn from the listener at most ten times a second, with no thread of its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Self

import msgspec
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from b1e55ed.eventlog.chain import Record

REDRAW_EVERY_S = 0.1


class _Started(msgspec.Struct):
    closes: dict[str, float]


class _Settled(msgspec.Struct):
    cycle: int


_started = msgspec.json.Decoder(_Started)
_settled = msgspec.json.Decoder(_Settled)


class BacktestProgress:
    """Counts from committed records; ``total`` cycles is None when unknown (the bar then only counts)."""

    def __init__(
        self,
        total: int | None,
        *,
        already: int = 0,
        console: Console | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.already = already  # cycles settled before this start: a resumed run does not count them as speed
        self.cycle = already
        self.candles = 0
        self._console = console if console is not None else Console(stderr=True)
        self._monotonic = monotonic
        self._started_at = monotonic()
        self._drawn_at = -REDRAW_EVERY_S
        self._bar = Progress(
            TextColumn("backtest"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("cycles · {task.fields[rate]} candles/s · ETA"),
            TimeRemainingColumn(),
            console=self._console,
            auto_refresh=False,
            transient=False,
            disable=not self._console.is_terminal,
        )
        self._task: TaskID | None = None

    @property
    def enabled(self) -> bool:
        return self._console.is_terminal

    @property
    def candles_per_s(self) -> float:
        elapsed = self._monotonic() - self._started_at
        return self.candles / elapsed if elapsed > 0 else 0.0

    def on_records(self, records: Sequence[Record]) -> None:
        """The hub's listener: quick, never raises for a record it does not need."""
        for record in records:
            if record.kind == "cycle":
                self.candles += len(_started.decode(record.payload).closes)
            elif record.kind == "settled":
                self.cycle = _settled.decode(record.payload).cycle
        if self._task is not None and self._monotonic() - self._drawn_at >= REDRAW_EVERY_S:
            self._draw()

    def _draw(self) -> None:
        assert self._task is not None
        self._drawn_at = self._monotonic()
        self._bar.update(self._task, completed=self.cycle, rate=f"{self.candles_per_s:,.0f}")
        self._bar.refresh()

    def __enter__(self) -> Self:
        self._bar.start()
        self._task = self._bar.add_task("backtest", total=self.total, completed=self.already, rate="0")
        self._started_at = self._monotonic()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._task is not None:
            self._draw()
        self._bar.stop()
