"""The whole loop, done for real: replay of real history, determinism, kill -9 and resume, bad data, offline start."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

import polars as pl
import pytest

from b1e55ed.eventlog import codec
from b1e55ed.eventlog.projections import PROJECTION_TABLES
from b1e55ed.eventlog.verify import verify_database
from b1e55ed.messages import OrderUpdated
from tests.integration.loop_helpers import (
    SIM_ENV,
    child_env,
    closed_trades,
    ledger_from_log,
    projection,
    run_cli,
)

BARS = "2000"


@pytest.mark.slow
def test_replay_of_real_history_trades_verifies_and_rebuilds(tmp_path: Path, shared_data: Path) -> None:
    db = tmp_path / "brain.db"
    replay = f"replay:{shared_data / 'ohlcv_1h'}"
    result = run_cli(
        "run", "--db", str(db), "--market", replay, "--symbols", "BTC", "ETH", "SOL",
        "--from", "2023-01-01", "--to", "2025-01-01",
        "--funding", str(shared_data / "funding"), "--fear-greed", str(shared_data / "fear_greed"),
        cwd=tmp_path, env=child_env(), timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "chain head" in result.stdout
    # All five producers took part, offline: the network ones say so, and nothing stalled.
    producers = "SELECT DISTINCT producer FROM signal_events"
    assert {row[0] for row in projection(db, producers)} >= {"rsi", "momentum", "funding"}
    (snapshot,) = projection(db, "SELECT CAST(payload AS TEXT) FROM events WHERE kind = 'snapshot' LIMIT 1 OFFSET 9000")
    assert '"social":"disabled: offline (replayed or simulated market)"' in str(snapshot[0])
    assert '"whale":"disabled' in str(snapshot[0])
    assert '"fear_greed":' in str(snapshot[0])
    producer_alerts = "SELECT seq FROM events WHERE kind = 'alert' AND CAST(payload AS TEXT) LIKE '%producer%'"
    assert projection(db, producer_alerts) == []  # disabled is a setting, not a fault
    statuses = Counter(row[5] for row in closed_trades(db))
    assert statuses["stopped"] > 0, result.stdout
    assert statuses["closed"] > 0, result.stdout  # targets reached
    assert verify_database(db).count > 17_000

    before = {table: projection(db, f"SELECT * FROM {table} ORDER BY rowid") for table in PROJECTION_TABLES}
    rebuilt = run_cli("rebuild", "--db", str(db), cwd=tmp_path, env=child_env())
    assert rebuilt.returncode == 0, rebuilt.stderr
    after = {table: projection(db, f"SELECT * FROM {table} ORDER BY rowid") for table in PROJECTION_TABLES}
    assert after == before


def sim_run(tmp_path: Path, name: str, bars: str = BARS) -> Path:
    db = tmp_path / name / "brain.db"
    result = run_cli("run", "--db", str(db), cwd=tmp_path, env=child_env(**SIM_ENV, B1E55ED_MARKET__SIM_BARS=bars))
    assert result.returncode == 0, result.stderr[-3000:]
    return db


@pytest.mark.slow
def test_two_runs_of_the_same_market_have_the_same_chain_head(tmp_path: Path) -> None:
    first, second = sim_run(tmp_path, "a"), sim_run(tmp_path, "b")
    assert closed_trades(first), "the seeded market should trade"
    assert verify_database(first).head == verify_database(second).head


@pytest.mark.slow
def test_kill_9_at_random_points_then_resume_gives_the_uninterrupted_trades(tmp_path: Path) -> None:
    reference = sim_run(tmp_path, "reference", bars="8000")
    db = tmp_path / "crashed" / "brain.db"
    env = child_env(**SIM_ENV, B1E55ED_MARKET__SIM_BARS="8000")
    rng = random.Random(5)
    kills = 0
    while kills < 6:
        with subprocess.Popen(
            [sys.executable, "-m", "b1e55ed", "run", "--db", str(db)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ) as child:
            time.sleep(rng.uniform(0.6, 1.8))
            if child.poll() is not None:
                break  # it finished before the kill: the run is complete
            child.send_signal(signal.SIGKILL)
        kills += 1
    assert kills >= 5, "the run finished too soon to be killed five times"
    finish = run_cli("run", "--db", str(db), cwd=tmp_path, env=env)
    assert finish.returncode == 0, finish.stderr[-3000:]

    verify_database(db)
    # What the paper venue was asked, not the order_events projection (where the cloid is UNIQUE anyway): each
    # order answered once, and no submission of a cloid the venue already had (it refuses those as duplicates).
    rows = projection(db, "SELECT payload FROM events WHERE kind = 'order'")
    orders = [codec.decode(payload) for (payload,) in rows if isinstance(payload, bytes)]
    answered = Counter(o.cloid for o in orders if isinstance(o, OrderUpdated) and o.status in ("submitted", "rejected"))
    assert answered, "the crashed run placed no order"
    assert {cloid: n for cloid, n in answered.items() if n > 1} == {}
    assert [o.cloid for o in orders if isinstance(o, OrderUpdated) and o.reason == "duplicate cloid"] == []
    assert closed_trades(db) == closed_trades(reference)
    ledger = ledger_from_log(db)
    open_rows = projection(db, "SELECT symbol, side, size, entry_price FROM position_events WHERE status = 'open'")
    assert sorted(open_rows) == sorted((p.symbol, p.side, p.size, p.entry_price) for p in ledger.positions.values())


def write_candles(path: Path, rows: list[tuple[int, float, float, float, float, float]]) -> None:
    columns = ["ts", "open", "high", "low", "close", "volume"]
    pl.DataFrame(rows, schema=columns, orient="row").write_parquet(path)


@pytest.mark.slow
def test_bad_rows_are_skipped_and_counted_and_a_missing_file_is_named(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    hour = 3_600_000
    start = 1_704_067_200_000
    good = [(start + i * hour, 100.0 + i % 7, 102.0 + i % 7, 99.0 + i % 7, 101.0 + i % 7, 10.0) for i in range(600)]
    bad = list(good)
    bad[100] = (bad[100][0], float("nan"), *bad[100][2:])
    bad[200] = (*bad[200][:5], -5.0)
    bad[300] = bad[299]  # a duplicate timestamp
    write_candles(data / "BTCUSDT.parquet", bad)
    write_candles(data / "ETHUSDT.parquet", good)
    db = tmp_path / "brain.db"
    result = run_cli("run", "--db", str(db), "--market", f"replay:{data}", "--symbols", "BTC", "ETH",
                     cwd=tmp_path, env=child_env())  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "BTCUSDT.parquet" in result.stderr
    assert "row 100" in result.stderr
    verify_database(db)

    missing = run_cli("run", "--db", str(tmp_path / "other.db"), "--market", f"replay:{data}", "--symbols", "SOL",
                      cwd=tmp_path, env=child_env())  # fmt: skip
    assert missing.returncode == 2
    assert "SOLUSDT.parquet" in missing.stderr


@pytest.mark.slow
def test_offline_start_falls_back_to_the_labelled_sim_and_trades_on_paper(tmp_path: Path) -> None:
    db = tmp_path / "brain.db"
    env = child_env(
        B1E55ED_MARKET__SOURCE="auto",
        B1E55ED_MARKET__HYPERLIQUID_URL="http://127.0.0.1:9",  # nothing listens there: refused at once
        B1E55ED_MARKET__TIMEOUT_S="1",
        B1E55ED_TIMEFRAME="1s",
        B1E55ED_BRAIN__INTERVAL_S="0.5",
        B1E55ED_MARKET__HISTORY_BARS="600",
        B1E55ED_PAPER__LATENCY_S="0",
        B1E55ED_BRAIN__STRATEGIES=(
            "[{name: confluence, module: actors.strategies.confluence, class: ConfluenceStrategy,"
            " params: {min_agreeing: 1}}]"
        ),
        B1E55ED_BRAIN__PRODUCERS=(
            "[{name: rsi, module: actors.producers.rsi, class: RSIProducer, params: {oversold: 48, overbought: 52}}]"
        ),
    )
    started = time.monotonic()
    with (
        (tmp_path / "stderr").open("w") as stderr,
        subprocess.Popen(
            [sys.executable, "-m", "b1e55ed", "run", "--db", str(db)], cwd=tmp_path, env=env, stderr=stderr
        ) as child,
    ):
        try:
            filled: list[tuple[object, ...]] = []
            while not filled and time.monotonic() - started < 60:
                time.sleep(0.5)
                if db.exists():
                    filled = projection(
                        db, "SELECT symbol FROM order_events WHERE role = 'entry' AND status = 'filled'"
                    )
        finally:
            child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=30) == 0
    log = (tmp_path / "stderr").read_text()
    assert filled, f"no paper trade within 60 s:\n{log[-3000:]}"
    assert "FALLING BACK TO THE SIMULATED MARKET" in log
    assert "MARKET DATA IS SIMULATED" in log
    sources = {
        row[0]
        for row in projection(
            db, "SELECT json_extract(CAST(payload AS TEXT), '$.source') FROM events WHERE kind='cycle'"
        )
    }
    assert sources == {"simulated"}
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT count(*) FROM events WHERE kind = 'fill'").fetchone()[0] >= 1
