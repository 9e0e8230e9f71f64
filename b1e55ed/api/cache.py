"""Encoded answers of the read routes, kept until the next commit: between commits they cannot change.

Dashboards and scripts poll the same few queries; live, commits come once a cycle. While ``enabled`` (the API
sees every commit through the hub), an answer is served from here until any record is committed. An answer
computed across a commit is not kept.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable


class ResponseCache:
    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._version = 0
        self.enabled = False

    def invalidate(self) -> None:
        self._version += 1
        self._entries.clear()

    async def get(self, key: str, compute: Callable[[], Awaitable[bytes]]) -> bytes:
        if not self.enabled:
            return await compute()
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
            return found
        version = self._version
        body = await compute()
        if version == self._version and self.enabled:
            self._entries[key] = body
            if len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return body
