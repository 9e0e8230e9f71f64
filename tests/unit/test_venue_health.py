"""VenueHealth's error rate: counted over the last ``window`` calls only, and only once the window is full."""

from __future__ import annotations

import pytest

from actors.oms.venue_health import VenueHealth
from b1e55ed.venues.base import VenueUnavailable


async def answer() -> int:
    return 1


async def fail() -> int:
    raise VenueUnavailable("timeout")


async def record(health: VenueHealth, outcomes: str) -> None:
    """``outcomes``: one letter per call, ``x`` a failure, ``.`` an answer."""
    for outcome in outcomes:
        if outcome == "x":
            with pytest.raises(VenueUnavailable):
                await health.call("test", fail)
        else:
            await health.call("test", answer)


async def test_the_error_rate_counts_only_the_calls_still_in_the_window() -> None:
    health = VenueHealth(window=4, error_rate=0.5, disconnect_s=60.0)
    await record(health, "xx.")
    assert health.error_rate_breach() is None  # the window is not full yet
    await record(health, ".")
    assert health.error_rate_breach() == "venue errors: 2 of the last 4 calls failed (limit 50%)"
    await record(health, ".")  # the first failure leaves the window
    assert health.error_rate_breach() is None
    await record(health, "x")  # and the second: one failure of four
    assert health.error_rate_breach() is None
    await record(health, "x")
    assert health.error_rate_breach() == "venue errors: 2 of the last 4 calls failed (limit 50%)"


async def test_a_reset_starts_from_an_empty_window_and_probes_are_not_counted() -> None:
    health = VenueHealth(window=2, error_rate=0.5, disconnect_s=60.0)
    await record(health, "xx")
    assert health.error_rate_breach() is not None
    health.reset_errors()
    with pytest.raises(VenueUnavailable):
        await health.call("probe", fail, count=False)
    await record(health, "..")
    assert health.error_rate_breach() is None


async def test_a_call_passes_its_arguments_and_a_long_clean_run_leaves_room_for_new_failures() -> None:
    async def echo(value: int, label: str) -> tuple[int, str]:
        return value, label

    health = VenueHealth(window=3, error_rate=0.6, disconnect_s=60.0)
    assert await health.call("echo", echo, 7, "seven") == (7, "seven")
    await record(health, "......")
    await record(health, "xx")
    assert health.error_rate_breach() == "venue errors: 2 of the last 3 calls failed (limit 60%)"
