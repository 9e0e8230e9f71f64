"""Event log benchmark: durable appends, commit latency under load, verify speed, and what encryption costs.
``[--quick]``

One JSON object per line on stdout (notes on stderr): each figure is the median of several runs, beside the median
of a raw ``sqlite3`` baseline measured in the same run, interleaved with ours; ``ratio = ours / raw``. The
``encryption`` figures instead put an encrypted log (SQLCipher, ``eventlog.encrypt``) beside the same work on a
plain one, interleaved: ``ratio = encrypted / plain``. They are left out, with a note, without ``sqlcipher3``.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, closing, contextmanager
from pathlib import Path
from typing import Any

import common
import trio
from common import note, rounded

from b1e55ed.eventlog import schema
from b1e55ed.eventlog.chain import EMPTY_HEAD, ChainHead, Record, extend
from b1e55ed.eventlog.connect import LogKey, connect, log_key
from b1e55ed.eventlog.projections import project
from b1e55ed.eventlog.sqlite_store import SqliteStore
from b1e55ed.eventlog.store import StoreError
from b1e55ed.eventlog.verify import verify_database
from b1e55ed.eventlog.writer import EventLog
from b1e55ed.messages import Alert, Event, Signal, SignalRecorded

Row = tuple[Any, ...]
Projected = tuple[str, list[Row]] | None  # the projection table's INSERT and one row per event, or none
TS0 = 1_700_000_000_000
TXN_ROWS = 1000  # the raw baseline's rows per transaction
TICK, PER_TICK = 0.001, 5  # the pacer starts PER_TICK appends every TICK seconds
COLUMNS = "seq, ts, kind, payload, prev_hash, hash"
INSERT_EVENTS = f"INSERT INTO events ({COLUMNS}) VALUES (?,?,?,?,?,?)"
DURABLE = "WAL, synchronous=FULL"
RAW_BATCH = f"sqlite3 executemany, {TXN_ROWS} rows/txn, {DURABLE}"


def figure(name: str, unit: str, ours: list[float], raw: list[float], baseline: str, **extra: Any) -> None:
    common.figure("eventlog", name, unit, ours, raw, baseline, **extra)


@contextmanager
def scratch(root: Path) -> Iterator[Path]:
    """A fresh database path in its own directory (for the -wal, -shm and .lock files), removed afterwards."""
    with tempfile.TemporaryDirectory(dir=root) as directory:
        yield Path(directory) / "brain.db"


def alerts(n: int, first: int = 1) -> list[Event]:
    return [Alert(ts=TS0 + i, severity="info", source="bench", message=f"event {i}") for i in range(first, first + n)]


def signals(n: int) -> list[Event]:
    def one(i: int) -> Event:
        rationale, metadata = f"RSI {28 - i % 5} is oversold", {"rsi": 28.0 - i % 5, "window": 14}
        s = Signal(symbol=("BTC", "ETH", "SOL")[i % 3], signal="long", conviction=7, rationale=rationale,
                   producer="rsi", timestamp=1_700_000_000 + i, metadata=metadata)  # fmt: skip
        return SignalRecorded(ts=TS0 + i, cycle=i // 10, signal=s)

    return [one(i) for i in range(1, n + 1)]


def as_rows(records: Sequence[Record]) -> list[Row]:
    return [(r.seq, r.ts, r.kind, r.payload, r.prev_hash, r.hash) for r in records]


def projected_rows(records: Sequence[Record], events: Sequence[Event]) -> Projected:
    """The rows the writer's projection puts in the same transaction, for the raw baseline to insert too."""
    upserts = [u for r, e in zip(records, events, strict=True) if (u := project(r.seq, r.hash, e))]
    if not upserts:
        return None
    assert len(upserts) == len(records), "the raw baseline expects one projection row per event"
    columns = tuple(upserts[0].row)
    sql = f"INSERT INTO {upserts[0].table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    return sql, [tuple(u.row.values()) for u in upserts]


def raw_connect(path: Path, ddl: str, key: LogKey | None = None) -> sqlite3.Connection:
    conn = connect(path, key, mode="rwc", isolation_level=None)
    conn.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;" + ddl)
    return conn


def raw_insert(conn: sqlite3.Connection, rows: Sequence[Row], projected: Projected = None) -> float:
    """Seconds to insert ``rows`` (and their projection rows), ``TXN_ROWS`` per transaction, with executemany."""
    start = time.perf_counter()
    for i in range(0, len(rows), TXN_ROWS):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(INSERT_EVENTS, rows[i : i + TXN_ROWS])
        if projected is not None:
            conn.executemany(projected[0], projected[1][i : i + TXN_ROWS])
        conn.execute("COMMIT")
    return time.perf_counter() - start


@asynccontextmanager
async def running_log(path: Path, key: LogKey | None = None) -> AsyncIterator[EventLog]:
    """A fresh SqliteStore (encrypted with ``key``) with its ``EventLog`` writer running; all is committed and
    closed on exit."""
    store = await SqliteStore.open(path, key=key)
    try:
        async with trio.open_nursery() as nursery:
            log = EventLog(store)
            await nursery.start(log.run)
            yield log
            log.close()
    finally:
        await store.close()


async def writer_rate(
    path: Path, events: Sequence[Event], per_append: int, tasks: int, key: LogKey | None = None
) -> float:
    """Events/s through ``EventLog``: ``tasks`` tasks, each awaiting appends of ``per_append`` events in turn.
    Opening the log (and deriving an encrypted one's key) is not timed."""
    appends = [events[i : i + per_append] for i in range(0, len(events), per_append)]

    async def appender(log: EventLog, mine: Sequence[Sequence[Event]]) -> None:
        for batch in mine:
            await log.append(*batch)

    async with running_log(path, key) as log:
        start = time.perf_counter()
        async with trio.open_nursery() as workers:
            for k in range(tasks):
                workers.start_soon(appender, log, appends[k::tasks])
        return len(events) / (time.perf_counter() - start)


def bench_appends(root: Path, total: int, reps: int) -> None:
    """Figure 1: durable appends per second, ours against a raw batch insert of the same rows."""
    for variant, make in (("no_projection", alerts), ("with_projection", signals)):
        events = make(total)
        records = extend(EMPTY_HEAD, events)
        rows, projected = as_rows(records), projected_rows(records, events)
        ddl = schema.EVENTS + (schema.PROJECTIONS if projected else "")
        for per_append, tasks in ((1, 500), (10, 50)):
            ours, raw = [], []
            for _ in range(reps):
                with scratch(root) as path:
                    ours.append(trio.run(writer_rate, path, events, per_append, tasks))
                with scratch(root) as path, closing(raw_connect(path, ddl)) as conn:
                    raw.append(total / raw_insert(conn, rows, projected))
            shape = "single" if per_append == 1 else f"{per_append}_event"
            note(f"appends {variant} {shape}: {statistics.median(ours):,.0f}/s")
            baseline = RAW_BATCH + (f", with the {projected[0].split()[2]} rows" if projected else "")
            target = {"target": 40_000} if variant == "no_projection" else {}
            sizes = {"events": total, "concurrent_tasks": tasks, "events_per_append": per_append}
            figure(f"durable_appends/{variant}/{shape}_appends", "events/s", ours, raw, baseline, **target, **sizes)


async def writer_latency(path: Path, events: Sequence[Event], ticks: int) -> tuple[list[float], float]:
    """Open loop on a fixed schedule: every ``TICK`` start ``PER_TICK`` single-event appends, each its own task."""
    latencies: list[float] = []

    async def one(log: EventLog, event: Event) -> None:
        start = time.perf_counter()
        await log.append(event)
        latencies.append(time.perf_counter() - start)

    async with running_log(path) as log:
        wall, start = time.perf_counter(), trio.current_time()
        async with trio.open_nursery() as senders:
            for tick in range(ticks):
                await trio.sleep_until(start + tick * TICK)
                for event in events[tick * PER_TICK : (tick + 1) * PER_TICK]:
                    senders.start_soon(one, log, event)
        return latencies, len(latencies) / (time.perf_counter() - wall)


def raw_latency(path: Path, rows: Sequence[Row], ticks: int) -> tuple[list[float], list[float], float]:
    """The same schedule on a plain connection: every ``TICK`` one transaction of ``PER_TICK`` rows. Returns each
    commit's latency, each from its scheduled start (so with any wait behind a slow commit), and the achieved rate."""
    latencies, scheduled = [], []
    with closing(raw_connect(path, schema.EVENTS)) as conn:
        start = time.perf_counter()
        for tick in range(ticks):
            if (delay := (due := start + tick * TICK) - time.perf_counter()) > 0:
                time.sleep(delay)
            began = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(INSERT_EVENTS, rows[tick * PER_TICK : (tick + 1) * PER_TICK])
            conn.execute("COMMIT")
            latencies.append(time.perf_counter() - began)
            scheduled.append(time.perf_counter() - due)
        return latencies, scheduled, PER_TICK * len(latencies) / (time.perf_counter() - start)


def cuts_ms(latencies: list[float]) -> list[float]:  # in ms; [p - 1] is the p-th percentile
    return [cut * 1000 for cut in statistics.quantiles(latencies, n=100)]


def bench_latency(root: Path, seconds: float, reps: int) -> None:
    """Figure 2: commit latency p50 and p99 at a fixed offered load of PER_TICK / TICK events/s."""
    ticks = int(seconds / TICK)
    events = alerts(ticks * PER_TICK)
    rows = as_rows(extend(EMPTY_HEAD, events))
    ours_runs, raw_runs = [], []
    for _ in range(reps):
        with scratch(root) as path:
            ours_runs.append(trio.run(writer_latency, path, events, ticks))
        with scratch(root) as path:
            raw_runs.append(raw_latency(path, rows, ticks))
    ours, raw = [cuts_ms(run[0]) for run in ours_runs], [cuts_ms(run[0]) for run in raw_runs]
    raw_scheduled = [cuts_ms(run[1]) for run in raw_runs]
    offered = round(PER_TICK / TICK)
    baseline = f"sqlite3, one txn of {PER_TICK} rows every {TICK * 1000:g} ms, {DURABLE}; each commit's latency"
    rates = {"offered_rate": offered, "seconds": seconds}
    rates["achieved_rate_median"] = round(statistics.median(run[1] for run in ours_runs))
    rates["baseline_achieved_rate_median"] = round(statistics.median(run[2] for run in raw_runs))
    for p in (50, 99):
        extra: dict[str, Any] = {"target": 5.0, "at_most": True} if p == 99 else {}
        mine, theirs = [run[p - 1] for run in ours], [run[p - 1] for run in raw]
        open_loop = statistics.median(run[p - 1] for run in raw_scheduled)
        extra |= {"baseline_from_schedule_median": round(open_loop, 3)}
        extra["ratio_from_schedule"] = round(statistics.median(mine) / open_loop, 3)
        figure(f"commit_latency/p{p}@{offered}/s", "ms", mine, theirs, baseline, **extra, **rates)
    note(f"latency at {offered}/s: p99 {statistics.median(run[98] for run in ours):.2f} ms")


def raw_fetch(path: Path) -> float:
    """Rows/s of a plain full fetch of every column, in seq order."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        start = time.perf_counter()
        cursor, count = conn.execute(f"SELECT {COLUMNS} FROM events ORDER BY seq"), 0
        while chunk := cursor.fetchmany(8192):
            count += len(chunk)
        return count / (time.perf_counter() - start)


def build(
    root: Path, total: int, copies: int, key: LogKey | None = None, name: str = "brain.db"
) -> tuple[Path, ChainHead, list[float]]:
    """Write ``name`` with ``total`` chained Alerts, in chunks; each copy's raw insert rate is a baseline run."""
    path, head, seconds = root / name, EMPTY_HEAD, [0.0] * copies
    with tempfile.TemporaryDirectory(dir=root) as spare:
        paths = [path, *(Path(spare) / f"{k}.db" for k in range(1, copies))]
        conns = [raw_connect(p, schema.EVENTS, key) for p in paths]
        try:
            for first in range(1, total + 1, 50_000):
                records = extend(head, alerts(min(50_000, total + 1 - first), first))
                head, rows = ChainHead(seq=records[-1].seq, hash=records[-1].hash), as_rows(records)
                for k, conn in enumerate(conns):
                    seconds[k] += raw_insert(conn, rows)
        finally:
            for conn in conns:
                conn.close()
    return path, head, [total / s for s in seconds]


def bench_verify(root: Path, total: int, reps: int) -> None:
    """Figure 3: ``verify_database`` over ``total`` events, against a raw insert and a raw fetch of the rows."""
    started = time.perf_counter()
    path, head, inserts = build(root, total, copies=3)
    note(f"built {total:,} events (x3 for the insert baseline) in {time.perf_counter() - started:.1f} s")
    ours, fetches = [], []
    for _ in range(reps):
        start = time.perf_counter()
        verified = verify_database(path)
        ours.append(total / (time.perf_counter() - start))
        assert verified.head == head, verified
        fetches.append(raw_fetch(path))
    mine, fetch = statistics.median(ours), statistics.median(fetches)
    extra: dict[str, Any] = {"events": total, "target": 450_000, "fetch_ratio": round(mine / fetch, 3)}
    extra["fetch_baseline"] = f"sqlite3 SELECT {COLUMNS} FROM events ORDER BY seq, fetchmany"
    extra |= {"fetch_baseline_median": round(fetch, 3), "fetch_baseline_runs": rounded(fetches)}
    figure("verify/full_chain", "events/s", ours, inserts, f"{RAW_BATCH}, the same rows", **extra)
    note(f"verify: {mine:,.0f}/s")


def bench_encryption(root: Path, appends: int, verified: int, reps: int) -> None:
    """Figure 4: durable appends, verify, and opening a log, encrypted against plain, interleaved."""
    try:
        key = log_key(True, "a bench password")
    except StoreError as exc:
        note(f"no encryption figures: {exc}")
        return
    assert key is not None
    events = alerts(appends)
    for per_append, tasks in ((1, 500), (10, 50)):
        encrypted, plain = [], []
        for _ in range(reps):
            with scratch(root) as path:
                encrypted.append(trio.run(writer_rate, path, events, per_append, tasks, key))
            with scratch(root) as path:
                plain.append(trio.run(writer_rate, path, events, per_append, tasks))
        shape = "single" if per_append == 1 else f"{per_append}_event"
        note(f"encrypted appends {shape}: {statistics.median(encrypted):,.0f}/s")
        sizes = {"events": appends, "concurrent_tasks": tasks, "events_per_append": per_append}
        baseline = "the same appends to a plain log (SqliteStore, EventLog)"
        figure(f"encryption/{shape}_appends", "events/s", encrypted, plain, baseline, **sizes)

    started = time.perf_counter()
    encrypted_path, head, _ = build(root, verified, copies=1, key=key, name="encrypted.db")
    plain_path, plain_head, _ = build(root, verified, copies=1, name="plain.db")
    assert head == plain_head
    note(f"built {verified:,} events, encrypted and plain, in {time.perf_counter() - started:.1f} s")
    encrypted, plain = [], []
    opened: list[float] = []
    opened_plain: list[float] = []
    for _ in range(reps):
        for path, k, rates, opens in (
            (encrypted_path, key, encrypted, opened),
            (plain_path, None, plain, opened_plain),
        ):
            start = time.perf_counter()
            assert verify_database(path, k).head == head
            rates.append(verified / (time.perf_counter() - start))
            start = time.perf_counter()
            with closing(connect(path, k)) as conn:
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            opens.append((time.perf_counter() - start) * 1000)
    figure(
        "encryption/verify", "events/s", encrypted, plain, "verify_database of the same rows, plain", events=verified
    )
    kdf = "PBKDF2-HMAC-SHA512, 256,000 rounds (SQLCipher 4's default)"
    figure("encryption/open", "ms", opened, opened_plain, "opening the plain log", key_derivation=kdf)
    note(f"encrypted verify: {statistics.median(encrypted):,.0f}/s; open {statistics.median(opened):.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description="Event log benchmark: one JSON line per figure on stdout.")
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer runs (~30 s)")
    quick = parser.parse_args().quick
    with tempfile.TemporaryDirectory(prefix="b1e55ed-bench-") as directory:
        root = Path(directory)
        bench_appends(root, total=10_000 if quick else 40_000, reps=3 if quick else 5)
        bench_latency(root, seconds=1.5 if quick else 4.0, reps=3)
        bench_verify(root, total=100_000 if quick else 1_000_000, reps=3 if quick else 5)
        bench_encryption(
            root, appends=10_000 if quick else 40_000, verified=100_000 if quick else 1_000_000, reps=3 if quick else 5
        )


if __name__ == "__main__":
    main()
