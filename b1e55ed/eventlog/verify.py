"""Fast verification of brain.db, on two cores.

``chain.verify_rows`` is the reference walk. Here the same checks are split so they run at once: the calling
thread re-hashes every payload (fetching only ``payload`` and ``hash``, since each column fetched costs as
much as a hash), while a second connection on a second thread has SQLite check, in C and without the GIL,
that seqs are contiguous, that each ``prev_hash`` is the previous ``hash``, and that the ``ts`` and ``kind``
columns agree with the payload. The first bad seq of all the checks is the answer.

Rows up to the head read at the start are immutable, so a live writer appending meanwhile changes nothing.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from contextlib import closing
from pathlib import Path

from b1e55ed.eventlog.chain import GENESIS, ChainBroken, ChainHead, Verified
from b1e55ed.eventlog.connect import LogKey, connect

_CHUNK = 8192

_LINK_CHECK = """
SELECT e.seq FROM events e LEFT JOIN events p ON p.seq = e.seq - 1
WHERE e.seq <= ?1 AND e.prev_hash IS NOT coalesce(p.hash, zeroblob(32))
ORDER BY e.seq LIMIT 1
"""
_HEADER_CHECK = """
SELECT seq FROM events
WHERE seq <= ?1 AND CASE WHEN json_valid(CAST(payload AS TEXT))
    THEN json_extract(CAST(payload AS TEXT), '$.ts') IS NOT ts
      OR json_extract(CAST(payload AS TEXT), '$.kind') IS NOT kind
    ELSE 1 END
ORDER BY seq LIMIT 1
"""
_FIRST_GAP = """
SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM events WHERE seq = 1) THEN 1 ELSE (
    SELECT e.seq + 1 FROM events e WHERE e.seq < ?1
    AND NOT EXISTS (SELECT 1 FROM events n WHERE n.seq = e.seq + 1) ORDER BY e.seq LIMIT 1) END
"""


def _connect(path: Path, key: LogKey | None) -> closing[sqlite3.Connection]:
    # mode=rw: never create a missing file; nothing here writes, but recovering a WAL after a crash may.
    return closing(connect(path, key, mode="rw"))


def _structure_faults(path: Path, key: LogKey | None, head: int) -> list[ChainBroken]:
    """Contiguity, linkage, and columns against payload: the checks SQLite can do alone."""
    faults = []
    with _connect(path, key) as conn:
        count = conn.execute("SELECT count(*) FROM events WHERE seq <= ?", (head,)).fetchone()[0]
        if count != head:
            gap = conn.execute(_FIRST_GAP, (head,)).fetchone()[0]
            faults.append(ChainBroken(gap, "missing"))
        if row := conn.execute(_LINK_CHECK, (head,)).fetchone():
            faults.append(ChainBroken(row[0], "prev_hash does not match the previous record's hash"))
        if row := conn.execute(_HEADER_CHECK, (head,)).fetchone():
            faults.append(ChainBroken(row[0], "ts or kind columns disagree with the payload, or it is not JSON"))
    return faults


def _hash_fault(conn: sqlite3.Connection, head: int) -> ChainBroken | None:
    """Re-hash each payload after the previous stored hash; the linkage itself is checked in SQL."""
    sha256 = hashlib.sha256
    cursor = conn.execute("SELECT payload, hash FROM events WHERE seq <= ? ORDER BY seq", (head,))
    prev, position = GENESIS, 0
    while rows := cursor.fetchmany(_CHUNK):
        for payload, digest in rows:
            position += 1
            if sha256(prev + position.to_bytes(8, "big") + payload).digest() != digest:
                return ChainBroken(position, "hash does not match the payload")
            prev = digest
    return None


def verify_database(path: Path, key: LogKey | None = None) -> Verified:
    """Check every record of the database at ``path`` (``key``: an encrypted log's); raise ``ChainBroken`` naming
    the first bad seq."""
    with _connect(path, key) as conn:
        row = conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        if row is None:
            return Verified(count=0, head=ChainHead(seq=0, hash=GENESIS))
        head = ChainHead(seq=row[0], hash=row[1])
        structure: list[ChainBroken] = []
        errors: list[BaseException] = []

        def check_structure() -> None:
            try:
                structure.extend(_structure_faults(path, key, head.seq))
            except BaseException as exc:
                errors.append(exc)

        worker = threading.Thread(target=check_structure, name="verify-structure")
        worker.start()
        try:
            hash_fault = _hash_fault(conn, head.seq)
        finally:
            worker.join()
    if errors:
        raise errors[0]
    faults = structure + ([hash_fault] if hash_fault else [])
    if faults:
        raise min(faults, key=lambda fault: fault.seq)
    return Verified(count=head.seq, head=head)
