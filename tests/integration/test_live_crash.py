"""SIGKILL during live trading against the mock exchange (in its own process), then a restart: no order twice,
and the positions in the log are the venue's."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from eth_account import Account

from b1e55ed.messages import Fill, OrderUpdated, RuntimeStarted
from tests.fakes.hl_exchange_process import (
    Churn,
    live_env,
    log_events,
    log_positions,
    mock_exchange_process,
    start_live,
)

ROUNDS = 6


def wait_for_start(db: Path, starts: int, live: subprocess.Popen[bytes], stderr: Path) -> None:
    """Until the run has logged its start (a process killed while importing would test nothing)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert live.poll() is None, stderr.read_text()[-3000:]
        if started_runs(db) >= starts:
            return
        time.sleep(0.1)
    raise AssertionError(f"run {starts} did not start within 30 s: {stderr.read_text()[-3000:]}")


def started_runs(db: Path) -> int:
    """The runs the log has recorded; none while the file or its schema is still being created."""
    try:
        return sum(isinstance(e, RuntimeStarted) for e in log_events(db)) if db.exists() else 0
    except sqlite3.OperationalError:  # the file is there, its tables not yet
        return 0


@pytest.mark.slow
def test_sigkill_during_live_trading_then_restart(tmp_path: Path) -> None:
    account = Account.create()
    db, stderr = tmp_path / "brain.db", tmp_path / "live.err"
    rng = random.Random(20261127)
    with mock_exchange_process(account.address) as mock:
        env = live_env(account.key.hex(), mock.url, db)
        churn = Churn(mock, rng)
        churn.start()
        try:
            for round_ in range(ROUNDS):
                live = start_live(env, tmp_path, stderr)
                try:
                    wait_for_start(db, round_ + 1, live, stderr)
                    time.sleep(rng.uniform(0.5, 3.0))
                finally:
                    live.send_signal(signal.SIGKILL)
                assert live.wait(timeout=10) == -signal.SIGKILL, stderr.read_text()[-2000:]
        finally:
            churn.stopped.set()
            churn.join()

        # The last restart halts trading, so every fill is polled and recorded, then stops cleanly.
        live = start_live(env, tmp_path, stderr)
        wait_for_start(db, ROUNDS + 1, live, stderr)
        time.sleep(1.0)
        halt = subprocess.run(
            [sys.executable, "-m", "b1e55ed", "killswitch", "halt", "--db", str(db)],
            env=env,
            cwd=tmp_path,
            capture_output=True,
        )
        assert halt.returncode == 0, halt.stderr.decode()
        time.sleep(2.0)
        live.send_signal(signal.SIGINT)
        assert live.wait(timeout=20) == 0, stderr.read_text()[-3000:]
        venue = mock.control()
    (tmp_path / "venue.json").write_text(json.dumps(venue, indent=1))  # for a post-mortem

    orders = [e for e in log_events(db) if isinstance(e, OrderUpdated)]
    fills = [e for e in log_events(db) if isinstance(e, Fill)]
    assert {"stop", "target"} & {fill.role for fill in fills}, "no stop or target ever filled: nothing churned"
    # What the venue was asked, not what it kept (it refuses a second order with a cloid it has): every cloid was
    # sent in one order request, across six kills and restarts.
    asked = Counter(venue["order_attempts"])
    assert asked, f"no order reached the venue: {stderr.read_text()[-3000:]}"
    assert {cloid: count for cloid, count in asked.items() if count > 1} == {}
    assert set(asked) <= {order.cloid for order in orders}  # every order the venue was asked for is in the log
    recorded = Counter(fill.fill_id for fill in fills)
    assert [fill_id for fill_id, count in recorded.items() if count > 1] == []  # no fill recorded twice
    assert all(fill.fill_id for fill in fills)
    venue_positions = {coin: size for coin, (size, _) in venue["positions"].items()}
    assert log_positions(db) == pytest.approx(venue_positions)
