"""What each actor is doing right now, for ``/health``.

The supervisor owns an actor's lifecycle (starting, running, restarting, stopped); the actor itself may only say
that it is degraded while running, and that it recovered. Every change is stamped with event time from the
injected ``Clock``.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from b1e55ed.clock import Clock
from b1e55ed.messages import ActorStateName

ActorState = ActorStateName


class ActorHealthSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """One actor's status at one moment; ``since_ms`` is when it entered ``state``."""

    state: ActorState
    restarts: int
    last_error: str | None
    since_ms: int
    detail: str


HealthListener = Callable[[str, ActorHealthSnapshot], None]


class ActorHealth:
    """The mutable status of one actor.

    The actor calls ``degraded`` and ``recovered``; the ``mark_*`` methods belong to the supervisor.
    """

    def __init__(self, name: str, clock: Clock, listener: HealthListener | None = None) -> None:
        self.name = name
        self._clock = clock
        self._listener = listener
        self.state: ActorState = "starting"
        self.restarts = 0
        self.last_error: str | None = None
        self.since_ms = clock.now_ms()
        self.detail = ""

    def degraded(self, detail: str, error: str | None = None) -> None:
        """The actor works, but not fully (missed a deadline, a feed is stale); ``error``, when given, becomes
        ``last_error``. Ignored unless running."""
        if self.state in ("running", "degraded"):
            if error is not None:
                self.last_error = error
            self._enter("degraded", detail)

    def recovered(self) -> None:
        """The actor is fully working again after ``degraded``."""
        if self.state == "degraded":
            self._enter("running", "")

    def mark_starting(self) -> None:
        self._enter("starting", "")

    def mark_running(self) -> None:
        self._enter("running", "")

    def mark_restarting(self, error: str) -> None:
        self.restarts += 1
        self.last_error = error
        self._enter("restarting", error)

    def mark_stopped(self, error: str | None = None, detail: str = "") -> None:
        if error is not None:
            self.last_error = error
        if self.state != "stopped" or error is not None:
            self._enter("stopped", detail)

    def snapshot(self) -> ActorHealthSnapshot:
        return ActorHealthSnapshot(
            state=self.state,
            restarts=self.restarts,
            last_error=self.last_error,
            since_ms=self.since_ms,
            detail=self.detail,
        )

    def _enter(self, state: ActorState, detail: str) -> None:
        if state != self.state:
            self.since_ms = self._clock.now_ms()
        self.state = state
        self.detail = detail
        if self._listener is not None:
            self._listener(self.name, self.snapshot())


class HealthRegistry:
    """Actor name → its ``ActorHealth``. One per runtime.

    ``listener``, if given, is called synchronously with every change (the alerter and tests watch it).
    """

    def __init__(self, clock: Clock, listener: HealthListener | None = None) -> None:
        self._clock = clock
        self._listener = listener
        self._actors: dict[str, ActorHealth] = {}

    def register(self, name: str) -> ActorHealth:
        """The health of ``name``, created on first use: the runtime and the supervisor share one object."""
        health = self._actors.get(name)
        if health is None:
            health = self._actors[name] = ActorHealth(name, self._clock, self._listener)
        return health

    def __getitem__(self, name: str) -> ActorHealth:
        return self._actors[name]

    def __contains__(self, name: object) -> bool:
        return name in self._actors

    def snapshot(self) -> dict[str, ActorHealthSnapshot]:
        """Every actor's status, by name in sorted order."""
        return {name: self._actors[name].snapshot() for name in sorted(self._actors)}

    def all_running(self) -> bool:
        """True when every registered actor is running (degraded counts as not running)."""
        return all(health.state == "running" for health in self._actors.values())
