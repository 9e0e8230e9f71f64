"""The feature store: every cycle's enriched signals and context, frozen as Parquet partitioned by date.

It reads the event log from the last sequence number already on disk, so it is off the trading path, never loses a
cycle across a crash (what was not flushed is read again), and writes each part atomically (a temporary file,
then a rename): one part per day, or per ``part_cycles`` cycles, and the rest when it stops. The parts completed by
each read from the log are written together on a worker thread, so the Parquet encoding runs beside the trading
actors rather than between them. Each cycle's rows are checked against the ``features_hash`` the enricher put in
the log.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import trio

from b1e55ed.eventlog.writer import EventLog
from b1e55ed.features import snapshot_hash, snapshot_rows
from b1e55ed.messages import Signal, SignalRecorded, SnapshotRecorded

logger = logging.getLogger(__name__)

_FOLLOWED = frozenset({"signal", "snapshot"})

_IDLE_CHECK_S = 0.2
_PART = re.compile(r"^(\d+)-(\d+)\.parquet$")


@dataclass
class _Part:
    """One part file's rows: one day's cycles, ``part_cycles`` at most, from seq ``first`` to ``last``."""

    day: str
    first: int
    last: int = 0
    cycles: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)


class FeatureStore:
    def __init__(self, *, log: EventLog, root: Path, stopping: trio.Event, part_cycles: int = 1000) -> None:
        self._log = log
        self._stopping = stopping
        self._root = root
        self._part_cycles = part_cycles
        self._parts: list[_Part] = []  # in seq order; only the last can still grow

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        first = await self._log.store.read(0, 1)
        while not first:
            await self._log.wait_beyond(0)
            first = await self._log.store.read(0, 1)
        # One folder per chain, named by its first record: another database's parts never mix with these.
        self._root = self._root / f"chain={first[0].hash.hex()[:16]}"
        after = self._written_up_to()
        signals: list[Signal] = []
        try:
            while True:
                records = await self._log.store.read(after, 5_000)
                if not records:
                    if self._stopping.is_set():
                        return  # caught up with a log that takes no new cycles: flush, and done
                    with trio.move_on_after(_IDLE_CHECK_S):
                        await self._log.wait_beyond(after)
                    continue
                for record in records:
                    if record.kind not in _FOLLOWED:
                        continue  # decoding only what it keeps: it shares the replay's CPU
                    event = record.event()
                    if isinstance(event, SignalRecorded):
                        signals.append(event.signal)
                    elif isinstance(event, SnapshotRecorded):
                        self._add(record.seq, event, signals)
                        signals = []
                after = records[-1].seq
                if len(self._parts) > 1:  # every part but the last is complete
                    complete, self._parts = self._parts[:-1], self._parts[-1:]
                    await trio.to_thread.run_sync(self._write, complete)
        finally:
            self._write(self._parts)  # synchronous: cancellation cannot interrupt it
            self._parts = []

    def _add(self, seq: int, snapshot: SnapshotRecorded, signals: list[Signal]) -> None:
        features_hash = snapshot_hash(snapshot.cycle, snapshot.as_of, snapshot.context, signals)
        if snapshot.features_hash and snapshot.features_hash != features_hash:
            logger.error("cycle %d: features do not match the hash in the log (seq %d)", snapshot.cycle, seq)
        day = datetime.fromtimestamp(snapshot.as_of / 1000, UTC).strftime("%Y-%m-%d")
        if not self._parts or self._parts[-1].day != day or self._parts[-1].cycles >= self._part_cycles:
            self._parts.append(_Part(day, seq))
        part = self._parts[-1]
        part.rows += snapshot_rows(snapshot.cycle, snapshot.as_of, snapshot.context, signals, features_hash)
        part.last = seq
        part.cycles += 1

    def _write(self, parts: list[_Part]) -> None:
        """Each part into its day's folder, atomically, in seq order (so a resume after a crash starts right)."""
        for part in parts:
            path = self._root / f"date={part.day}" / f"{part.first:012d}-{part.last:012d}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            pl.DataFrame(part.rows).write_parquet(tmp)
            os.replace(tmp, path)

    def _written_up_to(self) -> int:
        """The last seq already on disk: the store resumes after it."""
        last = 0
        for file in self._root.glob("date=*/*.parquet"):
            if match := _PART.match(file.name):
                last = max(last, int(match.group(2)))
        return last
