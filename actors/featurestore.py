"""The feature store: every cycle's enriched signals and context, frozen as Parquet partitioned by date.

This actor follows the event log from the last sequence number already on disk and hands the signal and snapshot
records it follows, their stored bytes, to a writer process (``b1e55ed.feature_parts``), which decodes them, builds
the rows, checks every cycle against the ``features_hash`` the enricher logged, and writes the parts: that work
never takes the trading loop's interpreter lock, and it is off the trading path. What it has to catch up on
(everything after the last part on disk, at its start) it reads from the store; what commits after that the
event log's writer hands over in memory (``EventLog.tap``). If it falls so far behind that the tap drops records, it
reads those from the store as well. When it stops, or when this process dies, the writer process's input ends: it writes
the rest and exits, so what committed is on disk, and a restart resumes after the last part there.
"""

from __future__ import annotations

import fcntl
import logging
import subprocess
import sys
from pathlib import Path
from typing import TextIO

import trio

from b1e55ed.eventlog.codec import KINDS
from b1e55ed.eventlog.writer import EventLog, Tap
from b1e55ed.feature_parts import encode_batch, written_up_to
from b1e55ed.messages import SignalRecorded, SnapshotRecorded

logger = logging.getLogger(__name__)

_FOLLOWED = (SignalRecorded, SnapshotRecorded)
_FOLLOWED_KINDS = frozenset(KINDS[cls] for cls in _FOLLOWED)
_IDLE_CHECK_S = 0.2
_LOCK_POLL_S = 0.1
_FLUSH_TIMEOUT_S = 120.0  # a cancelled store still lets its writer write what it was sent, up to this long


class FeatureWriterFailed(OSError):
    """The writer process ended before its input did, or without writing everything: its last report says why
    (a full disk, say). Not a fault of ours: the supervisor restarts the store, which resumes after the last part."""


class FeatureStore:
    def __init__(
        self, *, log: EventLog, root: Path, stopping: trio.Event, part_cycles: int = 1000, tap_limit: int = 100_000
    ) -> None:
        """``tap_limit``: how many events the writer holds for this store before it drops them, and this store reads
        them from the log instead (see ``EventLog.tap``). ``part_cycles``: the most cycles in one part file."""
        self._log = log
        self._tap_limit = tap_limit
        self._stopping = stopping
        self._root = root
        self._part_cycles = part_cycles

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        first = await self._log.store.read(0, 1)
        while not first:
            await self._log.wait_beyond(0)
            first = await self._log.store.read(0, 1)
        # One folder per chain, named by its first record: another database's parts never mix with these.
        root = self._root / f"chain={first[0].hash.hex()[:16]}"
        # One writer process per folder, or two would write overlapping parts: one that outlived its trading
        # process (still writing what it was sent) holds the lock until it exits. The lock is this open file, which
        # the writer process inherits: held while either has it open.
        root.mkdir(parents=True, exist_ok=True)
        with (root / ".lock").open("a") as lock:
            while not _locked(lock):  # noqa: ASYNC110 (another process holds it: nothing here can signal its release)
                await trio.sleep(_LOCK_POLL_S)
            await self._follow(root, lock)

    async def _follow(self, root: Path, lock: TextIO) -> None:
        after = written_up_to(root)
        # Opened before the writer process starts: what commits meanwhile is handed over, not read back.
        with self._log.tap(*_FOLLOWED, limit=self._tap_limit) as tap:
            command = [sys.executable, "-m", "b1e55ed.feature_parts", str(root), str(self._part_cycles)]
            process = await trio.lowlevel.open_process(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, pass_fds=(lock.fileno(),)
            )
            writer, reports = process.stdin, process.stdout
            assert writer is not None
            assert reports is not None
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(_watch, process, reports)
                    await self._forward(tap, after, writer)
                    await writer.aclose()  # the end of its input: it writes the rest and exits
            finally:
                with trio.CancelScope(shield=True):
                    await writer.aclose()
                    with trio.move_on_after(_FLUSH_TIMEOUT_S) as waited:
                        await _relay(reports)
                        await process.wait()
                    if waited.cancelled_caught:
                        process.kill()

    async def _forward(self, tap: Tap, after: int, writer: trio.abc.SendStream) -> None:
        """What commits after ``after``, signals and snapshots, to the writer process, until told to stop."""
        while True:
            if after < tap.since:
                records = await self._log.store.read(after, min(5_000, tap.since - after))
                if not records:  # not expected: ``since`` is committed
                    if self._stopping.is_set():
                        return
                    with trio.move_on_after(_IDLE_CHECK_S):
                        await self._log.wait_beyond(after)
                    continue
                followed = [record for record in records if record.kind in _FOLLOWED_KINDS]
                after = records[-1].seq
            else:
                taken = tap.take()
                followed = [record for record in taken if record.seq > after]  # not read from the log already
                after = max(after, tap.position)
                if not taken:
                    if self._stopping.is_set():
                        return  # caught up with a log that takes no new cycles
                    with trio.move_on_after(_IDLE_CHECK_S):
                        await self._log.wait_beyond(after)
                    continue
            if followed:
                try:
                    await writer.send_all(encode_batch(followed))
                except trio.BrokenResourceError:
                    await trio.sleep_forever()  # it exited: ``_watch`` raises with its reason


def _locked(lock: TextIO) -> bool:
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


async def _watch(process: trio.Process, reports: trio.abc.ReceiveStream) -> None:
    """Log the writer process's reports; when it exits, raise unless it wrote everything."""
    last = await _relay(reports)
    if (code := await process.wait()) != 0:
        raise FeatureWriterFailed(f"the feature store's writer process exited with {code}: {last or 'no report'}")


async def _relay(reports: trio.abc.ReceiveStream) -> str:
    """Each ``LEVEL message`` line to this module's logger, until the stream ends; the last message."""
    pending, last = b"", ""
    async for chunk in reports:
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            level, _, last = line.decode(errors="replace").partition(" ")
            logger.log(int(level) if level.isdigit() else logging.ERROR, "%s", last)
    return last
