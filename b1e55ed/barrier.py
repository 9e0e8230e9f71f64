"""The one rule between the brain and the OMS: a cycle starts only once the one before it has settled."""

from __future__ import annotations

import trio


class CycleBarrier:
    """The brain starts cycle N+1 only after the OMS settled cycle N (its events committed).

    Driven by history with a log that commits once per batch, the brain may hand on the next batch as soon as the
    OMS has *queued* the last one's events: the producers, the enricher and the strategies compute it while the batch
    commits, and the OMS logs none of it before the batch it follows has settled."""

    def __init__(self, settled: int = 0) -> None:
        self.settled = settled
        self.queued = settled
        self._waiters = trio.lowlevel.ParkingLot()

    def queue(self, cycle: int) -> None:
        self.queued = max(self.queued, cycle)
        self._waiters.unpark_all()

    def settle(self, cycle: int) -> None:
        self.settled = max(self.settled, cycle)
        self.queued = max(self.queued, cycle)
        self._waiters.unpark_all()

    async def wait(self, cycle: int) -> None:
        while self.settled < cycle:
            await self._waiters.park()

    async def wait_queued(self, cycle: int) -> None:
        while self.queued < cycle:
            await self._waiters.park()
