"""An encrypted event log on disk (SQLCipher): unreadable without its password, refused by name with a wrong or
missing one and never changed by the attempt, and the same chain to every tool that is given the password."""

from __future__ import annotations

import hashlib
import sqlite3
import sys
from contextlib import closing
from pathlib import Path

import pytest

from b1e55ed.eventlog.backup import backup, restore
from b1e55ed.eventlog.connect import INSTALL, PASSWORD_VARIABLE, LogKey, connect, log_key
from b1e55ed.eventlog.migrate import migrate
from b1e55ed.eventlog.sqlite_store import SqliteStore, open_offline, rebuild_connection
from b1e55ed.eventlog.store import StoreError
from b1e55ed.eventlog.verify import verify_database
from b1e55ed.messages import Alert
from tests.eventlog_helpers import alert, lifecycle, running_log, signal

pytestmark = pytest.mark.slow  # real sockets and disks, on the wall clock

pytest.importorskip("sqlcipher3")

KEY = LogKey("it's a sécret")  # a quote: the pragma's literal must escape it
MARKER = "a payload no one may read"
SQLITE_HEADER = b"SQLite format 3\x00"


async def make_log(db: Path, key: LogKey | None = KEY, events: int = 30) -> None:
    store = await SqliteStore.open(db, key=key)
    async with running_log(store) as log:
        await log.append(*lifecycle())
        for i in range(events):
            await log.append(signal(i) if i % 3 else alert(i))
        await log.append(Alert(ts=1_700_000_100_000, severity="info", source="test", message=MARKER))
    await store.close()


def files_of(db: Path) -> dict[str, str]:
    """sha256 of the database and of every file beside it that SQLite keeps (-wal, -shm, -journal)."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(db.parent.iterdir())
        if path.name.startswith(db.name) and not path.name.endswith(".lock")
    }


async def test_an_encrypted_log_has_no_readable_byte_and_reopens_with_its_password_on_the_same_chain(
    tmp_path: Path,
) -> None:
    db = tmp_path / "brain.db"
    await make_log(db)
    raw = b"".join((tmp_path / name).read_bytes() for name in files_of(db))
    assert MARKER.encode() not in raw
    assert b"events" not in raw  # not even the schema
    assert not raw.startswith(SQLITE_HEADER)
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as plain, pytest.raises(sqlite3.DatabaseError):
        plain.execute("SELECT count(*) FROM events")

    verified = verify_database(db, KEY)
    store = await SqliteStore.open(db, key=KEY)
    assert await store.head() == verified.head
    async with running_log(store) as log:
        (record,) = await log.append(alert(100))
    assert await store.verify() == verify_database(db, KEY)
    await store.close()
    assert record.seq == verified.count + 1
    assert record.prev_hash == verified.head.hash


async def test_a_wrong_or_missing_password_is_refused_by_name_and_changes_no_byte(tmp_path: Path) -> None:
    db = tmp_path / "brain.db"
    await make_log(db)
    before = files_of(db)
    wrong = LogKey("not it")
    with pytest.raises(StoreError, match=rf"brain\.db: the password in {PASSWORD_VARIABLE} does not open"):
        await SqliteStore.open(db, key=wrong)
    with pytest.raises(StoreError, match=rf"brain\.db: the password in {PASSWORD_VARIABLE} does not open"):
        open_offline(db, wrong)
    with pytest.raises(StoreError, match=rf"brain\.db: the password in {PASSWORD_VARIABLE} does not open"):
        verify_database(db, wrong)
    with pytest.raises(
        StoreError, match=r"brain\.db: not a b1e55ed database, or an encrypted one: .*eventlog\.encrypt"
    ):
        await SqliteStore.open(db)
    with pytest.raises(StoreError, match=rf"an encrypted one: .*{PASSWORD_VARIABLE}"):
        verify_database(db)
    assert files_of(db) == before
    store = await SqliteStore.open(db, key=KEY)  # the writer's lock was released each time
    await store.close()


async def test_a_plain_log_is_not_taken_for_an_encrypted_one(tmp_path: Path) -> None:
    db = tmp_path / "brain.db"
    await make_log(db, key=None)
    before = files_of(db)
    with pytest.raises(StoreError, match=r"brain\.db is not encrypted, but eventlog\.encrypt is true"):
        await SqliteStore.open(db, key=KEY)
    assert files_of(db) == before
    assert verify_database(db).count == 38


def test_encryption_asked_for_without_a_password_or_without_sqlcipher_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert log_key(False, "unused") is None
    assert log_key(True, "pw") is not None
    assert "pw" not in repr(log_key(True, "pw"))
    with pytest.raises(
        StoreError, match=rf"eventlog\.encrypt is true, but there is no password: set {PASSWORD_VARIABLE}"
    ):
        log_key(True, "")
    monkeypatch.setitem(sys.modules, "sqlcipher3", None)  # as if the extra were not installed
    monkeypatch.setitem(sys.modules, "sqlcipher3.dbapi2", None)
    with pytest.raises(StoreError, match=r"SQLCipher is not installed: pip install 'b1e55ed\[encryption\]'"):
        log_key(True, "pw")
    assert INSTALL == "pip install 'b1e55ed[encryption]'"


async def test_a_backup_of_an_encrypted_log_is_encrypted_alike_verifies_and_restores(tmp_path: Path) -> None:
    db = tmp_path / "brain.db"
    await make_log(db)
    copy = tmp_path / "copy.db"
    copied = backup(db, copy, KEY)
    assert copied == verify_database(db, KEY)
    assert not copy.read_bytes().startswith(SQLITE_HEADER)
    assert MARKER.encode() not in copy.read_bytes()
    with pytest.raises(StoreError, match=r"copy\.db: not a b1e55ed database, or an encrypted one"):
        verify_database(copy)
    with pytest.raises(StoreError, match="does not open"):
        verify_database(copy, LogKey("not it"))

    elsewhere = tmp_path / "restored" / "brain.db"
    assert restore(copy, elsewhere, key=KEY) == copied
    assert not elsewhere.read_bytes().startswith(SQLITE_HEADER)
    store = await SqliteStore.open(elsewhere, key=KEY)
    assert await store.head() == copied.head
    await store.close()


async def test_rebuild_replays_an_encrypted_log_into_its_projections(tmp_path: Path) -> None:
    db = tmp_path / "brain.db"
    await make_log(db)
    store = await SqliteStore.open(db, key=KEY)
    before = await store.projection("position_events")
    await store.close()
    with closing(open_offline(db, KEY)) as conn:
        assert rebuild_connection(conn) == 38
    store = await SqliteStore.open(db, key=KEY)
    assert await store.projection("position_events") == before != []
    await store.close()


async def test_a_migration_backs_an_encrypted_log_up_encrypted(tmp_path: Path) -> None:
    db = tmp_path / "brain.db"
    await make_log(db)
    with closing(connect(db, KEY, mode="rw", isolation_level=None)) as conn:
        saved = migrate(conn, db, migrations={1: ["CREATE TABLE later (x INTEGER)"]}, target=2, key=KEY)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    assert saved is not None
    assert not saved.read_bytes().startswith(SQLITE_HEADER)
    assert verify_database(saved, KEY) == verify_database(db, KEY)
