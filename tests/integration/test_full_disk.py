"""A full database: trading halts, the halt survives where a full database cannot lose it, nothing stored is lost.

A real ``b1e55ed run`` on the simulated market at full pace, its log capped with ``eventlog.max_pages`` (SQLite's
``max_page_count``: writes then fail with "database or disk is full", as on a full disk; file modes would not stop
an open handle, and root ignores them). The run halts, keeps the halt in the kill-switch file beside the database
(or in the log, when a smaller write got through), and ends; the chain verifies. Started again without the cap, it
comes back HALTED (the change in its log, cause ``storage``) and trades nothing until a person resumes.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import msgspec
import pytest

from b1e55ed import killswitch_file
from b1e55ed.eventlog.verify import verify_database

pytestmark = pytest.mark.slow


def run(workdir: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("B1E55ED_")}
    env |= {"B1E55ED_API__ENABLED": "false", "B1E55ED_MARKET__SIM_PACE": "max", **settings}
    command = [sys.executable, "-m", "b1e55ed", "run", "--market", "sim", "--db", str(workdir / "brain.db")]
    return subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=300, check=False)


def halts(db: Path) -> list[tuple[str, str]]:
    """The logged kill-switch changes: (state, cause)."""
    with closing(sqlite3.connect(db)) as conn:
        rows = conn.execute("SELECT payload FROM events WHERE kind = 'killswitch' ORDER BY seq").fetchall()
    return [(change["state"], change["cause"]) for change in (msgspec.json.decode(p) for (p,) in rows)]


def test_a_full_database_halts_trading_and_a_restart_stays_halted(tmp_path: Path) -> None:
    db = tmp_path / "brain.db"
    full = run(tmp_path, B1E55ED_EVENTLOG__MAX_PAGES="300", B1E55ED_MARKET__SIM_BARS="2000")
    assert "database or disk is full" in full.stderr
    assert "trading HALTED, and kept so in" in full.stderr
    verify_database(db)  # every committed event intact, the chain whole
    with closing(sqlite3.connect(db)) as conn:
        stored = conn.execute("SELECT MAX(seq) FROM events").fetchone()[0]
    # The halt is kept in the file, or, if a smaller write got through meanwhile, already in the log.
    kept = killswitch_file.read(db)
    if kept is not None:
        assert kept.state == "HALTED"
        assert kept.note.startswith("storage: the event log could not be written")
    else:
        assert halts(db)[-1:] == [("HALTED", "storage")]

    again = run(tmp_path, B1E55ED_MARKET__SIM_BARS="2100")
    assert again.returncode == 0, again.stderr[-2000:]
    verify_database(db)
    with closing(sqlite3.connect(db)) as conn:
        changes = [
            msgspec.json.decode(p) for (p,) in conn.execute("SELECT payload FROM events WHERE kind = 'killswitch'")
        ]
        traded = conn.execute("SELECT COUNT(*) FROM events WHERE kind = 'trade' AND seq > ?", (stored,)).fetchone()[0]
    assert changes[-1]["state"] == "HALTED"
    assert changes[-1]["cause"] == "storage"
    assert traded == 0  # HALTED: no entry until `killswitch resume`
    assert killswitch_file.read(db) is None  # applied and logged, so removed
