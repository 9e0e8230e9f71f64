"""Online backup and restore of an event log, each copy verified before it counts.

``backup`` copies a log with SQLite's online backup API while the brain keeps writing: in WAL mode the copy is one
consistent snapshot, taken in a single step, and the writer is never blocked. The copy is written beside its
destination, its chain verified, then renamed into place: a destination either holds a whole, verified log or
is untouched.

``restore`` puts a verified backup in place of a log whose writer is stopped (it takes the writer's lock), and
refuses to replace a log whose chain is longer than the backup's unless forced: that would throw events away.

An encrypted log's copy is encrypted with the same key: the backup API copies pages between two connections keyed
alike, so the copy's bytes are never plain, on disk or anywhere else, and it verifies with the same password.
"""

from __future__ import annotations

import os
from contextlib import closing
from pathlib import Path

from b1e55ed.eventlog.chain import ChainBroken, Verified
from b1e55ed.eventlog.connect import DATABASE_ERRORS, LogKey, connect
from b1e55ed.eventlog.sqlite_store import WriterLock
from b1e55ed.eventlog.store import StoreError
from b1e55ed.eventlog.verify import verify_database


def backup(db: Path, dest: Path, key: LogKey | None = None) -> Verified:
    """Copy ``db`` to ``dest`` (a file that must not exist yet) and verify the copy; its count and head. ``key``:
    an encrypted log's, which encrypts the copy too."""
    if not db.is_file():
        raise StoreError(f"{db}: no such database")
    if dest.exists():
        raise StoreError(f"{dest} exists already: name a new file")
    if not dest.parent.is_dir():
        raise StoreError(f"{dest.parent}: no such folder")
    partial = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    try:
        _copy(db, partial, key)
        verified = _verified(partial, f"the copy of {db}", key)
        os.replace(partial, dest)
    finally:
        partial.unlink(missing_ok=True)
    return verified


def restore(src: Path, db: Path, *, force: bool = False, key: LogKey | None = None) -> Verified:
    """Replace ``db`` by the verified backup ``src``; refuses a longer chain than the backup's unless ``force``.
    ``key``: the password of both, when encrypted."""
    if not src.is_file():
        raise StoreError(f"{src}: no such backup")
    restored = _verified(src, f"the backup {src}", key)
    db.parent.mkdir(parents=True, exist_ok=True)  # the lock file is made beside the log
    lock = WriterLock(db)
    lock.acquire()  # a running brain holds it: never restore under a writer
    try:
        if db.exists() and not force:
            current = _verified(db, str(db), key)
            if current.count > restored.count:
                raise StoreError(
                    f"{db} holds {current.count} events, the backup {src} only {restored.count}: restoring would "
                    "lose the rest (--force to restore anyway)"
                )
        _copy(src, db, key)
    finally:
        lock.release()
    return _verified(db, str(db), key)


def _copy(src: Path, dest: Path, key: LogKey | None) -> None:
    with closing(connect(src, key, mode="ro")) as source, closing(connect(dest, key, mode="rwc")) as target:
        try:
            source.backup(target)  # one step: one consistent snapshot of a log that keeps being written
            target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        except DATABASE_ERRORS as exc:
            raise StoreError(f"{src}: cannot be copied ({exc})") from None


def _verified(path: Path, what: str, key: LogKey | None) -> Verified:
    try:
        return verify_database(path, key)
    except ChainBroken as exc:
        raise StoreError(f"{what} does not verify: {exc}") from None
    except DATABASE_ERRORS as exc:
        raise StoreError(f"{what} is not a b1e55ed database ({exc})") from None
