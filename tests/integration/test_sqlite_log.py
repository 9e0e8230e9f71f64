"""What only the on-disk store does: append-only triggers, reopening, the writer lock, tampering, the CLI."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from b1e55ed.eventlog.chain import ChainBroken
from b1e55ed.eventlog.projections import PROJECTION_TABLES
from b1e55ed.eventlog.sqlite_store import SqliteStore
from b1e55ed.eventlog.store import StoreError
from b1e55ed.eventlog.verify import verify_database
from tests.eventlog_helpers import alert, lifecycle, running_log, signal

ROOT = Path(__file__).resolve().parents[2]


async def make_log(db: Path, events: int = 40) -> None:
    store = await SqliteStore.open(db)
    async with running_log(store) as log:
        await log.append(*lifecycle())
        for i in range(events):
            await log.append(signal(i) if i % 3 else alert(i))
    await store.close()


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "b1e55ed", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def raw(db: Path, *statements: str) -> None:
    with closing(sqlite3.connect(db, isolation_level=None)) as conn:
        for statement in statements:
            conn.execute(statement)


async def test_events_refuse_update_and_delete(tmp_path: Path) -> None:
    db = tmp_path / "brain.db"
    await make_log(db)
    for statement in ("UPDATE events SET ts = 0 WHERE seq = 3", "DELETE FROM events WHERE seq = 3"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw(db, statement)
    assert verify_database(db).count == 47


async def test_a_reopened_log_continues_the_same_chain(tmp_path: Path) -> None:
    db = tmp_path / "brain.db"
    await make_log(db, events=5)
    store = await SqliteStore.open(db)
    head = await store.head()
    async with running_log(store) as log:
        (record,) = await log.append(alert(100))
    await store.close()
    assert record.seq == head.seq + 1
    assert record.prev_hash == head.hash
    assert verify_database(db).head.hash == record.hash


async def test_two_logs_given_the_same_events_have_the_same_head(tmp_path: Path) -> None:
    await make_log(tmp_path / "a.db")
    await make_log(tmp_path / "b.db")
    assert verify_database(tmp_path / "a.db").head == verify_database(tmp_path / "b.db").head


@pytest.mark.slow
async def test_only_one_process_may_write_a_database(tmp_path: Path) -> None:
    db = tmp_path / "brain.db"
    store = await SqliteStore.open(db)
    try:
        with pytest.raises(StoreError, match="in use by another b1e55ed process"):
            await SqliteStore.open(db)
        result = cli("rebuild", "--db", str(db), cwd=tmp_path)
        assert result.returncode == 2
        assert "in use by another b1e55ed process" in result.stderr
    finally:
        await store.close()


async def test_a_file_that_is_not_a_database_is_refused_by_name(tmp_path: Path) -> None:
    db = tmp_path / "brain.db"
    db.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match=r"brain\.db: not a b1e55ed database"):
        await SqliteStore.open(db)


TAMPERINGS: dict[str, tuple[str, ...]] = {
    "payload": ("UPDATE events SET payload = CAST(upper(CAST(payload AS TEXT)) AS BLOB) WHERE seq = 17",),
    "hash": ("UPDATE events SET hash = zeroblob(32) WHERE seq = 17",),
    "prev_hash": ("UPDATE events SET prev_hash = zeroblob(32) WHERE seq = 17",),
    "ts column": ("UPDATE events SET ts = ts + 1 WHERE seq = 17",),
    "kind column": ("UPDATE events SET kind = 'trade' WHERE seq = 17",),
    "deleted row": ("DELETE FROM events WHERE seq = 17",),
}


@pytest.mark.slow
@pytest.mark.parametrize("tampering", TAMPERINGS)
async def test_tampering_is_found_at_its_seq(tmp_path: Path, tampering: str) -> None:
    db = tmp_path / "brain.db"
    await make_log(db)
    raw(db, "DROP TRIGGER events_no_update", "DROP TRIGGER events_no_delete", *TAMPERINGS[tampering])
    with pytest.raises(ChainBroken) as broken:
        verify_database(db)
    assert broken.value.seq == 17
    result = cli("verify", "--db", str(db), cwd=tmp_path)
    assert result.returncode == 1
    assert "seq 17" in result.stderr


@pytest.mark.slow
async def test_cli_verify_prints_the_count_and_head(tmp_path: Path) -> None:
    db = tmp_path / "brain.db"
    await make_log(db)
    result = cli("verify", "--db", str(db), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"OK 47 events, head {verify_database(db).head.hash.hex()}"


@pytest.mark.slow
async def test_cli_rebuild_recreates_identical_projections(tmp_path: Path) -> None:
    db = tmp_path / "brain.db"
    await make_log(db)
    before = _dump(db)
    assert sum(len(rows) for rows in before.values()) > 30
    raw(db, "DELETE FROM signal_events", "UPDATE order_events SET status = 'cancelled'")
    assert _dump(db) != before
    result = cli("rebuild", "--db", str(db), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert _dump(db) == before


def _dump(db: Path) -> dict[str, list[tuple[object, ...]]]:
    with closing(sqlite3.connect(db)) as conn:
        return {table: conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall() for table in PROJECTION_TABLES}
