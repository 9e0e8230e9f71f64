"""The event store interface, and the in-memory store used by autojump-clock tests.

A store keeps records the writer has already chained, plus the projections written with them. It never
computes hashes: the writer owns the chain head.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import trio

from b1e55ed.errors import Fault, WorldError
from b1e55ed.eventlog.chain import EMPTY_HEAD, ChainHead, Record, Verified, verify_rows
from b1e55ed.eventlog.projections import PROJECTION_TABLES, Upsert, project


class StoreError(WorldError):
    """The store cannot be opened or written: the message says which file and why."""


class StorageFailed(WorldError):
    """A commit failed while running (a full or failing disk): trading halted, the halt is kept beside the database,
    and the run stopped. The message says what the log holds."""


class HeadMismatch(Fault, StoreError):
    """An append that does not follow the stored head: another writer, or a writer that lost its place."""


class EventStore(Protocol):
    async def head(self) -> ChainHead: ...

    async def append(self, records: Sequence[Record], upserts: Sequence[Upsert]) -> None:
        """Store ``records`` and apply ``upserts`` in one transaction: all of them, or none."""
        ...

    async def read(self, after: int = 0, limit: int = 1000) -> list[Record]:
        """Records with ``seq > after``, in order, at most ``limit``."""
        ...

    async def consumer_position(self, consumer: str) -> int:
        """The last seq ``consumer`` recorded as processed (0 if none)."""
        ...

    async def last_of_kind(self, kind: str) -> Record | None:
        """The most recent record of one kind, or None."""
        ...

    async def projection(self, table: str) -> list[dict[str, Any]]:
        """Every row of one projection table, in insertion order."""
        ...

    async def rows(
        self,
        table: str,
        *,
        equals: Mapping[str, object] | None = None,
        at_least: Mapping[str, int] | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Rows of one projection table, newest first: each ``equals`` column equal, each ``at_least`` column >=."""
        ...

    async def recent(
        self, kinds: Sequence[str], *, limit: int = 100, field: tuple[str, str | int] | None = None
    ) -> list[Record]:
        """The latest records of these kinds, newest first; with ``field`` (name, value), only those whose
        payload's top-level ``name`` equals ``value``."""
        ...

    async def verify(self) -> Verified: ...

    async def rebuild(self) -> int:
        """Recreate every projection from the records; return how many records were replayed."""
        ...

    async def close(self) -> None: ...


def projections_of(records: Sequence[Record]) -> list[Upsert]:
    upserts = []
    for record in records:
        upsert = project(record.seq, record.hash, record.event())
        if upsert is not None:
            upserts.append(upsert)
    return upserts


class MemoryStore:
    """Everything in process memory; no thread, so it is safe under the autojump clock."""

    def __init__(self) -> None:
        self._records: list[Record] = []
        self._tables: dict[str, dict[Any, dict[str, Any]]] = {name: {} for name in PROJECTION_TABLES}
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise trio.ClosedResourceError("the store is closed")

    async def head(self) -> ChainHead:
        await trio.lowlevel.checkpoint()
        self._check_open()
        if not self._records:
            return EMPTY_HEAD
        last = self._records[-1]
        return ChainHead(seq=last.seq, hash=last.hash)

    async def append(self, records: Sequence[Record], upserts: Sequence[Upsert]) -> None:
        await trio.lowlevel.checkpoint()
        self._check_open()
        head = await self.head()
        if records and (records[0].seq != head.seq + 1 or records[0].prev_hash != head.hash):
            raise HeadMismatch(f"append at seq {records[0].seq} does not follow the stored head (seq {head.seq})")
        staged: dict[str, dict[Any, dict[str, Any]]] = {}
        for upsert in upserts:
            if upsert.table not in staged:
                staged[upsert.table] = dict(self._tables[upsert.table])
            _apply(staged, upsert)
        self._records.extend(records)
        self._tables.update(staged)

    async def read(self, after: int = 0, limit: int = 1000) -> list[Record]:
        await trio.lowlevel.checkpoint()
        self._check_open()
        start = max(after, 0)
        return self._records[start : start + limit]

    async def consumer_position(self, consumer: str) -> int:
        await trio.lowlevel.checkpoint()
        row = self._tables["consumer_positions"].get(consumer)
        return int(row["position"]) if row else 0

    async def last_of_kind(self, kind: str) -> Record | None:
        await trio.lowlevel.checkpoint()
        return next((record for record in reversed(self._records) if record.kind == kind), None)

    async def projection(self, table: str) -> list[dict[str, Any]]:
        await trio.lowlevel.checkpoint()
        if table not in self._tables:
            raise KeyError(f"no projection table {table!r}")
        return [dict(row) for row in self._tables[table].values()]

    async def rows(
        self,
        table: str,
        *,
        equals: Mapping[str, object] | None = None,
        at_least: Mapping[str, int] | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        await trio.lowlevel.checkpoint()
        if table not in self._tables:
            raise KeyError(f"no projection table {table!r}")
        found: list[dict[str, Any]] = []
        for row in reversed(self._tables[table].values()):
            if len(found) >= limit:
                break
            if equals and any(row.get(column) != value for column, value in equals.items()):
                continue
            if at_least and any((v := row.get(column)) is None or v < bound for column, bound in at_least.items()):
                continue
            found.append(dict(row))
        return found

    async def recent(
        self, kinds: Sequence[str], *, limit: int = 100, field: tuple[str, str | int] | None = None
    ) -> list[Record]:
        await trio.lowlevel.checkpoint()
        found: list[Record] = []
        for record in reversed(self._records):
            if len(found) >= limit:
                break
            if record.kind not in kinds:
                continue
            if field is not None and getattr(record.event(), field[0], None) != field[1]:
                continue
            found.append(record)
        return found

    async def verify(self) -> Verified:
        await trio.lowlevel.checkpoint()
        return verify_rows((r.seq, r.ts, r.kind, r.payload, r.prev_hash, r.hash) for r in self._records)

    async def rebuild(self) -> int:
        await trio.lowlevel.checkpoint()
        self._tables = {name: {} for name in PROJECTION_TABLES}
        for upsert in projections_of(self._records):
            _apply(self._tables, upsert)
        return len(self._records)

    async def close(self) -> None:
        self._closed = True


def _apply(tables: dict[str, dict[Any, dict[str, Any]]], upsert: Upsert) -> None:
    rows = tables[upsert.table]
    key = upsert.row[upsert.key]
    existing = rows.get(key)
    if existing is None:
        rows[key] = dict(upsert.row)
    elif upsert.update:
        rows[key] = existing | {column: upsert.row[column] for column in upsert.update}
    else:
        raise StoreError(f"{upsert.table}: duplicate {upsert.key} {key!r}")
