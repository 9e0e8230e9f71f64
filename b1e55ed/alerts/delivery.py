"""Getting one alert through one channel: retries with capped, jittered backoff, Telegram's ``retry_after``,
and a rate limit per channel. Time is ``trio.current_time()`` (autojump-clock tests never sleep); jitter comes from
an injected RNG.

An alert is never given up on: a channel that keeps failing is retried at ``backoff_max_s``, its health says why,
and the other channels, and trading, go on (each channel has its own task). Cancellation is never retried: only
``DeliveryFailed`` is.
"""

from __future__ import annotations

import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import trio

from b1e55ed.alerts.channels import Channel, DeliveryFailed
from b1e55ed.alerts.triggers import Notice
from b1e55ed.health import ActorHealth

logger = logging.getLogger(__name__)

OnFailure = Callable[[int, str], Awaitable[None]]
"""Told of each failed attempt: (attempts so far, why)."""


@dataclass(frozen=True, slots=True)
class Backoff:
    initial_s: float = 1.0
    max_s: float = 300.0
    jitter: float = 0.25

    def delay_s(self, attempt: int, unit_random: float) -> float:
        """The wait after failed attempt ``attempt`` (1-based): doubling, capped, then spread by up to ``jitter``."""
        base = min(self.max_s, self.initial_s * 2.0 ** min(attempt - 1, 64))
        return min(self.max_s, base * (1 + self.jitter * unit_random))


class RateLimit:
    """At most ``per_min`` sends in any 60 s: ``wait`` holds a send back until the oldest leaves the window."""

    def __init__(self, per_min: int) -> None:
        self._per_min = per_min
        self._sent: deque[float] = deque()

    async def wait(self) -> None:
        while True:
            now = trio.current_time()
            while self._sent and now - self._sent[0] >= 60.0:
                self._sent.popleft()
            if len(self._sent) < self._per_min:
                self._sent.append(now)
                return
            await trio.sleep(60.0 - (now - self._sent[0]))


class Courier:
    """Delivers to one channel, one alert at a time, until it is taken."""

    def __init__(
        self, channel: Channel, *, backoff: Backoff, rng: random.Random, rate: RateLimit | None, health: ActorHealth
    ) -> None:
        """``rate``: None for no limit."""
        self.channel = channel
        self._backoff = backoff
        self._rng = rng
        self._rate = rate
        self.health = health
        self.sent = 0

    @property
    def name(self) -> str:
        return self.channel.name

    async def deliver(self, notice: Notice, on_failure: OnFailure | None = None, *, limited: bool = True) -> int:
        """Send ``notice``, retrying until the channel takes it; return the attempts it took. ``limited=False``
        skips the rate limit."""
        attempt = 0
        while True:
            attempt += 1
            if limited and self._rate is not None:
                await self._rate.wait()
            try:
                await self.channel.send(notice)
            except DeliveryFailed as exc:
                delay = self._delay(attempt, exc)
                why = f"{exc}" + (" (refused: check the channel's settings)" if exc.permanent else "")
                logger.warning("alert to %s failed (attempt %d, next in %.1f s): %s", self.name, attempt, delay, why)
                self.health.degraded(f"attempt {attempt} failed: {why}")
                if on_failure is not None:
                    await on_failure(attempt, why)
                await trio.sleep(delay)
                continue
            self.sent += 1
            self.health.recovered()
            return attempt

    def _delay(self, attempt: int, exc: DeliveryFailed) -> float:
        if exc.permanent:
            return self._backoff.max_s
        if exc.retry_after is not None:
            return max(exc.retry_after, 0.0)
        return self._backoff.delay_s(attempt, self._rng.random())
