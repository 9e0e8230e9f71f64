"""Request weight: how public APIs rate-limit a client per IP, and the token bucket that keeps us inside it."""

from __future__ import annotations

import trio


class WeightBudget:
    """A token bucket of request weight: ``weight_per_window`` refills evenly over ``window_s`` seconds.

    Time is ``trio.current_time()``, so autojump-clock tests see the waits in virtual time. Waiters are served
    first come, first served (a ``trio.Lock`` is fair), so a burst of candle requests cannot starve the mids poll
    for long. A request heavier than the whole bucket waits for a full bucket and leaves it in debt.
    """

    def __init__(self, weight_per_window: int = 1200, window_s: float = 60.0) -> None:
        if weight_per_window <= 0 or window_s <= 0:
            raise ValueError(f"budget must be positive: {weight_per_window} weight per {window_s} s")
        self.capacity = float(weight_per_window)
        self.refill_per_s = weight_per_window / window_s
        self._available = self.capacity
        self._updated_at: float | None = None
        self._lock = trio.Lock()

    @property
    def available(self) -> float:
        self._refill()
        return self._available

    async def spend(self, weight: int) -> None:
        """Take ``weight`` from the bucket, sleeping first until enough has refilled."""
        async with self._lock:
            while True:
                self._refill()
                needed = min(float(weight), self.capacity)
                if self._available >= needed:
                    self._available -= weight
                    return
                await trio.sleep((needed - self._available) / self.refill_per_s)

    def drain(self) -> None:
        """Hyperliquid said 429: our count was optimistic (another process shares the IP?); start from empty."""
        self._refill()
        self._available = min(self._available, 0.0)

    def _refill(self) -> None:
        now = trio.current_time()
        if self._updated_at is not None:
            self._available = min(self.capacity, self._available + (now - self._updated_at) * self.refill_per_s)
        self._updated_at = now
