"""One channel's delivery in trio time (the autojump clock): backoff capped and jittered by the injected RNG,
Telegram's ``retry_after`` honoured, a refused channel retried at the slowest pace, and a rate limit per channel."""

from __future__ import annotations

import itertools
import random
from collections import deque

import trio
import trio.testing

from b1e55ed.alerts.channels import DeliveryFailed
from b1e55ed.alerts.delivery import Backoff, Courier, RateLimit
from b1e55ed.alerts.triggers import Notice
from b1e55ed.clock import ManualClock
from b1e55ed.health import HealthRegistry

NOTICE = Notice(trigger="stop_hit", severity="warning", text="stop hit: BTC", ts=1, seq=1)


class Flaky:
    """Fails with the queued errors, then takes every notice; records the trio time of each attempt."""

    name = "fake"
    limited = True

    def __init__(self, *errors: DeliveryFailed) -> None:
        self.errors = deque(errors)
        self.attempts: list[float] = []
        self.taken: list[Notice] = []

    async def send(self, notice: Notice) -> None:
        self.attempts.append(trio.current_time())
        if self.errors:
            raise self.errors.popleft()
        self.taken.append(notice)


def courier(channel: Flaky, *, per_min: int = 1000, seed: int = 1) -> Courier:
    health = HealthRegistry(ManualClock()).register("alerts.fake")
    health.mark_running()
    backoff = Backoff(initial_s=1.0, max_s=8.0, jitter=0.5)
    return Courier(channel, backoff=backoff, rng=random.Random(seed), rate=RateLimit(per_min), health=health)


def gaps(times: list[float]) -> list[float]:
    return [round(b - a, 6) for a, b in itertools.pairwise(times)]


def test_backoff_doubles_is_capped_and_jitter_only_stretches_it() -> None:
    backoff = Backoff(initial_s=1.0, max_s=8.0, jitter=0.5)
    assert [backoff.delay_s(n, 0.0) for n in range(1, 6)] == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert backoff.delay_s(2, 0.5) == 2.5
    assert backoff.delay_s(9, 0.99) == 8.0  # the cap holds with jitter too


async def test_transient_failures_are_retried_with_jittered_backoff_until_taken(
    autojump_clock: trio.testing.MockClock,
) -> None:
    channel = Flaky(*(DeliveryFailed("HTTP 502") for _ in range(5)))
    sent = courier(channel)
    assert await sent.deliver(NOTICE) == 6
    assert channel.taken == [NOTICE]  # once
    rng = random.Random(1)
    expected = [Backoff(1.0, 8.0, 0.5).delay_s(n, rng.random()) for n in range(1, 6)]
    assert gaps(channel.attempts) == [round(e, 6) for e in expected]
    assert sent.health.state == "running"


async def test_retry_after_is_honoured_and_a_refusal_waits_the_longest(autojump_clock: trio.testing.MockClock) -> None:
    channel = Flaky(DeliveryFailed("429", retry_after=37.0), DeliveryFailed("401 Unauthorized", permanent=True))
    seen: list[tuple[int, str]] = []

    async def on_failure(attempt: int, why: str) -> None:
        seen.append((attempt, why))

    assert await courier(channel).deliver(NOTICE, on_failure) == 3
    assert gaps(channel.attempts) == [37.0, 8.0]
    assert [attempt for attempt, _ in seen] == [1, 2]
    assert "check the channel's settings" in seen[1][1]


async def test_a_failing_channel_degrades_its_own_health_while_it_fails(autojump_clock: trio.testing.MockClock) -> None:
    channel = Flaky(DeliveryFailed("timeout"), DeliveryFailed("timeout"))
    sent = courier(channel)
    states: list[str] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(sent.deliver, NOTICE)
        await trio.sleep(0.5)
        states.append(sent.health.state)
        assert "timeout" in sent.health.detail
    states.append(sent.health.state)
    assert states == ["degraded", "running"]


async def test_the_rate_limit_holds_back_sends_past_it_for_a_minute(autojump_clock: trio.testing.MockClock) -> None:
    channel = Flaky()
    sent = courier(channel, per_min=3)
    start = trio.current_time()
    for _ in range(7):
        await sent.deliver(NOTICE)
    assert [round(t - start, 6) for t in channel.attempts] == [0, 0, 0, 60, 60, 60, 120]
