"""``python -m b1e55ed sweep``: every combination of a strategy's parameter grid over one symbol's history, each
scored with the backtest report's metrics, written to Parquet, the best printed.

It models MA crossover (simple moving averages), RSI oversold and momentum; the trades it models are checked
against ``backtest`` in ``tests/integration/test_sweep_parity.py``. Beside the metrics: how likely the best is luck
(``overfitting.py``) and, with ``--walk-forward``, the winner of each training window traded out of sample
(``walk.py``). numba compiles the engine on the first run and caches it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from b1e55ed.config import Config, PluginSpec
from b1e55ed.market.replay import DataError, load_history
from b1e55ed.plugins import params_type as params_type_of
from b1e55ed.registry import ConfigError, resolve_plugin
from b1e55ed.sweep.grid import GridError, combinations, load_grid
from b1e55ed.timeframes import INTERVAL_MS
from b1e55ed.trading_config import day_ms

MODELLED = (
    "actors.strategies.ma_crossover:MACrossoverStrategy",
    "actors.strategies.rsi_oversold:RSIOversoldStrategy",
    "actors.strategies.momentum:MomentumStrategy",
)
LOCAL_RAY = "local"
CORRELATION_SAMPLE = 200  # combinations whose returns estimate the mean correlation
SAMPLE_SEED = 7
OBJECTIVES = ("sharpe", "sortino", "total_return", "profit_factor", "win_rate", "max_drawdown")
EXIT_OK, EXIT_USAGE = 0, 2


def add_sweep_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sweep = commands.add_parser(
        "sweep",
        help="score every combination of a strategy's parameter grid over one symbol's history",
        description="Sweep a strategy's parameters: every combination of the grid, over one symbol's candles, with "
        "the paper venue's fills, slippage and fees, compiled with numba. Writes combinations.parquet to --out and "
        "prints the best. Models ma_crossover (simple moving averages), rsi_oversold and momentum.",
    )
    sweep.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="YAML config file")
    sweep.add_argument("--strategy", required=True, metavar="NAME", help="the strategy, by its name in the config")
    sweep.add_argument("--market", help="replay:PATH (default: market.source when it is a replay, else data/ohlcv)")
    sweep.add_argument("--symbols", nargs="+", default=[], metavar="SYMBOL", help="one symbol")
    sweep.add_argument("--from", dest="start", metavar="DATE", help="first day, YYYY-MM-DD (UTC)")
    sweep.add_argument("--to", dest="end", metavar="DATE", help="the day after the last, YYYY-MM-DD (UTC)")
    sweep.add_argument("--grid", nargs="*", default=[], metavar="NAME=SPEC",
                       help="a parameter's values: START:STOP[:STEP] (inclusive) or A,B,C")  # fmt: skip
    sweep.add_argument("--grid-file", type=Path, help="a YAML mapping of parameter names to specs or lists")
    sweep.add_argument("--objective", choices=OBJECTIVES, default="sharpe", help="what ranks the combinations")
    sweep.add_argument("--top", type=int, default=20, help="how many of the best to print (default 20)")
    sweep.add_argument("--out", type=Path, help="output folder (default: <data_dir>/sweeps/<UTC time>)")
    sweep.add_argument("--workers", type=int, help="threads (default: every core)")
    sweep.add_argument("--ray", nargs="?", const=LOCAL_RAY, metavar="ADDRESS",
                       help="run the chunks on Ray: a local one, or the cluster at ADDRESS (ray://HOST:10001)")
    sweep.add_argument("--apply", type=int, metavar="RANK",
                       help="print the config entry of the combination ranked RANK (1: the best) in --out")  # fmt: skip
    sweep.add_argument("--walk-forward", metavar="TRAIN:TEST",
                       help="re-optimise on TRAIN days, then trade the next TEST days: 365d:90d")  # fmt: skip
    sweep.add_argument("--heatmap", nargs=2, metavar=("X", "Y"), help="the page's heatmap axes (default: first two)")
    sweep.add_argument("--pbo-blocks", type=int, default=16, choices=range(2, 33, 2), metavar="S",
                       help="blocks of days for the probability of overfitting (even, default 16)")  # fmt: skip


def run_sweep(config: Config, args: argparse.Namespace) -> int:
    try:
        return _sweep(config, args)
    except (GridError, DataError, ConfigError, SweepUsageError) as exc:
        print(f"b1e55ed sweep: {exc}", file=sys.stderr)
        return EXIT_USAGE


class SweepUsageError(ValueError):
    """Options a sweep cannot run with; the message says which and why."""


def _sweep(config: Config, args: argparse.Namespace) -> int:
    spec = _strategy(config, args.strategy)
    if args.apply is not None:
        print(_entry(spec, args))
        return EXIT_OK
    params_type = params_type_of(resolve_plugin(spec, key=f"--strategy {spec.name}"))
    grid = load_grid(args.grid, args.grid_file)
    found = combinations(params_type, dict(spec.params), grid)
    if any(getattr(p, "ma", "sma") != "sma" for p in found.params):
        raise SweepUsageError("the sweep models simple moving averages only (ma: sma)")
    if len(args.symbols) != 1:
        raise SweepUsageError(f"--symbols: one symbol, not {len(args.symbols)}")
    training = _walk_spec(args.walk_forward) if args.walk_forward else None
    if args.heatmap and not set(args.heatmap) <= set(found.names):
        raise SweepUsageError(f"--heatmap {' '.join(args.heatmap)}: both must be swept ({', '.join(found.names)})")
    try:
        from b1e55ed.sweep.run import Candles, Sweep  # numba compiles (or loads) the engine here
    except ImportError as exc:
        raise SweepUsageError(f"the sweep needs numba ({exc}): pip install -e '.[sweep]'") from None
    if args.workers:
        import numba

        numba.set_num_threads(max(1, min(args.workers, numba.config.NUMBA_NUM_THREADS)))  # type: ignore[attr-defined]
    timeframe = INTERVAL_MS[config.timeframe]
    path = _market(config, args.market)
    data = load_history(path, args.symbols, day_ms(args.start or ""), day_ms(args.end or ""), timeframe)
    bars = data.bars.get(args.symbols[0])
    if bars is None or not len(bars):
        raise SweepUsageError(f"no candles for {args.symbols[0]} in {path}")
    window = config.brain.window_bars
    candles = Candles.of(bars, timeframe)
    producer = None
    if spec.target == MODELLED[2] and found.params:
        from b1e55ed.sweep.momentum import producer_signals

        try:
            producer = producer_signals(config, found.params[0].producer, args.symbols[0], bars, timeframe)
        except ValueError as exc:
            raise SweepUsageError(str(exc)) from None
    sweep = Sweep(
        candles, config.paper, config.risk.min_notional, spec.name, model=spec.target, window=window, producer=producer
    )
    began = time.perf_counter()
    with _progress(len(found.params)) as advance:
        if args.ray:
            results = _on_ray(sweep, found.params, args.ray, args.pbo_blocks, advance)
        else:
            results = sweep.run(found.params, advance, blocks=args.pbo_blocks)
    seconds = time.perf_counter() - began
    table = _table(found.params, found.names, results)
    out = args.out or Path(config.data_dir) / "sweeps" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out.mkdir(parents=True, exist_ok=True)
    table.write_parquet(out / "combinations.parquet")
    best = table.with_row_index("combination").sort(
        args.objective, descending=args.objective != "max_drawdown", nulls_last=True
    )
    print(f"{len(found.params):,} combinations ({found.skipped:,} refused by the strategy) over {len(bars):,} "
          f"candles in {seconds:.1f} s, {len(found.params) / seconds:,.0f}/s")  # fmt: skip
    if spec.target == MODELLED[0]:
        longest = max((max(p.slow, p.trend) for p in found.params), default=0)
        print(f"a backtest that checks one needs brain.window_bars ≥ {longest + 1}")
    else:
        print(f"the strategy reads brain.window_bars = {window} bars: a backtest that checks one needs the same")
    with pl.Config(tbl_rows=args.top, tbl_cols=-1, tbl_width_chars=160):
        print(best.drop("combination").head(args.top))
    if not found.params:
        print(f"every combination: {out / 'combinations.parquet'}")
        return EXIT_OK
    measured = _overfitting(sweep, found.params, results, int(best["combination"][0]), args.pbo_blocks)
    (out / "overfitting.json").write_text(json.dumps(dataclasses.asdict(measured), indent=2) + "\n")
    print(_describe(measured))
    walked = None
    if training is not None:
        from b1e55ed.sweep.walk import WalkForwardError, walk_forward

        try:
            walked = walk_forward(sweep, found.params, found.names, args.objective, *training)
        except WalkForwardError as exc:
            raise SweepUsageError(str(exc)) from None
        (out / "walk_forward.json").write_text(json.dumps(dataclasses.asdict(walked), indent=2) + "\n")
        in_sample = best["sharpe"][0]
        print(f"walk-forward {args.walk_forward}: {len(walked.windows)} windows, out-of-sample Sharpe "
              f"{_fixed(walked.sharpe)} over {walked.days:,} days (total return {walked.total_return:.1%}), "
              f"against the in-sample best's {_fixed(in_sample)}")  # fmt: skip
    page = _page(sweep, found, table, best, args, measured, walked)
    (out / "report.html").write_text(page, encoding="utf-8")
    print(f"every combination: {out / 'combinations.parquet'}; the page: {out / 'report.html'}")
    return EXIT_OK


def _page(sweep: Any, found: Any, table: pl.DataFrame, best: pl.DataFrame, args: argparse.Namespace,
          measured: Any, walked: Any) -> str:  # fmt: skip
    from b1e55ed.sweep.page import CURVES, render

    heat = tuple(args.heatmap) if args.heatmap else tuple(found.names[:2]) if len(found.names) >= 2 else None
    days = (sweep.candles.close_ts[sweep.candles.day_last()] - 1) // 86_400_000 * 86_400_000
    curves = []
    for index in best["combination"].head(CURVES).to_list():
        params = found.params[index]
        equity = sweep.start_equity * np.cumprod(1 + sweep.daily_returns(params))
        label = ", ".join(f"{name} {getattr(params, name)}" for name in found.names)
        curves.append((label, days.tolist(), equity.tolist()))
    return render(
        table=table,
        names=found.names,
        objective=args.objective,
        heat=heat,
        curves=curves,
        overfitting=dataclasses.asdict(measured),
        walk=dataclasses.asdict(walked) if walked is not None else None,
        title=f"sweep of {args.strategy} over {args.symbols[0]}",
    )


def _overfitting(sweep: Any, params: list[Any], results: Any, best: int, blocks: int) -> Any:
    from b1e55ed.sweep.engine import METRICS
    from b1e55ed.sweep.overfitting import Overfitting, deflated_sharpe, mean_correlation, probability_of_overfitting
    from b1e55ed.sweep.run import block_bounds

    sharpes = results[:, METRICS.index("sharpe")] / math.sqrt(365)  # daily, as the deflation reads them
    variance = float(np.nanvar(sharpes, ddof=1)) if np.isfinite(sharpes).sum() > 1 else 0.0
    returns = sweep.daily_returns(params[best])
    sample = random.Random(SAMPLE_SEED).sample(range(len(params)), min(CORRELATION_SAMPLE, len(params)))
    correlation = mean_correlation(np.stack([sweep.daily_returns(params[i]) for i in sample]))
    trials = len(params)
    effective = min(float(trials), max(1.0, correlation + (1 - correlation) * trials))
    first = len(METRICS)
    days = np.diff(block_bounds(len(returns), blocks)).astype(np.float64)
    pbo, splits = (
        probability_of_overfitting(results[:, first : first + blocks], results[:, first + blocks :], days)
        if trials > 1
        else (None, 0)
    )
    daily_sharpe = float(np.mean(returns) / np.std(returns, ddof=1)) if np.std(returns) > 0 else 0.0
    return Overfitting(
        trials=trials,
        effective_trials=effective,
        mean_correlation=correlation,
        best_daily_sharpe=daily_sharpe,
        deflated_sharpe=deflated_sharpe(returns, variance, trials),
        deflated_sharpe_effective=deflated_sharpe(returns, variance, effective),
        pbo=pbo,
        pbo_blocks=blocks,
        pbo_splits=splits,
    )


def _on_ray(sweep: Any, params: list[Any], address: str, blocks: int, advance: Any) -> Any:
    try:
        from b1e55ed.sweep.cluster import run_on_ray
    except ImportError as exc:
        raise SweepUsageError(f"--ray needs Ray ({exc}): pip install -e '.[cluster]'") from None
    return run_on_ray(sweep, params, None if address == LOCAL_RAY else address, blocks=blocks, progress=advance)


def _walk_spec(spec: str) -> tuple[int, int]:
    from b1e55ed.sweep.walk import WalkForwardError, parse

    try:
        return parse(spec)
    except WalkForwardError as exc:
        raise SweepUsageError(str(exc)) from None


def _fixed(value: float | None) -> str:
    return "undefined" if value is None or not math.isfinite(value) else f"{value:.2f}"


def _describe(found: Any) -> str:
    def share(value: float | None) -> str:
        return "undefined" if value is None else f"{value:.1%}"

    return (
        f"overfitting: deflated Sharpe of the best {share(found.deflated_sharpe)} over {found.trials:,} trials, "
        f"{share(found.deflated_sharpe_effective)} over {found.effective_trials:,.0f} effective ones (mean "
        f"correlation {found.mean_correlation:.2f}); probability of backtest overfitting {share(found.pbo)} "
        f"({found.pbo_splits:,} splits of {found.pbo_blocks} blocks)"
    )


def _entry(spec: PluginSpec, args: argparse.Namespace) -> str:
    """The strategy's config entry with the params of the combination ranked ``--apply`` in ``--out``'s sweep."""
    if args.out is None:
        raise SweepUsageError("--apply needs --out: the folder of the sweep to read")
    path = args.out / "combinations.parquet"
    if not path.is_file():
        raise SweepUsageError(f"--apply: {path} does not exist (run the sweep with --out {args.out} first)")
    ranked = pl.read_parquet(path).sort(args.objective, descending=args.objective != "max_drawdown", nulls_last=True)
    if not 1 <= args.apply <= ranked.height:
        raise SweepUsageError(f"--apply {args.apply}: the sweep has ranks 1 to {ranked.height}")
    row = ranked.row(args.apply - 1, named=True)
    from b1e55ed.sweep.engine import METRICS

    swept = {name: value for name, value in row.items() if name not in METRICS}
    entry = {"name": spec.name, "module": spec.module, "class": spec.class_name, "enabled": True,
             "params": {**spec.params, **swept}}  # fmt: skip
    figures = ", ".join(f"{name} {row[name]:.4g}" for name in METRICS if row[name] is not None)
    header = f"# brain.strategies entry: rank {args.apply} by {args.objective} in {path} ({figures})"
    return header + "\n" + yaml.safe_dump([entry], sort_keys=False, default_flow_style=None).rstrip()


def _strategy(config: Config, name: str) -> PluginSpec:
    spec = next((s for s in config.brain.strategies if s.name == name), None)
    if spec is None:
        known = ", ".join(s.name for s in config.brain.strategies)
        raise SweepUsageError(f"--strategy: unknown strategy {name!r} (the config has: {known})")
    if spec.target not in MODELLED:
        raise SweepUsageError(f"--strategy {name}: the sweep models {' and '.join(MODELLED)}, not {spec.target}")
    return spec


def _market(config: Config, market: str | None) -> Path:
    source = market or config.market.source
    if source.startswith("replay:"):
        return Path(source.removeprefix("replay:"))
    if market is not None:
        raise SweepUsageError(f"--market {market}: a sweep replays history (replay:PATH)")
    return Path(config.data_dir) / "ohlcv" / config.timeframe


def _table(params: list[Any], names: tuple[str, ...], metrics: Any) -> pl.DataFrame:
    from b1e55ed.sweep.engine import METRICS

    columns: dict[str, Any] = {name: [getattr(p, name) for p in params] for name in names}
    for index, metric in enumerate(METRICS):
        values = metrics[:, index].tolist()
        columns[metric] = [None if math.isnan(v) else v for v in values]
    return pl.DataFrame(columns).with_columns(pl.col("trades").cast(pl.Int64))


class _progress:
    """A bar on stderr (combinations, rate, time left) when it is a terminal; nothing otherwise."""

    def __init__(self, total: int) -> None:
        console = Console(stderr=True)
        self._bar = (
            Progress(
                TextColumn("sweep"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeRemainingColumn(),
                console=console,
            )
            if console.is_terminal and not os.environ.get("CI")
            else None
        )
        self._total = total
        self._began = time.perf_counter()

    def __enter__(self) -> Any:
        if self._bar is None:
            return lambda done: None
        self._bar.start()
        task = self._bar.add_task("sweep", total=self._total, rate="")

        def advance(done: int) -> None:
            assert self._bar is not None
            rate = done / max(time.perf_counter() - self._began, 1e-9)
            self._bar.update(task, completed=done, rate=f"{rate:,.0f}/s")

        return advance

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
