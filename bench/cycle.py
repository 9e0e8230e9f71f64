"""Cycle benchmark: one brain cycle for 50 symbols with 10,000 candles each in memory, p50 and p95. ``[--quick]``

Two ways, each against a plain numpy baseline measured in the same run, interleaved with ours:

- ``compute``: the pure path for one as-of: ``MarketState.view(as_of, 500)``, every enabled producer's ``produce``
  per symbol, the enricher's ``pcs_context`` per symbol, and every enabled strategy's ``evaluate``; no trio, no log.
- ``pipeline``: the whole actor pipeline in the real runtime, with a real SQLite event log in a temp dir, driven by
  the seeded sim at max pace under a ``ManualClock``, 10,000 bars per symbol preloaded into the ``MarketState``. A
  cycle is timed from the brain's tick (when it sets the clock to the as-of) to the OMS's settlement (after its
  ``CycleSettled`` commit, when it releases the brain), so it includes every stage and the cycle's fsyncs.

The baseline computes the same indicators (Wilder RSI(14), the 480-bar rate of change, ATR(14)%) on the last 500
bars of the 50 symbols with numpy alone: the windows stacked into one matrix, Wilder smoothing stepped over time.
One JSON object per line on stdout (notes on stderr); ``ratio = ours / baseline``.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import trio
from common import figure, load_average, note, percentile
from msgspec.structs import replace

from actors.context import pcs_context
from actors.pipeline import TradingPipeline
from b1e55ed.barrier import CycleBarrier
from b1e55ed.clock import ManualClock
from b1e55ed.config import Config, PluginSpec, load_config
from b1e55ed.cycle import CycleTick, EnrichedCycle
from b1e55ed.market.bars import BarArrays
from b1e55ed.market.feed import Feed
from b1e55ed.market.indicators import atr_pct, wilder_rsi
from b1e55ed.market.sim import HOUR_MS, SimFeed, SimMarket
from b1e55ed.market.state import MarketState
from b1e55ed.plugins import PluginSetup, Producer, Strategy
from b1e55ed.registry import resolve_enabled
from b1e55ed.runtime import Runtime
from b1e55ed.summary import summarize
from b1e55ed.trading_config import day_ms

SYMBOLS = ("BTC", "ETH", "SOL", *(f"S{i:02d}" for i in range(47)))
HISTORY = 10_000  # bars per symbol in memory before the first measured cycle
WINDOW, RSI_PERIOD, ROC_BARS = 500, 14, 480
SEED, START = 7, "2024-01-01"
TARGET_MS = 50.0
BASELINE = (
    f"numpy only: last {WINDOW} bars of {len(SYMBOLS)} symbols stacked, Wilder RSI({RSI_PERIOD}) + ATR({RSI_PERIOD})% "
    f"stepped over time, {ROC_BARS}-bar rate of change"
)
Floats = npt.NDArray[np.float64]


def plugins(config: Config) -> tuple[list[Producer], list[Strategy]]:
    """Every enabled producer and strategy of ``config``, built as the pipeline builds them."""

    def build(specs: Sequence[PluginSpec], key: str) -> list[Any]:
        return [cls(PluginSetup(s.name, HOUR_MS, dict(s.params))) for s, cls in resolve_enabled(specs, key=key)]

    return build(config.brain.producers, "brain.producers"), build(config.brain.strategies, "brain.strategies")


def compute_cycle(
    market: MarketState, cycle: int, as_of: int, producers: Sequence[Producer], strategies: Sequence[Strategy]
) -> tuple[int, int]:
    """One cycle of pure compute; returns (directional signals, trades taken) so the work cannot be skipped."""
    view = market.view(as_of, WINDOW)
    signals = [s for p in producers for sym in sorted(view) if (s := p.produce(sym, view[sym], as_of)) is not None]
    signals.sort(key=lambda s: (s.producer, s.symbol))
    context = {symbol: pcs_context(bars) for symbol, bars in sorted(view.items())}
    enriched = EnrichedCycle(CycleTick(cycle, as_of, "simulated", view), tuple(signals), context, {})
    taken = sum(c.taken for strategy in strategies for c in strategy.evaluate(enriched))
    return sum(s.signal != "neutral" for s in signals), taken


def numpy_cycle(history: dict[str, BarArrays], stop: int) -> tuple[Floats, Floats, Floats]:
    """The baseline: RSI, rate of change and ATR% of each symbol's window ending before row ``stop``."""
    start = stop - WINDOW
    close = np.stack([bars.close[start:stop] for bars in history.values()])
    high = np.stack([bars.high[start:stop] for bars in history.values()])
    low = np.stack([bars.low[start:stop] for bars in history.values()])
    previous = close[:, :-1]
    change = np.diff(close, axis=1)
    high, low = high[:, 1:], low[:, 1:]
    ranges = np.maximum(high - low, np.maximum(np.abs(high - previous), np.abs(low - previous)))
    moves = np.stack([np.maximum(change, 0.0), np.maximum(-change, 0.0), ranges])  # gain, loss, true range
    average = moves[:, :, :RSI_PERIOD].mean(axis=2)
    keep = (RSI_PERIOD - 1) / RSI_PERIOD
    for t in range(RSI_PERIOD, moves.shape[2]):
        average *= keep
        average += moves[:, :, t] / RSI_PERIOD
    gain, loss, true_range = average
    total = gain + loss
    rsi = np.where(total > 0, 100.0 * gain / np.where(total > 0, total, 1.0), 50.0)
    return rsi, close[:, -1] / close[:, -1 - ROC_BARS] - 1.0, true_range / close[:, -1]


def check_baseline(history: dict[str, BarArrays], stop: int) -> None:
    """The baseline computes what the framework's indicators compute."""
    rsi, _, atr = numpy_cycle(history, stop)
    window = [bars.slice(stop - WINDOW, stop) for bars in history.values()]
    assert np.allclose(rsi, [wilder_rsi(w.close, RSI_PERIOD)[-1] for w in window], rtol=1e-9), "RSI differs"
    assert np.allclose(atr, [atr_pct(w.high, w.low, w.close, RSI_PERIOD)[-1] for w in window], rtol=1e-9), "ATR%"


def timed(run: Callable[[int], object], points: Sequence[int]) -> list[float]:
    """Milliseconds of ``run(point)`` for each point."""
    out = []
    for point in points:
        start = time.perf_counter()
        run(point)
        out.append((time.perf_counter() - start) * 1000)
    return out


def bench_compute(history: dict[str, BarArrays], warm: int, cycles: int, reps: int) -> None:
    """Figure 1: the pure compute path, one as-of after another over the last rows of the history."""
    market = MarketState(HOUR_MS)
    for symbol, bars in history.items():
        market.extend(symbol, bars)
    producers, strategies = plugins(load_config(environ={}, env_file=None))
    rows = len(next(iter(history.values())))
    first_ts = int(next(iter(history.values())).ts[0])
    stops = list(range(rows - warm - cycles + 1, rows + 1))  # the window ends with row stop - 1
    as_ofs = [first_ts + stop * HOUR_MS for stop in stops]  # the close of row stop - 1
    check_baseline(history, stops[-1])
    ours, raw, found = [], [], [0, 0]

    def one(k: int) -> None:
        directional, taken = compute_cycle(market, k + 1, as_ofs[k], producers, strategies)
        found[0], found[1] = found[0] + directional, found[1] + taken

    for _ in range(reps):
        ours.append(timed(one, range(len(stops)))[warm:])
        raw.append(timed(lambda k: numpy_cycle(history, stops[k]), range(len(stops)))[warm:])
    runs = len(stops) * reps
    extra: dict[str, Any] = {
        "symbols": len(history),
        "bars_per_symbol": rows,
        "window": WINDOW,
        "cycles": cycles,
        "warmup": warm,
    }
    extra |= {"producers": [p.name for p in producers], "strategies": [s.name for s in strategies]}
    extra |= {"directional_signals_per_cycle": round(found[0] / runs, 2), "trades_per_cycle": round(found[1] / runs, 2)}
    emit_percentiles("compute", ours, raw, **extra)


def emit_percentiles(variant: str, ours: list[list[float]], raw: list[list[float]], **extra: Any) -> None:
    for p in (50, 95):
        mine, theirs = [percentile(run, p) for run in ours], [percentile(run, p) for run in raw]
        target: dict[str, Any] = {"target": TARGET_MS, "at_most": True} if p == 50 else {}
        extra["load_avg_1m"] = load_average()
        figure("cycle", f"cycle_latency/{variant}/p{p}", "ms", mine, theirs, BASELINE, **target, **extra)
    note(f"{variant}: p50 {statistics.median(percentile(r, 50) for r in ours):.2f} ms per cycle")


class TimedClock(ManualClock):
    """The brain sets the clock to the as-of when it ticks: that is when a cycle starts."""

    def __init__(self) -> None:
        super().__init__()
        self.ticks: list[float] = []

    def set(self, ms: int) -> None:
        self.ticks.append(time.perf_counter())
        super().set(ms)


class TimedBarrier(CycleBarrier):
    """The OMS settles a cycle once its ``CycleSettled`` is committed: that is when it ends."""

    def __init__(self) -> None:
        super().__init__()
        self.settled_at: list[float] = []

    def settle(self, cycle: int) -> None:
        self.settled_at.append(time.perf_counter())
        super().settle(cycle)


class WarmPipeline(TradingPipeline):
    """The real pipeline; its sim feed continues a path whose first ``HISTORY`` bars are already in the market."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        self.barrier = self.timed = TimedBarrier()

    @asynccontextmanager
    async def open_feed(self) -> AsyncIterator[Feed]:
        market = self.config.market
        sim = SimMarket(list(self.config.symbols), HOUR_MS, seed=market.sim_seed, start_ms=day_ms(START) or 0)
        feed = SimFeed(sim, bars=market.sim_bars, pace="max", clock=self.runtime.clock)
        for symbol, arrays in feed.history(HISTORY).items():
            self.market.extend(symbol, arrays)
        yield feed


def pipeline_run(root: Path, config: Config, warm: int) -> tuple[list[float], float, dict[str, Any]]:
    """One runtime run; per measured cycle, ms from tick to settlement, and the measured cycles' cycles/s."""
    pipelines: list[WarmPipeline] = []

    def stages(runtime: Runtime) -> Any:
        pipelines.append(WarmPipeline(runtime))
        return pipelines[-1].stages()

    with tempfile.TemporaryDirectory(dir=root) as directory:
        db, clock = Path(directory) / "brain.db", TimedClock()
        # The feature store's Parquet parts, which resume from what is on disk: emptied for each run, and always the
        # same path, since the config (data_dir included) is hashed into the log.
        config = replace(config, data_dir=str(root / "data"))
        try:
            trio.run(Runtime(config, db_path=db, clock=clock).run, stages)
        finally:
            shutil.rmtree(root / "data", ignore_errors=True)
        summary = summarize(db)
    settled = pipelines[-1].timed.settled_at
    assert len(clock.ticks) == len(settled) == config.market.sim_bars, (len(clock.ticks), len(settled))
    cycle_ms = [(end - start) * 1000 for start, end in zip(clock.ticks, settled, strict=True)]
    rate = (len(settled) - warm - 1) / (settled[-1] - settled[warm])
    facts = {"first_cycle_ms": round(cycle_ms[0], 1), "events_per_cycle": round(summary.events / summary.cycles, 2)}
    facts["trades_closed"] = summary.trades
    return cycle_ms[warm:], rate, facts | {"pnl": round(summary.pnl, 2), "head": summary.head}


def bench_pipeline(root: Path, history: dict[str, BarArrays], warm: int, cycles: int, reps: int) -> None:
    """Figure 2: the whole pipeline, tick to settlement, through the runtime and the event log on disk."""
    base = load_config(environ={}, env_file=None)
    market = replace(base.market, source="sim", sim_pace="max", sim_bars=warm + cycles, sim_seed=SEED, start=START)
    config = replace(base, symbols=SYMBOLS, market=market)
    rows = len(next(iter(history.values())))
    stops = list(range(rows - warm - cycles + 1, rows + 1))
    ours, raw, rates, facts = [], [], [], []
    for _ in range(reps):
        cycle_ms, rate, fact = pipeline_run(root, config, warm)
        ours.append(cycle_ms)
        rates.append(rate)
        facts.append(fact)
        raw.append(timed(lambda k: numpy_cycle(history, stops[k]), range(len(stops)))[warm:])
    extra: dict[str, Any] = {"symbols": len(SYMBOLS), "bars_per_symbol": HISTORY, "window": WINDOW, "cycles": cycles}
    extra |= {"warmup": warm, "cycles_per_s_median": round(statistics.median(rates), 2), **facts[0]}
    extra["first_cycle_ms"] = [f["first_cycle_ms"] for f in facts]  # the venue walks the whole preloaded history
    extra["deterministic"] = len({f["head"] for f in facts}) == 1
    extra["timing"] = "brain tick (clock set to as-of) to OMS settlement (after the CycleSettled commit)"
    emit_percentiles("pipeline", ours, raw, **extra)


def main() -> None:
    parser = argparse.ArgumentParser(description="Cycle benchmark: one JSON line per figure on stdout.")
    parser.add_argument("--quick", action="store_true", help="fewer cycles (~30 s)")
    quick = parser.parse_args().quick
    logging.basicConfig(level=logging.WARNING, format="[%(levelname)s] [%(name)s] %(message)s")
    logging.getLogger("actors.brain").setLevel(logging.ERROR)  # "MARKET DATA IS SIMULATED", once per run
    warm, cycles, reps = (10, 50, 3) if quick else (20, 200, 5)
    started = time.perf_counter()
    sim = SimMarket(SYMBOLS, HOUR_MS, seed=SEED, start_ms=(day_ms(START) or 0) - HISTORY * HOUR_MS)
    history = sim.bars(HISTORY)
    note(f"simulated {len(SYMBOLS)} x {HISTORY:,} bars in {time.perf_counter() - started:.1f} s")
    bench_compute(history, warm, cycles, reps)
    with tempfile.TemporaryDirectory(prefix="b1e55ed-bench-") as directory:
        bench_pipeline(Path(directory), history, warm, cycles, reps)


if __name__ == "__main__":
    main()
