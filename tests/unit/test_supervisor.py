"""Supervisor: backoff, jitter, intensity, escalation, cancellation and startup, all in virtual time."""

from __future__ import annotations

import random

import msgspec
import pytest
import trio
import trio.testing

from b1e55ed.clock import ManualClock
from b1e55ed.health import ActorState, HealthRegistry
from b1e55ed.messages import ActorEscalated, ActorRestarted
from b1e55ed.supervisor import ActorStartupError, RestartPolicy, SupervisionEvent, Supervisor

CLOCK_MS = 1_700_000_000_000


class FixedRandom(random.Random):
    """An RNG whose ``random()`` is always ``value``: jitter becomes an exact, known factor."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


class Recorder:
    """The ``notify`` hook: keeps every event with the virtual time it arrived."""

    def __init__(self) -> None:
        self.events: list[SupervisionEvent] = []
        self.times: list[float] = []

    async def __call__(self, event: SupervisionEvent) -> None:
        self.events.append(event)
        self.times.append(trio.current_time())

    def restarts(self) -> list[ActorRestarted]:
        return [e for e in self.events if isinstance(e, ActorRestarted)]


class Harness:
    def __init__(
        self,
        policy: RestartPolicy | None = None,
        rng: random.Random | None = None,
        fatal_errors: tuple[type[Exception], ...] = (),
    ) -> None:
        self.clock = ManualClock(CLOCK_MS)
        self.states: list[ActorState] = []
        self.health = HealthRegistry(self.clock, lambda _name, snap: self.states.append(snap.state))
        self.recorder = Recorder()
        self.supervisor = Supervisor(
            policy or RestartPolicy(),
            rng or FixedRandom(0.0),
            self.clock,
            self.health,
            self.recorder,
            fatal_errors=fatal_errors,
        )


class CrashingActor:
    """Starts, runs ``run_for_s``, then raises, for its first ``crashes`` runs; afterwards runs forever."""

    def __init__(self, crashes: int, run_for_s: float = 0.0, error: type[Exception] = ValueError) -> None:
        self.crashes = crashes
        self.run_for_s = run_for_s
        self.error = error
        self.starts: list[float] = []

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self.starts.append(trio.current_time())
        task_status.started()
        if len(self.starts) <= self.crashes:
            await trio.sleep(self.run_for_s)
            raise self.error(f"crash {len(self.starts)}")
        await trio.sleep_forever()


async def test_restart_delays_double_and_are_capped(autojump_clock: trio.testing.MockClock) -> None:
    policy = RestartPolicy(backoff_initial_s=1.0, backoff_max_s=4.0, jitter=0.5, max_restarts=10, window_s=1000)
    h = Harness(policy, FixedRandom(0.5))
    actor = CrashingActor(crashes=6)
    t0 = trio.current_time()
    async with trio.open_nursery() as nursery:
        await nursery.start(h.supervisor.supervise, "oms", actor)
        await trio.sleep(100)
        nursery.cancel_scope.cancel()

    delays = [1.25, 2.5, 5.0, 5.0, 5.0, 5.0]  # 1, 2, 4, then capped at 4; × (1 + 0.5 × 0.5)
    assert [e.delay_s for e in h.recorder.restarts()] == delays
    assert [e.attempt for e in h.recorder.restarts()] == [1, 2, 3, 4, 5, 6]
    expected_starts = [t0]
    for delay in delays:
        expected_starts.append(expected_starts[-1] + delay)
    assert actor.starts == expected_starts
    assert h.health["oms"].restarts == 6


async def test_jitter_comes_from_the_injected_rng(autojump_clock: trio.testing.MockClock) -> None:
    policy = RestartPolicy(backoff_initial_s=0.5, backoff_max_s=30.0, jitter=0.25, max_restarts=10)
    h = Harness(policy, random.Random(42))
    actor = CrashingActor(crashes=4)
    async with trio.open_nursery() as nursery:
        await nursery.start(h.supervisor.supervise, "feed", actor)
        await trio.sleep(100)
        nursery.cancel_scope.cancel()

    replay = random.Random(42)
    expected = [min(30.0, 0.5 * 2 ** (k - 1)) * (1 + 0.25 * replay.random()) for k in (1, 2, 3, 4)]
    assert [e.delay_s for e in h.recorder.restarts()] == expected
    gaps = [later - earlier for earlier, later in zip(actor.starts, actor.starts[1:], strict=False)]
    assert gaps == pytest.approx(expected)


async def test_escalates_after_max_restarts_inside_the_window(autojump_clock: trio.testing.MockClock) -> None:
    h = Harness()  # defaults: 0.5 s doubling, 5 restarts in 60 s; no jitter from FixedRandom(0.0)
    actor = CrashingActor(crashes=100)
    t0 = trio.current_time()
    async with trio.open_nursery() as nursery:
        await nursery.start(h.supervisor.supervise, "strategy", actor)
    # supervise returned normally: the nursery closed without an error.

    assert trio.current_time() - t0 == 15.5  # failures at 0, 0.5, 1.5, 3.5, 7.5; the 6th, at 15.5, escalates
    assert [e.delay_s for e in h.recorder.restarts()] == [0.5, 1.0, 2.0, 4.0, 8.0]
    escalated = h.recorder.events[-1]
    assert escalated == ActorEscalated(
        ts=CLOCK_MS, actor="strategy", error="ValueError: crash 6", restarts=5, window_s=60.0
    )
    assert h.recorder.times[-1] - t0 == 15.5
    assert len(actor.starts) == 6
    health = h.health["strategy"]
    assert (health.state, health.restarts, health.last_error) == ("stopped", 5, "ValueError: crash 6")
    assert health.detail.startswith("escalated")


async def test_restarts_spread_beyond_the_window_do_not_escalate(autojump_clock: trio.testing.MockClock) -> None:
    policy = RestartPolicy(max_restarts=2, window_s=60.0)
    h = Harness(policy)
    actor = CrashingActor(crashes=8, run_for_s=61.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(h.supervisor.supervise, "karma", actor)
        await trio.sleep(8 * 61.5 + 1)
        assert h.health["karma"].state == "running"
        nursery.cancel_scope.cancel()

    restarts = h.recorder.restarts()
    assert len(restarts) == len(h.recorder.events) == 8
    assert {e.attempt for e in restarts} == {1}  # the backoff resets after a quiet window
    assert {e.delay_s for e in restarts} == {0.5}


async def test_fatal_error_escalates_without_restart(autojump_clock: trio.testing.MockClock) -> None:
    class ChainBroken(Exception):
        pass

    h = Harness(fatal_errors=(ChainBroken,))
    actor = CrashingActor(crashes=1, error=ChainBroken)
    async with trio.open_nursery() as nursery:
        await nursery.start(h.supervisor.supervise, "eventlog", actor)

    assert h.recorder.events == [
        ActorEscalated(ts=CLOCK_MS, actor="eventlog", error="ChainBroken: crash 1", restarts=0, window_s=60.0)
    ]
    assert h.health["eventlog"].state == "stopped"


async def test_cancelled_propagates_and_is_not_a_failure(autojump_clock: trio.testing.MockClock) -> None:
    h = Harness()
    actor = CrashingActor(crashes=0)
    propagated: list[BaseException] = []

    async def supervise_and_watch(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            await h.supervisor.supervise("alerter", actor, task_status=task_status)
        except BaseException as exc:
            propagated.append(exc)
            raise

    async with trio.open_nursery() as nursery:
        await nursery.start(supervise_and_watch)
        await trio.sleep(5)
        nursery.cancel_scope.cancel()

    assert len(propagated) == 1
    assert isinstance(propagated[0], trio.Cancelled)
    assert h.recorder.events == []
    health = h.health["alerter"]
    assert (health.state, health.restarts, health.last_error) == ("stopped", 0, None)
    assert len(actor.starts) == 1


async def test_cancel_during_backoff_stops_promptly(autojump_clock: trio.testing.MockClock) -> None:
    h = Harness(RestartPolicy(backoff_initial_s=10.0))
    actor = CrashingActor(crashes=1)
    t0 = trio.current_time()
    async with trio.open_nursery() as nursery:
        await nursery.start(h.supervisor.supervise, "brain", actor)
        await trio.sleep(1)
        assert h.health.snapshot()["brain"].state == "restarting"
        nursery.cancel_scope.cancel()
    assert trio.current_time() - t0 == 1  # no waiting out the 10 s backoff
    assert h.health.snapshot()["brain"].state == "stopped"
    assert len(actor.starts) == 1


async def test_cancel_through_the_actors_own_nursery_propagates(autojump_clock: trio.testing.MockClock) -> None:
    class NurseryActor:
        async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            async with trio.open_nursery() as inner:
                inner.start_soon(trio.sleep_forever)
                inner.start_soon(trio.sleep_forever)
                task_status.started()

    h = Harness()
    async with trio.open_nursery() as nursery:
        await nursery.start(h.supervisor.supervise, "api", NurseryActor())
        await trio.sleep(1)
        nursery.cancel_scope.cancel()
    assert h.recorder.events == []
    assert h.health["api"].state == "stopped"


async def test_keyboard_interrupt_propagates() -> None:
    class Interrupted:
        async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            task_status.started()
            await trio.lowlevel.checkpoint()
            raise KeyboardInterrupt

    h = Harness()
    with pytest.RaisesGroup(KeyboardInterrupt):
        async with trio.open_nursery() as nursery:
            await nursery.start(h.supervisor.supervise, "x", Interrupted())
    assert h.recorder.events == []
    assert h.health["x"].state == "stopped"


async def test_base_exception_group_from_inner_nursery_propagates() -> None:
    class InnerInterrupt:
        async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            async def interrupt() -> None:
                await trio.lowlevel.checkpoint()
                raise KeyboardInterrupt

            async with trio.open_nursery() as inner:
                task_status.started()
                inner.start_soon(interrupt)

    h = Harness()
    with pytest.RaisesGroup(pytest.RaisesGroup(KeyboardInterrupt)):
        async with trio.open_nursery() as nursery:
            await nursery.start(h.supervisor.supervise, "x", InnerInterrupt())
    assert h.recorder.events == []


async def test_exception_group_from_inner_nursery_is_a_failure(autojump_clock: trio.testing.MockClock) -> None:
    class InnerCrash:
        def __init__(self) -> None:
            self.runs = 0

        async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            self.runs += 1
            crash = self.runs == 1

            async def worker() -> None:
                await trio.sleep(1)
                if crash:
                    raise OSError("feed lost")
                await trio.sleep_forever()

            async with trio.open_nursery() as inner:
                inner.start_soon(worker)
                task_status.started()

    h = Harness()
    actor = InnerCrash()
    async with trio.open_nursery() as nursery:
        await nursery.start(h.supervisor.supervise, "feed", actor)
        await trio.sleep(10)
        assert h.health["feed"].state == "running"
        nursery.cancel_scope.cancel()

    assert actor.runs == 2
    assert h.recorder.events == [
        ActorRestarted(ts=CLOCK_MS, actor="feed", error="OSError: feed lost", attempt=1, delay_s=0.5)
    ]


async def test_health_states_in_order_and_normal_return_stops(autojump_clock: trio.testing.MockClock) -> None:
    h = Harness()

    class Reporter:
        def __init__(self) -> None:
            self.runs = 0

        async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            self.runs += 1
            task_status.started()
            await trio.sleep(1)
            if self.runs <= 2:
                raise RuntimeError("flaky")
            h.health["enricher"].degraded("producer missed deadline")
            h.health["enricher"].recovered()

    actor = Reporter()
    async with trio.open_nursery() as nursery:
        await nursery.start(h.supervisor.supervise, "enricher", actor)

    assert h.states == [
        "starting", "running", "restarting",
        "starting", "running", "restarting",
        "starting", "running", "degraded", "running", "stopped",
    ]  # fmt: skip
    assert actor.runs == 3
    assert h.health["enricher"].restarts == 2


async def test_nursery_start_waits_for_started(autojump_clock: trio.testing.MockClock) -> None:
    class SlowStarter:
        async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            await trio.sleep(5)
            task_status.started()
            await trio.sleep_forever()

    h = Harness()
    t0 = trio.current_time()
    async with trio.open_nursery() as nursery:
        await nursery.start(h.supervisor.supervise, "eventlog", SlowStarter())
        assert trio.current_time() - t0 == 5
        assert h.health["eventlog"].state == "running"
        assert "oms" not in h.health
        await nursery.start(h.supervisor.supervise, "oms", SlowStarter())
        assert trio.current_time() - t0 == 10
        nursery.cancel_scope.cancel()


async def test_failure_before_first_start_raises_startup_error() -> None:
    class BadConfig:
        async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            raise ValueError("no api key")

    h = Harness()
    with pytest.RaisesGroup(pytest.RaisesExc(ActorStartupError, match="'venue' failed to start")) as caught:
        async with trio.open_nursery() as nursery:
            await nursery.start(h.supervisor.supervise, "venue", BadConfig())
    error = caught.value.exceptions[0]
    assert isinstance(error.__cause__, ValueError)
    assert h.recorder.events == []
    health = h.health["venue"]
    assert (health.state, health.last_error, health.restarts) == ("stopped", "ValueError: no api key", 0)


async def test_return_before_first_start_raises_startup_error() -> None:
    class Quitter:
        async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            return

    h = Harness()
    with pytest.RaisesGroup(pytest.RaisesExc(ActorStartupError, match="returned before it started")):
        async with trio.open_nursery() as nursery:
            await nursery.start(h.supervisor.supervise, "quitter", Quitter())


async def test_failure_before_started_on_a_restart_is_retried(autojump_clock: trio.testing.MockClock) -> None:
    class FailsToRestartOnce:
        def __init__(self) -> None:
            self.runs = 0

        async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            self.runs += 1
            if self.runs == 2:
                raise ConnectionError("venue down")
            task_status.started()
            if self.runs == 1:
                raise ValueError("first crash")
            await trio.sleep_forever()

    h = Harness()
    actor = FailsToRestartOnce()
    async with trio.open_nursery() as nursery:
        await nursery.start(h.supervisor.supervise, "venue", actor)
        await trio.sleep(10)
        nursery.cancel_scope.cancel()
    assert actor.runs == 3
    assert [(e.error, e.attempt) for e in h.recorder.restarts()] == [
        ("ValueError: first crash", 1),
        ("ConnectionError: venue down", 2),
    ]


async def test_buffered_messages_survive_a_restart(autojump_clock: trio.testing.MockClock) -> None:
    send, receive = trio.open_memory_channel[str](16)

    class Consumer:
        def __init__(self) -> None:
            self.seen: list[str] = []

        async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            async with receive.clone() as inbox:
                task_status.started()
                async for message in inbox:
                    if message == "poison":
                        raise ValueError("poison")
                    self.seen.append(message)

    h = Harness()
    consumer = Consumer()
    async with send:
        for message in ("a", "b", "poison", "c", "d"):
            send.send_nowait(message)
        async with trio.open_nursery() as nursery:
            await nursery.start(h.supervisor.supervise, "consumer", consumer)
            await trio.sleep(5)
            nursery.cancel_scope.cancel()
    receive.close()
    assert consumer.seen == ["a", "b", "c", "d"]
    assert len(h.recorder.restarts()) == 1


@pytest.mark.parametrize(
    "fields",
    [
        {"backoff_initial_s": 0.0},
        {"backoff_initial_s": 5.0, "backoff_max_s": 1.0},
        {"jitter": -0.1},
        {"max_restarts": -1},
        {"window_s": 0.0},
    ],
)
def test_restart_policy_rejects_nonsense(fields: dict[str, float]) -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(fields, RestartPolicy)


def test_restart_policy_decodes_from_config() -> None:
    policy = msgspec.convert({"max_restarts": 3, "window_s": 10}, RestartPolicy)
    assert policy == RestartPolicy(max_restarts=3, window_s=10.0)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"max_restart": 3}, RestartPolicy)
