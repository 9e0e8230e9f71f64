"""Retries: 429 and 418 wait exactly what Retry-After says, 5xx and network faults back off, the rest fail fast.

Times are virtual (autojump clock): a wait of 120 s costs nothing and is measured exactly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import msgspec
import pytest
import trio
import trio.testing

from b1e55ed.collect.http import CollectError, CollectUnavailable, JsonFetcher
from b1e55ed.jsonhttp import RetryPolicy
from b1e55ed.ratelimit import WeightBudget
from tests.fakes.binance import FakeBinance
from tests.fakes.hyperliquid_info import Fault

URL = "https://fapi.binance.com/fapi/v1/fundingRate"
PARAMS: dict[str, str | int] = {"symbol": "BTCUSDT", "startTime": 0, "limit": 1000}
DECODER = msgspec.json.Decoder(list[dict[str, object]])


@pytest.fixture
def fake() -> FakeBinance:
    fake = FakeBinance()
    fake.add_funding("BTCUSDT", [(1_000, 0.0001)])
    return fake


@pytest.fixture
async def fetcher(fake: FakeBinance) -> AsyncIterator[JsonFetcher]:
    async with httpx.AsyncClient(transport=fake.transport()) as http:
        yield JsonFetcher(http, RetryPolicy(max_retries=3, backoff_initial_s=1.0, backoff_max_s=30.0))


async def timed_get(fetcher: JsonFetcher, budget: WeightBudget | None = None) -> tuple[float, list[dict[str, object]]]:
    start = trio.current_time()
    rows = await fetcher.get(URL, PARAMS, DECODER, budget=budget or WeightBudget(), weight=1)
    return trio.current_time() - start, rows


@pytest.mark.parametrize("status", [429, 418])
async def test_rate_limit_waits_exactly_retry_after(
    fake: FakeBinance, fetcher: JsonFetcher, status: int, autojump_clock: trio.testing.MockClock
) -> None:
    fake.faults.fail_next(Fault.http(status, retry_after="7"), Fault.http(status, retry_after="120"))
    waited, rows = await timed_get(fetcher)
    assert waited == pytest.approx(127.0)
    assert rows[0]["fundingTime"] == 1_000
    assert fake.count() == 3
    assert fetcher.requests == 3


async def test_server_errors_and_dropped_connections_back_off_doubling(
    fake: FakeBinance, fetcher: JsonFetcher, autojump_clock: trio.testing.MockClock
) -> None:
    fake.faults.fail_next(Fault.http(503), Fault.unreachable(), Fault.http(502))
    waited, _ = await timed_get(fetcher)
    assert waited == pytest.approx(1.0 + 2.0 + 4.0)


async def test_a_429_drains_the_budget_so_the_next_request_waits_for_weight(
    fake: FakeBinance, fetcher: JsonFetcher, autojump_clock: trio.testing.MockClock
) -> None:
    fake.faults.fail_next(Fault.http(429, retry_after="1"))
    budget = WeightBudget(60, 60.0)  # one weight a second
    waited, _ = await timed_get(fetcher, budget)
    # 1 s Retry-After refills 1 weight after the drain; the retry then needs its own 1 weight: ready at once.
    assert waited == pytest.approx(1.0)
    waited, _ = await timed_get(fetcher, budget)
    assert waited == pytest.approx(1.0)  # the bucket is empty: the next request waits a second for its weight


async def test_gives_up_after_the_retries_naming_the_endpoint(
    fake: FakeBinance, fetcher: JsonFetcher, autojump_clock: trio.testing.MockClock
) -> None:
    fake.faults.fail_from(1, Fault.http(503))
    with pytest.raises(CollectUnavailable) as caught:
        await timed_get(fetcher)
    message = str(caught.value)
    assert message.startswith("GET https://fapi.binance.com/fapi/v1/fundingRate?symbol=BTCUSDT")
    assert "HTTP 503" in message
    assert "gave up after 3 retries" in message
    assert fake.count() == 4


async def test_a_ban_longer_than_we_wait_fails_at_once(
    fake: FakeBinance, fetcher: JsonFetcher, autojump_clock: trio.testing.MockClock
) -> None:
    fake.faults.fail_next(Fault.http(418, retry_after="7200"))
    start = trio.current_time()
    with pytest.raises(CollectUnavailable, match="HTTP 418: told to wait 7200 s"):
        await timed_get(fetcher)
    assert trio.current_time() == start


async def test_client_errors_and_bad_answers_are_not_retried(fake: FakeBinance, fetcher: JsonFetcher) -> None:
    with pytest.raises(CollectError, match=r"HTTP 400: .*Invalid symbol") as caught:
        await fetcher.get(URL, {**PARAMS, "symbol": "NOPEUSDT"}, DECODER, budget=WeightBudget(), weight=1)
    assert not isinstance(caught.value, CollectUnavailable)
    fake.faults.fail_next(Fault.malformed())
    with pytest.raises(CollectError, match="answer is not JSON"):
        await timed_get(fetcher)
    fake.faults.fail_next(Fault.body('{"code": 0}'))
    with pytest.raises(CollectError, match="unexpected answer"):
        await timed_get(fetcher)
    assert fake.count() == 3


async def test_a_timeout_is_retried_then_reported(fake: FakeBinance, autojump_clock: trio.testing.MockClock) -> None:
    async with httpx.AsyncClient(transport=fake.transport()) as http:
        fetcher = JsonFetcher(http, RetryPolicy(max_retries=1, timeout_s=5.0))
        fake.faults.fail_next(Fault.hang(), Fault.hang())
        with pytest.raises(CollectUnavailable, match="gave up after 1 retries"):
            await timed_get(fetcher)
