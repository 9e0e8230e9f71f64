"""brain.db's schema: the ``events`` chain, its append-only triggers, and the spec's projection tables."""

from __future__ import annotations

SCHEMA_VERSION = 1

EVENTS = """
CREATE TABLE IF NOT EXISTS events (
    seq       INTEGER PRIMARY KEY,
    ts        INTEGER NOT NULL,
    kind      TEXT    NOT NULL,
    payload   BLOB    NOT NULL,
    prev_hash BLOB    NOT NULL,
    hash      BLOB    NOT NULL
) STRICT;
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events is append-only: UPDATE refused'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events is append-only: DELETE refused'); END;
"""

# The spec's four tables, widened with the event's seq so every row traces back to the chain.
PROJECTIONS = """
CREATE TABLE IF NOT EXISTS signal_events (
    id         INTEGER PRIMARY KEY,
    symbol     TEXT,
    signal     TEXT,
    conviction INTEGER,
    producer   TEXT,
    rationale  TEXT,
    metadata   TEXT,
    timestamp  INTEGER,
    hash       TEXT UNIQUE,
    cycle      INTEGER
);
CREATE INDEX IF NOT EXISTS signal_events_symbol ON signal_events (symbol, id);
CREATE INDEX IF NOT EXISTS signal_events_producer ON signal_events (producer, id);
CREATE TABLE IF NOT EXISTS trade_events (
    id         INTEGER PRIMARY KEY,
    symbol     TEXT,
    direction  TEXT,
    size       REAL,
    entry      REAL,
    stop       REAL,
    target     REAL,
    strategy   TEXT,
    rationale  TEXT,
    conviction INTEGER,
    timestamp  INTEGER,
    hash       TEXT UNIQUE,
    cycle      INTEGER
);
CREATE TABLE IF NOT EXISTS order_events (
    id                INTEGER PRIMARY KEY,
    cloid             TEXT NOT NULL UNIQUE,
    trade_id          INTEGER,
    role              TEXT,
    status            TEXT,
    symbol            TEXT,
    side              TEXT,
    size              REAL,
    filled_price      REAL,
    filled_size       REAL,
    exchange          TEXT,
    exchange_order_id TEXT,
    reason            TEXT,
    timestamp         INTEGER,
    last_seq          INTEGER,
    FOREIGN KEY (trade_id) REFERENCES trade_events(id)
);
CREATE TABLE IF NOT EXISTS position_events (
    id          INTEGER PRIMARY KEY,
    position_id TEXT NOT NULL UNIQUE,
    symbol      TEXT,
    side        TEXT,
    entry_price REAL,
    size        REAL,
    stop        REAL,
    target      REAL,
    status      TEXT,
    exit_price  REAL,
    pnl         REAL,
    opened_at   INTEGER,
    closed_at   INTEGER,
    last_seq    INTEGER
);
CREATE TABLE IF NOT EXISTS consumer_positions (
    consumer TEXT PRIMARY KEY,
    position INTEGER NOT NULL
);
"""
