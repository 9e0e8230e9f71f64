"""The feature store's writer process: it turns the log's signals and snapshots into Parquet parts, off the trading
process (its Python never takes the trading loop's interpreter lock).

``python -m b1e55ed.feature_parts ROOT PART_CYCLES`` reads batches of the log's signal and snapshot records from
stdin, in seq order: each a 4-byte big-endian length and the msgpack of its ``(seq, payload)`` list
(``encode_batch``); it decodes the payloads itself. Every complete part is written as
soon as the next one starts; when stdin ends (the actor stopped, or its process died) the rest is written, and the
process exits: 0 when all is on disk, 1 when a write failed. Each part goes to its day's folder atomically (a
temporary file, then a rename), in seq order, stopping at a failure: the parts on disk never skip a cycle, so a
resume, which starts after the last part on disk, writes again whatever was not. One part per day, or per
``PART_CYCLES`` cycles. Each cycle's features are checked against the ``features_hash`` the enricher logged; a
mismatch is reported. Reports are lines on stdout, ``LEVEL message`` (``logging`` level numbers). It ignores
SIGINT and SIGTERM, which reach the trading process's whole group: its actor stops it by ending its input, once
that process has stopped trading, so it writes everything it was sent.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import struct
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, TextIO

import msgspec

from b1e55ed.eventlog.chain import Record
from b1e55ed.features import Snapshot, snapshot_frame, snapshot_hash
from b1e55ed.messages import Signal, SignalRecorded, SnapshotRecorded

_PART = re.compile(r"^(\d+)-(\d+)\.parquet$")
_DAY_MS = 86_400_000
_LENGTH = struct.Struct(">I")

Followed = SignalRecorded | SnapshotRecorded
_encoder = msgspec.msgpack.Encoder()
_frame_decoder = msgspec.msgpack.Decoder(list[tuple[int, bytes]])
_payload_decoder = msgspec.json.Decoder(Followed)


def encode_batch(records: Sequence[Record]) -> bytes:
    """One frame of the writer's input: these signal and snapshot records, in seq order."""
    body = _encoder.encode([(record.seq, record.payload) for record in records])
    return _LENGTH.pack(len(body)) + body


def read_batches(stream: BinaryIO) -> Iterator[list[tuple[int, Followed]]]:
    """The frames on ``stream``, decoded, until it ends; a frame cut short at the end (its sender died) is
    dropped."""
    while len(header := stream.read(_LENGTH.size)) == _LENGTH.size:
        (size,) = _LENGTH.unpack(header)
        body = stream.read(size)
        if len(body) < size:
            return
        yield [(seq, _payload_decoder.decode(payload)) for seq, payload in _frame_decoder.decode(body)]


def written_up_to(root: Path) -> int:
    """The last seq already on disk under ``root``: the store resumes after it."""
    last = 0
    for file in root.glob("date=*/*.parquet"):
        if match := _PART.match(file.name):
            last = max(last, int(match.group(2)))
    return last


@dataclass
class _Part:
    """One part file's cycles: one day's, ``part_cycles`` at most, from seq ``first`` to ``last``."""

    day: str
    first: int
    last: int = 0
    snapshots: list[tuple[int, SnapshotRecorded, list[Signal]]] = field(default_factory=list)  # seq, its signals


class PartWriter:
    """Cycles into parts, and parts onto disk under ``root`` (one chain's folder)."""

    def __init__(self, root: Path, part_cycles: int, report: TextIO) -> None:
        self._root = root
        self._part_cycles = part_cycles
        self._report = report
        self._parts: list[_Part] = []  # in seq order; only the last can still grow
        self._signals: list[Signal] = []  # the signals since the last snapshot
        self._day = (-1, "")  # the last snapshot's day: (days since the epoch, its date)

    def follow(self, items: Sequence[tuple[int, Followed]]) -> None:
        for seq, event in items:
            if isinstance(event, SignalRecorded):
                self._signals.append(event.signal)
            else:
                self._add(seq, event, self._signals)
                self._signals = []

    def write_complete(self) -> None:
        """Every part but the last, which may still grow."""
        self._write(len(self._parts) - 1)

    def write_all(self) -> None:
        self._write(len(self._parts))

    def _add(self, seq: int, snapshot: SnapshotRecorded, signals: list[Signal]) -> None:
        days = snapshot.as_of // _DAY_MS
        if days != self._day[0]:
            self._day = (days, datetime.fromtimestamp(snapshot.as_of / 1000, UTC).strftime("%Y-%m-%d"))
        day = self._day[1]
        if not self._parts or self._parts[-1].day != day or len(self._parts[-1].snapshots) >= self._part_cycles:
            self._parts.append(_Part(day, seq))
        part = self._parts[-1]
        part.snapshots.append((seq, snapshot, signals))
        part.last = seq

    def _write(self, count: int) -> None:
        """The first ``count`` parts, each into its day's folder atomically, in seq order; a part leaves the list
        only once it is on disk, so a failed write raises with it, and everything after it, still here."""
        while count > 0 and self._parts:
            part = self._parts[0]
            path = self._root / f"date={part.day}" / f"{part.first:012d}-{part.last:012d}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            snapshot_frame([self._checked(*cycle) for cycle in part.snapshots]).write_parquet(tmp)
            os.replace(tmp, path)
            del self._parts[0]
            count -= 1

    def _checked(self, seq: int, snapshot: SnapshotRecorded, signals: list[Signal]) -> Snapshot:
        """One cycle's row data, with its features hash recomputed; a mismatch with the logged one is reported."""
        features_hash = snapshot_hash(snapshot.cycle, snapshot.as_of, snapshot.context, signals)
        if snapshot.features_hash and snapshot.features_hash != features_hash:
            mismatch = f"cycle {snapshot.cycle}: features do not match the hash in the log (seq {seq})"
            _report(self._report, logging.ERROR, mismatch)
        return snapshot.cycle, snapshot.as_of, snapshot.context, signals, features_hash


def _report(stream: TextIO, level: int, message: str) -> None:
    with contextlib.suppress(OSError):  # nobody reads it any more (the actor's process died): the parts matter more
        print(level, message, file=stream, flush=True)


def main(argv: Sequence[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    root, part_cycles = Path(argv[0]), int(argv[1])
    writer = PartWriter(root, part_cycles, sys.stdout)
    try:
        for items in read_batches(sys.stdin.buffer):
            writer.follow(items)
            writer.write_complete()
        writer.write_all()
    except OSError as exc:
        _report(sys.stdout, logging.ERROR, f"a part could not be written: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
