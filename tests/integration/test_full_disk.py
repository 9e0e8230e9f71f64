"""A full or failing disk: trading halts, the halt survives where the disk cannot lose it, nothing acknowledged is lost.

Two ways in, both through the real pipeline on the simulated market at full pace:
- a real ``b1e55ed run`` whose log is capped with ``eventlog.max_pages`` (SQLite's ``max_page_count``: writes fail
  with "database or disk is full", as on a full disk);
- a runtime whose SQLite connection starts failing its COMMITs ("disk I/O error"), injected at the SQLite-thread
  wrapper (file modes would not stop an open handle, and root ignores them).
Either way the run halts, keeps the halt in the kill-switch file beside the database, stops, and says which seqs the
log holds; every acknowledged event is found again and the chain verifies. The runtime's run also pages the owner
by every channel that needs no disk (the write error reaches the alerter in memory). Started again on a healthy disk,
it comes back HALTED (the change in its log, cause ``storage``) and trades nothing until a person resumes.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import msgspec
import pytest

from b1e55ed import killswitch_file
from b1e55ed.clock import ManualClock
from b1e55ed.config import Config, load_config
from b1e55ed.eventlog.chain import Record
from b1e55ed.eventlog.store import StorageFailed
from b1e55ed.eventlog.verify import verify_database
from b1e55ed.registry import resolve
from b1e55ed.runtime import Runtime
from tests.fakes.failing_disk import failing_after
from tests.fakes.telegram import FakeTelegram, serving
from tests.integration.alerts_support import CHAT, TOKEN

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


def trades_after(db: Path, seq: int) -> int:
    with closing(sqlite3.connect(db)) as conn:
        count: int = conn.execute("SELECT COUNT(*) FROM events WHERE kind = 'trade' AND seq > ?", (seq,)).fetchone()[0]
    return count


def assert_kept_halted(db: Path) -> None:
    kept = killswitch_file.read(db)
    assert kept is not None
    assert kept.state == "HALTED"
    assert kept.note.startswith("storage: the event log could not be written")


def assert_restart_stays_halted(db: Path, stored: int) -> None:
    """After a restart on a healthy disk: HALTED from the storage failure, no trade since, the file applied."""
    assert halts(db)[-1] == ("HALTED", "storage")
    assert trades_after(db, stored) == 0  # HALTED: no entry until `killswitch resume`
    assert killswitch_file.read(db) is None  # applied and logged, so removed


def test_a_full_database_halts_trading_and_a_restart_stays_halted(tmp_path: Path) -> None:
    db = tmp_path / "brain.db"
    full = run(tmp_path, B1E55ED_EVENTLOG__MAX_PAGES="300", B1E55ED_MARKET__SIM_BARS="2000")
    assert full.returncode == 1, full.stderr[-2000:]
    last_line = full.stderr.splitlines()[-1]
    said = re.fullmatch(r"b1e55ed: stopped: storage: .*disk is full.*the log holds seq 1-(\d+)", last_line)
    assert said is not None, full.stderr[-2000:]
    acknowledged = int(said[1])
    assert verify_database(db).count == acknowledged  # every acknowledged event found, the chain whole
    assert_kept_halted(db)

    again = run(tmp_path, B1E55ED_MARKET__SIM_BARS="2100")
    assert again.returncode == 0, again.stderr[-2000:]
    assert verify_database(db).count > acknowledged
    assert_restart_stays_halted(db, acknowledged)


def sim(**settings: str) -> Config:
    environ = {"B1E55ED_API__ENABLED": "false", "B1E55ED_MARKET__SOURCE": "sim", "B1E55ED_MARKET__SIM_PACE": "max"}
    environ |= {"B1E55ED_SUPERVISOR__BACKOFF_INITIAL_S": "0.001", "B1E55ED_SUPERVISOR__JITTER": "0"}
    environ |= {"B1E55ED_BRAIN__REPLAY_BATCH": "8"}  # a commit every 8 cycles: the disk dies mid-run
    return load_config(environ=environ | {f"B1E55ED_{key.upper()}": value for key, value in settings.items()})


def telegram_settings(url: str, log_dir: Path) -> dict[str, str]:
    """Alerts to a fake Telegram, from a run driven by history (which otherwise pages no one)."""
    return {
        "keys__telegram_bot_token": TOKEN,
        "alerts__telegram_chat_id": str(CHAT),
        "alerts__telegram_url": url,
        "alerts__in_replay": "true",
        "logging__dir": str(log_dir),
    }


async def run_sim(runtime: Runtime) -> None:
    pipeline = resolve(runtime.config.runtime.pipeline)
    await runtime.run(lambda rt: pipeline(rt).stages())


async def test_failing_writes_halt_trading_lose_no_acknowledged_event_and_page_the_owner(tmp_path: Path) -> None:
    db = tmp_path / "brain.db"
    telegram = FakeTelegram(TOKEN)
    with serving(telegram) as url:
        paged = sim(market__sim_bars="600", **telegram_settings(url, tmp_path / "logs"))
        dying = Runtime(paged, db_path=db, clock=ManualClock(), sqlite_connection=failing_after(20))
        acknowledged: list[Record] = []
        dying.hub.listen(acknowledged.extend)
        with pytest.raises(StorageFailed, match=r"disk I/O error.*HALTED.*the log holds seq 1-(\d+)") as failed:
            await run_sim(dying)
    # The write error cannot be read back from the log: it reached the alerter in memory, and went out by Telegram
    # (no disk needed) and by alerts.log (tried all the same), while the run stopped.
    [page] = [text for text in telegram.texts(CHAT) if "database write error" in text]
    assert page.startswith("[CRITICAL] database write error: storage: the event log could not be written")
    assert "disk I/O error" in page
    assert "trading HALTED" in page
    assert any("database write error" in line for line in (tmp_path / "logs" / "alerts.log").read_text().splitlines())
    assert dying.gate.state == "HALTED"
    assert f"seq 1-{acknowledged[-1].seq}" in str(failed.value)
    assert [r.seq for r in acknowledged] == list(range(1, len(acknowledged) + 1))
    assert_kept_halted(db)

    healthy_disk = sim(market__sim_bars="700", logging__dir=str(tmp_path / "logs"))
    healthy = Runtime(healthy_disk, db_path=db, clock=ManualClock())
    await run_sim(healthy)
    verify_database(db)
    with closing(sqlite3.connect(db)) as conn:
        stored = conn.execute("SELECT seq, hash FROM events WHERE seq <= ? ORDER BY seq", (acknowledged[-1].seq,))
        assert stored.fetchall() == [(r.seq, r.hash) for r in acknowledged]  # every acknowledged event, unchanged
    assert_restart_stays_halted(db, acknowledged[-1].seq)
