"""Keep actors running: restart on failure with capped, jittered backoff; escalate past the restart intensity.

How ``Supervisor.supervise`` treats what ends an actor's ``run``::

    returns normally                           stopped; not restarted
    Exception before the FIRST started()       stopped; ActorStartupError raised from nursery.start (the
                                               runtime cannot come up, so it must not pretend it did)
    Exception after it started, or before      a failure: restarting, backoff, run again; past the intensity
      started() on a later run                 (max_restarts inside window_s) it escalates instead
      (an ExceptionGroup from the actor's
      own nursery counts: it is an Exception)
    Exception of a type in ``fatal_errors``    escalates at once: a broken invariant is not cured by a restart
    Cancelled, KeyboardInterrupt, SystemExit,  never caught: propagates; stopped
      any BaseExceptionGroup holding one

Escalating marks the actor stopped, emits ``ActorEscalated`` (the runtime wires it to the kill switch, which halts
trading) and returns normally, so the rest of the system, the API included, keeps running to show what happened.
An error raised by ``notify`` propagates: failing to record a restart is not something to hide.
"""

from __future__ import annotations

import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Annotated, Protocol

import msgspec
import trio

from b1e55ed.clock import Clock
from b1e55ed.health import ActorHealth, HealthRegistry
from b1e55ed.messages import ActorEscalated, ActorRestarted

logger = logging.getLogger(__name__)

SupervisionEvent = ActorRestarted | ActorEscalated
Notify = Callable[[SupervisionEvent], Awaitable[None]]

_MAX_DOUBLINGS = 64  # 2**64 × any sane initial backoff is far past any cap, and floats stay finite


class Actor(Protocol):
    """Anything the supervisor can run. ``run`` calls ``task_status.started()`` once it is ready.

    Channels belong to the runtime: ``run`` clones the ends it uses each time it starts, so messages buffered in
    a channel survive a restart.
    """

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None: ...


_Seconds = Annotated[float, msgspec.Meta(gt=0)]


class RestartPolicy(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Backoff before a restart, and how many restarts ``window_s`` seconds may hold before escalating.

    It is also the config's ``supervisor`` section, so the constraints below are checked when config loads.
    """

    backoff_initial_s: _Seconds = 0.5
    backoff_max_s: _Seconds = 30.0
    jitter: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.25
    max_restarts: Annotated[int, msgspec.Meta(ge=0)] = 5
    window_s: _Seconds = 60.0

    def __post_init__(self) -> None:
        if self.backoff_initial_s > self.backoff_max_s:
            raise ValueError(
                f"`backoff_initial_s` must not exceed backoff_max_s ({self.backoff_initial_s} > {self.backoff_max_s})"
            )

    def backoff_s(self, attempt: int, unit_random: float) -> float:
        """Delay before restart number ``attempt`` (1-based, within the window); ``unit_random`` is in [0, 1)."""
        doublings = min(attempt - 1, _MAX_DOUBLINGS)
        base = min(self.backoff_max_s, self.backoff_initial_s * 2.0**doublings)
        return base * (1 + self.jitter * unit_random)


class ActorStartupError(Exception):
    """An actor failed, or returned, before its first ``started()``: the runtime cannot come up without it."""

    def __init__(self, actor: str, error: str) -> None:
        super().__init__(f"actor {actor!r} failed to start: {error}")
        self.actor = actor
        self.error = error


def describe_error(exc: BaseException) -> str:
    """``"Type: message"`` for the event log and ``/health``; groups of one are unwrapped."""
    if isinstance(exc, BaseExceptionGroup):
        if len(exc.exceptions) == 1:
            return describe_error(exc.exceptions[0])
        return f"{len(exc.exceptions)} errors: " + "; ".join(describe_error(e) for e in exc.exceptions)
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _StartedRelay(trio.TaskStatus[None]):
    """The ``task_status`` one run of an actor gets: tells the supervisor when that run is ready."""

    def __init__(self, on_started: Callable[[], None]) -> None:
        self._on_started = on_started
        self._called = False

    def started(self, value: None = None) -> None:
        if self._called:
            raise RuntimeError("called 'started' twice on the same task status")
        self._called = True
        self._on_started()


class Supervisor:
    """Runs actors under one restart policy. Time for intensity and backoff is ``trio.current_time()``; event
    timestamps come from ``clock``; jitter comes from ``rng``, so runs are reproducible.
    """

    def __init__(
        self,
        policy: RestartPolicy,
        rng: random.Random,
        clock: Clock,
        health: HealthRegistry,
        notify: Notify | None = None,
        *,
        fatal_errors: tuple[type[Exception], ...] = (),
    ) -> None:
        self._policy = policy
        self._rng = rng
        self._clock = clock
        self._health = health
        self._notify = notify
        self._fatal_errors = fatal_errors

    async def supervise(
        self, name: str, actor: Actor, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Run ``actor`` until it returns, escalates, or is cancelled. See the module docstring.

        Use as ``await nursery.start(supervisor.supervise, name, actor)``: that returns once the actor's first
        run has called ``task_status.started()``, so actors come up in dependency order.
        """
        health = self._health.register(name)
        came_up = False

        def on_started() -> None:
            nonlocal came_up
            health.mark_running()
            if not came_up:
                came_up = True
                task_status.started()

        restart_times: deque[float] = deque()
        try:
            while True:
                health.mark_starting()
                try:
                    await actor.run(task_status=_StartedRelay(on_started))
                except Exception as exc:
                    error = describe_error(exc)
                    if not came_up:
                        health.mark_stopped(error, "failed before it started")
                        raise ActorStartupError(name, error) from exc
                    # An error raised while we are being cancelled is part of the shutdown, not a failure.
                    await trio.lowlevel.checkpoint_if_cancelled()
                    if not await self._restart_or_escalate(name, health, restart_times, exc, error):
                        return
                else:
                    if not came_up:
                        health.mark_stopped("returned before it started")
                        raise ActorStartupError(name, "returned before it started")
                    return
        finally:
            health.mark_stopped()

    async def _restart_or_escalate(
        self, name: str, health: ActorHealth, restart_times: deque[float], exc: Exception, error: str
    ) -> bool:
        """Back off and return True to restart, or escalate and return False."""
        policy = self._policy
        now = trio.current_time()
        while restart_times and now - restart_times[0] >= policy.window_s:
            restart_times.popleft()

        fatal = self._is_fatal(exc)
        if fatal or len(restart_times) >= policy.max_restarts:
            why = "fatal error" if fatal else f"{len(restart_times)} restarts in {policy.window_s:g}s"
            logger.error("actor %s escalated (%s): %s", name, why, error, exc_info=exc)
            health.mark_stopped(error, f"escalated: {why}")
            await self._emit(
                ActorEscalated(
                    ts=self._clock.now_ms(),
                    actor=name,
                    error=error,
                    restarts=len(restart_times),
                    window_s=policy.window_s,
                )
            )
            return False

        restart_times.append(now)
        attempt = len(restart_times)
        delay_s = policy.backoff_s(attempt, self._rng.random())
        logger.warning("actor %s failed; restart %d in %.3fs: %s", name, attempt, delay_s, error, exc_info=exc)
        health.mark_restarting(error)
        await self._emit(
            ActorRestarted(ts=self._clock.now_ms(), actor=name, error=error, attempt=attempt, delay_s=delay_s)
        )
        await trio.sleep(delay_s)
        return True

    def _is_fatal(self, exc: Exception) -> bool:
        if not self._fatal_errors:
            return False
        if isinstance(exc, ExceptionGroup):
            return exc.subgroup(self._fatal_errors) is not None
        return isinstance(exc, self._fatal_errors)

    async def _emit(self, event: SupervisionEvent) -> None:
        if self._notify is not None:
            await self._notify(event)
