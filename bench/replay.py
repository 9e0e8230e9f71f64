"""Replay benchmark: candles/s through the whole pipeline against the durable floor. ``[--quick] [--profile]``

Workloads (``--figure``; the default runs both headline figures, ``--quick`` the short form alone):
- ``btc``: BTC 1h 2018-01-01..2024-12-31 (about 61k candles), target 10,000 candles/s;
- ``symbols``: all 8 symbols in ``../shared/data/ohlcv_1h``, 2023-01-01..2024-12-31;
- ``quick`` (``--quick``, ~30 s): BTC, ETH and SOL, 2024-01-01..2024-02-01.
Each run is ``b1e55ed.cli.main(["run", ...])`` in-process in a fresh subprocess (``bench/replay_child.py``), default
config (all producers and strategies), ``--funding ../shared/data/funding --fear-greed ../shared/data/fear_greed``,
into a fresh durable brain.db: an untimed 3-day warm-up replay first (imports, plug-ins), then the timed one. So each
run's peak RSS (``ru_maxrss``, warm-up included) is its own and no warm cache carries over between runs; the feature
store's writer process (a child of the run) is reported apart, as ``feature_writer_peak_rss_mb``.

Baseline, THE DURABLE FLOOR, measured right after each run in another fresh subprocess: the run's own events, as
stored (encoded payloads read from its brain.db), appended to a fresh log in exactly the run's transactions (each
``SqliteStore.append`` the run made is recorded: its first and last seq) through ``project`` + ``SqliteStore.append``,
no actors. ``ratio = ours / floor``: 1 means the pipeline costs no more than storing what it decided.

Times: ``until_last_settled`` from calling ``main`` (config, data load, store open included) to the brain's "market
data exhausted" line; ``cli_end_to_end`` until ``main`` returns. ``--profile``: one more run of the first workload
under cProfile, top costs on stderr. Without ``../shared/data`` the seeded sim at max pace replaces the replay (the
same number of hours, the config's symbols), and the output says so (``data``).

KARMA'S COST, per workload: the same run without the karma stage (``bench/without_karma.py``), as many times,
reported as ``karma_cost``: candles/s with karma ÷ without (goal ≥ 0.9: within 10%).

A cycle that does not settle (the brain's 60 s stall warning) ends the run at once: the workload prints an
``error`` line instead of figures and the script exits 1. ``--replay-batch N`` sets ``brain.replay_batch`` (speed
only, out of the config hash); ``--runs N`` the timed runs per figure (default 3 quick, 1 long); ``--timeout``.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import emit, figure, load_average, note

from b1e55ed.config import DEFAULT_CONFIG_PATH, load_config
from b1e55ed.eventlog import codec
from b1e55ed.market.sim import HOUR_MS
from b1e55ed.messages import CycleStarted
from b1e55ed.summary import summarize
from b1e55ed.trading_config import day_ms

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared" / "data"
OHLCV, FUNDING, FEAR_GREED = SHARED / "ohlcv_1h", SHARED / "funding", SHARED / "fear_greed"
WARMUP_DAYS = 3


@dataclass(frozen=True)
class Workload:
    name: str
    symbols: tuple[str, ...]
    start: str
    end: str
    runs: int
    target: float | None = None


def workloads(quick: bool, chosen: str, runs: int | None) -> list[Workload]:
    every = tuple(sorted(p.stem.removesuffix("USDT") for p in OHLCV.glob("*USDT.parquet"))) or ("BTC", "ETH", "SOL")
    if quick:
        return [Workload("quick_btc_eth_sol_2024_01", ("BTC", "ETH", "SOL"), "2024-01-01", "2024-02-01", runs or 3)]
    found = []
    if chosen in ("btc", "both"):
        found.append(Workload("btc_1h_2018_2024", ("BTC",), "2018-01-01", "2024-12-31", runs or 1, 10_000))
    if chosen in ("symbols", "both"):
        found.append(Workload(f"{len(every)}_symbols_1h_2023_2024", every, "2023-01-01", "2024-12-31", runs or 1))
    return found


class RunFailed(Exception):
    """A subprocess failed, stalled (a cycle did not settle) or timed out: no figure for this workload."""


def child(mode: str, args: list[str], timeout: float) -> dict[str, Any]:
    """Run ``replay_child.py`` in a fresh interpreter; its last stdout line is its JSON answer."""
    command = [sys.executable, str(HERE / "replay_child.py"), mode, *args]
    try:
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RunFailed(f"{mode} subprocess did not finish within {timeout:g} s (killed)") from None
    lines = done.stdout.strip().splitlines()
    answer: dict[str, Any] = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
    if done.returncode != 0 or "error" in answer:
        raise RunFailed(f"{mode} subprocess failed (exit {done.returncode}): {answer.get('error', 'see stderr')}")
    return answer


def candles_of(db: Path) -> tuple[int, int]:
    """(candles, cycles) the run processed: each cycle's CycleStarted names the symbols with a candle then."""
    candles = cycles = 0
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        kind = CycleStarted.__struct_config__.tag
        rows = conn.execute("SELECT payload FROM events WHERE kind = ? ORDER BY seq", (kind,))
        for (payload,) in rows:
            started = codec.decode(payload)
            if isinstance(started, CycleStarted):
                candles, cycles = candles + len(started.closes), cycles + 1
    return candles, cycles


def run_argv(load: Workload, real: bool, start: str, end: str) -> list[str]:
    market = f"replay:{OHLCV}" if real else "sim"
    argv = ["--market", market, "--symbols", *load.symbols, "--from", start, "--to", end]
    if real and FUNDING.is_dir():
        argv += ["--funding", str(FUNDING)]
    if real and FEAR_GREED.is_dir():
        argv += ["--fear-greed", str(FEAR_GREED)]
    return argv


def warmup_end(start: str) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(((day_ms(start) or 0) // 1000) + WARMUP_DAYS * 86_400))


def measure(root: Path, load: Workload, real: bool, timeout: float, profile: int = 0) -> dict[str, Any]:
    """One timed run and its floor, each in its own subprocess."""
    with tempfile.TemporaryDirectory(dir=root) as scratch:
        run_dir, floor_dir = Path(scratch) / "run" / "db", Path(scratch) / "floor" / "db"
        run_dir.mkdir(parents=True)
        floor_dir.mkdir(parents=True)
        db = run_dir / "brain.db"
        argv = run_argv(load, real, load.start, load.end)
        # the sim's bar count comes from the environment: no warm-up there (it would be a full run)
        warmup = run_argv(load, real, load.start, warmup_end(load.start)) if real else []
        options = ["--db", str(db), "--data-dir", str(root / "data"), "--argv", json.dumps(argv)]
        options += ["--warmup", json.dumps(warmup)]
        ours = child("run", [*options, "--profile", str(profile)], timeout)
        if profile:
            return ours
        commits = Path(scratch) / "commits.json"
        commits.write_text(json.dumps(ours["commits"]))
        floor_args = ["--db", str(floor_dir / "brain.db"), "--source", str(db), "--commits", str(commits)]
        floor = child("floor", floor_args, timeout)
        candles, cycles = candles_of(db)
        summary = summarize(db)
    return {**ours, "floor": floor, "candles": candles, "cycles": cycles, "summary": summary}


def without_karma(root: Path, load: Workload, real: bool, timeout: float) -> dict[str, Any]:
    """One timed run of the pipeline without karma (no floor): the baseline of karma's cost."""
    os.environ["B1E55ED_RUNTIME__PIPELINE"] = "without_karma:WithoutKarma"
    try:
        with tempfile.TemporaryDirectory(dir=root) as scratch:
            db = Path(scratch) / "brain.db"
            warmup = run_argv(load, real, load.start, warmup_end(load.start)) if real else []
            argv = json.dumps(run_argv(load, real, load.start, load.end))
            options = ["--db", str(db), "--data-dir", str(root / "data"), "--argv", argv]
            return child("run", [*options, "--warmup", json.dumps(warmup), "--profile", "0"], timeout)
    finally:
        del os.environ["B1E55ED_RUNTIME__PIPELINE"]


def report(load: Workload, results: list[dict[str, Any]], data: str) -> None:
    first = results[0]
    candles, cycles, summary = first["candles"], first["cycles"], first["summary"]
    assert all((r["candles"], r["cycles"]) == (candles, cycles) for r in results), "runs differ in size"
    events = first["floor"]["events"]
    commits = len(first["commits"])
    replay_batch = load_config(environ=dict(os.environ), env_file=None).brain.replay_batch
    extra: dict[str, Any] = {"data": data, "symbols": list(load.symbols), "period": f"{load.start}..{load.end}"}
    extra |= {"candles": candles, "cycles": cycles, "events": events, "events_per_cycle": round(events / cycles, 2)}
    extra |= {"commits": commits, "cycles_per_commit": round(cycles / commits, 1), "replay_batch": replay_batch}
    extra |= {"runs_count": len(results), "deterministic": len({r["summary"].head for r in results}) == 1}
    extra["peak_rss_mb_runs"] = [r["peak_rss_mb"] for r in results]
    extra["peak_rss_mb_median"] = statistics.median(r["peak_rss_mb"] for r in results)
    extra["feature_writer_peak_rss_mb_median"] = statistics.median(r["feature_writer_peak_rss_mb"] for r in results)
    extra["floor_peak_rss_mb_median"] = statistics.median(r["floor"]["peak_rss_mb"] for r in results)
    extra["rss_after_imports_mb_median"] = statistics.median(r["rss_after_imports_mb"] for r in results)
    extra["shutdown_s_median"] = round(statistics.median(r["cli_end_to_end"] - r["until_last_settled"]
                                                         for r in results), 3)  # fmt: skip
    extra |= {"trades": summary.trades, "head": summary.head, "load_avg_1m": load_average()}
    baseline = (f"the durable floor: the run's {events} stored events appended to a fresh brain.db in its "
                f"{commits} transactions (project + SqliteStore.append, WAL, synchronous=FULL), no actors")  # fmt: skip
    floor = [candles / r["floor"]["seconds"] for r in results]
    target = {"target": load.target} if load.target else {}
    for timing in ("until_last_settled", "cli_end_to_end"):
        ours = [candles / r[timing] for r in results]
        figure("replay", f"candles_per_s/{load.name}/{timing}", "candles/s", ours, floor, baseline,
               **(target if timing == "until_last_settled" else {}), **extra)  # fmt: skip
    rss, floor_rss = [r["peak_rss_mb"] for r in results], [r["floor"]["peak_rss_mb"] for r in results]
    figure("replay", f"peak_rss/{load.name}", "MB", rss, floor_rss, "the floor subprocess's peak RSS",
           at_most=True, data=data, load_avg_1m=load_average())  # fmt: skip
    rate = candles / statistics.median(r["until_last_settled"] for r in results)
    note(f"{load.name}: {rate:,.0f} candles/s until the last settlement, {events / cycles:.1f} events/cycle, "
         f"floor {statistics.median(floor):,.0f} candles/s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description="Replay benchmark: one JSON line per figure on stdout.")
    parser.add_argument("--quick", action="store_true", help="the short form: BTC, ETH, SOL, January 2024 (~30 s)")
    parser.add_argument("--figure", choices=("btc", "symbols", "both"), default="both",
                        help="which headline figure(s) to run (default both; ignored with --quick)")  # fmt: skip
    parser.add_argument("--full", action="store_true", help="both headline figures (the default without --quick)")
    parser.add_argument("--runs", type=int, default=None, help="timed runs per figure (default: 3 quick, 1 long)")
    parser.add_argument("--profile", action="store_true", help="one more run of the first workload under cProfile")
    parser.add_argument("--replay-batch", type=int, help="brain.replay_batch for the runs (speed only)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds before a subprocess is killed")
    args = parser.parse_args()
    if args.replay_batch:
        os.environ["B1E55ED_BRAIN__REPLAY_BATCH"] = str(args.replay_batch)
    real = all((OHLCV / f"{s}USDT.parquet").is_file() for s in ("BTC", "ETH", "SOL"))
    loads = workloads(args.quick, "both" if args.full else args.figure, args.runs)
    if not real:
        note(f"{OHLCV} not found: replaying the seeded simulation at max pace instead")
    if inherited := sorted(k for k in os.environ if k.startswith("B1E55ED_")):
        note(f"the environment overrides the config: {', '.join(inherited)}")
    failed = False
    with tempfile.TemporaryDirectory(prefix="b1e55ed-bench-") as directory:
        root = Path(directory)
        for load in loads:
            hours = ((day_ms(load.end) or 0) - (day_ms(load.start) or 0)) // HOUR_MS
            if real:
                data = f"real: {OHLCV.name} (Binance spot 1h), funding and fear & greed from {SHARED}"
                os.environ.pop("B1E55ED_MARKET__SIM_BARS", None)
            else:
                data = f"SIMULATED: {OHLCV} is absent; seeded sim at max pace, {hours} bars"
                os.environ |= {"B1E55ED_MARKET__SIM_PACE": "max", "B1E55ED_MARKET__SIM_BARS": str(hours)}
            note(f"{load.name}: config {DEFAULT_CONFIG_PATH.name}; {data}; {load.start}..{load.end}; "
                 f"{len(load.symbols)} symbols; {load.runs} run(s); load average {os.getloadavg()[0]:.2f}")  # fmt: skip
            results, bare = [], []
            for run in range(load.runs):
                try:
                    result = measure(root, load, real, args.timeout)
                    bare.append(without_karma(root, load, real, args.timeout))
                except RunFailed as exc:
                    note(f"{load.name} run {run + 1}: {exc}")
                    emit(bench="replay", metric="candles_per_s", variant=load.name, error=str(exc),
                         data=data, load_avg_1m=load_average())  # fmt: skip
                    failed = True
                    break
                results.append(result)
                note(f"run {run + 1}: last settlement at {result['until_last_settled']:.2f} s, main returned at "
                     f"{result['cli_end_to_end']:.2f} s, floor {result['floor']['seconds']:.2f} s, peak RSS "
                     f"{result['peak_rss_mb']} MB")  # fmt: skip
            if results:
                report(load, results, data)
                candles = results[0]["candles"]
                ours = [candles / r["until_last_settled"] for r in results]
                theirs = [candles / r["until_last_settled"] for r in bare]
                cost = statistics.median(ours) / statistics.median(theirs)
                figure("replay", f"karma_cost/{load.name}", "candles/s", ours, theirs,
                       "the same run without the karma stage", goal_ratio=0.9, meets_goal=cost >= 0.9, data=data,
                       load_avg_1m=load_average())  # fmt: skip
        if args.profile and loads:
            note(f"profiling {loads[0].name}")
            try:
                measure(root, loads[0], real, args.timeout, profile=30)
            except RunFailed as exc:
                note(f"profile run: {exc}")
                failed = True
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
