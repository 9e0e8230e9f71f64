"""``backtest`` and ``report``: their command-line options, and the plan a backtest's options make.

A plan is the configuration the replay runs with, its database and its report folder:

- the market is ``replay:PATH``: ``--market``, else ``market.source`` when it is a replay, else the candles that
  ``collect`` wrote (``<data_dir>/ohlcv/<timeframe>``); always at full speed, always on paper;
- ``--strategies`` enables only the strategies named (a name the config does not know is an error);
- the API is off unless ``--serve``, so several backtests run side by side;
- ``data_dir`` becomes the report folder, so the feature store's Parquet of parallel backtests never mixes; the
  funding and Fear & Greed history that ``collect`` wrote under the configured ``data_dir`` are still read (their
  paths are set explicitly), and its ``basis/`` folder is linked into the report folder when it exists;
- the report folder is ``--report``, else the folder of ``--db``, else ``<data_dir>/backtests/<UTC time>``; the
  database is ``--db``, else ``brain.db`` in the report folder.
"""

from __future__ import annotations

import argparse
import itertools
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from msgspec.structs import replace

from b1e55ed.config import Config, PluginSpec
from b1e55ed.registry import ConfigError, resolve_plugin
from b1e55ed.trading_config import day_ms

DB_NAME = "brain.db"
REPLAY = "replay:"


class BacktestUsageError(ValueError):
    """Options that cannot make a backtest; the message says which and why."""


def add_backtest_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    config_help = "YAML config file (default: config/b1e55ed.yaml)"
    backtest = commands.add_parser(
        "backtest",
        help="replay history into a fresh event log and write report.json and report.html",
        description="Replay history through the whole pipeline, on paper and at full speed, into a database in the "
        "report folder, then write report.json and report.html there. A progress bar shows on a terminal.",
    )
    backtest.add_argument("--config", type=Path, default=argparse.SUPPRESS, help=config_help)
    backtest.add_argument(
        "--market",
        metavar="replay:PATH",
        help="candles to replay (default: market.source if it is a replay, else <data_dir>/ohlcv/<timeframe>, "
        "what `collect ohlcv` writes)",
    )
    backtest.add_argument("--symbols", nargs="+", metavar="SYMBOL", help="assets to trade (default: symbols)")
    backtest.add_argument("--from", dest="start", metavar="DATE", help="from this day, YYYY-MM-DD (UTC)")
    backtest.add_argument("--to", dest="end", metavar="DATE", help="up to this day, YYYY-MM-DD (UTC), excluded")
    backtest.add_argument(
        "--strategies", nargs="+", metavar="NAME", help="enable only these strategies (default: those enabled)"
    )
    backtest.add_argument("--funding", metavar="PATH", help="funding history folder of <SYMBOL>USDT.parquet (ts, rate)")
    backtest.add_argument("--fear-greed", dest="fear_greed", metavar="PATH", help="Fear & Greed daily Parquet file")
    backtest.add_argument(
        "--report",
        type=Path,
        metavar="DIR",
        help="report folder (default: the folder of --db, else <data_dir>/backtests/<UTC time, YYYYmmddTHHMMSSZ>)",
    )
    backtest.add_argument(
        "--db",
        type=Path,
        metavar="PATH",
        help="event log (default: brain.db in the report folder); an existing one is resumed only if it was made "
        "with the same market source and config hash",
    )
    backtest.add_argument("--serve", action="store_true", help="serve the API and dashboard while it runs (api.*)")

    report = commands.add_parser(
        "report",
        help="write report.json and report.html from an existing event log (a backtest's, or a paper book's)",
        description="Compute the backtest report from an event log alone: the same log gives the same report.json. "
        "The database is only read, so a running paper book can be reported on.",
    )
    report.add_argument("--config", type=Path, default=argparse.SUPPRESS, help=config_help)
    report.add_argument("--db", type=Path, metavar="PATH", help="event log (default: eventlog.path from the config)")
    report.add_argument("--out", type=Path, metavar="DIR", help="folder for the report (default: the folder of --db)")


@dataclass(frozen=True)
class BacktestPlan:
    config: Config
    db: Path
    report_dir: Path
    candles: Path
    basis: Path | None  # the collected basis/ folder to link into the report folder


def plan_backtest(config: Config, args: argparse.Namespace, *, now: datetime) -> BacktestPlan:
    """``config`` already carries ``run``'s overrides (symbols, dates, funding, Fear & Greed, market)."""
    strategies = _strategies(config, args.strategies)
    data_dir = Path(config.data_dir)
    source = args.market or (
        config.market.source
        if config.market.source.startswith(REPLAY)
        else f"{REPLAY}{data_dir / 'ohlcv' / config.timeframe}"
    )
    if not source.startswith(REPLAY):
        raise BacktestUsageError(f"--market {source}: a backtest replays history: give replay:PATH")
    candles = Path(source.removeprefix(REPLAY))
    source = f"{REPLAY}{candles}"  # one spelling per folder: a trailing slash must not block a resume
    if not candles.exists():
        hint = "" if args.market else " (run `python -m b1e55ed collect ohlcv`, or give --market replay:PATH)"
        raise BacktestUsageError(f"{candles}: no such file or folder of candles{hint}")
    report_dir = args.report or (args.db.parent if args.db else _fresh_folder(data_dir / "backtests", now))
    market = replace(
        config.market,
        source=source,
        speed=0.0,
        funding=config.market.funding or _existing(data_dir / "funding" / "binance"),
        fear_greed=config.market.fear_greed or _existing(data_dir / "fear_greed"),
    )
    planned = replace(
        config,
        mode="paper",
        market=market,
        data_dir=str(report_dir.resolve()),
        brain=replace(config.brain, strategies=strategies),
        api=replace(config.api, enabled=bool(args.serve)),
    )
    basis = data_dir / "basis"
    return BacktestPlan(
        config=planned,
        db=args.db or report_dir / DB_NAME,
        report_dir=report_dir,
        candles=candles,
        basis=basis if basis.is_dir() and basis.resolve() != (report_dir / "basis").resolve() else None,
    )


def _existing(path: Path) -> str:
    return str(path) if path.exists() else ""


def _fresh_folder(parent: Path, now: datetime) -> Path:
    """A new folder named by the time, made here so that two backtests started in the same second never share it."""
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    parent.mkdir(parents=True, exist_ok=True)
    for n in itertools.count(1):
        folder = parent / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise AssertionError("unreachable")


def _strategies(config: Config, names: list[str] | None) -> tuple[PluginSpec, ...]:
    specs = config.brain.strategies
    if not names:
        return specs
    known = [spec.name for spec in specs]
    if unknown := [name for name in names if name not in known]:
        raise BacktestUsageError(
            f"--strategies: unknown strategy {', '.join(map(repr, unknown))} (the config has: {', '.join(known)})"
        )
    chosen = tuple(replace(spec, enabled=spec.name in names) for spec in specs)
    for index, spec in enumerate(chosen):
        if spec.enabled:
            try:
                resolve_plugin(spec, key=f"brain.strategies[{index}]")
            except ConfigError as exc:
                raise BacktestUsageError(f"--strategies {spec.name}: {exc}") from None
    return chosen


def prepare_folder(plan: BacktestPlan) -> None:
    """Make the report folder, and link the collected ``basis/`` into it (the pipeline reads ``data_dir/basis``)."""
    plan.report_dir.mkdir(parents=True, exist_ok=True)
    link = plan.report_dir / "basis"
    if plan.basis is not None and not link.exists():
        os.symlink(plan.basis.resolve(), link, target_is_directory=True)


def count_cycles(plan: BacktestPlan) -> int | None:
    """How many cycles the replay will run: the distinct candle close times of the symbols in the window, as the
    feed counts them (rows it skips as bad can make it a few more than the truth); None if the files say nothing."""
    config = plan.config
    files = (
        [plan.candles]
        if plan.candles.is_file()
        else [plan.candles / f"{symbol}USDT.parquet" for symbol in config.symbols]
    )
    start, end = day_ms(config.market.start), day_ms(config.market.end)
    try:
        ts = pl.concat([pl.scan_parquet(file).select(pl.col("ts").cast(pl.Int64)) for file in files])
        if start is not None:
            ts = ts.filter(pl.col("ts") >= start)
        if end is not None:
            ts = ts.filter(pl.col("ts") < end)
        count = ts.select(pl.col("ts").n_unique()).collect().item()
    except (OSError, pl.exceptions.PolarsError):
        return None
    return int(count)
