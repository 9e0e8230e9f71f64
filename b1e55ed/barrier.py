"""The one rule between the brain and the OMS: a cycle starts only once the one before it has settled."""

from __future__ import annotations

import trio


class CycleBarrier:
    """The brain starts cycle N+1 only after the OMS settled cycle N (its events committed)."""

    def __init__(self, settled: int = 0) -> None:
        self.settled = settled
        self._waiters = trio.lowlevel.ParkingLot()

    def settle(self, cycle: int) -> None:
        self.settled = max(self.settled, cycle)
        self._waiters.unpark_all()

    async def wait(self, cycle: int) -> None:
        while self.settled < cycle:
            await self._waiters.park()
