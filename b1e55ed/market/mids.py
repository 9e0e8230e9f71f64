"""The price monitor: the latest mid prices from the live feed's poller, for the dashboard and ``/stream``.

Mid prices are a display, not a fact the brain acted on: they never go into the hash-chained log, and nothing on
the trading path reads them. The monitor has a health of its own, ``prices`` in ``/health``, registered when a
poller starts (a replay has none):

==========================================  ======================================================================
the poller                                  the monitor
==========================================  ======================================================================
hands over a poll's mids (``publish``)      ``latest`` and ``version`` move on, waiters wake; health: running
reports a failed poll (``failed``)          health: degraded, the error in ``detail`` and ``last_error``; the
                                            last good mids stay, with their time
raises (a bug, not a venue fault)           logged; health: stopped, with the error. The brain cycles on
is cancelled (the brain stops)              health: stopped
==========================================  ======================================================================
"""

from __future__ import annotations

import logging

import trio

from b1e55ed.health import ActorHealth, HealthRegistry
from b1e55ed.market.feed import Mids, PricePoller

__all__ = ["PRICE_MONITOR", "PriceBoard"]

logger = logging.getLogger(__name__)

PRICE_MONITOR = "prices"
"""The monitor's name in ``/health``."""


class PriceBoard:
    """The latest ``Mids`` and a way to wait for the next; a ``MidsSink`` for the poller."""

    def __init__(self, health: HealthRegistry) -> None:
        self._registry = health
        self._health: ActorHealth | None = None
        self._changed = trio.Event()
        self._failures = 0
        self.latest: Mids | None = None
        self.version = 0  # how many polls were published

    def publish(self, mids: Mids) -> None:
        self.latest = mids
        self.version += 1
        self._failures = 0
        if self._health is not None:
            self._health.recovered()
        self._changed.set()
        self._changed = trio.Event()

    def failed(self, error: str) -> None:
        self._failures += 1
        logger.warning("price poll failed (%d in a row): %s", self._failures, error)
        if self._health is not None:
            self._health.degraded(f"{self._failures} price polls in a row failed: {error}", error=error)

    async def next_after(self, version: int) -> tuple[int, Mids]:
        """The first mids published after ``version`` (at once if there are some already), with their version."""
        while self.latest is None or self.version <= version:
            await self._changed.wait()
        return self.version, self.latest

    async def watch(self, poller: PricePoller) -> None:
        """Run ``poller.watch_mids`` into this board until cancelled, under the monitor's health."""
        health = self._health = self._registry.register(PRICE_MONITOR)
        health.mark_running()
        try:
            await poller.watch_mids(self)
        except Exception as exc:  # display only: a bug here stops the monitor, never trading
            logger.exception("the price monitor stopped; trading goes on without live mid prices")
            health.mark_stopped(f"{type(exc).__name__}: {exc}", detail="stopped on an error; trading goes on")
        finally:
            health.mark_stopped()
