"""Actor health: who may change what, event-time stamps, and the /health snapshot."""

from __future__ import annotations

from b1e55ed.clock import ManualClock
from b1e55ed.health import ActorHealthSnapshot, HealthRegistry


def test_register_returns_the_same_object_for_a_name() -> None:
    registry = HealthRegistry(ManualClock())
    assert registry.register("oms") is registry.register("oms")
    assert "oms" in registry
    assert "karma" not in registry


def test_transitions_are_stamped_with_event_time() -> None:
    clock = ManualClock(1_000)
    health = HealthRegistry(clock).register("oms")
    health.mark_starting()
    clock.advance(250)
    health.mark_running()
    assert health.snapshot() == ActorHealthSnapshot(
        state="running", restarts=0, last_error=None, since_ms=1_250, detail=""
    )
    clock.advance(250)
    health.mark_restarting("ValueError: boom")
    assert health.snapshot() == ActorHealthSnapshot(
        state="restarting", restarts=1, last_error="ValueError: boom", since_ms=1_500, detail="ValueError: boom"
    )


def test_actor_may_report_degraded_only_while_running() -> None:
    clock = ManualClock()
    seen: list[tuple[str, str, str]] = []
    registry = HealthRegistry(clock, lambda name, snap: seen.append((name, snap.state, snap.detail)))
    health = registry.register("enricher")
    health.degraded("too early")  # still starting: ignored
    health.recovered()  # not degraded: ignored
    health.mark_running()
    health.degraded("missed 1")
    health.degraded("missed 2")
    health.recovered()
    health.mark_stopped()
    health.degraded("too late")  # stopped: ignored
    assert seen == [
        ("enricher", "running", ""),
        ("enricher", "degraded", "missed 1"),
        ("enricher", "degraded", "missed 2"),
        ("enricher", "running", ""),
        ("enricher", "stopped", ""),
    ]


def test_snapshot_is_sorted_and_all_running_needs_everyone_up() -> None:
    registry = HealthRegistry(ManualClock())
    for name in ("oms", "brain", "karma"):
        registry.register(name).mark_running()
    assert list(registry.snapshot()) == ["brain", "karma", "oms"]
    assert registry.all_running()
    registry["karma"].degraded("behind")
    assert not registry.all_running()
