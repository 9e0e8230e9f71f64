"""A supervised actor around a pure function: one message in, one report out, for every message.

Producers and strategies are pure functions; this is what makes them actors. An exception inside the function
becomes a "failed" report for that one message (and a log line), so one bad symbol cannot stall a cycle: the
cycle waits for every answer, and a failure is an answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, TypeVar

import trio

In = TypeVar("In")
Out = TypeVar("Out")

logger = logging.getLogger(__name__)


class PureActor(Generic[In, Out]):
    def __init__(
        self,
        name: str,
        inbox: trio.MemoryReceiveChannel[In],
        outbox: trio.MemorySendChannel[Out],
        compute: Callable[[In], Out],
        failed: Callable[[In, Exception], Out],
    ) -> None:
        self.name = name
        self._inbox = inbox
        self._outbox = outbox
        self._compute = compute
        self._failed = failed

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with self._inbox.clone() as inbox, self._outbox.clone() as outbox:
            task_status.started()
            async for message in inbox:
                try:
                    report = self._compute(message)
                except Exception as exc:
                    logger.exception("%s failed on %r", self.name, message)
                    report = self._failed(message, exc)
                await outbox.send(report)
