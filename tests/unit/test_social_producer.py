"""The social producer and its sources (Apify, Reddit) against fakes in the APIs' recorded formats, in virtual time.

The Reddit fixture (``tests/fixtures/reddit_new_cryptocurrency.json``) holds 24 posts from 2024-03-01 00:30 to
08:00:30 UTC. Judged at 08:01 with a 6-bucket hourly baseline, by hand: the baseline is 01:00-07:00, the bucket
07:00-08:00. BTC is mentioned [0, 2, 0, 2, 0, 2] times, then 5 (the 00:30 post is before the baseline, the 08:00:30
one after the bucket, "WBTC" is not BTC, "bitcoin, bitcoin, bitcoin" is one post): mean 1, population std 1,
σ = max(1, √1, 1) = 1, z = (5 − 1) / 1 = 4.00, conviction 5 + ⌊4 − 2⌋ = 7. ETH: [1] × 6 then 1 ("$eth" counts),
z = 0. SOL: [0] × 6 then 1 ("$SOL"; Spanish "sol" does not count), σ = 1, z = 1.00: no buzz.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import numpy as np
import pytest
import trio
import trio.testing

from actors.producers.actor import ProducerActor
from actors.producers.social import NO_TOKEN, OFFLINE, SocialProducer, mention_pattern
from b1e55ed.cycle import CycleTick
from b1e55ed.market.bars import BarArrays, BarsView
from b1e55ed.messages import Signal
from b1e55ed.plugins import Keys, PluginSetup, Services
from b1e55ed.registry import ConfigError
from b1e55ed.sources import SourceError, SourceUnavailable
from b1e55ed.sources.apify import ApifyClient, ApifyRunFailed, ApifyRunTimeout, posts_from_items
from b1e55ed.sources.reddit import DEFAULT_USER_AGENT, RedditClient
from tests.fakes.apify import FakeApify, load_fixture
from tests.fakes.reddit import FakeReddit

HOUR = 3_600_000
T0 = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp() * 1000)
AS_OF = T0 + 8 * HOUR + 60_000  # 08:01 UTC
TOKEN = "apify-test-token-0123"
PARAMS: dict[str, Any] = {"subreddits": ["CryptoCurrency"], "baseline_buckets": 6}


def at(hour: int, minute: float = 0) -> int:
    return T0 + hour * HOUR + round(minute * 60_000)


def bars(change_pct: float, count: int = 30) -> BarsView:
    """Hourly closes, flat at 100 and then, over the last 24 bars, moving by ``change_pct`` in all."""
    close = np.full(count, 100.0)
    close[-24:] = 100.0 + change_pct * np.arange(1, 25) / 24
    ts = AS_OF - HOUR * np.arange(count, 0, -1)
    arrays = BarArrays(ts.astype(np.int64), close, close, close, close, np.ones(count))
    return BarsView("BTC", arrays, 0, count, HOUR)


def router(handlers: dict[str, Callable[[httpx.Request], httpx.Response]]) -> httpx.MockTransport:
    """One transport for several fake hosts, as one shared ``httpx.AsyncClient`` talks to every API."""
    return httpx.MockTransport(lambda request: handlers[request.url.host](request))


@asynccontextmanager
async def social(
    reddit: FakeReddit, apify: FakeApify | None = None, token: str = "", **params: Any
) -> AsyncIterator[SocialProducer]:
    handlers: dict[str, Callable[[httpx.Request], httpx.Response]] = {"www.reddit.com": reddit.handle}
    if apify is not None:
        handlers["api.apify.com"] = apify.handle
    async with httpx.AsyncClient(transport=router(handlers)) as http:
        services = Services(http=http, keys=Keys(apify_token=token))
        yield SocialProducer(PluginSetup("social", HOUR, {**PARAMS, **params}, services))


def buzz_reddit(page_size: int = 100) -> FakeReddit:
    reddit = FakeReddit(page_size=page_size)
    reddit.load("CryptoCurrency", "reddit_new_cryptocurrency.json")
    return reddit


async def judge(producer: SocialProducer, change_pct: float = 2.0, symbols: Sequence[str] = ("BTC",)) -> list[Signal]:
    signals = [producer.produce(symbol, bars(change_pct), AS_OF) for symbol in symbols]
    assert all(signal is not None for signal in signals)
    return [signal for signal in signals if signal is not None]


# -- mention counting ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("BTC 70k!!!", True),
        ("#BTC to the moon", True),
        ("buying $btc", True),
        ("Bitcoin's rally", True),
        ("#bitcoin halving", True),
        ("WBTC bridge", False),
        ("btc lowercase alone", False),
        ("bitcoins", False),
        ("BTCUSDT perp", False),
    ],
)
def test_mention_pattern(text: str, expected: bool) -> None:
    assert bool(mention_pattern("BTC", ["bitcoin"]).search(text)) is expected


def test_lowercase_ticker_that_is_a_word_is_not_a_mention() -> None:
    pattern = mention_pattern("SOL", ["solana"])
    assert not pattern.search("El sol brilla hoy")
    assert pattern.search("Buying more $SOL")
    assert pattern.search("SOL pumps")
    assert pattern.search("Solana TVL")


# -- the producer, Reddit only (no APIFY token) -----------------------------------------------------------------


async def test_buzz_on_a_rising_price_is_long_with_the_hand_computed_conviction() -> None:
    async with social(buzz_reddit(page_size=10)) as producer:
        assert producer.availability() is None  # Reddit still works without the token
        await producer.refresh(["BTC", "ETH", "SOL"], AS_OF)
        btc, eth, sol = await judge(producer, 2.0, ["BTC", "ETH", "SOL"])
    assert (btc.signal, btc.conviction) == ("long", 7)
    assert btc.metadata["z"] == 4.0
    assert btc.metadata["mentions"] == 5
    assert (btc.metadata["baseline_mean"], btc.metadata["baseline_sigma"], btc.metadata["baseline_buckets"]) == (
        1,
        1,
        6,
    )
    assert btc.metadata["bucket_start"] == at(7)
    assert btc.metadata["trend_pct"] == 2.0
    assert btc.metadata["sources"] == {"reddit": "ok", "tiktok": NO_TOKEN, "twitter": NO_TOKEN}
    assert btc.metadata["included"] == ["reddit"]
    assert "BTC 5 mentions/60min vs 1.0±1.0 (z=4.00)" in btc.rationale
    assert "rising" in btc.rationale
    assert btc.timestamp == AS_OF // 1000
    assert (eth.signal, eth.conviction, eth.metadata["z"], eth.metadata["mentions"]) == ("neutral", 1, 0.0, 1)
    assert (sol.signal, sol.conviction, sol.metadata["z"]) == ("neutral", 1, 1.0)
    assert "no buzz" in sol.rationale


@pytest.mark.parametrize(("change_pct", "direction", "conviction"), [(-2.0, "short", 7), (0.5, "neutral", 1)])
async def test_buzz_takes_the_direction_of_the_price(change_pct: float, direction: str, conviction: int) -> None:
    async with social(buzz_reddit()) as producer:
        await producer.refresh(["BTC"], AS_OF)
        (signal,) = await judge(producer, change_pct)
    assert (signal.signal, signal.conviction) == (direction, conviction)
    if direction == "neutral":
        assert "gives no direction" in signal.rationale


async def test_not_enough_baseline_is_no_data() -> None:
    async with social(buzz_reddit(page_size=5), reddit_max_pages=2) as producer:
        await producer.refresh(["BTC"], AS_OF)
        assert producer.produce("BTC", bars(2.0), AS_OF) is None  # 10 posts reach back to 06:50 only


async def test_later_reads_page_back_only_to_the_last_read() -> None:
    reddit = buzz_reddit(page_size=5)
    async with social(reddit) as producer:
        await producer.refresh(["BTC"], AS_OF)
        first = len(reddit.requests)
        await producer.refresh(["BTC"], AS_OF + 60_000)  # inside reddit_interval_s: nothing read
        assert len(reddit.requests) == first
        reddit.add_post("CryptoCurrency", "new1", "BTC again", (AS_OF + 200_000) / 1000)
        await producer.refresh(["BTC"], AS_OF + 300_000)
        assert len(reddit.requests) - first == 1  # the 5 newest reach past 07:56 (the last read − 5 min)
        (signal,) = await judge(producer)
    assert signal.metadata["mentions"] == 5  # the new post is in the 08:00 bucket, not yet judged


async def test_without_token_or_subreddits_it_is_disabled() -> None:
    async with social(FakeReddit(), subreddits=[]) as producer:
        assert producer.availability() == NO_TOKEN


async def test_offline_replay_is_disabled() -> None:
    services = Services(offline=True, keys=Keys(apify_token=TOKEN))
    assert SocialProducer(PluginSetup("social", HOUR, {}, services)).availability() == OFFLINE


async def test_bad_subreddit_name_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"social: params\.subreddits\[0\]: Expected `str` matching regex"):
        SocialProducer(PluginSetup("social", HOUR, {"subreddits": ["r/Bitcoin"]}))


async def test_reddit_server_errors_fail_the_refresh_after_bounded_retries(
    autojump_clock: trio.testing.MockClock,
) -> None:
    reddit = buzz_reddit()
    reddit.fail_next(503, times=4)
    async with social(reddit) as producer:
        with pytest.raises(SourceUnavailable, match=r"GET /r/\{subreddit\}/new.json: HTTP 503"):
            await producer.refresh(["BTC"], AS_OF)
        assert len(reddit.requests) == 4  # the first try and 3 retries
        assert producer.produce("BTC", bars(2.0), AS_OF) is None


async def test_stage_reports_disabled_and_failed() -> None:
    tick = CycleTick(cycle=1, as_of=AS_OF, source="replay", market={"BTC": bars(2.0)})
    send, receive = trio.open_memory_channel[Any](1)
    disabled = ProducerActor(SocialProducer(PluginSetup("social", HOUR, {"subreddits": []})), receive, send)
    report = await disabled.report(tick)
    assert (report.status, report.detail) == ("disabled", "disabled: no HTTP client")
    reddit = buzz_reddit()
    reddit.fail_next(404)
    async with social(reddit) as producer:
        report = await ProducerActor(producer, receive, send).report(tick)
    assert report.status == "failed"
    assert "HTTP 404" in report.detail


# -- Apify: run, poll, dataset ----------------------------------------------------------------------------------


@asynccontextmanager
async def apify_client(fake: FakeApify, token: str = TOKEN) -> AsyncIterator[ApifyClient]:
    async with httpx.AsyncClient(transport=fake.transport()) as http:
        yield ApifyClient(http, token)


async def test_apify_run_poll_and_dataset(autojump_clock: trio.testing.MockClock) -> None:
    fake = FakeApify(TOKEN)
    fake.add_actor("clockworks~tiktok-scraper", load_fixture("apify_tiktok_items.json"), polls=2)
    run_input = {"searchQueries": ["bitcoin"], "resultsPerPage": 10}
    async with apify_client(fake) as client:
        items = await client.run_actor("clockworks/tiktok-scraper", run_input, max_wait_s=60)
    assert fake.paths() == [
        "POST /v2/acts/clockworks~tiktok-scraper/runs",
        "GET /v2/actor-runs/run0000000000001",
        "GET /v2/actor-runs/run0000000000001",
        "GET /v2/actor-runs/run0000000000001",
        "GET /v2/datasets/dataset000000001/items",
    ]
    assert trio.current_time() == pytest.approx(6.0)  # polls at 0, 2 and 6 s
    assert fake.runs["run0000000000001"].input == run_input
    assert all(TOKEN not in str(request.url) for request in fake.requests)
    assert fake.requests[-1].url.params["format"] == "json"
    assert [item["id"] for item in items] == [item["id"] for item in load_fixture("apify_tiktok_items.json")]


async def test_apify_failed_run_raises_without_reading_the_dataset() -> None:
    fake = FakeApify(TOKEN)
    fake.add_actor("apidojo~tweet-scraper", [], polls=0, final="FAILED")
    async with apify_client(fake) as client:
        with pytest.raises(ApifyRunFailed, match=r"run run0000000000001 of apidojo~tweet-scraper ended FAILED"):
            await client.run_actor("apidojo~tweet-scraper", {}, max_wait_s=60)
    assert not any("datasets" in path for path in fake.paths())


async def test_apify_slow_run_stops_waiting_with_an_error(autojump_clock: trio.testing.MockClock) -> None:
    fake = FakeApify(TOKEN)
    fake.add_actor("clockworks~tiktok-scraper", [], polls=1_000)
    async with apify_client(fake) as client:
        with pytest.raises(ApifyRunTimeout, match=r"still RUNNING after 30 s"):
            await client.run_actor("clockworks~tiktok-scraper", {}, max_wait_s=30)
    assert trio.current_time() == pytest.approx(30.0)
    assert fake.paths().count("GET /v2/actor-runs/run0000000000001") == 5  # at 0, 2, 6, 14 and 30 s


async def test_apify_rate_limit_waits_for_retry_after(autojump_clock: trio.testing.MockClock) -> None:
    fake = FakeApify(TOKEN)
    fake.add_actor("clockworks~tiktok-scraper", [])
    fake.fail_next(429, retry_after="7")
    async with apify_client(fake) as client:
        run = await client.start_run("clockworks~tiktok-scraper", {})
    assert run.status == "READY"
    assert trio.current_time() == pytest.approx(7.0)


async def test_apify_errors_name_the_endpoint_and_never_the_token() -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, text=f"bad request from {request.headers['Authorization']}")

    async with httpx.AsyncClient(transport=httpx.MockTransport(echo)) as http:
        with pytest.raises(SourceError) as caught:
            await ApifyClient(http, TOKEN).get_run("abc")
    assert str(caught.value) == "GET /v2/actor-runs/{runId}: HTTP 400: bad request from Bearer ***"
    async with apify_client(FakeApify("another-token")) as client:
        with pytest.raises(SourceError, match=r"HTTP 401: .*token-not-valid"):
            await client.start_run("clockworks~tiktok-scraper", {})


def test_posts_from_scraper_items() -> None:
    tiktok = posts_from_items("tiktok", load_fixture("apify_tiktok_items.json"))
    assert [(p.id, p.ts_ms) for p in tiktok] == [
        ("7341234567890123456", at(7)),
        ("7341234567890123999", at(7, 30)),
        ("7299999999999999999", int(datetime(2023, 11, 10, 12, tzinfo=UTC).timestamp() * 1000)),
    ]
    twitter = posts_from_items("twitter", load_fixture("apify_twitter_items.json"))  # {"noResults": true} skipped
    assert [(p.source, p.ts_ms, p.text[:4]) for p in twitter] == [
        ("twitter", at(7, 15), "$BTC"),
        ("twitter", at(7, 40) + 10_000, "Ethe"),
    ]


# -- Reddit listing ----------------------------------------------------------------------------------------------


@asynccontextmanager
async def reddit_client(fake: FakeReddit, **kwargs: Any) -> AsyncIterator[RedditClient]:
    async with httpx.AsyncClient(transport=fake.transport()) as http:
        yield RedditClient(http, **kwargs)


async def test_reddit_listing_is_parsed_newest_first() -> None:
    fake = buzz_reddit()
    async with reddit_client(fake) as client:
        page = await client.new_page("CryptoCurrency")
    assert len(page.posts) == 24
    assert page.after is None
    assert page.posts[0].text == "Bitcoin mania"
    assert page.posts[0].ts_ms == at(8, 0.5)
    stack = next(p for p in page.posts if p.text.startswith("Why I stack"))
    assert stack.text == "Why I stack sats\nbitcoin, bitcoin, bitcoin. Nothing else."
    assert stack.id.startswith("t3_")
    request = fake.requests[0]
    assert request.url.path == "/r/CryptoCurrency/new.json"
    assert request.url.params["limit"] == "100"
    assert request.headers["User-Agent"] == DEFAULT_USER_AGENT


async def test_reddit_pages_back_to_the_requested_time() -> None:
    fake = buzz_reddit(page_size=10)
    async with reddit_client(fake) as client:
        fetch = await client.new_since("CryptoCurrency", at(1), max_pages=5)
    assert fetch.pages == 3
    assert fetch.covered_from_ms == at(1)
    assert len(fetch.posts) == 23
    assert min(p.ts_ms for p in fetch.posts) == at(1, 10)
    assert [r.url.params.get("after") for r in fake.requests][1:] == [fetch.posts[9].id, fetch.posts[19].id]


async def test_reddit_paging_cut_short_says_from_when_it_is_complete() -> None:
    async with reddit_client(buzz_reddit(page_size=5)) as client:
        fetch = await client.new_since("CryptoCurrency", at(1), max_pages=2)
    assert fetch.pages == 2
    assert len(fetch.posts) == 10
    assert fetch.covered_from_ms == at(6, 50)


async def test_reddit_rate_limits_are_waited_out(autojump_clock: trio.testing.MockClock) -> None:
    fake = buzz_reddit()
    fake.fail_next(429, retry_after="30")
    async with reddit_client(fake) as client:
        await client.new_page("CryptoCurrency")
        assert trio.current_time() == pytest.approx(30.0)
        fake.budget, fake.reset_s = 1, 45  # the next answer says: 0 left, reset in 45 s
        await client.new_page("CryptoCurrency")
        await client.new_page("CryptoCurrency")
    assert trio.current_time() == pytest.approx(75.0)


async def test_reddit_throttles_a_generic_user_agent(autojump_clock: trio.testing.MockClock) -> None:
    async with reddit_client(buzz_reddit(), user_agent="python-httpx/0.28", max_retries=1) as client:
        with pytest.raises(SourceUnavailable, match="HTTP 429"):
            await client.new_page("CryptoCurrency")


# -- the producer with the APIFY token: runs started in one refresh, collected in a later one -------------------


def buzz_apify(tiktok_final: str = "SUCCEEDED", polls: int = 1) -> FakeApify:
    apify = FakeApify(TOKEN)
    apify.add_actor(
        "clockworks~tiktok-scraper", load_fixture("apify_tiktok_items.json"), polls=polls, final=tiktok_final
    )
    apify.add_actor("apidojo~tweet-scraper", load_fixture("apify_twitter_items.json"), polls=polls)
    return apify


async def test_scraper_runs_are_collected_in_later_refreshes_and_counted() -> None:
    apify = buzz_apify()
    async with social(buzz_reddit(), apify, token=TOKEN) as producer:
        await producer.refresh(["BTC", "ETH", "SOL"], AS_OF)  # starts both runs, reads Reddit
        assert [run.input for run in apify.runs.values()] == [
            {"searchQueries": ["bitcoin", "ethereum", "solana"], "resultsPerPage": 100},
            {"searchTerms": ["bitcoin", "ethereum", "solana"], "sort": "Latest", "maxItems": 500},
        ]
        assert producer.produce("BTC", bars(2.0), AS_OF).metadata["sources"]["tiktok"].startswith("waiting")  # type: ignore[union-attr]
        await producer.refresh(["BTC", "ETH", "SOL"], AS_OF + 60_000)  # both still RUNNING
        await producer.refresh(["BTC", "ETH", "SOL"], AS_OF + 120_000)  # SUCCEEDED: datasets read
        signal = producer.produce("BTC", bars(2.0), AS_OF + 120_000)
    assert signal is not None
    assert signal.metadata["sources"] == {"reddit": "ok", "tiktok": "ok", "twitter": "ok"}
    assert signal.metadata["by_source"] == {"reddit": 5, "tiktok": 1, "twitter": 1}
    # X's latest 2 tweets reach back to 07:15 only: its bucket is incomplete, so it sits out; TikTok counts:
    # 5 + 1 = 6 against the same baseline, z = 5.00, conviction 8.
    assert signal.metadata["included"] == ["reddit", "tiktok"]
    assert (signal.signal, signal.conviction, signal.metadata["z"], signal.metadata["mentions"]) == ("long", 8, 5.0, 6)
    assert sum(1 for path in apify.paths() if path.startswith("POST")) == 2  # no new runs inside apify_interval_s


async def test_a_failed_run_fails_the_cycle_and_the_other_sources_carry_on() -> None:
    apify = buzz_apify(tiktok_final="FAILED", polls=0)
    async with social(buzz_reddit(), apify, token=TOKEN) as producer:
        await producer.refresh(["BTC"], AS_OF)
        with pytest.raises(ApifyRunFailed, match="ended FAILED"):
            await producer.refresh(["BTC"], AS_OF + 60_000)
        (signal,) = await judge(producer)
        assert signal.metadata["sources"]["tiktok"].startswith("failed: GET /v2/actor-runs/{runId}")
        assert signal.metadata["sources"]["twitter"] == "ok"  # collected in the same refresh
        await producer.refresh(["BTC"], AS_OF + 120_000)  # the failed run is dropped, not polled again
    assert apify.paths().count("GET /v2/actor-runs/run0000000000001") == 1


async def test_a_run_still_running_past_the_wait_fails_the_cycle() -> None:
    apify = buzz_apify(polls=1_000)
    async with social(buzz_reddit(), apify, token=TOKEN, apify_max_wait_s=600, twitter_actor="") as producer:
        await producer.refresh(["BTC"], AS_OF)
        await producer.refresh(["BTC"], AS_OF + 300_000)
        with pytest.raises(ApifyRunTimeout, match="still RUNNING after 700 s"):
            await producer.refresh(["BTC"], AS_OF + 700_000)
        assert "twitter" not in producer.produce("BTC", bars(2.0), AS_OF).metadata["sources"]  # type: ignore[union-attr]
