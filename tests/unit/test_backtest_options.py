"""What ``backtest``'s options make: the config it replays with, its report folder, and when it may resume."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
import trio
from msgspec.structs import replace

from b1e55ed import cli
from b1e55ed.backtest.options import BacktestPlan, BacktestUsageError, plan_backtest, prepare_folder
from b1e55ed.backtest.resume import resume_problem, settled_cycles, unfinished, write_manifest
from b1e55ed.cliparser import build_parser
from b1e55ed.config import Config, config_hash, load_config
from b1e55ed.eventlog.sqlite_store import SqliteStore
from b1e55ed.messages import CycleSettled, Event, RuntimeStarted, RuntimeStopped
from tests.eventlog_helpers import running_log

NOW = datetime(2026, 12, 5, 1, 2, 3, tzinfo=UTC)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder holding collected candles at data/ohlcv/1h, and no .env or B1E55ED_* variable."""
    monkeypatch.chdir(tmp_path)
    for name in [name for name in os.environ if name.startswith("B1E55ED_")]:
        monkeypatch.delenv(name)
    (tmp_path / "data" / "ohlcv" / "1h").mkdir(parents=True)
    return tmp_path


def default_config() -> Config:
    return load_config(None, environ={}, env_file=None)


def plan(*flags: str, config: Config | None = None) -> BacktestPlan:
    args = build_parser().parse_args(["backtest", *flags])
    return plan_backtest(cli.run_overrides(config or default_config(), args), args, now=NOW)


@pytest.mark.parametrize(
    "argv", [["backtest", "--config", "x.yaml"], ["--config", "x.yaml", "backtest"], ["report", "--config", "x.yaml"]]
)
def test_config_may_be_given_before_or_after_the_command(argv: list[str]) -> None:
    assert build_parser().parse_args(argv).config == Path("x.yaml")


def test_a_backtest_serves_no_api_unless_asked(workdir: Path) -> None:
    assert plan().config.api.enabled is False
    assert plan("--serve").config.api.enabled is True


def test_by_default_it_replays_the_collected_candles_into_a_utc_timestamped_folder_under_data_dir(
    workdir: Path,
) -> None:
    planned = plan()
    assert planned.config.market.source == "replay:data/ohlcv/1h"
    assert planned.report_dir == Path("data/backtests/20261205T010203Z")
    assert planned.db == planned.report_dir / "brain.db"
    assert planned.config.mode == "paper"
    assert planned.config.market.speed == 0


def test_two_backtests_started_in_the_same_second_get_two_folders(workdir: Path) -> None:
    assert [plan().report_dir.name, plan().report_dir.name] == ["20261205T010203Z", "20261205T010203Z-2"]


def test_the_feature_store_writes_into_the_report_folder(workdir: Path) -> None:
    planned = plan("--report", "out")
    assert planned.config.data_dir == str(workdir / "out")
    assert planned.db == Path("out/brain.db")


def test_the_report_goes_beside_a_given_database(workdir: Path) -> None:
    planned = plan("--db", "runs/a/brain.db")
    assert planned.report_dir == Path("runs/a")


def test_collected_funding_and_fear_greed_are_still_read_from_the_configured_data_dir(workdir: Path) -> None:
    (workdir / "data" / "funding" / "binance").mkdir(parents=True)
    (workdir / "data" / "fear_greed").mkdir(parents=True)
    market = plan("--report", "out").config.market
    assert (market.funding, market.fear_greed) == ("data/funding/binance", "data/fear_greed")


def test_the_collected_basis_folder_is_linked_into_the_report_folder(workdir: Path) -> None:
    (workdir / "data" / "basis").mkdir()
    (workdir / "data" / "basis" / "BTC.parquet").write_bytes(b"")
    planned = plan("--report", "out")
    prepare_folder(planned)
    assert (workdir / "out" / "basis" / "BTC.parquet").exists()
    prepare_folder(planned)  # a resume finds the link in place


def test_only_the_strategies_named_are_enabled(workdir: Path) -> None:
    strategies = plan("--strategies", "momentum", "combined").config.brain.strategies
    assert sorted(s.name for s in strategies if s.enabled) == ["combined", "momentum"]
    assert len(strategies) == len(default_config().brain.strategies)


def test_an_unknown_strategy_is_refused_by_name(workdir: Path) -> None:
    with pytest.raises(BacktestUsageError, match="unknown strategy 'nope'"):
        plan("--strategies", "momentum", "nope")


def test_the_command_exits_2_naming_an_unknown_strategy(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["backtest", "--strategies", "nope", "--report", "out"]) == 2
    assert "unknown strategy 'nope'" in capsys.readouterr().err
    assert not (workdir / "out").exists()


def test_a_market_that_is_not_a_replay_is_refused(workdir: Path) -> None:
    with pytest.raises(BacktestUsageError, match="replays history"):
        plan("--market", "sim")


def test_missing_candles_say_how_to_collect_them(workdir: Path) -> None:
    (workdir / "data" / "ohlcv" / "1h").rmdir()
    with pytest.raises(BacktestUsageError, match="collect ohlcv"):
        plan()


# -- resuming --------------------------------------------------------------------------------------------------


def log_run(db: Path, config: Config, *, cycles: int = 2, stop: str = "market data exhausted") -> None:
    events: list[Event] = [RuntimeStarted(ts=0, version="test", mode="paper", config_hash=config_hash(config))]
    events += [
        CycleSettled(ts=c, cycle=c, as_of=c, cash=1.0, equity=1.0, exposure=0.0, open_positions=0)
        for c in range(1, cycles + 1)
    ]
    events.append(RuntimeStopped(ts=cycles, reason=stop))

    async def main() -> None:
        store = await SqliteStore.open(db)
        try:
            async with running_log(store) as log:
                await log.append(*events)
        finally:
            await store.close()

    trio.run(main)
    write_manifest(db, config)


def test_a_log_made_with_the_same_market_and_config_is_resumed(workdir: Path) -> None:
    planned = plan("--report", "out")
    log_run(planned.db, planned.config)
    assert resume_problem(planned.db, planned.config) == ""
    assert settled_cycles(planned.db) == 2


def test_a_changed_config_is_refused_with_both_hashes_and_the_setting(workdir: Path) -> None:
    before = plan("--report", "out")
    log_run(before.db, before.config)
    after = plan("--report", "out", "--strategies", "momentum")
    problem = resume_problem(after.db, after.config)
    assert f"the log's: {config_hash(before.config)}; now: {config_hash(after.config)}" in problem
    assert "brain.strategies[0].enabled: true → false" in problem
    assert "market source" not in problem


def test_a_changed_market_is_refused_with_both_sources(workdir: Path) -> None:
    (workdir / "other").mkdir()
    before = plan("--report", "out")
    log_run(before.db, before.config)
    after = plan("--report", "out", "--market", "replay:other")
    problem = resume_problem(after.db, after.config)
    assert "market source differs (the log's: replay:data/ohlcv/1h; now: replay:other)" in problem
    assert "config hash differs" in problem


def test_serving_the_api_does_not_block_a_resume(workdir: Path) -> None:
    before = plan("--report", "out")
    log_run(before.db, before.config)
    assert resume_problem(before.db, plan("--report", "out", "--serve").config) == ""


def test_a_log_in_which_no_cycle_settled_may_start_over(workdir: Path) -> None:
    before = plan("--report", "out")
    log_run(before.db, before.config, cycles=0)
    changed = replace(before.config, symbols=("BTC",))
    assert resume_problem(before.db, changed) == ""


def test_a_replay_stopped_by_a_signal_is_unfinished_and_one_that_ran_out_of_data_is_not(workdir: Path) -> None:
    planned = plan("--report", "out")
    log_run(planned.db, planned.config)
    assert unfinished(planned.db) == ""
    interrupted = plan("--report", "cut")
    log_run(interrupted.db, interrupted.config, stop="SIGINT")
    assert unfinished(interrupted.db) == "SIGINT"
