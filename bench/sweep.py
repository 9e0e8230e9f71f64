"""The parameter sweep's figures: MA crossover over BTC 1h 2018-01-01..2024-12-31. ``[--quick]``

- **Speed**: the 96,000-combination grid (fast 5:124, slow 130:620:10, stop_pct 1.5,2,3,4, target_pct 3,5,8,10),
  wall time from the candles in memory to every combination's metrics (shared moving averages included), in a
  fresh process whose numba cache is warm (goal ≤ 30 s, ≥ 3,200 combinations/s).
- **Compile time**: the same run's first chunk in a process with an empty numba cache (``NUMBA_CACHE_DIR`` in a
  temporary folder), and again with the cache it left.
- **Baseline**, in the same run: a plain numpy loop, one combination at a time with the same rules (moving
  averages by cumulative sums, crosses by sign, each trade's exit by ``argmax`` over the bars after it), over a
  500-combination sample of the grid; ``ratio`` = ours ÷ baseline in combinations/s.
- **Memory**: the sweep process's peak RSS (goal ≤ 2 GB).

``--quick`` sweeps 2024 alone with a 9,600-combination grid (slow 130:620:100) and samples 100 for the baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import emit, figure, load_average, note

HERE = Path(__file__).resolve().parent
OHLCV = HERE.parents[1] / "shared" / "data" / "ohlcv_1h"
HOUR = 3_600_000
FULL = (["fast=5:124", "slow=130:620:10", "stop_pct=1.5,2,3,4", "target_pct=3,5,8,10"], "2018-01-01", "2024-12-31", 500)
QUICK = (
    ["fast=5:124", "slow=130:620:100", "stop_pct=1.5,2,3,4", "target_pct=3,5,8,10"],
    "2024-01-01",
    "2025-01-01",
    100,
)


def child(grid: list[str], start: str, end: str, sample: int) -> dict[str, Any]:
    """In a fresh process: load, then time the first chunk, the whole sweep, and the numpy baseline."""
    from b1e55ed.config import load_config
    from b1e55ed.market.replay import load_history
    from b1e55ed.plugins import params_type
    from b1e55ed.registry import resolve_plugin
    from b1e55ed.sweep.grid import combinations, load_grid
    from b1e55ed.sweep.run import Candles, Sweep, sizes_of
    from b1e55ed.trading_config import day_ms

    config = load_config(environ={}, env_file=None)
    spec = next(s for s in config.brain.strategies if s.name == "ma_crossover")
    found = combinations(params_type(resolve_plugin(spec, key=spec.name)), dict(spec.params), load_grid(grid))
    bars = load_history(OHLCV, ["BTC"], day_ms(start), day_ms(end), HOUR).bars["BTC"]
    candles = Candles.of(bars, HOUR)
    began = time.perf_counter()
    Sweep(candles, config.paper, config.risk.min_notional, spec.name).run(found.params[:1])
    first = time.perf_counter() - began
    sweep = Sweep(candles, config.paper, config.risk.min_notional, spec.name)
    began = time.perf_counter()
    ours = sweep.run(found.params)
    seconds = time.perf_counter() - began
    chosen = random.Random(7).sample(range(len(found.params)), min(sample, len(found.params)))
    began = time.perf_counter()
    plain = [
        numpy_combination(candles, p, sweep.costs, sizes_of(p, spec.name)[p.conviction])
        for p in (found.params[i] for i in chosen)
    ]
    baseline = time.perf_counter() - began
    agree = sum(bool(abs(plain[k] - ours[i, 0]) <= 1e-6 * max(1.0, abs(plain[k]))) for k, i in enumerate(chosen))
    return {
        "combinations": len(found.params), "skipped": found.skipped, "candles": len(bars), "first_call_s": first,
        "seconds": seconds, "baseline_combinations": len(chosen), "baseline_seconds": baseline,
        "baseline_total_return_agrees": agree, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }  # fmt: skip


def numpy_combination(candles: Any, params: Any, costs: Any, size: float) -> float:
    """The same rules as the engine, one combination, in plain numpy with a Python loop over trades: total return."""
    o, h, low, c, v = candles.rows
    taker, base, volatility, impact, cap, minimum = costs.tolist()
    sums = np.concatenate(([0.0], np.cumsum(c)))

    def sma(n: int) -> Any:
        out = np.full(len(c), np.nan)
        out[n - 1 :] = (sums[n:] - sums[:-n]) / n
        return out

    fast, slow = sma(params.fast), sma(params.slow)
    trend = sma(params.trend) if params.trend else np.full(len(c), np.nan)
    side = np.sign(fast - slow)
    previous = np.concatenate(([np.nan], side[:-1]))
    up = (side > 0) & (previous <= 0) & (np.isnan(trend) | (c > trend))
    down = (side < 0) & (previous >= 0) & (np.isnan(trend) | (c < trend))
    start = max(params.slow, params.trend)
    signals = np.where(up, 1, np.where(down, -1, 0))
    signals[:start] = 0

    def slip(j: int, notional: float) -> float:
        traded = float(v[j] * o[j])
        if traded <= 0:
            return float(cap)
        return float(min(cap, base / 1e4 + volatility * (h[j] - low[j]) / o[j] + impact * notional / traded))

    cash, i, count = 10_000.0, 0, len(c)
    candidates = np.flatnonzero(signals)
    while True:
        after = candidates[candidates >= i]
        if not len(after) or after[0] >= count - 1:
            break
        i = int(after[0])
        d = int(signals[i])
        if size * cash < minimum:
            i += 1
            continue
        units, e = size * cash / c[i], i + 1
        stop = round(c[i] * (1 - d * params.stop_pct / 100), 8)
        target = round(c[i] * (1 + d * params.target_pct / 100), 8)
        entry = o[e] * (1 + d * slip(e, units * o[e]))
        cash -= abs(units * entry) * taker
        stopped = low[e:] <= stop if d > 0 else h[e:] >= stop
        reached = h[e:] >= target if d > 0 else low[e:] <= target
        hits = np.flatnonzero(stopped | reached)
        if not len(hits):  # held to the end: marked at the last close
            cash += d * units * (c[-1] - entry)
            break
        j = e + int(hits[0])
        reference = (
            (min(stop, o[j]) if d > 0 else max(stop, o[j]))
            if stopped[j - e]
            else (max(target, o[j]) if d > 0 else min(target, o[j]))
        )
        price = reference * (1 - d * slip(j, units * reference))
        cash -= abs(units * price) * taker
        cash += d * units * (price - entry)
        i = j
    return cash / 10_000.0 - 1.0


def run_child(grid: list[str], start: str, end: str, sample: int, cache: str) -> dict[str, Any]:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    args = [sys.executable, __file__, "--child", json.dumps([grid, start, end, sample])]
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the sweep child failed: {done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description="Sweep benchmark: one JSON line per figure on stdout.")
    parser.add_argument("--quick", action="store_true", help="2024 alone, a 9,600-combination grid")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*json.loads(args.child))))
        return
    if not (OHLCV / "BTCUSDT.parquet").is_file():
        note(f"{OHLCV} not found: the sweep's figures need the real candles")
        return
    grid, start, end, sample = QUICK if args.quick else FULL
    with tempfile.TemporaryDirectory(prefix="b1e55ed-numba-") as cache:
        note(f"sweeping {' '.join(grid)} over BTC {start}..{end}: a cold numba cache, then a warm one")
        cold = run_child(grid, start, end, 1, cache)
        warm = run_child(grid, start, end, sample, cache)
    rate = warm["combinations"] / warm["seconds"]
    baseline = warm["baseline_combinations"] / warm["baseline_seconds"]
    variant = f"btc_1h_{start[:4]}_{end[:4]}"
    figure("sweep", f"combinations_per_s/{variant}", "combinations/s", [rate], [baseline],
           "a plain numpy loop, one combination at a time with the same rules, over a sample of the grid",
           target=3_200 if not args.quick else None, seconds=round(warm["seconds"], 2),
           combinations=warm["combinations"], skipped=warm["skipped"], candles=warm["candles"],
           baseline_sample=warm["baseline_combinations"],
           baseline_total_return_agrees=warm["baseline_total_return_agrees"], load_avg_1m=load_average())  # fmt: skip
    emit(bench="sweep", metric="compile_s", variant=variant, unit="s", cold_cache=round(cold["first_call_s"], 2),
         warm_cache=round(warm["first_call_s"], 2))  # fmt: skip
    emit(bench="sweep", metric="peak_rss", variant=variant, unit="MB", median=round(warm["peak_rss_mb"], 1),
         target=2048, meets_target=warm["peak_rss_mb"] <= 2048)  # fmt: skip


if __name__ == "__main__":
    main()
