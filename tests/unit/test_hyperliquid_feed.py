"""Hyperliquid info client and live feed against a fake ``/info`` server, in virtual time (no network)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager

import httpx
import pytest
import trio
import trio.testing

from b1e55ed.clock import ManualClock
from b1e55ed.hyperliquid.info import (
    INFO_WEIGHT_LIGHT,
    MAINNET_API_URL,
    InfoClient,
    InfoError,
    InfoUnavailable,
    candle_snapshot_weight,
)
from b1e55ed.market.feed import CloseBatch, Feed, Mids
from b1e55ed.market.hyperliquid import HyperliquidFeed, reachable
from b1e55ed.ratelimit import WeightBudget
from tests.fakes.hyperliquid_info import FakeHyperliquidInfo, Fault, TrioClock, make_bars

HOUR = 3_600_000
MINUTE = 60_000
ALIGNED = 1_700_002_800_000  # a whole hour (UTC)


@asynccontextmanager
async def client_for(
    fake: FakeHyperliquidInfo,
    *,
    budget: WeightBudget | None = None,
    max_retries: int = 3,
    backoff_initial_s: float = 1.0,
) -> AsyncIterator[InfoClient]:
    async with httpx.AsyncClient(transport=fake.transport()) as http:
        yield InfoClient(http, budget=budget, max_retries=max_retries, backoff_initial_s=backoff_initial_s)


# -- InfoClient: wire format -----------------------------------------------------------------------------------


async def test_all_mids_decodes_decimal_strings() -> None:
    fake = FakeHyperliquidInfo()
    fake.set_mids({"BTC": 65000.5, "ETH": 3000.25, "@107": 18.62})
    async with client_for(fake) as info:
        mids = await info.all_mids()
        assert info.url == MAINNET_API_URL + "/info"
        assert info.budget.available == pytest.approx(1200 - INFO_WEIGHT_LIGHT, abs=0.5)  # real time refills a little
    assert mids == {"BTC": 65000.5, "ETH": 3000.25, "@107": 18.62}
    assert fake.requests == [{"type": "allMids"}]


async def test_candles_sends_the_documented_request_and_decodes_bars() -> None:
    fake = FakeHyperliquidInfo()
    bars = make_bars(ALIGNED, 10, HOUR)
    fake.add_bars("BTC", "1h", bars)
    async with client_for(fake) as info:
        got = await info.candles("BTC", "1h", ALIGNED + 2 * HOUR, ALIGNED + 5 * HOUR)
    assert got == bars[2:6]  # opening in [start, end]
    assert fake.requests == [
        {
            "type": "candleSnapshot",
            "req": {"coin": "BTC", "interval": "1h", "startTime": ALIGNED + 2 * HOUR, "endTime": ALIGNED + 5 * HOUR},
        }
    ]


async def test_candles_paginate_past_the_5000_cap() -> None:
    fake = FakeHyperliquidInfo()
    bars = make_bars(ALIGNED, 12_000, MINUTE)
    fake.add_bars("ETH", "1m", bars)
    async with client_for(fake) as info:
        got = await info.candles("ETH", "1m", ALIGNED, ALIGNED + 20_000 * MINUTE)
    assert got == bars
    starts = [req["startTime"] for req in fake.candle_requests()]
    assert starts == [ALIGNED, ALIGNED + 5000 * MINUTE, ALIGNED + 10_000 * MINUTE]


async def test_candles_reject_an_interval_hyperliquid_lacks() -> None:
    async with client_for(FakeHyperliquidInfo()) as info:
        with pytest.raises(ValueError, match="unsupported candle interval '1s'"):
            await info.candles("BTC", "1s", 0, 1)


# -- InfoClient: faults ----------------------------------------------------------------------------------------


async def test_malformed_json_is_an_info_error_naming_the_request() -> None:
    fake = FakeHyperliquidInfo()
    fake.fail_next(Fault.malformed())
    async with client_for(fake) as info:
        with pytest.raises(InfoError, match=r"/info allMids: answer is not JSON") as caught:
            await info.all_mids()
    assert not isinstance(caught.value, InfoUnavailable)
    assert fake.count() == 1  # not retried: a retry would not cure it


async def test_a_bad_field_is_an_info_error_naming_the_field() -> None:
    fake = FakeHyperliquidInfo()
    candle = {"T": 1, "c": "not a number", "h": "2", "i": "1h", "l": "1", "n": 3, "o": "1", "s": "BTC", "t": 0}
    fake.fail_next(Fault.body(json.dumps([{**candle, "v": "1.5"}])))
    async with client_for(fake) as info:
        with pytest.raises(InfoError, match=r"candleSnapshot: unexpected answer: .*`\$\[0\]\.c`"):
            await info.candles("BTC", "1h", 0, HOUR)


async def test_a_nan_price_is_rejected() -> None:
    fake = FakeHyperliquidInfo()
    fake.fail_next(Fault.body('{"BTC": "NaN"}'))
    async with client_for(fake) as info:
        with pytest.raises(InfoError, match="allMids: unexpected answer"):
            await info.all_mids()


async def test_a_client_error_is_not_retried() -> None:
    fake = FakeHyperliquidInfo()
    fake.fail_next(Fault.http(422))
    async with client_for(fake) as info:
        with pytest.raises(InfoError, match="allMids: HTTP 422") as caught:
            await info.all_mids()
    assert caught.value.status == 422
    assert fake.count() == 1


async def test_429_honours_retry_after(autojump_clock: trio.testing.MockClock) -> None:
    fake = FakeHyperliquidInfo()
    fake.set_mids({"BTC": 1.0})
    fake.fail_next(Fault.http(429, retry_after="7"))
    async with client_for(fake) as info:
        start = trio.current_time()
        assert await info.all_mids() == {"BTC": 1.0}
        assert trio.current_time() - start == pytest.approx(7.0)
    assert fake.count("allMids") == 2


async def test_429_without_retry_after_backs_off_and_drains_the_budget(autojump_clock: trio.testing.MockClock) -> None:
    fake = FakeHyperliquidInfo()
    fake.set_mids({"BTC": 1.0})
    fake.fail_next(Fault.http(429))
    budget = WeightBudget(weight_per_window=60, window_s=60.0)  # 1 weight a second
    async with client_for(fake, budget=budget, backoff_initial_s=1.0) as info:
        start = trio.current_time()
        await info.all_mids()
        # the 429 empties the bucket; the 1 s backoff refills 1 weight, the retry needs 2: one more second
        assert trio.current_time() - start == pytest.approx(2.0)


async def test_5xx_is_retried_with_backoff_then_gives_up(autojump_clock: trio.testing.MockClock) -> None:
    fake = FakeHyperliquidInfo()
    fake.fail_next(*[Fault.http(503)] * 4)
    async with client_for(fake, max_retries=3, backoff_initial_s=1.0) as info:
        start = trio.current_time()
        with pytest.raises(InfoUnavailable, match=r"allMids: HTTP 503: .*gave up after 3 retries") as caught:
            await info.all_mids()
        assert trio.current_time() - start == pytest.approx(1.0 + 2.0 + 4.0)
    assert caught.value.status == 503
    assert fake.count() == 4


async def test_one_5xx_then_an_answer_succeeds(autojump_clock: trio.testing.MockClock) -> None:
    fake = FakeHyperliquidInfo()
    fake.set_mids({"ETH": 2.5})
    fake.fail_next(Fault.http(502))
    async with client_for(fake) as info:
        assert await info.all_mids() == {"ETH": 2.5}
    assert fake.count() == 2


# -- the weight budget -----------------------------------------------------------------------------------------


async def test_the_budget_waits_when_spent(autojump_clock: trio.testing.MockClock) -> None:
    fake = FakeHyperliquidInfo()
    fake.set_mids({"BTC": 1.0})
    budget = WeightBudget(weight_per_window=10, window_s=60.0)  # refills 1 weight every 6 s
    async with client_for(fake, budget=budget) as info:
        start = trio.current_time()
        for _ in range(5):
            await info.all_mids()
        assert trio.current_time() == start  # 5 × 2 = the whole bucket, at once
        await info.all_mids()
        assert trio.current_time() - start == pytest.approx(12.0)  # 2 weight at 1/6 per second


async def test_a_request_heavier_than_the_bucket_waits_for_a_full_bucket(
    autojump_clock: trio.testing.MockClock,
) -> None:
    budget = WeightBudget(weight_per_window=100, window_s=10.0)
    await budget.spend(50)
    start = trio.current_time()
    await budget.spend(250)
    assert trio.current_time() - start == pytest.approx(5.0)
    assert budget.available == pytest.approx(-150.0)


def test_the_default_polling_fits_the_budget_for_50_symbols_on_1m() -> None:
    polls_per_minute = 60 / 5.0  # HyperliquidFeed's default mids_interval_s
    per_minute = polls_per_minute * INFO_WEIGHT_LIGHT + 50 * candle_snapshot_weight(2)
    assert per_minute == 1074
    assert per_minute < WeightBudget().capacity


# -- reachable -------------------------------------------------------------------------------------------------


async def test_reachable_when_mids_answer() -> None:
    fake = FakeHyperliquidInfo()
    fake.set_mids({"BTC": 65000.0})
    async with client_for(fake) as info:
        assert await reachable(info) is True


async def test_not_reachable_on_connect_error(autojump_clock: trio.testing.MockClock) -> None:
    fake = FakeHyperliquidInfo()
    fake.fail_next(*[Fault.unreachable()] * 10)
    async with client_for(fake, max_retries=0) as info:
        assert await reachable(info) is False
    assert fake.count() == 1


async def test_not_reachable_while_connect_errors_outlast_the_timeout(autojump_clock: trio.testing.MockClock) -> None:
    fake = FakeHyperliquidInfo()
    fake.fail_next(*[Fault.unreachable()] * 10)
    async with client_for(fake) as info:
        start = trio.current_time()
        assert await reachable(info, timeout_s=3.0) is False
        assert trio.current_time() - start == pytest.approx(3.0)


async def test_not_reachable_on_timeout(autojump_clock: trio.testing.MockClock) -> None:
    fake = FakeHyperliquidInfo()
    fake.fail_next(Fault.hang())
    async with client_for(fake) as info:
        start = trio.current_time()
        assert await reachable(info, timeout_s=3.0) is False
        assert trio.current_time() - start == pytest.approx(3.0)


async def test_not_reachable_when_the_answer_is_empty() -> None:
    async with client_for(FakeHyperliquidInfo()) as info:
        assert await reachable(info) is False


# -- HyperliquidFeed -------------------------------------------------------------------------------------------


def venue_with_hourly_bars(clock: TrioClock, coins: tuple[str, ...], hours: int = 700) -> FakeHyperliquidInfo:
    """Hourly candles from ``hours`` before ALIGNED to 10 hours after, revealed as the clock reaches them."""
    fake = FakeHyperliquidInfo(now_ms=clock.now_ms)
    for offset, coin in enumerate(coins):
        fake.add_bars(coin, "1h", make_bars(ALIGNED - hours * HOUR, hours + 10, HOUR, base=100.0 * (offset + 1)))
    return fake


async def test_history_is_the_last_closed_candles_merged_by_close(autojump_clock: trio.testing.MockClock) -> None:
    clock = TrioClock(ALIGNED + 30 * MINUTE)  # half-way through the candle that opened at ALIGNED
    fake = venue_with_hourly_bars(clock, ("BTC", "ETH"))
    async with client_for(fake) as info:
        feed = HyperliquidFeed(info, ["BTC", "ETH"], "1h", clock, history_bars=500)
        as_feed: Feed = feed  # mypy checks the protocol
        assert as_feed.source == "hyperliquid"
        async with aclosing(feed.closes()) as closes:
            history = [await anext(closes) for _ in range(500)]
    assert [batch.close_ts for batch in history] == [ALIGNED - 499 * HOUR + i * HOUR for i in range(500)]
    assert all(set(batch.bars) == {"BTC", "ETH"} for batch in history)
    assert all(bar.ts + HOUR == batch.close_ts for batch in history for bar in batch.bars.values())
    assert history[-1].bars["BTC"] == fake.candles[("BTC", "1h")][ALIGNED - HOUR]
    # one request per symbol; the fake served the open candle (ALIGNED), and the feed left it out
    assert fake.count("candleSnapshot") == 2
    assert all(req["endTime"] >= ALIGNED for req in fake.candle_requests())


async def test_history_leaves_out_a_candle_closed_less_than_the_settle_delay_ago(
    autojump_clock: trio.testing.MockClock,
) -> None:
    clock = TrioClock(ALIGNED + 1_000)  # the candle closing at ALIGNED closed 1 s ago; settle is 2 s
    fake = venue_with_hourly_bars(clock, ("BTC",))
    async with client_for(fake) as info:
        feed = HyperliquidFeed(info, ["BTC"], "1h", clock, history_bars=3)
        async with aclosing(feed.closes()) as closes:
            history = [await anext(closes) for _ in range(2)]
            assert [batch.close_ts for batch in history] == [ALIGNED - 2 * HOUR, ALIGNED - HOUR]
            live = await anext(closes)  # the candle closing at ALIGNED, once settled
            assert live.close_ts == ALIGNED
            assert clock.now_ms() == ALIGNED + 2_000


async def test_the_loop_fetches_once_per_close(autojump_clock: trio.testing.MockClock) -> None:
    clock = TrioClock(ALIGNED + 30 * MINUTE)
    fake = venue_with_hourly_bars(clock, ("BTC", "ETH", "SOL"))
    async with client_for(fake) as info:
        feed = HyperliquidFeed(info, ["BTC", "ETH", "SOL"], "1h", clock, history_bars=5)
        live: list[tuple[CloseBatch, int, int]] = []
        async with aclosing(feed.closes()) as closes:
            for _ in range(5):
                await anext(closes)
            for _ in range(3):
                batch = await anext(closes)
                live.append((batch, clock.now_ms(), fake.count("candleSnapshot")))
    for index, (batch, arrived_ms, requests) in enumerate(live, start=1):
        close = ALIGNED + index * HOUR
        assert batch.close_ts == close
        assert arrived_ms == close + 2_000  # the close, plus the settle delay
        assert requests == 3 + 3 * index  # history, then one request per symbol per close
        assert batch.bars == {coin: fake.candles[(coin, "1h")][close - HOUR] for coin in ("BTC", "ETH", "SOL")}
    for req in fake.candle_requests()[3:]:
        assert req["endTime"] - req["startTime"] == HOUR + 2_000  # just the closed candle and the open one


async def test_a_symbol_without_a_candle_is_absent_and_the_feed_moves_on(
    autojump_clock: trio.testing.MockClock,
) -> None:
    clock = TrioClock(ALIGNED + 30 * MINUTE)
    fake = venue_with_hourly_bars(clock, ("BTC", "ETH"))
    del fake.candles[("ETH", "1h")][ALIGNED]  # no ETH trades in the hour after ALIGNED
    async with client_for(fake) as info:
        feed = HyperliquidFeed(info, ["BTC", "ETH"], "1h", clock, history_bars=1)
        async with aclosing(feed.closes()) as closes:
            await anext(closes)
            quiet = await anext(closes)
            after = await anext(closes)
    assert (quiet.close_ts, set(quiet.bars)) == (ALIGNED + HOUR, {"BTC"})
    assert (after.close_ts, set(after.bars)) == (ALIGNED + 2 * HOUR, {"BTC", "ETH"})


async def test_closes_called_again_resumes_without_repeating_history(autojump_clock: trio.testing.MockClock) -> None:
    clock = TrioClock(ALIGNED + 30 * MINUTE)
    fake = venue_with_hourly_bars(clock, ("BTC",))
    async with client_for(fake) as info:
        feed = HyperliquidFeed(info, ["BTC"], "1h", clock, history_bars=2)
        async with aclosing(feed.closes()) as closes:
            assert [(await anext(closes)).close_ts for _ in range(2)] == [ALIGNED - HOUR, ALIGNED]
        await trio.sleep(2.5 * 3600)  # the actor was down across two closes
        async with aclosing(feed.closes()) as closes:
            caught_up = [(await anext(closes)).close_ts for _ in range(3)]
    assert caught_up == [ALIGNED + HOUR, ALIGNED + 2 * HOUR, ALIGNED + 3 * HOUR]


class Sink:
    """A ``MidsSink`` that keeps what it is handed."""

    def __init__(self) -> None:
        self.published: list[Mids] = []
        self.failures: list[str] = []

    def publish(self, mids: Mids) -> None:
        self.published.append(mids)

    def failed(self, error: str) -> None:
        self.failures.append(error)


async def test_watch_mids_polls_on_schedule(autojump_clock: trio.testing.MockClock) -> None:
    clock = TrioClock(ALIGNED)
    fake = FakeHyperliquidInfo()
    fake.set_mids({"BTC": 65000.0, "ETH": 3000.0, "DOGE": 0.1})
    sink = Sink()
    async with client_for(fake) as info:
        feed = HyperliquidFeed(info, ["BTC", "ETH"], "1h", clock)
        async with trio.open_nursery() as nursery:
            await nursery.start(feed.watch_mids, sink)
            await trio.sleep(0.5)
            assert feed.last_prices == {"BTC": 65000.0, "ETH": 3000.0}
            assert feed.last_prices_ms == ALIGNED
            fake.set_mids({"BTC": 66000.0})
            await trio.sleep(20)
            nursery.cancel_scope.cancel()
    assert feed.last_prices == {"BTC": 66000.0, "ETH": 3000.0}
    assert fake.count("allMids") == 5  # t = 0, 5, 10, 15, 20 s
    assert feed.last_prices_ms == ALIGNED + 20_000
    assert [mids.ts for mids in sink.published] == [ALIGNED + 5_000 * poll for poll in range(5)]
    assert sink.published[0] == Mids(ts=ALIGNED, source="hyperliquid", prices={"BTC": 65000.0, "ETH": 3000.0})
    assert sink.published[-1].prices == {"BTC": 66000.0, "ETH": 3000.0}
    assert sink.failures == []


async def test_a_failed_poll_is_reported_and_the_next_one_is_tried_on_schedule(
    autojump_clock: trio.testing.MockClock,
) -> None:
    clock = TrioClock(ALIGNED)
    fake = FakeHyperliquidInfo()
    fake.set_mids({"BTC": 65000.0})
    fake.failing["allMids"] = Fault.http(503)
    sink = Sink()
    async with client_for(fake, max_retries=0) as info:
        feed = HyperliquidFeed(info, ["BTC"], "1h", clock)
        async with trio.open_nursery() as nursery:
            await nursery.start(feed.watch_mids, sink)
            await trio.sleep(12)  # polls at 0, 5 and 10 s fail
            del fake.failing["allMids"]
            await trio.sleep(5)  # the poll at 15 s answers
            nursery.cancel_scope.cancel()
    assert len(sink.failures) == 3
    assert "allMids" in sink.failures[0]
    assert "503" in sink.failures[0]
    assert [mids.ts for mids in sink.published] == [ALIGNED + 15_000]
    assert feed.last_prices == {"BTC": 65000.0}


async def test_an_answer_without_any_of_the_feeds_symbols_is_a_failed_poll(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeHyperliquidInfo()
    fake.set_mids({"DOGE": 0.1})
    sink = Sink()
    async with client_for(fake) as info:
        feed = HyperliquidFeed(info, ["BTC", "ETH"], "1h", TrioClock(ALIGNED))
        async with trio.open_nursery() as nursery:
            await nursery.start(feed.watch_mids, sink)
            nursery.cancel_scope.cancel()
    assert sink.failures == ["allMids has no price for BTC, ETH"]
    assert sink.published == []


async def test_the_feed_refuses_a_timeframe_hyperliquid_lacks() -> None:
    async with client_for(FakeHyperliquidInfo()) as info:
        with pytest.raises(ValueError, match="timeframe '1s' is not offered"):
            HyperliquidFeed(info, ["BTC"], "1s", ManualClock(ALIGNED))
