"""The feature store: every cycle's enriched signals and context, frozen as Parquet partitioned by date.

It follows the event log from the last sequence number already on disk, so it is off the trading path, never loses
a cycle across a crash (what was not flushed is read again), and writes each part atomically (a temporary file,
then a rename): one part per day, or per ``part_cycles`` cycles, and the rest when it stops. What it has to catch up
on (everything after the last part on disk, at its start) it reads back from the store and decodes; what commits
after that the writer hands over in memory (``EventLog.tap``): the very events that were appended, with nothing to
read or decode again. If it falls so far behind that the tap drops them, it reads those from the store as well.
The parts completed by each pass are written together on a worker thread: building their rows, checking each
cycle against the ``features_hash`` the enricher put in the log, and the Parquet encoding run off the actors' trio
loop (the Python of it still takes turns with them for the interpreter lock; the Parquet encoding does not).
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import trio

from b1e55ed.eventlog.writer import EventLog
from b1e55ed.features import Snapshot, snapshot_frame, snapshot_hash
from b1e55ed.messages import Event, Signal, SignalRecorded, SnapshotRecorded

logger = logging.getLogger(__name__)

_FOLLOWED = frozenset({"signal", "snapshot"})

_IDLE_CHECK_S = 0.2
_PART = re.compile(r"^(\d+)-(\d+)\.parquet$")
_DAY_MS = 86_400_000


@dataclass
class _Part:
    """One part file's cycles: one day's, ``part_cycles`` at most, from seq ``first`` to ``last``."""

    day: str
    first: int
    last: int = 0
    snapshots: list[tuple[int, SnapshotRecorded, list[Signal]]] = field(default_factory=list)  # seq, its signals
    written: bool = False


class FeatureStore:
    def __init__(
        self, *, log: EventLog, root: Path, stopping: trio.Event, part_cycles: int = 1000, tap_limit: int = 100_000
    ) -> None:
        """``tap_limit``: how many events the writer holds for this store before it drops them, and this store reads
        them from the log instead (see ``EventLog.tap``)."""
        self._log = log
        self._tap_limit = tap_limit
        self._stopping = stopping
        self._root = root
        self._part_cycles = part_cycles
        self._parts: list[_Part] = []  # in seq order; only the last can still grow
        self._signals: list[Signal] = []  # the signals since the last snapshot
        self._day = (-1, "")  # the last snapshot's day: (days since the epoch, its date)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        first = await self._log.store.read(0, 1)
        while not first:
            await self._log.wait_beyond(0)
            first = await self._log.store.read(0, 1)
        # One folder per chain, named by its first record: another database's parts never mix with these.
        self._root = self._root / f"chain={first[0].hash.hex()[:16]}"
        after = self._written_up_to()
        self._signals = []
        # What commits from now on comes from the writer in memory, as it was appended; what came before (since the
        # last part on disk), or what the tap dropped while this fell behind, is read from the log and decoded.
        with self._log.tap(SignalRecorded, SnapshotRecorded, limit=self._tap_limit) as tap:
            try:
                while True:
                    if after < tap.since:
                        records = await self._log.store.read(after, min(5_000, tap.since - after))
                        if not records:  # not expected: ``since`` is committed
                            if self._stopping.is_set():
                                return
                            with trio.move_on_after(_IDLE_CHECK_S):
                                await self._log.wait_beyond(after)
                            continue
                        for record in records:
                            if record.kind in _FOLLOWED:  # decoding only what it keeps
                                self._follow(record.seq, record.event())
                        after = records[-1].seq
                    else:
                        items = tap.take()
                        for seq, event in items:
                            if seq > after:  # not read from the log already
                                self._follow(seq, event)
                        after = max(after, tap.position)
                        if not items:
                            if self._stopping.is_set():
                                return  # caught up with a log that takes no new cycles: flush, and done
                            with trio.move_on_after(_IDLE_CHECK_S):
                                await self._log.wait_beyond(after)
                            continue
                    if len(self._parts) > 1:  # every part but the last is complete
                        complete = self._parts[:-1]
                        await trio.to_thread.run_sync(self._write, complete)
                        del self._parts[: len(complete)]  # only once written: a failed write leaves them here
            finally:
                # Synchronous: cancellation cannot interrupt it. What a failed write left unwritten goes first, in seq
                # order, stopping at a failure: the parts on disk never skip a cycle (a resume starts after the last).
                self._write(self._parts)
                self._parts = []

    def _follow(self, seq: int, event: Event) -> None:
        if isinstance(event, SignalRecorded):
            self._signals.append(event.signal)
        elif isinstance(event, SnapshotRecorded):
            self._add(seq, event, self._signals)
            self._signals = []

    def _add(self, seq: int, snapshot: SnapshotRecorded, signals: list[Signal]) -> None:
        days = snapshot.as_of // _DAY_MS
        if days != self._day[0]:
            self._day = (days, datetime.fromtimestamp(snapshot.as_of / 1000, UTC).strftime("%Y-%m-%d"))
        day = self._day[1]
        if not self._parts or self._parts[-1].day != day or len(self._parts[-1].snapshots) >= self._part_cycles:
            self._parts.append(_Part(day, seq))
        part = self._parts[-1]
        part.snapshots.append((seq, snapshot, signals))  # checked and turned into rows by ``_write``
        part.last = seq

    def _write(self, parts: list[_Part]) -> None:
        """Each part into its day's folder, atomically, in seq order (so a resume after a crash starts right).
        Each cycle's features are checked against the hash in its snapshot here, from the very objects its rows
        are made of: on the worker thread, with the Parquet encoding, rather than on the trading actors' loop."""
        for part in parts:
            if part.written:
                continue
            path = self._root / f"date={part.day}" / f"{part.first:012d}-{part.last:012d}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            snapshot_frame([_checked(*cycle) for cycle in part.snapshots]).write_parquet(tmp)
            os.replace(tmp, path)
            part.written = True
            part.snapshots = []  # freed here, on the worker thread, rather than on the loop

    def _written_up_to(self) -> int:
        """The last seq already on disk: the store resumes after it."""
        last = 0
        for file in self._root.glob("date=*/*.parquet"):
            if match := _PART.match(file.name):
                last = max(last, int(match.group(2)))
        return last


def _checked(seq: int, snapshot: SnapshotRecorded, signals: list[Signal]) -> Snapshot:
    """One cycle's row data, with its features hash recomputed; a mismatch with the logged one is an error."""
    features_hash = snapshot_hash(snapshot.cycle, snapshot.as_of, snapshot.context, signals)
    if snapshot.features_hash and snapshot.features_hash != features_hash:
        logger.error("cycle %d: features do not match the hash in the log (seq %d)", snapshot.cycle, seq)
    return snapshot.cycle, snapshot.as_of, snapshot.context, signals, features_hash
