"""alerts.db: where the alerter is in the log, what it has to deliver, and what each channel has delivered.

Beside ``brain.db`` and outside the hash chain: the event log never depends on who was told. One transaction
records a batch of notices, a pending delivery for each channel, and the log position after them, so a restart
neither loses an alert (its event is read again) nor repeats one (its row is there, with its state per channel).
A channel marks a delivery sent after the channel accepted it: only a crash inside that instant repeats one.
``synchronous=NORMAL`` (WAL): a killed process loses nothing; a power cut may lose the last transactions, which
repeats their alerts (their events are read again), and never loses one. It keeps an fsync off every alert.

The file is tied to its log by the log's first hash: another log (a new ``brain.db``) starts the alerter at that
log's head, so a person is never paged for history.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from b1e55ed.alerts.triggers import Notice
from b1e55ed.eventlog.sqlite_thread import SqliteThread

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS chain (id INTEGER PRIMARY KEY CHECK (id = 1), first_hash BLOB NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    key TEXT NOT NULL,
    trigger TEXT NOT NULL,
    severity TEXT NOT NULL,
    text TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS alerts_key ON alerts (key, ts);
CREATE TABLE IF NOT EXISTS deliveries (
    alert_id INTEGER NOT NULL REFERENCES alerts (id),
    channel TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sent')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    updated INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (alert_id, channel)
) STRICT;
CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries (channel, state, alert_id);
"""

LOG_POSITION = "log"
TELEGRAM_OFFSET = "telegram_offset"


def alerts_db_path(db: Path) -> Path:
    """``alerts.db`` beside ``brain.db``; beside another log, ``<name>.alerts.db`` so two logs never share one."""
    return db.with_name("alerts.db") if db.name == "brain.db" else db.with_name(f"{db.stem}.alerts.db")


def _setup(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")  # see the module docstring
    conn.execute("PRAGMA busy_timeout=5000")
    conn.executescript(_SCHEMA)


def _cursor(conn: sqlite3.Connection, name: str) -> int | None:
    row = conn.execute("SELECT value FROM cursors WHERE name = ?", (name,)).fetchone()
    return None if row is None else int(row[0])


def _set_cursor(conn: sqlite3.Connection, name: str, value: int) -> None:
    conn.execute(
        "INSERT INTO cursors (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
        (name, value),
    )


class _Transaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self._conn.execute("BEGIN IMMEDIATE")
        return self._conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self._conn.execute("COMMIT")
        elif self._conn.in_transaction:
            self._conn.execute("ROLLBACK")


class AlertStore:
    def __init__(self, path: Path, thread: SqliteThread) -> None:
        self.path = path
        self._thread = thread

    @classmethod
    async def open(cls, path: Path) -> AlertStore:
        path.parent.mkdir(parents=True, exist_ok=True)
        thread = SqliteThread(path, setup=_setup)
        await thread.ready()
        return cls(path, thread)

    async def close(self) -> None:
        await self._thread.close()

    async def start(self, first_hash: bytes, head_seq: int) -> tuple[int, bool]:
        """The log position to follow from, and whether it is new: a new file, or one kept for another log, starts
        at ``head_seq``."""

        def start(conn: sqlite3.Connection) -> tuple[int, bool]:
            with _Transaction(conn):
                row = conn.execute("SELECT first_hash FROM chain WHERE id = 1").fetchone()
                position = _cursor(conn, LOG_POSITION)
                if row is not None and bytes(row[0]) == first_hash and position is not None:
                    return position, False
                conn.execute("INSERT OR REPLACE INTO chain (id, first_hash) VALUES (1, ?)", (first_hash,))
                _set_cursor(conn, LOG_POSITION, head_seq)
                _set_cursor(conn, TELEGRAM_OFFSET, _cursor(conn, TELEGRAM_OFFSET) or 0)
                return head_seq, True

        return await self._thread.call(start)

    async def record(self, notices: Sequence[Notice], channels: Sequence[str], position: int, dedup_ms: int) -> int:
        """Store ``notices`` (those identical to one within ``dedup_ms`` before it are dropped), a pending delivery
        for each channel, and the log position; return how many were kept."""

        def record(conn: sqlite3.Connection) -> int:
            kept = 0
            with _Transaction(conn):
                for notice in notices:
                    key = notice.key
                    seen = conn.execute(
                        "SELECT 1 FROM alerts WHERE key = ? AND ts > ? AND ts <= ? LIMIT 1",
                        (key, notice.ts - dedup_ms, notice.ts),
                    ).fetchone()
                    if dedup_ms and seen is not None:
                        continue
                    cursor = conn.execute(
                        "INSERT INTO alerts (seq, ts, key, trigger, severity, text) VALUES (?, ?, ?, ?, ?, ?)",
                        (notice.seq, notice.ts, key, notice.trigger, notice.severity, notice.text),
                    )
                    conn.executemany(
                        "INSERT INTO deliveries (alert_id, channel, state) VALUES (?, ?, 'pending')",
                        [(cursor.lastrowid, channel) for channel in channels],
                    )
                    kept += 1
                _set_cursor(conn, LOG_POSITION, position)
            return kept

        return await self._thread.call(record)

    async def pending(self, channel: str, limit: int = 50) -> list[tuple[int, Notice]]:
        """The oldest undelivered alerts of ``channel``."""

        def pending(conn: sqlite3.Connection) -> list[tuple[int, Notice]]:
            rows = conn.execute(
                "SELECT a.id, a.seq, a.ts, a.trigger, a.severity, a.text FROM deliveries d JOIN alerts a"
                " ON a.id = d.alert_id WHERE d.channel = ? AND d.state = 'pending' ORDER BY d.alert_id LIMIT ?",
                (channel, limit),
            ).fetchall()
            return [
                (row[0], Notice(seq=row[1], ts=row[2], trigger=row[3], severity=row[4], text=row[5])) for row in rows
            ]

        return await self._thread.call(pending)

    async def mark(self, alert_id: int, channel: str, *, sent: bool, attempts: int, error: str, ts: int) -> None:
        def mark(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE deliveries SET state = ?, attempts = ?, last_error = ?, updated = ?"
                " WHERE alert_id = ? AND channel = ?",
                ("sent" if sent else "pending", attempts, error, ts, alert_id, channel),
            )

        await self._thread.call(mark)

    async def cursor(self, name: str) -> int:
        return await self._thread.call(lambda conn: _cursor(conn, name) or 0)

    async def set_cursor(self, name: str, value: int) -> None:
        await self._thread.call(lambda conn: _set_cursor(conn, name, value))

    async def latest(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest alerts, each with its delivery state per channel: what the dashboard shows."""

        def latest(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            alerts = conn.execute(
                "SELECT id, seq, ts, trigger, severity, text FROM alerts ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
            found = []
            for alert_id, seq, ts, trigger, severity, text in alerts:
                deliveries = conn.execute(
                    "SELECT channel, state, attempts, last_error FROM deliveries WHERE alert_id = ? ORDER BY channel",
                    (alert_id,),
                ).fetchall()
                found.append(
                    {
                        "id": alert_id,
                        "seq": seq,
                        "ts": ts,
                        "trigger": trigger,
                        "severity": severity,
                        "text": text,
                        "deliveries": {
                            channel: {"state": state, "attempts": attempts, "last_error": error}
                            for channel, state, attempts, error in deliveries
                        },
                    }
                )
            return found

        return await self._thread.call(latest)
