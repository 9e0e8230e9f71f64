"""One timed replay, or one durable-floor append, in a fresh process: ``bench/replay.py`` starts this script.

``run``: an untimed warm-up replay (first-time imports and plug-in loading), then the timed one, both through
``b1e55ed.cli.main(["run", ...])`` in-process; the commits the run made are recorded (each ``SqliteStore.append``
call's first and last seq) so the floor can repeat the same transactions.
``floor``: the run's stored events (already encoded payloads, read from its brain.db and decoded before the clock
starts) appended to a fresh ``SqliteStore`` in the same transactions, each with its projection rows, as the writer
does it (``project`` then ``store.append``), with no actors.
Either prints one JSON object on stdout: seconds, and this process's peak RSS (``ru_maxrss``); ``run`` also its
children's, the feature store's writer processes (the largest of them).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import logging
import os
import pstats
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import closing, redirect_stdout
from pathlib import Path
from typing import Any

import trio

from b1e55ed.cli import EXIT_OK
from b1e55ed.cli import main as cli_main
from b1e55ed.eventlog import codec
from b1e55ed.eventlog.chain import Record
from b1e55ed.eventlog.projections import Upsert, project
from b1e55ed.eventlog.sqlite_store import SqliteStore

EXHAUSTED = "market data exhausted"  # actors.brain logs it once the last cycle has settled
STALLED = "did not settle"  # actors.brain: a cycle did not settle within its stall timeout (60 s)
EXIT_STALLED = 3
DATA_DIR = "B1E55ED_DATA_DIR"


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)  # KiB on Linux


class LastSettled(logging.Handler):
    """Notes when the brain says the market data is exhausted: the last cycle has settled."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.at: float | None = None

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if self.at is None and message.startswith(EXHAUSTED):
            self.at = time.perf_counter()
        elif STALLED in message:  # the timing is void, and the run may never end: say so and stop here
            answer = {"error": f"stalled: {message}", "peak_rss_mb": peak_rss_mb()}
            print(json.dumps(answer), file=sys.__stdout__, flush=True)
            os._exit(EXIT_STALLED)


class Commits:
    """Records the seq range of every ``SqliteStore.append``: the run's transactions."""

    def __init__(self) -> None:
        self.ranges: list[tuple[int, int]] = []
        self._original = SqliteStore.append

    def install(self) -> None:
        original, ranges = self._original, self.ranges

        async def append(store: SqliteStore, records: Sequence[Record], upserts: Sequence[Upsert]) -> None:
            await original(store, records, upserts)
            if records:
                ranges.append((records[0].seq, records[-1].seq))

        SqliteStore.append = append  # type: ignore[method-assign,assignment]

    def remove(self) -> None:
        SqliteStore.append = self._original  # type: ignore[method-assign]


def cli_run(db: Path, data: Path, argv: list[str], commits: Commits | None = None) -> tuple[float, float]:
    """``b1e55ed run`` in-process: seconds until the last settlement and until ``main`` returned. The feature
    store's Parquet parts go to ``data`` (the same path every run, since the config is hashed into the log),
    emptied afterwards."""
    watcher, brain = LastSettled(), logging.getLogger("actors.brain")
    brain.addHandler(watcher)
    os.environ[DATA_DIR] = str(data)
    if commits is not None:
        commits.install()
    try:
        with redirect_stdout(sys.stderr):  # the run summary goes to stderr
            start = time.perf_counter()
            code = cli_main(["run", "--db", str(db), *argv])
            end = time.perf_counter()
    finally:
        if commits is not None:
            commits.remove()
        brain.removeHandler(watcher)
        shutil.rmtree(data, ignore_errors=True)
    assert code == EXIT_OK, f"b1e55ed run exited {code}"
    assert watcher.at is not None, f"no {EXHAUSTED!r} log line: cannot time the last settlement"
    return watcher.at - start, end - start


def run(args: argparse.Namespace, argv: list[str], warmup: list[str]) -> dict[str, Any]:
    db, data = Path(args.db), Path(args.data_dir)
    rss_imported = peak_rss_mb()
    if warmup:
        with tempfile.TemporaryDirectory(dir=db.parent.parent) as scratch:
            (Path(scratch) / "db").mkdir()
            cli_run(Path(scratch) / "db" / "brain.db", data, warmup)
    commits = Commits()
    profiler = cProfile.Profile() if args.profile else None
    if profiler is not None:
        profiler.enable()
    settled, returned = cli_run(db, data, argv, commits)
    if profiler is not None:
        profiler.disable()
        for order in ("tottime", "cumulative"):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(args.profile)
            print(f"[bench] profile by {order} (the trio thread only):\n{out.getvalue()}", file=sys.stderr)
    return {"until_last_settled": settled, "cli_end_to_end": returned, "commits": commits.ranges,
            "peak_rss_mb": peak_rss_mb(), "rss_after_imports_mb": rss_imported,
            "feature_writer_peak_rss_mb": peak_rss_mb(resource.RUSAGE_CHILDREN)}  # fmt: skip


def read_records(db: Path) -> list[Record]:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        rows = conn.execute("SELECT seq, ts, kind, payload, prev_hash, hash FROM events ORDER BY seq").fetchall()
    return [Record(*row) for row in rows]


async def append_all(path: Path, groups: list[tuple[list[Record], list[Any]]]) -> float:
    """Seconds to append ``groups`` (records and their decoded events), one transaction each: ``project``, then
    ``store.append``, as the writer's commit does. Opening and closing the store are not timed."""
    store = await SqliteStore.open(path)
    try:
        start = time.perf_counter()
        for records, events in groups:
            upserts = [u for r, e in zip(records, events, strict=True) if (u := project(r.seq, r.hash, e))]
            await store.append(records, upserts)
        return time.perf_counter() - start
    finally:
        await store.close()


def floor(args: argparse.Namespace) -> dict[str, Any]:
    records = read_records(Path(args.source))
    events = [codec.decode(r.payload) for r in records]
    ranges: list[list[int]] = json.loads(Path(args.commits).read_text())
    by_seq = {r.seq: i for i, r in enumerate(records)}
    groups = []
    for first, last in ranges:
        i, j = by_seq[first], by_seq[last] + 1
        groups.append((records[i:j], events[i:j]))
    assert sum(len(g[0]) for g in groups) == len(records), "the transactions do not cover the stored events"
    seconds = trio.run(append_all, Path(args.db), groups)
    return {"seconds": seconds, "events": len(records), "commits": len(groups), "peak_rss_mb": peak_rss_mb()}


def main() -> None:
    parser = argparse.ArgumentParser(description="One replay or floor measurement; JSON on stdout.")
    parser.add_argument("mode", choices=("run", "floor"))
    parser.add_argument("--db", required=True, help="the database to write (its folder's parent is scratch space)")
    parser.add_argument("--data-dir", help="run: data_dir, the same for every run (the config is hashed)")
    parser.add_argument("--source", help="floor: the run's brain.db")
    parser.add_argument("--commits", help="floor: a JSON file of [first_seq, last_seq] per transaction")
    parser.add_argument("--argv", help="run: JSON list of `b1e55ed run` arguments after --db")
    parser.add_argument("--warmup", default="[]", help="run: JSON list of arguments for the untimed warm-up")
    parser.add_argument("--profile", type=int, default=0, help="run: cProfile it; print this many top costs")
    args = parser.parse_args()
    result = run(args, json.loads(args.argv), json.loads(args.warmup)) if args.mode == "run" else floor(args)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
