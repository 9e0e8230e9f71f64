"""Schema versions, on a log made by the program as it was when schema 1 was current (tests/fixtures).

Today's program opens it as it is; a newer program's steps bring it forward in one transaction after a verified
backup, with the chain untouched; a log newer than the program is refused with exit 2, naming what to do.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from b1e55ed.eventlog import schema
from b1e55ed.eventlog.migrate import migrate, schema_version
from b1e55ed.eventlog.sqlite_store import SqliteStore
from b1e55ed.eventlog.store import StoreError
from b1e55ed.eventlog.verify import verify_database

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "brain_schema1.db"
INDEX = "CREATE INDEX events_kind ON events (kind, seq)"


@pytest.fixture
def old_log(tmp_path: Path) -> Path:
    db = tmp_path / "brain.db"
    shutil.copyfile(FIXTURE, db)
    return db


def indexes(db: Path) -> set[str]:
    with closing(sqlite3.connect(db)) as conn:
        return {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}


def version_of(db: Path) -> int:
    with closing(sqlite3.connect(db)) as conn:
        return schema_version(conn)


async def test_todays_program_opens_a_schema_1_log_as_it_is(old_log: Path) -> None:
    before = verify_database(old_log)
    store = await SqliteStore.open(old_log)
    try:
        assert await store.head() == before.head
    finally:
        await store.close()
    assert version_of(old_log) == schema.SCHEMA_VERSION == 1
    assert verify_database(old_log) == before
    assert not list(old_log.parent.glob("*.bak"))  # nothing to migrate, no backup


def test_a_migration_runs_after_a_verified_backup_and_keeps_the_chain(old_log: Path) -> None:
    before = verify_database(old_log)
    with closing(sqlite3.connect(old_log, isolation_level=None)) as conn:
        saved = migrate(conn, old_log, migrations={1: (INDEX,)}, target=2)
    assert saved == old_log.with_name("brain.db.v1.bak")
    assert verify_database(saved) == before
    assert version_of(saved) == 1
    assert version_of(old_log) == 2
    assert "events_kind" in indexes(old_log)
    assert verify_database(old_log) == before  # the same events, the same head


def test_a_failing_step_leaves_the_log_as_it_was(old_log: Path) -> None:
    before = verify_database(old_log)
    with closing(sqlite3.connect(old_log, isolation_level=None)) as conn:
        with pytest.raises(sqlite3.OperationalError):
            migrate(conn, old_log, migrations={1: (INDEX, "ALTER TABLE nowhere ADD COLUMN x")}, target=2)
        assert not conn.in_transaction
    assert version_of(old_log) == 1
    assert "events_kind" not in indexes(old_log)  # the first step rolled back with the second
    assert verify_database(old_log) == before


def test_a_missing_step_is_named(old_log: Path) -> None:
    with (
        closing(sqlite3.connect(old_log, isolation_level=None)) as conn,
        pytest.raises(StoreError, match="no migration from schema 2 to 3"),
    ):
        migrate(conn, old_log, migrations={1: (INDEX,)}, target=3)
    assert version_of(old_log) == 1


@pytest.mark.slow
@pytest.mark.parametrize("command", ["run", "rebuild"])
def test_a_log_newer_than_the_program_is_refused_with_exit_2(old_log: Path, command: str) -> None:
    with closing(sqlite3.connect(old_log)) as conn:
        conn.execute(f"PRAGMA user_version={schema.SCHEMA_VERSION + 1}")
    args = [sys.executable, "-m", "b1e55ed", command, "--db", str(old_log)]
    args += ["--market", "sim"] if command == "run" else []
    result = subprocess.run(args, cwd=old_log.parent, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"{old_log}: written by a newer b1e55ed (schema {schema.SCHEMA_VERSION + 1}" in result.stderr
    assert "upgrade b1e55ed, or restore a backup made by this version" in result.stderr
    assert version_of(old_log) == schema.SCHEMA_VERSION + 1  # untouched
