"""Schema versions: a newer program brings an older log forward; a log newer than the program is refused.

brain.db's schema version is SQLite's ``user_version``. Opening a log of an older version first copies it to a
verified backup beside it (``brain.db.v<N>.bak``), then runs every step from its version to ``SCHEMA_VERSION`` in
one transaction, so a failed step leaves the log as it was. Steps change tables and indexes, never an event's
bytes, so the chain and its head are the same afterwards.

No step exists yet: schema 1 is the first. The next schema change adds its statements to ``MIGRATIONS``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import closing
from pathlib import Path
from typing import Final

from b1e55ed.eventlog import schema
from b1e55ed.eventlog.chain import ChainBroken
from b1e55ed.eventlog.connect import LogKey, connect
from b1e55ed.eventlog.store import StoreError
from b1e55ed.eventlog.verify import verify_database

MIGRATIONS: Final[Mapping[int, Sequence[str]]] = {}
"""Schema ``n`` → the statements that take a log from ``n`` to ``n + 1``."""


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def check_version(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse a log written by a newer b1e55ed: this program does not know its tables."""
    if (version := schema_version(conn)) > schema.SCHEMA_VERSION:
        raise StoreError(
            f"{path}: written by a newer b1e55ed (schema {version}, this program knows up to "
            f"{schema.SCHEMA_VERSION}): upgrade b1e55ed, or restore a backup made by this version"
        )


def migrate(
    conn: sqlite3.Connection,
    path: Path,
    *,
    migrations: Mapping[int, Sequence[str]] = MIGRATIONS,
    target: int = schema.SCHEMA_VERSION,
    key: LogKey | None = None,
) -> Path | None:
    """Bring the log at ``path`` (open on ``conn``, outside a transaction) from its version to ``target``; the
    backup made first (encrypted with ``key`` as the log is), or None when there was nothing to do (a fresh log, or
    one already at ``target``)."""
    version = schema_version(conn)
    if version == 0 or version >= target:
        return None
    missing = [n for n in range(version, target) if n not in migrations]
    if missing:
        raise StoreError(f"{path}: no migration from schema {missing[0]} to {missing[0] + 1}")
    saved = _backup(conn, path, version, key)
    conn.execute("BEGIN IMMEDIATE")
    try:
        for step in range(version, target):
            for statement in migrations[step]:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version={int(target)}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return saved


def _backup(conn: sqlite3.Connection, path: Path, version: int, key: LogKey | None) -> Path:
    dest = path.with_name(f"{path.name}.v{version}.bak")
    n = 1
    while dest.exists():
        n += 1
        dest = path.with_name(f"{path.name}.v{version}-{n}.bak")
    with closing(connect(dest, key, mode="rwc")) as copy:
        conn.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")
    try:
        verify_database(dest, key)
    except ChainBroken as exc:
        raise StoreError(f"{path}: not migrated, its backup {dest} does not verify: {exc}") from None
    return dest
