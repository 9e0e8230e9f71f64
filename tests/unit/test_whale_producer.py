"""The whale producer against the fake Hyperliquid ``/info`` (clearinghouseState in wire format) and a fake Allium.

By hand: three wallets add 50, 40 and 30 BTC between two reads; at a last close of $58,234 the net 120 BTC is
$6,988,080, 13.98× the $500k threshold: conviction 5 + ⌊log2 13.98⌋ = 5 + 3 = 8, the spec's example.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import numpy as np
import pytest
import trio.testing

from actors.producers.whale import NO_ADDRESSES, OFFLINE, WhaleProducer, short_address
from b1e55ed.hyperliquid.info import InfoClient, InfoUnavailable
from b1e55ed.market.bars import BarArrays, BarsView
from b1e55ed.messages import Signal
from b1e55ed.plugins import Keys, PluginSetup, Services
from b1e55ed.registry import ConfigError
from b1e55ed.sources import SourceError
from b1e55ed.sources.allium import AlliumClient, AlliumQueryFailed, QueryResult, exchange_flows
from tests.fakes.allium import FakeAllium
from tests.fakes.apify import load_fixture
from tests.fakes.hyperliquid_info import FakeHyperliquidInfo

HOUR = 3_600_000
AS_OF = 1_709_280_060_000  # 2024-03-01 08:01 UTC
A = "0x1234567890abcdef1234567890abcdef1234abcd"
B = "0x5678aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaef01"
C = "0x9abcbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2345"
PRICE = 58_234.0
KEY = "allium-test-key-0123"


def bars(close: float = PRICE, count: int = 30) -> BarsView:
    ts = (AS_OF - HOUR * np.arange(count, 0, -1)).astype(np.int64)
    column = np.full(count, close)
    return BarsView("BTC", BarArrays(ts, column, column, column, column, np.ones(count)), 0, count, HOUR)


def accounts(fake: FakeHyperliquidInfo, sizes: dict[str, float], coin: str = "BTC") -> None:
    for address, size in sizes.items():
        fake.set_account(address, 10_000_000.0, {coin: (size, 50_000.0)} if size else {})


def router(handlers: dict[str, Callable[[httpx.Request], Any]]) -> httpx.MockTransport:
    async def handle(request: httpx.Request) -> httpx.Response:
        answer = handlers[request.url.host](request)
        return await answer if not isinstance(answer, httpx.Response) else answer

    return httpx.MockTransport(handle)


@asynccontextmanager
async def whale(
    info: FakeHyperliquidInfo, allium: FakeAllium | None = None, key: str = "", **params: Any
) -> AsyncIterator[WhaleProducer]:
    handlers: dict[str, Callable[[httpx.Request], Any]] = {"api.hyperliquid.xyz": info.handle}
    if allium is not None:
        handlers["api.allium.so"] = allium.handle
    async with httpx.AsyncClient(transport=router(handlers)) as http:
        services = Services(http=http, info=InfoClient(http, max_retries=1), keys=Keys(allium_api_key=key))
        params = {"addresses": [A, B, C], **params}
        yield WhaleProducer(PluginSetup("whale", HOUR, params, services))


async def two_reads(before: dict[str, float], after: dict[str, float], **params: Any) -> tuple[Signal | None, Signal]:
    fake = FakeHyperliquidInfo()
    accounts(fake, before)
    async with whale(fake, **params) as producer:
        await producer.refresh(["BTC"], AS_OF - 60_000)
        baseline = producer.produce("BTC", bars(), AS_OF - 60_000)
        accounts(fake, after)
        await producer.refresh(["BTC"], AS_OF)
        signal = producer.produce("BTC", bars(), AS_OF)
    assert signal is not None
    return baseline, signal


async def test_three_wallets_accumulating_120_btc_is_long_conviction_8() -> None:
    baseline, signal = await two_reads({A: 100.0, B: 0.0, C: -10.0}, {A: 150.0, B: 40.0, C: 20.0})
    assert baseline is None  # the first read is only the baseline
    assert (signal.signal, signal.conviction) == ("long", 8)
    assert signal.rationale == (
        "3 large wallets accumulated 120 BTC ($6.99M) over 24h: 0x1234…abcd +50, 0x5678…ef01 +40, 0x9abc…2345 +30"
    )
    assert signal.metadata["net_units"] == 120.0
    assert signal.metadata["net_usd"] == 6_988_080.0
    assert signal.metadata["wallets"] == [
        {"address": A, "short": "0x1234…abcd", "units": 50.0, "usd": 2_911_700.0},
        {"address": B, "short": "0x5678…ef01", "units": 40.0, "usd": 2_329_360.0},
        {"address": C, "short": "0x9abc…2345", "units": 30.0, "usd": 1_747_020.0},
    ]
    assert signal.metadata["allium"] == "disabled: no ALLIUM key"


async def test_distribution_is_short() -> None:
    _, signal = await two_reads({A: 150.0, B: 40.0, C: 20.0}, {A: 100.0, B: 0.0, C: -10.0})
    assert (signal.signal, signal.conviction) == ("short", 8)
    assert signal.rationale.startswith("3 large wallets distributed 120 BTC ($6.99M) over 24h: 0x1234…abcd -50")


async def test_wallets_moving_against_each_other_are_neutral() -> None:
    _, signal = await two_reads({A: 100.0, B: 100.0, C: 5.0}, {A: 150.0, B: 52.0, C: 5.0})
    assert (signal.signal, signal.conviction) == ("neutral", 1)
    assert signal.rationale == "whales: net +2 BTC ($116k) over 24h, under $500k: 0x1234…abcd +50, 0x5678…ef01 -48"
    assert [w["units"] for w in signal.metadata["wallets"]] == [50.0, -48.0]


async def test_size_threshold_triggers_on_units() -> None:
    _, signal = await two_reads({A: 0.0}, {A: 2_000.0}, threshold_units={"BTC": 500}, threshold_usd=1e12)
    assert (signal.signal, signal.conviction) == ("long", 7)  # 4× the 500 BTC threshold


async def test_moves_leave_the_window_and_reads_follow_the_interval() -> None:
    fake = FakeHyperliquidInfo()
    accounts(fake, {A: 0.0, B: 0.0, C: 0.0})
    async with whale(fake, window_s=3600, interval_s=300) as producer:
        await producer.refresh(["BTC"], AS_OF)
        accounts(fake, {A: 100.0, B: 0.0, C: 0.0})
        await producer.refresh(["BTC"], AS_OF + 60_000)  # inside interval_s: not read
        assert fake.count("clearinghouseState") == 3
        await producer.refresh(["BTC"], AS_OF + 300_000)
        assert producer.produce("BTC", bars(), AS_OF + 300_000).signal == "long"  # type: ignore[union-attr]
        await producer.refresh(["BTC"], AS_OF + 300_000 + HOUR)
        signal = producer.produce("BTC", bars(), AS_OF + 300_000 + HOUR)
    assert signal is not None
    assert (signal.signal, signal.rationale) == ("neutral", "whales: no position changes in BTC over 1h, under $500k")


async def test_a_failed_read_records_nothing(autojump_clock: trio.testing.MockClock) -> None:
    fake = FakeHyperliquidInfo()
    accounts(fake, {A: 0.0, B: 0.0, C: 0.0})
    async with whale(fake) as producer:
        await producer.refresh(["BTC"], AS_OF)
        accounts(fake, {A: 60.0, B: 60.0, C: 0.0})
        answer = fake.answers["clearinghouseState"]
        fake.answers["clearinghouseState"] = lambda body: (
            httpx.Response(502, text="bad gateway") if body["user"] == B else answer(body)
        )  # A reads, then B fails
        with pytest.raises(InfoUnavailable, match="clearinghouseState"):
            await producer.refresh(["BTC"], AS_OF + 60_000)
        assert producer.produce("BTC", bars(), AS_OF + 60_000) is None  # still only the baseline
        fake.answers["clearinghouseState"] = answer
        await producer.refresh(["BTC"], AS_OF + 120_000)
        signal = producer.produce("BTC", bars(), AS_OF + 120_000)
    assert signal is not None
    assert signal.metadata["net_units"] == 120.0


def test_disabled_offline_or_without_addresses() -> None:
    assert (
        WhaleProducer(PluginSetup("whale", HOUR, {"addresses": [A]}, Services(offline=True))).availability() == OFFLINE
    )
    assert WhaleProducer(PluginSetup("whale", HOUR, {})).availability() == NO_ADDRESSES
    assert WhaleProducer(PluginSetup("whale", HOUR, {"addresses": [A]})).availability() == (
        "disabled: no Hyperliquid info client"
    )
    with pytest.raises(ConfigError, match=r"whale: params\.addresses\[0\]: Expected `str` matching regex"):
        WhaleProducer(PluginSetup("whale", HOUR, {"addresses": ["vitalik.eth"]}))
    assert short_address(A) == "0x1234…abcd"


# -- Allium exchange flows ------------------------------------------------------------------------------------


async def test_exchange_outflows_fold_into_the_score() -> None:
    info, allium = FakeHyperliquidInfo(), FakeAllium(KEY)
    allium.add_query("q-flows", polls=1)
    accounts(info, {A: 100.0, B: 0.0, C: -10.0})
    async with whale(info, allium, key=KEY, allium_query_id="q-flows") as producer:
        await producer.refresh(["BTC", "ETH"], AS_OF)  # reads positions, starts the query
        accounts(info, {A: 150.0, B: 40.0, C: 20.0})
        await producer.refresh(["BTC", "ETH"], AS_OF + 60_000)  # running
        assert producer.produce("BTC", bars(), AS_OF + 60_000).metadata["allium"] == "waiting: query run run-1"  # type: ignore[union-attr]
        await producer.refresh(["BTC", "ETH"], AS_OF + 120_000)  # success: results read
        signal = producer.produce("BTC", bars(), AS_OF + 120_000)
    assert allium.runs["run-1"].parameters == {"symbols": "BTC,ETH", "window_hours": "24"}
    assert signal is not None
    # $6,988,080 from the wallets + $3,000,000 net outflow = $9,988,080: 19.98×, conviction 5 + 4 = 9
    assert (signal.signal, signal.conviction, signal.metadata["score_usd"]) == ("long", 9, 9_988_080.0)
    assert signal.metadata["exchange_flow"] == {"inflow_usd": 1_250_000.5, "outflow_usd": 4_250_000.5}
    assert signal.rationale.endswith("; exchanges net outflow $3.00M")
    assert all(request.headers["X-API-KEY"] == KEY for request in allium.requests)


async def test_a_failed_allium_query_fails_the_cycle() -> None:
    info, allium = FakeHyperliquidInfo(), FakeAllium(KEY)
    allium.add_query("q-flows", polls=0, final="failed")
    async with whale(info, allium, key=KEY, allium_query_id="q-flows") as producer:
        await producer.refresh(["BTC"], AS_OF)
        with pytest.raises(AlliumQueryFailed, match="query run run-1 failed"):
            await producer.refresh(["BTC"], AS_OF + 60_000)
        assert producer.allium_status.startswith("failed: GET /api/v1/explorer/query-runs/{run_id}/status")


async def test_allium_client_runs_polls_and_reads(autojump_clock: trio.testing.MockClock) -> None:
    fake = FakeAllium(KEY)
    fake.add_query("q-flows", polls=2)
    async with httpx.AsyncClient(transport=fake.transport()) as http:
        result = await AlliumClient(http, KEY).run_query("q-flows", {"symbols": "BTC"}, max_wait_s=60)
        with pytest.raises(SourceError, match="HTTP 401") as caught:
            await AlliumClient(http, "wrong-key").start_query("q-flows", {})
    assert KEY not in str(caught.value)
    assert [f"{r.method} {r.url.path}" for r in fake.requests][:5] == [
        "POST /api/v1/explorer/queries/q-flows/run-async",
        "GET /api/v1/explorer/query-runs/run-1/status",
        "GET /api/v1/explorer/query-runs/run-1/status",
        "GET /api/v1/explorer/query-runs/run-1/status",
        "GET /api/v1/explorer/query-runs/run-1/results",
    ]
    flows = exchange_flows(result)
    assert flows["BTC"].net_outflow_usd == 3_000_000.0
    assert flows["ETH"].net_outflow_usd == -2_000_000.0


def test_exchange_flows_need_the_documented_columns() -> None:
    result = QueryResult(data=[*load_fixture("allium_exchange_flows.json")["data"], {"symbol": "SOL", "inflow_usd": 1}])
    with pytest.raises(SourceError, match=r"`data\[2\]` needs symbol, inflow_usd and outflow_usd"):
        exchange_flows(result)
