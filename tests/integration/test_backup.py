"""Online backup while the brain writes, and a restore that never throws events away."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from b1e55ed.eventlog.backup import backup, restore
from b1e55ed.eventlog.sqlite_store import WriterLock
from b1e55ed.eventlog.store import StoreError
from b1e55ed.eventlog.verify import verify_database

pytestmark = pytest.mark.slow


def start_run(workdir: Path, bars: int) -> subprocess.Popen[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("B1E55ED_")}
    env |= {"B1E55ED_API__ENABLED": "false", "B1E55ED_MARKET__SIM_PACE": "max", "B1E55ED_MARKET__SIM_BARS": str(bars)}
    env |= {"B1E55ED_BRAIN__REPLAY_BATCH": "4"}  # many small commits: the backup lands between them
    command = [sys.executable, "-m", "b1e55ed", "run", "--market", "sim", "--db", str(workdir / "brain.db")]
    return subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def stored(db: Path) -> int:
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def wait_for(running: subprocess.Popen[str], db: Path, events: int) -> None:
    deadline = time.monotonic() + 120
    while stored(db) < events:
        assert running.poll() is None, running.stderr.read() if running.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.05)


def hash_at(db: Path, seq: int) -> bytes:
    with closing(sqlite3.connect(db)) as conn:
        row: tuple[bytes] = conn.execute("SELECT hash FROM events WHERE seq = ?", (seq,)).fetchone()
    return row[0]


def test_a_backup_taken_while_the_brain_writes_is_a_verified_prefix_of_its_chain(tmp_path: Path) -> None:
    db = tmp_path / "brain.db"
    running = start_run(tmp_path, bars=3000)
    try:
        copies = []
        for n in range(3):
            wait_for(running, db, events=2000 * (n + 1))
            copies.append(backup(db, tmp_path / f"copy{n}.db"))
        assert running.poll() is None  # taken while it ran
    finally:
        _, errors = running.communicate(timeout=300)
    assert running.returncode == 0, errors[-2000:]
    final = verify_database(db)
    assert copies[0].count < copies[-1].count < final.count  # the brain kept writing meanwhile
    for n, copy in enumerate(copies):
        assert copy.head.hash == hash_at(db, copy.head.seq)  # the same chain, cut at a commit
        assert verify_database(tmp_path / f"copy{n}.db") == copy
        assert not (tmp_path / f"copy{n}.db-wal").exists()  # one self-contained file


def test_a_restore_never_throws_events_away_unless_forced(tmp_path: Path) -> None:
    db = tmp_path / "brain.db"
    run = start_run(tmp_path, bars=300)
    run.communicate(timeout=300)
    early = backup(db, tmp_path / "early.db")
    run = start_run(tmp_path, bars=400)  # the log grows past the backup
    run.communicate(timeout=300)
    grown = verify_database(db)
    assert grown.count > early.count

    with pytest.raises(StoreError, match=rf"holds {grown.count} events, the backup .* only {early.count}"):
        restore(tmp_path / "early.db", db)
    assert verify_database(db) == grown  # refused: untouched

    lock = WriterLock(db)
    lock.acquire()  # a running brain
    with pytest.raises(StoreError, match="in use by another b1e55ed process"):
        restore(tmp_path / "early.db", db, force=True)
    lock.release()

    assert restore(tmp_path / "early.db", db, force=True) == early
    assert restore(tmp_path / "early.db", tmp_path / "fresh.db") == early  # no log there yet: nothing to lose


def test_bad_backups_and_destinations_are_named(tmp_path: Path) -> None:
    db = tmp_path / "brain.db"
    start_run(tmp_path, bars=50).communicate(timeout=300)
    with pytest.raises(StoreError, match="exists already"):
        backup(db, db)
    with pytest.raises(StoreError, match="no such folder"):
        backup(db, tmp_path / "missing" / "copy.db")
    with pytest.raises(StoreError, match="no such database"):
        backup(tmp_path / "nothing.db", tmp_path / "copy.db")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError, match=r"junk\.db"):
        restore(junk, tmp_path / "target.db")
    assert not (tmp_path / "target.db").exists()


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "b1e55ed", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_the_backup_and_restore_commands_say_what_they_verified(tmp_path: Path) -> None:
    db = tmp_path / "brain.db"
    start_run(tmp_path, bars=50).communicate(timeout=300)
    made = verify_database(db)
    said = f"{made.count} events verified, head seq {made.head.seq} {made.head.hash.hex()}"

    backed = cli("backup", "--db", str(db), str(tmp_path / "copy.db"), cwd=tmp_path)
    assert backed.returncode == 0, backed.stderr
    assert backed.stdout == f"backed up {tmp_path / 'copy.db'}: {said}\n"
    again = cli("backup", "--db", str(db), str(tmp_path / "copy.db"), cwd=tmp_path)
    assert again.returncode == 2
    assert "copy.db exists already: name a new file" in again.stderr

    restored = cli("restore", "--db", str(tmp_path / "other.db"), str(tmp_path / "copy.db"), cwd=tmp_path)
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout == f"restored {tmp_path / 'other.db'}: {said}\n"
