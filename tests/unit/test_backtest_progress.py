"""The backtest's progress bar counts from committed records, and draws only on a terminal."""

from __future__ import annotations

import io

from rich.console import Console

from b1e55ed.backtest.progress import BacktestProgress
from b1e55ed.eventlog.chain import EMPTY_HEAD, Record, extend
from b1e55ed.messages import CycleSettled, CycleStarted, Event
from tests.eventlog_helpers import signal


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def cycle_records(first: int, count: int, symbols: int = 2) -> list[Record]:
    events: list[Event] = []
    for cycle in range(first, first + count):
        closes = {f"S{i}": 1.0 for i in range(symbols)}
        events.append(CycleStarted(ts=cycle, cycle=cycle, as_of=cycle, source="replay", closes=closes))
        events.append(CycleSettled(ts=cycle, cycle=cycle, as_of=cycle, cash=1, equity=1, exposure=0, open_positions=0))
    return extend(EMPTY_HEAD, events)


def test_it_counts_settled_cycles_and_the_candles_they_closed() -> None:
    clock = FakeMonotonic()
    progress = BacktestProgress(10, console=Console(file=io.StringIO()), monotonic=clock)
    with progress:
        clock.now += 2.0
        progress.on_records([*cycle_records(1, 3), *extend(EMPTY_HEAD, [signal(1)])])  # a signal is not counted
        assert (progress.cycle, progress.candles) == (3, 6)
        assert progress.candles_per_s == 3.0


def test_a_resumed_run_starts_from_the_cycles_already_settled() -> None:
    progress = BacktestProgress(10, already=7, console=Console(file=io.StringIO()))
    with progress:
        assert progress.cycle == 7
        progress.on_records(cycle_records(8, 1))
        assert progress.cycle == 8


def test_nothing_is_drawn_when_stderr_is_not_a_terminal() -> None:
    out = io.StringIO()
    progress = BacktestProgress(10, console=Console(file=out))
    with progress:
        progress.on_records(cycle_records(1, 3))
    assert not progress.enabled
    assert out.getvalue() == ""


def test_on_a_terminal_it_shows_cycles_done_of_the_total_and_the_candle_rate() -> None:
    out = io.StringIO()
    clock = FakeMonotonic()
    console = Console(file=out, force_terminal=True, width=120, color_system=None)
    with BacktestProgress(10, console=console, monotonic=clock) as progress:
        clock.now += 1.0
        progress.on_records(cycle_records(1, 4))
    text = out.getvalue()
    assert "4/10" in text
    assert "8 candles/s" in text
