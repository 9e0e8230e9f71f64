"""A plug-in straight from ``new`` passes its own test and a backtest of a month of real history, in a user's
folder outside the repository, each run as its own process exactly as the guide says."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from tests.integration.loop_helpers import ROOT, child_env, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]


def run_pytest(test: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test)],
        cwd=cwd,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def backtest(cwd: Path, snippet: str, shared_data: Path, strategy: str) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "--config", snippet, "backtest", "--strategies", strategy,
        "--market", f"replay:{shared_data / 'ohlcv_1h'}", "--symbols", "BTC", "ETH",
        "--from", "2024-05-01", "--to", "2024-06-01", "--report", "bt",
        cwd=cwd, env=child_env(),
    )  # fmt: skip


def test_a_new_strategy_passes_its_own_test_and_trades_in_a_backtest_of_real_history(
    tmp_path: Path, shared_data: Path
) -> None:
    assert ROOT not in tmp_path.parents
    made = run_cli("new", "strategy", "my_strategy", cwd=tmp_path, env=child_env())
    assert made.returncode == 0, made.stderr

    tested = run_pytest(Path("plugins/test_my_strategy.py"), tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "3 passed" in tested.stdout

    ran = backtest(tmp_path, "plugins/my_strategy.yaml", shared_data, "my_strategy")
    assert ran.returncode == 0, ran.stderr
    report = json.loads((tmp_path / "bt" / "report.json").read_text(encoding="utf-8"))
    assert report["run"]["cycles"] == 31 * 24
    assert report["summary"]["closed_trades"] > 0
    assert {trade["strategy"] for trade in report["trades"]} == {"my_strategy"}


def test_a_new_producer_passes_its_own_test_and_speaks_in_a_backtest_of_real_history(
    tmp_path: Path, shared_data: Path
) -> None:
    made = run_cli("new", "producer", "my_producer", cwd=tmp_path, env=child_env())
    assert made.returncode == 0, made.stderr
    tested = run_pytest(Path("plugins/test_my_producer.py"), tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr

    ran = backtest(tmp_path, "plugins/my_producer.yaml", shared_data, "confluence")
    assert ran.returncode == 0, ran.stderr
    db = tmp_path / "bt" / "brain.db"
    spoken = "SELECT count(*) FROM events WHERE kind = 'signal' AND json_extract(payload, '$.signal.producer') = ?"
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        assert int(conn.execute(spoken, ("my_producer",)).fetchone()[0]) > 0

    scored = run_cli(
        "karma", "--db", "bt/brain.db", "--producer", "my_producer", "--json", cwd=tmp_path, env=child_env()
    )
    assert scored.returncode == 0, scored.stderr
    assert "my_producer" in scored.stdout
