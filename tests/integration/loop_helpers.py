"""Running the whole trading loop from tests: as a child process, and reading what it left in its log."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import trio

from actors.oms.ledger import Ledger
from b1e55ed.eventlog.sqlite_store import SqliteStore

ROOT = Path(__file__).resolve().parents[2]

# A seeded simulated market run as fast as possible: deterministic, offline, a few thousand bars.
SIM_ENV = {
    "B1E55ED_MARKET__SOURCE": "sim",
    "B1E55ED_MARKET__SIM_PACE": "max",
    "B1E55ED_MARKET__SIM_SEED": "11",
    "B1E55ED_MARKET__START": "2024-01-01",
}


def child_env(**extra: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **extra}


def run_cli(*args: str, cwd: Path, env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "b1e55ed", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def closed_trades(db: Path) -> list[tuple[object, ...]]:
    """Every finished position, as the projection holds it: what a trader would call the run's trades."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return conn.execute(
            "SELECT symbol, side, entry_price, exit_price, size, status, pnl, opened_at, closed_at "
            "FROM position_events WHERE status != 'open' ORDER BY opened_at, symbol"
        ).fetchall()


def projection(db: Path, sql: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return conn.execute(sql).fetchall()


def ledger_from_log(db: Path, starting_equity: float = 10_000.0) -> Ledger:
    async def fold() -> Ledger:
        ledger = Ledger(starting_equity)
        store = await SqliteStore.open(db)
        try:
            after = 0
            while records := await store.read(after, 10_000):
                ledger.fold(record.event() for record in records)
                after = records[-1].seq
        finally:
            await store.close()
        return ledger

    return trio.run(fold)
