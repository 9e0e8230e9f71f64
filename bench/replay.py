"""Replay benchmark: candles/s and cycles/s through the whole pipeline, event log on disk. ``[--quick] [--profile]``

Replays BTC, ETH and SOL 1h candles from ``../shared/data/ohlcv_1h`` (2024-01-01..2024-07-01; ``--quick``: January)
through the real CLI entry, ``b1e55ed.cli.main(["run", ...])`` in-process, default config, into a fresh brain.db in
a temp dir (``data_dir`` too): 3 timed runs after an untimed week (first-time imports), each followed by the baseline,
``ReplayFeed.batches()`` iterated alone over the same loaded data (no actors, no log); ``ratio = ours / baseline``.
Without ``../shared/data`` it replays the seeded sim at max pace instead, and says so (``data``); the baseline is then
``SimFeed.closes()`` alone.

Two times per run: ``until_last_settled``, from calling ``main`` (config, data load and store open included) to the
brain's "market data exhausted" log line, right after the last cycle settled; and ``cli_end_to_end``, until ``main``
returns (shutdown and the run summary included). ``--profile`` adds one cProfiled run, its top costs on stderr.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Any

import trio
from common import figure, load_average, note

from b1e55ed.cli import EXIT_OK
from b1e55ed.cli import main as cli_main
from b1e55ed.config import DEFAULT_CONFIG_PATH, load_config
from b1e55ed.market.replay import ReplayFeed, load_history
from b1e55ed.market.sim import HOUR_MS, SimFeed, SimMarket
from b1e55ed.summary import summarize
from b1e55ed.trading_config import day_ms

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ohlcv_1h"
SYMBOLS = ("BTC", "ETH", "SOL")
FULL, QUICK = ("2024-01-01", "2024-07-01"), ("2024-01-01", "2024-02-01")
RUNS = 3
WARMUP_TO = "2024-01-08"  # an untimed first week, so the timed runs do not pay the process's first-time costs
DATA_DIR = "B1E55ED_DATA_DIR"
EXHAUSTED = "market data exhausted"  # actors.brain logs it once the last cycle has settled


class LastSettled(logging.Handler):
    """Notes when the brain says the market data is exhausted: the last cycle has settled."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.at: float | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.at is None and record.getMessage().startswith(EXHAUSTED):
            self.at = time.perf_counter()


@contextmanager
def environment(overrides: Mapping[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def cli_run(db: Path, market: str, period: tuple[str, str], env: Mapping[str, str]) -> tuple[float, float]:
    """One ``python -m b1e55ed run`` in-process: seconds until the last settlement and until ``main`` returned.

    The feature store's Parquet parts go to ``data`` beside the database's folder, emptied after the run: they
    resume from what is on disk, and the path is always the same, since the config is hashed into the log.
    """
    argv = ["run", "--db", str(db), "--market", market, "--symbols", *SYMBOLS, "--from", period[0], "--to", period[1]]
    watcher, brain, data = LastSettled(), logging.getLogger("actors.brain"), db.parent.parent / "data"
    brain.addHandler(watcher)
    try:
        with environment({**env, DATA_DIR: str(data)}), redirect_stdout(sys.stderr):  # the summary goes to stderr
            start = time.perf_counter()
            code = cli_main(argv)
            end = time.perf_counter()
    finally:
        brain.removeHandler(watcher)
        shutil.rmtree(data, ignore_errors=True)
    assert code == EXIT_OK, f"b1e55ed run exited {code}"
    assert watcher.at is not None, f"no {EXHAUSTED!r} log line: cannot time the last settlement"
    return watcher.at - start, end - start


def replay_baseline(period: tuple[str, str]) -> tuple[float, int, int, float]:
    """Load the data, then time ``ReplayFeed.batches()`` alone: (seconds, candles, batches, load seconds)."""
    loading = time.perf_counter()
    data = load_history(DATA, list(SYMBOLS), day_ms(period[0]), day_ms(period[1]), HOUR_MS)
    loaded = time.perf_counter()
    candles = batches = 0
    for batch in ReplayFeed(data).batches():
        candles, batches = candles + len(batch.bars), batches + 1
    return time.perf_counter() - loaded, candles, batches, loaded - loading


def sim_baseline(period: tuple[str, str], bars: int) -> tuple[float, int, int, float]:
    """Time ``SimFeed.closes()`` alone at max pace, with the run's seed: (seconds, candles, batches, 0)."""
    seed = load_config(environ={}, env_file=None).market.sim_seed
    feed = SimFeed(SimMarket(SYMBOLS, HOUR_MS, seed=seed, start_ms=day_ms(period[0]) or 0), bars=bars, pace="max")

    async def drain() -> tuple[int, int]:
        candles = batches = 0
        async for batch in feed.closes():
            candles, batches = candles + len(batch.bars), batches + 1
        return candles, batches

    start = time.perf_counter()
    candles, batches = trio.run(drain)
    return time.perf_counter() - start, candles, batches, 0.0


def profile(root: Path, market: str, period: tuple[str, str], env: Mapping[str, str], top: int = 30) -> None:
    """One more run under cProfile (the trio thread only: SQLite's thread shows as waits); the top costs on stderr."""
    with tempfile.TemporaryDirectory(dir=root) as directory:
        profiler = cProfile.Profile()
        profiler.enable()
        cli_run(Path(directory) / "brain.db", market, period, env)
        profiler.disable()
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(top)
        note(f"profile by {order}:\n{out.getvalue()}")


def main() -> None:
    parser = argparse.ArgumentParser(description="Replay benchmark: one JSON line per figure on stdout.")
    parser.add_argument("--quick", action="store_true", help="one month instead of six (~30 s)")
    parser.add_argument("--profile", action="store_true", help="one more run under cProfile; top costs on stderr")
    args = parser.parse_args()
    period = QUICK if args.quick else FULL
    real = DATA.is_dir() and all((DATA / f"{symbol}USDT.parquet").is_file() for symbol in SYMBOLS)
    hours = ((day_ms(period[1]) or 0) - (day_ms(period[0]) or 0)) // HOUR_MS
    env: dict[str, str] = {}
    if real:
        market, data = f"replay:{DATA}", f"real: {DATA.name} (Binance spot 1h)"
    else:
        market, data = "sim", f"SIMULATED: {DATA} is absent; seeded sim at max pace, {hours} bars"
        env |= {"B1E55ED_MARKET__SIM_PACE": "max", "B1E55ED_MARKET__SIM_BARS": str(hours)}
        note(f"{DATA} not found: replaying the seeded simulation instead")
    if inherited := sorted(k for k in os.environ if k.startswith("B1E55ED_") and k not in env):
        note(f"the environment overrides the config: {', '.join(inherited)}")
    note(f"config {DEFAULT_CONFIG_PATH.name}; {data}; {period[0]}..{period[1]}; {RUNS} runs")

    settled, ends, raw, summaries = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="b1e55ed-bench-") as directory:
        root = Path(directory)
        with tempfile.TemporaryDirectory(dir=root) as scratch:  # imports, plug-ins and caches, once per process
            cli_run(Path(scratch) / "brain.db", market, (period[0], WARMUP_TO), env)
        for run in range(RUNS):
            with tempfile.TemporaryDirectory(dir=root) as scratch:
                db = Path(scratch) / "brain.db"
                until_settled, until_return = cli_run(db, market, period, env)
                summaries.append(summarize(db))
            settled.append(until_settled)
            ends.append(until_return)
            raw.append(replay_baseline(period) if real else sim_baseline(period, hours))
            note(f"run {run + 1}: last settlement at {until_settled:.2f} s, main returned at {until_return:.2f} s")
        if args.profile:
            profile(root, market, period, env)

    _, candles, batches, _ = raw[0]
    first = summaries[0]
    assert all(r[1:3] == (candles, batches) for r in raw), raw
    assert first.cycles == batches, f"{first.cycles} cycles, {batches} batches"
    summary: dict[str, Any] = {"trades": first.trades, "wins": first.wins, "stopped": first.stopped}
    summary["targets"] = first.targets
    summary |= {"pnl": round(first.pnl, 2), "final_equity": first.final_equity, "cycles": first.cycles}
    summary |= {"max_drawdown_pct": round(first.max_drawdown_pct, 3), "events": first.events, "head": first.head}
    extra: dict[str, Any] = {"data": data, "symbols": list(SYMBOLS), "period": f"{period[0]}..{period[1]}"}
    extra |= {"candles": candles, "cycles": batches, "runs_count": RUNS}
    extra |= {"baseline_load_s_median": round(statistics.median(r[3] for r in raw), 3)}
    extra["shutdown_s_median"] = round(statistics.median(e - s for s, e in zip(settled, ends, strict=True)), 3)
    extra |= {"deterministic": len({s.head for s in summaries}) == 1, "summary": summary}
    extra["load_avg_1m"] = load_average()
    feed = "ReplayFeed.batches()" if real else "SimFeed.closes() at max pace"
    baseline = f"{feed} iterated alone over the same candles: no actors, no log"
    for timing, seconds in (("until_last_settled", settled), ("cli_end_to_end", ends)):
        for unit, count in (("candles", candles), ("cycles", batches)):
            ours, theirs = [count / s for s in seconds], [count / r[0] for r in raw]
            figure("replay", f"{unit}_per_s/{timing}", f"{unit}/s", ours, theirs, baseline, **extra)
    note(f"{candles / statistics.median(settled):,.0f} candles/s until the last settlement; summary {summary}")


if __name__ == "__main__":
    main()
