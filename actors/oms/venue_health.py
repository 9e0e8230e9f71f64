"""Every venue call the OMS makes, watched: the error rate and the disconnect the kill switch triggers on.

``VenueHealth.call`` runs one call. ``VenueUnavailable`` (transient: timeout, 5xx, rate limit) counts as an error
in a window of the last ``window`` calls; ``VenueDisconnected`` (a subclass) also starts the disconnect clock,
measured with ``trio.current_time()``, which any call that gets an answer stops. Other exceptions are not the
venue's weather but a bug, and propagate.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TypeVar, TypeVarTuple

import trio

from b1e55ed.venues.base import VenueDisconnected, VenueUnavailable

logger = logging.getLogger(__name__)

T = TypeVar("T")
Args = TypeVarTuple("Args")


class VenueHealth:
    def __init__(self, *, window: int, error_rate: float, disconnect_s: float) -> None:
        self.window = window
        self.error_rate = error_rate
        self.disconnect_s = disconnect_s
        self._outcomes: deque[bool] = deque(maxlen=window)  # True: the call failed
        self._errors = 0  # failures in ``_outcomes``, kept as calls come so a check costs nothing
        self.disconnected_since: float | None = None
        self._disconnected = trio.Event()
        self._connected = trio.Event()

    async def call(
        self, what: str, call: Callable[[*Args], Awaitable[T]], *args: *Args, count: bool = True
    ) -> T:
        """Run ``call(*args)``; on ``VenueUnavailable`` count it and re-raise, so the caller decides what to do.
        ``count=False`` (a probe of a venue already known to be down) leaves the error window alone."""
        try:
            result = await call(*args)
        except VenueUnavailable as exc:
            if count:
                self._record(failed=True)
            if isinstance(exc, VenueDisconnected) and self.disconnected_since is None:
                self.disconnected_since = trio.current_time()
                self._connected = trio.Event()
                self._disconnected.set()
            logger.warning("venue %s failed: %s", what, exc)
            raise
        if count:
            self._record(failed=False)
        if self.disconnected_since is not None:
            logger.info("venue reachable again after %.1fs", trio.current_time() - self.disconnected_since)
            self.disconnected_since = None
            self._disconnected = trio.Event()
            self._connected.set()
        return result

    def _record(self, *, failed: bool) -> None:
        if not failed and not self._errors:  # a success over a window without failures: nothing to count
            self._outcomes.append(False)
            return
        if len(self._outcomes) == self.window:
            self._errors -= self._outcomes[0]  # about to leave the window
        self._outcomes.append(failed)
        self._errors += failed

    async def wait_disconnected(self) -> float:
        """Wait until a call finds the venue disconnected; when that started."""
        await self._disconnected.wait()
        assert self.disconnected_since is not None
        return self.disconnected_since

    async def wait_connected(self) -> None:
        """Wait until a call gets an answer again (at once when not disconnected)."""
        if self.disconnected_since is not None:
            await self._connected.wait()

    def error_rate_breach(self) -> str | None:
        """Why the error rate trips the kill switch, or None: only over a full window."""
        if len(self._outcomes) < self.window:
            return None
        errors = self._errors
        if errors / self.window < self.error_rate:
            return None
        return f"venue errors: {errors} of the last {self.window} calls failed (limit {self.error_rate:.0%})"

    def disconnect_breach(self) -> str | None:
        if self.disconnected_since is None:
            return None
        down = trio.current_time() - self.disconnected_since
        if down < self.disconnect_s:
            return None
        return f"venue disconnected for {down:.0f}s (limit {self.disconnect_s:g}s)"

    def reset_errors(self) -> None:
        """After a halt: a manual resume starts from a clean window rather than tripping again at once."""
        self._outcomes.clear()
        self._errors = 0
