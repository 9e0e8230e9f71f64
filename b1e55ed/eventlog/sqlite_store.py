"""brain.db: the event store on disk. WAL, ``synchronous=FULL``, one connection on its own thread.

One process at a time may write a database: the store holds an exclusive lock on ``<db>.lock`` while open.
Verification only reads, so it may run beside a live process.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import sqlite3
from collections.abc import Mapping, Sequence
from functools import cache, partial
from itertools import chain as iter_chain
from pathlib import Path
from typing import Any, Final, TextIO

import trio
from msgspec.structs import astuple

from b1e55ed.eventlog import schema
from b1e55ed.eventlog.chain import EMPTY_HEAD, ChainHead, Record, Verified
from b1e55ed.eventlog.connect import DATABASE_ERRORS, OPERATIONAL_ERRORS, LogKey, connect
from b1e55ed.eventlog.migrate import check_version, migrate
from b1e55ed.eventlog.projections import PROJECTION_TABLES, Upsert
from b1e55ed.eventlog.sqlite_thread import SqliteThread
from b1e55ed.eventlog.store import HeadMismatch, StoreError, projections_of
from b1e55ed.eventlog.verify import verify_database

logger = logging.getLogger(__name__)

_SELECT = "SELECT seq, ts, kind, payload, prev_hash, hash FROM events"
_REBUILD_CHUNK = 10_000


def _setup(conn: sqlite3.Connection, path: Path, max_pages: int = 0, key: LogKey | None = None) -> None:
    if max_pages:
        conn.execute(f"PRAGMA max_page_count={int(max_pages)}")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=5000")
    check_version(conn, path)
    if saved := migrate(conn, path, key=key):
        logger.warning("%s: migrated to schema %d; the log as it was is kept in %s", path, schema.SCHEMA_VERSION, saved)
    conn.executescript(schema.EVENTS + schema.PROJECTIONS)
    conn.execute(f"PRAGMA user_version={schema.SCHEMA_VERSION}")


@cache
def _upsert_sql(table: str, columns: tuple[str, ...], key: str, update: tuple[str, ...]) -> str:
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    if update:
        sql += f" ON CONFLICT({key}) DO UPDATE SET " + ", ".join(f"{c}=excluded.{c}" for c in update)
    return sql


ROWS_PER_STATEMENT: Final = 256
"""Rows of one multi-row INSERT. One size only: every distinct size is another prepared statement in the
connection's cache, and one for thousands of rows is megabytes, so sizing them to each batch grew the process by
hundreds of megabytes (bench/soak.py)."""


@cache
def _insert_sql(rows: int) -> str:
    return "INSERT INTO events (seq, ts, kind, payload, prev_hash, hash) VALUES " + ",".join(["(?,?,?,?,?,?)"] * rows)


_COLUMNS: Final = len(Record.__struct_fields__)
_BLOBS: Final = tuple(Record.__struct_fields__.index(name) for name in ("payload", "prev_hash", "hash"))


def _params(records: Sequence[Record]) -> list[object]:
    """The records' columns, row after row, their blobs as ``bytearray``: sqlite3 binds a bytearray at once, but
    ``bytes`` only after looking for an adapter (a tuple, a dict and two attribute look-ups a value, this thread
    holding the GIL): 2.2 -> 1.5 us a row. A record's fields are the row's columns, in order; astuple reads them
    in C."""
    params = list(iter_chain.from_iterable(map(astuple, records)))
    for column in _BLOBS:
        params[column::_COLUMNS] = map(bytearray, params[column::_COLUMNS])
    return params


def _insert(conn: sqlite3.Connection, records: Sequence[Record]) -> None:
    """Full chunks as one multi-row statement each (one step, so one GIL release, per chunk rather than per row),
    the rest row by row; two prepared statements in all."""
    full = len(records) - len(records) % ROWS_PER_STATEMENT
    chunk_sql = _insert_sql(ROWS_PER_STATEMENT)
    for start in range(0, full, ROWS_PER_STATEMENT):
        conn.execute(chunk_sql, _params(records[start : start + ROWS_PER_STATEMENT]))
    if full < len(records):
        rest = _params(records[full:])
        conn.executemany(_insert_sql(1), (rest[i : i + _COLUMNS] for i in range(0, len(rest), _COLUMNS)))


def _write(conn: sqlite3.Connection, records: Sequence[Record], upserts: Sequence[Upsert]) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        _check_follows(conn, records)
        _insert(conn, records)
        _apply(conn, upserts)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # SQLite may have rolled back already (a full database does): keep the real error
            conn.execute("ROLLBACK")
        raise


def _apply(conn: sqlite3.Connection, upserts: Sequence[Upsert]) -> None:
    """Run consecutive upserts of the same shape as one ``executemany``; order is kept."""
    i = 0
    while i < len(upserts):
        first = upserts[i]
        shape = (first.table, tuple(first.row), first.key, first.update)
        j = i + 1
        while j < len(upserts) and (u := upserts[j]).table == first.table and tuple(u.row) == shape[1]:
            j += 1
        conn.executemany(_upsert_sql(*shape), [tuple(u.row.values()) for u in upserts[i:j]])
        i = j


def _check_follows(conn: sqlite3.Connection, records: Sequence[Record]) -> None:
    """The writer owns the head, but a stale writer must never fork the chain."""
    head = _head(conn)
    if records and (records[0].seq != head.seq + 1 or records[0].prev_hash != head.hash):
        raise HeadMismatch(f"append at seq {records[0].seq} does not follow the stored head (seq {head.seq})")


def _head(conn: sqlite3.Connection) -> ChainHead:
    row = conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    return EMPTY_HEAD if row is None else ChainHead(seq=row[0], hash=row[1])


def _read(conn: sqlite3.Connection, after: int, limit: int) -> list[Record]:
    rows = conn.execute(f"{_SELECT} WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)).fetchall()
    return [Record(*row) for row in rows]


def _projection(conn: sqlite3.Connection, table: str) -> list[dict[str, Any]]:
    if table not in PROJECTION_TABLES:
        raise KeyError(f"no projection table {table!r}")
    cursor = conn.execute(f"SELECT * FROM {table} ORDER BY rowid")
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor]


_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


def _column(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise KeyError(f"not a column name: {name!r}")
    return name


def _rows(
    conn: sqlite3.Connection,
    table: str,
    equals: Mapping[str, object],
    at_least: Mapping[str, int],
    limit: int,
) -> list[dict[str, Any]]:
    if table not in PROJECTION_TABLES:
        raise KeyError(f"no projection table {table!r}")
    where = [f"{_column(c)} = ?" for c in equals] + [f"{_column(c)} >= ?" for c in at_least]
    sql = f"SELECT * FROM {table}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY rowid DESC LIMIT ?"
    try:
        cursor = conn.execute(sql, [*equals.values(), *at_least.values(), limit])
    except OPERATIONAL_ERRORS as exc:
        raise KeyError(f"{table}: {exc}") from None
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor]


def _recent(
    conn: sqlite3.Connection, kinds: Sequence[str], limit: int, field: tuple[str, str | int] | None
) -> list[Record]:
    sql = f"{_SELECT} WHERE kind IN ({', '.join('?' * len(kinds))})"
    params: list[object] = list(kinds)
    if field is not None:
        sql += " AND json_extract(CAST(payload AS TEXT), ?) = ?"
        params += [f"$.{_column(field[0])}", field[1]]
    rows = conn.execute(sql + " ORDER BY seq DESC LIMIT ?", [*params, limit]).fetchall()
    return [Record(*row) for row in rows]


def rebuild_connection(conn: sqlite3.Connection) -> int:
    """Drop every projection row and replay ``events`` into them, in one transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for table in PROJECTION_TABLES:
            conn.execute(f"DELETE FROM {table}")
        replayed, after = 0, 0
        while records := _read(conn, after, _REBUILD_CHUNK):
            _apply(conn, projections_of(records))
            replayed += len(records)
            after = records[-1].seq
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # SQLite may have rolled back already (a full database does): keep the real error
            conn.execute("ROLLBACK")
        raise
    return replayed


class WriterLock:
    """An exclusive lock on ``<db>.lock``: two writers would fork the chain."""

    def __init__(self, db: Path) -> None:
        self._path = db.with_name(db.name + ".lock")
        self._db = db
        self._handle: TextIO | None = None

    def acquire(self) -> None:
        handle = open(self._path, "a+")  # noqa: SIM115 - held until release()
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise StoreError(f"{self._db} is in use by another b1e55ed process (pid {holder}); stop it first") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def open_offline(path: Path, key: LogKey | None = None) -> sqlite3.Connection:
    """A connection without trio or a thread, for the CLI's rebuild; ``key``: an encrypted log's."""
    if not path.exists():
        raise StoreError(f"{path}: no such database")
    conn = connect(path, key, mode="rw", isolation_level=None)
    try:
        _setup(conn, path, key=key)
    except DATABASE_ERRORS as exc:
        conn.close()
        raise StoreError(f"{path}: not a b1e55ed database ({exc})") from None
    return conn


class SqliteStore:
    def __init__(self, path: Path, thread: SqliteThread, lock: WriterLock, key: LogKey | None = None) -> None:
        self.path = path
        self._thread = thread
        self._lock = lock
        self._key = key

    @classmethod
    async def open(
        cls,
        path: Path | str,
        *,
        max_pages: int = 0,
        connection: type[sqlite3.Connection] = sqlite3.Connection,
        key: LogKey | None = None,
    ) -> SqliteStore:
        """``max_pages``: a cap on the database's size, in pages (0: none); at the cap writes fail as on a full disk.
        ``connection``: the class of the SQLite connection (see ``SqliteThread``). ``key``: an encrypted log's
        (see ``connect``); a wrong one raises ``StoreError`` before anything is written."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = WriterLock(path)
        lock.acquire()
        try:
            setup = partial(_setup, path=path, max_pages=max_pages, key=key)
            thread = SqliteThread(path, setup=setup, connection=connection, key=key)
            await thread.ready()
        except DATABASE_ERRORS as exc:
            lock.release()
            raise StoreError(f"{path}: not a b1e55ed database ({exc})") from None
        except BaseException:
            lock.release()
            raise
        return cls(path, thread, lock, key)

    async def head(self) -> ChainHead:
        return await self._thread.call(_head)

    async def append(self, records: Sequence[Record], upserts: Sequence[Upsert]) -> None:
        await self._thread.call(lambda conn: _write(conn, records, upserts))

    async def read(self, after: int = 0, limit: int = 1000) -> list[Record]:
        return await self._thread.call(lambda conn: _read(conn, after, limit))

    async def consumer_position(self, consumer: str) -> int:
        def query(conn: sqlite3.Connection) -> int:
            row = conn.execute("SELECT position FROM consumer_positions WHERE consumer = ?", (consumer,))
            found = row.fetchone()
            return int(found[0]) if found else 0

        return await self._thread.call(query)

    async def last_of_kind(self, kind: str) -> Record | None:
        def query(conn: sqlite3.Connection) -> Record | None:
            row = conn.execute(f"{_SELECT} WHERE kind = ? ORDER BY seq DESC LIMIT 1", (kind,)).fetchone()
            return None if row is None else Record(*row)

        return await self._thread.call(query)

    async def projection(self, table: str) -> list[dict[str, Any]]:
        return await self._thread.call(lambda conn: _projection(conn, table))

    async def rows(
        self,
        table: str,
        *,
        equals: Mapping[str, object] | None = None,
        at_least: Mapping[str, int] | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        return await self._thread.call(lambda conn: _rows(conn, table, equals or {}, at_least or {}, limit))

    async def recent(
        self, kinds: Sequence[str], *, limit: int = 100, field: tuple[str, str | int] | None = None
    ) -> list[Record]:
        if not kinds:
            return []
        return await self._thread.call(lambda conn: _recent(conn, kinds, limit, field))

    async def verify(self) -> Verified:
        return await trio.to_thread.run_sync(verify_database, self.path, self._key)

    async def rebuild(self) -> int:
        return await self._thread.call(rebuild_connection)

    async def close(self) -> None:
        try:
            await self._thread.close()
        finally:
            self._lock.release()
