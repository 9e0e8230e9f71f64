"""The sweep's engine against the actors, on real data: for several parameter sets of MA crossover, RSI oversold
and momentum, its trades are the trades of ``backtest`` with that strategy alone (and momentum's producer), sized
by its own rule (karma's sizing off), without funding and without the drawdown and daily-loss halts. Equal means the
same entry and exit candles, directions and exit reasons, and per-trade returns within 1e-9; and the combination's
figures are the backtest report's, to 1e-9."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import polars as pl
import pytest
import yaml

from b1e55ed.backtest.history import read_history
from b1e55ed.cli import main
from b1e55ed.config import DEFAULT_CONFIG_PATH, load_config
from b1e55ed.market.replay import load_history
from b1e55ed.plugins import params_type
from b1e55ed.registry import PluginSpec, resolve_plugin
from b1e55ed.sweep.engine import (
    DIRECTION,
    ENTERED,
    ENTRY,
    ENTRY_FEE,
    EXIT_FEE,
    EXITED,
    HOW,
    METRICS,
    OPEN,
    REALISED,
    STOP,
    UNITS,
)
from b1e55ed.sweep.momentum import producer_signals
from b1e55ed.sweep.run import Candles, Sweep
from b1e55ed.trading_config import day_ms
from tests.integration.replay_support import isolate

HOUR = 3_600_000
START, END = "2021-01-01", "2021-09-01"
LONG_ONLY = {"fast": 30, "slow": 210, "trend": 300, "stop_pct": 4.0, "target_pct": 5.0, "directions": ["long"]}
FAST_RSI = {"rsi_period": 7, "oversold": 25.0, "swing_bars": 3, "support_bars": 100, "near_pct": 3.0, "stop_pct": 2.0}
CASES: list[tuple[str, dict[str, Any], str]] = [  # strategy, params, the history's last day (exclusive)
    ("ma_crossover", {"fast": 20, "slow": 50, "trend": 200, "stop_pct": 3.0, "target_pct": 10.0}, END),
    ("ma_crossover", {"fast": 9, "slow": 130, "trend": 0, "stop_pct": 1.5, "target_pct": 3.0}, END),
    ("ma_crossover", LONG_ONLY, END),
    ("rsi_oversold", {}, "2022-07-01"),
    ("rsi_oversold", {**FAST_RSI, "target_pct": 4.0}, "2022-01-01"),
    ("momentum", {}, END),
    ("momentum", {"volume_bars": 12, "baseline_bars": 96, "min_volume_ratio": 1.5, "stop_pct": 2.0}, END),
]

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]


def parity_config(folder: Path, strategy: str, params: dict[str, Any]) -> Path:
    raw = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))
    raw["api"]["enabled"] = False
    for spec in raw["brain"]["producers"]:
        spec["enabled"] = strategy == "momentum" and spec["name"] == "momentum"  # the only strategy reading one
    for spec in raw["brain"]["strategies"]:
        spec["enabled"] = spec["name"] == strategy
        if spec["name"] == strategy:
            spec["params"] = {**spec["params"], **params}
    raw["brain"]["window_bars"] = max(500, params.get("slow", 0) + 1, params.get("trend", 0) + 1)
    raw["karma"]["sizing"] = False
    raw["paper"]["funding"] = False
    raw["killswitch"] |= {"max_drawdown_pct": 100, "max_daily_loss_pct": 100}
    raw["risk"]["max_daily_loss_pct"] = 100
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def params_of(spec: PluginSpec) -> Any:
    return msgspec.convert(dict(spec.params), params_type(resolve_plugin(spec, key=spec.name)))


@pytest.mark.parametrize(("strategy", "params", "end"), CASES, ids=lambda value: str(value)[:40])
def test_the_sweep_trades_as_the_backtest_does(
    tmp_path: Path,
    shared_data: Path,
    monkeypatch: pytest.MonkeyPatch,
    strategy: str,
    params: dict[str, Any],
    end: str,
) -> None:
    isolate(monkeypatch, tmp_path)
    config_path = parity_config(tmp_path / "run", strategy, params)
    ohlcv = shared_data / "ohlcv_1h"
    argv = ["--market", f"replay:{ohlcv}", "--symbols", "BTC", "--from", START, "--to", end]
    assert main(["--config", str(config_path), "backtest", *argv, "--report", str(tmp_path / "report")]) == 0
    actors = [t for t in read_history(tmp_path / "report" / "brain.db").trades if t.status != "open"]

    config = load_config(config_path, env_file=None)
    spec = next(s for s in config.brain.strategies if s.name == strategy)
    data = load_history(ohlcv, ["BTC"], day_ms(START), day_ms(end), HOUR)
    candles = Candles.of(data.bars["BTC"], HOUR)
    window = config.brain.window_bars
    producer = producer_signals(config, "momentum", "BTC", data.bars["BTC"], HOUR) if strategy == "momentum" else None
    sweep = Sweep(
        candles, config.paper, config.risk.min_notional, strategy, model=spec.target, window=window, producer=producer
    )
    rows = sweep.trades(params_of(spec))
    ours = [row for row in rows if row[HOW] != OPEN]
    assert len(actors) > 5, "too few trades to compare"
    assert len(ours) == len(actors)
    opens = candles.close_ts - HOUR
    for row, trade in zip(ours, actors, strict=True):
        assert int(opens[int(row[ENTERED])]) == trade.opened_at
        assert int(opens[int(row[EXITED])]) == trade.closed_at
        assert ("long" if row[DIRECTION] > 0 else "short") == trade.side
        assert ("stopped" if row[HOW] == STOP else "closed") == trade.status
        pnl = row[REALISED] - row[ENTRY_FEE] - row[EXIT_FEE]
        assert trade.pnl is not None
        notional = row[UNITS] * row[ENTRY]
        assert pnl / notional == pytest.approx(trade.pnl / (trade.size * trade.entry_price), abs=1e-9)

    # The combination's figures, as the backtest report computes them from the log.
    summary = json.loads((tmp_path / "report" / "report.json").read_text(encoding="utf-8"))["summary"]
    swept = dict(zip(METRICS, sweep.run([params_of(spec)])[0, : len(METRICS)].tolist(), strict=True))
    for name in ("total_return", "sharpe", "sortino", "max_drawdown", "win_rate", "profit_factor"):
        assert swept[name] == pytest.approx(summary[name], rel=1e-9, abs=1e-12), name
    assert swept["trades"] == summary["closed_trades"]


def test_the_sweep_command_writes_every_combination_and_prints_the_best(
    tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    isolate(monkeypatch, tmp_path)
    argv = [
        "sweep", "--strategy", "ma_crossover", "--market", f"replay:{shared_data / 'ohlcv_1h'}", "--symbols", "BTC",
        "--from", START, "--to", END, "--grid", "fast=40,60", "slow=50,70", "stop_pct=2,3", "--top", "2",
        "--out", str(tmp_path / "sweep"), "--workers", "1", "--walk-forward", "120d:60d",
    ]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "6 combinations (2 refused by the strategy)" in printed  # fast 60 ≥ slow 50, with either stop
    table = pl.read_parquet(tmp_path / "sweep" / "combinations.parquet")
    assert table.columns == ["fast", "slow", "stop_pct", *METRICS]
    assert table.height == 6
    assert table.filter((pl.col("fast") == 60) & (pl.col("slow") == 50)).height == 0

    walked = json.loads((tmp_path / "sweep" / "walk_forward.json").read_text(encoding="utf-8"))
    # 243 days: windows start every 60 days while 120 days of training fit, the last test cut at the end.
    assert [window["test"] for window in walked["windows"]] == [
        ["2021-05-01", "2021-06-29"],
        ["2021-06-30", "2021-08-28"],
        ["2021-08-29", "2021-08-31"],
    ]
    assert walked["days"] == 60 + 60 + 3
    assert "walk-forward 120d:60d: 3 windows" in printed
    page = (tmp_path / "sweep" / "report.html").read_text(encoding="utf-8")
    assert "sharpe over fast × slow" in page
    assert page.count("<rect ") == 3  # the heatmap: fast × slow cells the strategy accepts (60 ≥ 50 refused)
    assert "deflated Sharpe of the best" in page
    assert "walk-forward 120d:60d Sharpe" in page
    assert "http" not in page  # self-contained

    assert main([*argv[:-8], "--grid", "fast=5:x"]) == 2
    assert "fast=5:x: not numbers" in capsys.readouterr().err

    assert main(["sweep", "--strategy", "ma_crossover", "--apply", "1", "--out", str(tmp_path / "sweep")]) == 0
    entry = capsys.readouterr().out
    best = table.sort("sharpe", descending=True, nulls_last=True).row(0, named=True)
    snippet = yaml.safe_load(entry)[0]
    assert (snippet["name"], snippet["enabled"]) == ("ma_crossover", True)
    assert {k: snippet["params"][k] for k in ("fast", "slow", "stop_pct")} == {
        k: best[k] for k in ("fast", "slow", "stop_pct")
    }
    overfitting = json.loads((tmp_path / "sweep" / "overfitting.json").read_text(encoding="utf-8"))
    assert overfitting["trials"] == 6
    assert 0 <= overfitting["pbo"] <= 1
    assert overfitting["pbo_splits"] == 12_870
