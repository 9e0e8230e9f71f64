"""Event time. Actors ask an injected clock for the time and never call ``time.time()`` themselves."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int:
        """Milliseconds since the epoch, UTC."""
        ...


class WallClock:
    """Live and paper trading: the system clock."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class ManualClock:
    """Replay and tests: time moves only when told to."""

    def __init__(self, start_ms: int = 0) -> None:
        self._now = start_ms

    def now_ms(self) -> int:
        return self._now

    def set(self, ms: int) -> None:
        if ms < self._now:
            raise ValueError(f"clock cannot go back: {ms} < {self._now}")
        self._now = ms

    def advance(self, ms: int) -> None:
        self.set(self._now + ms)
