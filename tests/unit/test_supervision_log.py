"""Supervision recorded in the event log, under the autojump clock: the in-memory store, exact virtual times."""

from __future__ import annotations

import random

import trio
import trio.testing

from b1e55ed.clock import ManualClock
from b1e55ed.eventlog.store import MemoryStore
from b1e55ed.health import HealthRegistry
from b1e55ed.messages import ActorEscalated, ActorRestarted
from b1e55ed.supervisor import RestartPolicy, SupervisionEvent, Supervisor
from tests.eventlog_helpers import running_log


class AlwaysHalf(random.Random):
    def random(self) -> float:
        return 0.5


class Flaky:
    def __init__(self) -> None:
        self.started_at: list[float] = []

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self.started_at.append(trio.current_time())
        task_status.started()
        await trio.sleep(1)
        raise ConnectionError("venue went away")


async def test_restarts_and_escalation_reach_the_log_at_exact_virtual_times(
    autojump_clock: trio.testing.MockClock,
) -> None:
    store = MemoryStore()
    policy = RestartPolicy(backoff_initial_s=2, backoff_max_s=5, jitter=0.5, max_restarts=3, window_s=100)
    flaky = Flaky()
    async with running_log(store) as log:

        async def record(event: SupervisionEvent) -> None:
            await log.append(event)

        supervisor = Supervisor(policy, AlwaysHalf(), ManualClock(), HealthRegistry(ManualClock()), record)
        async with trio.open_nursery() as nursery:
            await nursery.start(supervisor.supervise, "feed", flaky)
    # Runs last 1 s; the delays are 2, 4, 5 (capped), each × (1 + 0.5 × 0.5).
    assert flaky.started_at == [0.0, 3.5, 9.5, 16.75]
    events = [record.event() for record in await store.read()]
    assert [(e.attempt, e.delay_s) for e in events if isinstance(e, ActorRestarted)] == [(1, 2.5), (2, 5.0), (3, 6.25)]
    (escalated,) = [e for e in events if isinstance(e, ActorEscalated)]
    assert (escalated.actor, escalated.restarts, escalated.error) == ("feed", 3, "ConnectionError: venue went away")
    assert (await store.verify()).count == 4
