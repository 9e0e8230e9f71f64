"""The latest records of a few kinds, kept in memory from the commits the API watches.

``/health`` wants the last settled cycle and the last snapshot on every call; in a log where those kinds are
rare, finding them is a scan. While ``following`` (the API's watcher sees every commit), answers come from
here; a kind is loaded from the store on first use, and everything falls back to the store otherwise.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping

from b1e55ed.eventlog.chain import Record
from b1e55ed.eventlog.store import EventStore


class RecentRecords:
    def __init__(self, store: EventStore, keep: Mapping[str, int]) -> None:
        self._store = store
        self._keep = dict(keep)
        self._records: dict[str, deque[Record]] = {}
        self.following = False

    async def latest(self, kind: str, limit: int) -> list[Record]:
        """Up to ``limit`` records of ``kind``, newest first."""
        keep = self._keep.get(kind, 0)
        if not self.following or limit > keep:
            return await self._store.recent([kind], limit=limit)
        if kind not in self._records:
            loaded = await self._store.recent([kind], limit=keep)
            if kind not in self._records and self.following:
                self._records[kind] = deque(reversed(loaded), maxlen=keep)
            else:
                return loaded[:limit]
        kept = self._records[kind]
        return [kept[-1 - i] for i in range(min(limit, len(kept)))]

    def follow(self) -> None:
        """Every commit will be ``observe``d from now on; what came before is loaded on demand."""
        self._records.clear()
        self.following = True

    def unfollow(self) -> None:
        """Commits may be missed (the watcher stopped, or was dropped): forget, and ask the store."""
        self.following = False
        self._records.clear()

    def observe(self, records: Iterable[Record]) -> None:
        for record in records:
            kept = self._records.get(record.kind)
            if kept is not None and (not kept or record.seq > kept[-1].seq):
                kept.append(record)
