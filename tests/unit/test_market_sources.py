"""Funding and sentiment sources: Hyperliquid's funding and account requests in their wire format (against the fake
``/info`` server), funding history from Parquet with row checks and no lookahead, live funding kept from the info
API, and the Fear & Greed daily index; the real files in ``../shared/data`` where present."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import polars as pl
import pytest

from b1e55ed.hyperliquid.info import InfoClient, InfoError
from b1e55ed.hyperliquid.wire import Leverage, Position
from b1e55ed.market.funding import FundingHistory, FundingSeries, LiveFunding
from b1e55ed.market.replay import DataError
from b1e55ed.market.sentiment import FearGreedIndex
from b1e55ed.ratelimit import WeightBudget
from tests.fakes.hyperliquid_info import FakeHyperliquidInfo, Fault

HOUR = 3_600_000
DAY = 24 * HOUR
T0 = 1_700_002_800_000  # a whole hour (UTC)


def utc_ms(year: int, month: int, day: int, hour: int = 0) -> int:
    return int(datetime(year, month, day, hour, tzinfo=UTC).timestamp() * 1000)


@asynccontextmanager
async def client_for(fake: FakeHyperliquidInfo, budget: WeightBudget | None = None) -> AsyncIterator[InfoClient]:
    async with httpx.AsyncClient(transport=fake.transport()) as http:
        yield InfoClient(http, budget=budget, max_retries=0)


def hourly_funding(count: int, start: int = T0) -> list[tuple[int, float]]:
    """``count`` hourly settlements, each rate a known function of its index."""
    return [(start + i * HOUR, (i % 11 - 5) * 1e-6) for i in range(count)]


# -- InfoClient: funding and account requests --------------------------------------------------------------------


async def test_funding_history_paginates_at_500_rows() -> None:
    fake = FakeHyperliquidInfo()
    rows = hourly_funding(1234)
    fake.add_funding("BTC", rows)
    fake.add_funding("ETH", hourly_funding(10))
    budget = WeightBudget()
    async with client_for(fake, budget) as info:
        got = await info.funding_history("BTC", T0, T0 + 2000 * HOUR)
    assert got == rows
    starts = [body["startTime"] for body in fake.requests]
    assert starts == [T0, rows[499][0] + 1, rows[999][0] + 1]  # each page starts just after the last one
    expected = {"type": "fundingHistory", "coin": "BTC", "endTime": T0 + 2000 * HOUR}
    assert all(body == {**body, **expected} for body in fake.requests)
    # We spend up front what the range could hold (never under-counting); the server charged per row returned.
    assert fake.weight_charged == 3 * 20 + 500 // 20 * 2 + 234 // 20
    assert 1200 - budget.available >= fake.weight_charged


async def test_funding_history_keeps_only_the_range_asked_for() -> None:
    fake = FakeHyperliquidInfo()
    rows = hourly_funding(20)
    fake.add_funding("BTC", rows)
    async with client_for(fake) as info:
        got = await info.funding_history("BTC", T0 + 3 * HOUR, T0 + 7 * HOUR)
        nothing = await info.funding_history("SOL", T0, T0 + 7 * HOUR)
        with pytest.raises(ValueError, match="before start_ms"):
            await info.funding_history("BTC", T0, T0 - 1)
    assert got == rows[3:8]
    assert nothing == []
    assert fake.count("fundingHistory") == 2


async def test_funding_history_rejects_rows_of_another_coin_or_not_numbers() -> None:
    fake = FakeHyperliquidInfo()
    other = [{"coin": "ETH", "fundingRate": "0.0000125", "premium": "0.0", "time": T0}]
    nan = [{"coin": "BTC", "fundingRate": "nan", "premium": "0.0", "time": T0}]
    fake.fail_next(Fault.body(json.dumps(other)), Fault.body(json.dumps(nan)))
    async with client_for(fake) as info:
        with pytest.raises(InfoError, match=r"fundingHistory: `\$\[0\]\.coin` is 'ETH'"):
            await info.funding_history("BTC", T0, T0 + HOUR)
        with pytest.raises(InfoError, match="fundingHistory: unexpected answer"):
            await info.funding_history("BTC", T0, T0 + HOUR)


async def test_clearinghouse_state_decodes_positions_and_margin() -> None:
    fake = FakeHyperliquidInfo()
    fake.set_mids({"BTC": 60_000.0, "ETH": 3_000.0})
    fake.set_account("0xabc", 10_000.0, {"BTC": (0.1, 58_000.0), "ETH": (-2.0, 3_100.0)}, leverage=10)
    async with client_for(fake) as info:
        state = await info.clearinghouse_state("0xabc")
        empty = await info.clearinghouse_state("0xdef")
    assert fake.requests[0] == {"type": "clearinghouseState", "user": "0xabc"}
    assert fake.weight_charged == 2 * 2
    btc, eth = state.positions
    assert (btc.coin, btc.size, btc.entry_px) == ("BTC", 0.1, 58_000.0)
    assert btc.position_value == pytest.approx(6_000.0)
    assert btc.unrealized_pnl == pytest.approx(200.0)  # marked at the mid: 0.1 × (60,000 - 58,000)
    assert (eth.coin, eth.size) == ("ETH", -2.0)
    assert eth.unrealized_pnl == pytest.approx(200.0)  # a short: -2 × (3,000 - 3,100)
    assert btc.leverage == Leverage("cross", 10)
    assert state.account_value == 10_000.0
    assert state.total_ntl_pos == pytest.approx(12_000.0)
    assert (empty.positions, empty.account_value) == ((), 0.0)


async def test_clearinghouse_state_reads_the_documented_shape() -> None:
    """As the SDK documents it: optional ``entryPx``, isolated leverage with ``rawUsd``, extra fields ignored."""
    answer = {
        "assetPositions": [
            {
                "position": {
                    "coin": "SOL",
                    "entryPx": None,
                    "leverage": {"type": "isolated", "value": 3, "rawUsd": "-120.5"},
                    "liquidationPx": None,
                    "marginUsed": "40.1",
                    "positionValue": "120.3",
                    "returnOnEquity": "0.0",
                    "szi": "-1.0",
                    "unrealizedPnl": "-0.25",
                },
                "type": "oneWay",
            }
        ],
        "crossMarginSummary": {"accountValue": "500.0", "totalMarginUsed": "0", "totalNtlPos": "0"},
        "marginSummary": {"accountValue": "500.5", "totalMarginUsed": "40.1", "totalNtlPos": "120.3"},
        "withdrawable": "460.0",
    }
    fake = FakeHyperliquidInfo()
    fake.fail_next(Fault.body(json.dumps(answer)), Fault.body(json.dumps({"assetPositions": []})))
    async with client_for(fake) as info:
        state = await info.clearinghouse_state("0xabc")
        with pytest.raises(InfoError, match=r"clearinghouseState: unexpected answer.*marginSummary"):
            await info.clearinghouse_state("0xabc")
    (sol,) = state.positions
    assert sol == Position("SOL", -1.0, None, 120.3, -0.25, Leverage("isolated", 3))
    assert (state.account_value, state.total_ntl_pos) == (500.5, 120.3)


async def test_meta_and_asset_ctxs_and_predicted_fundings_give_current_funding() -> None:
    fake = FakeHyperliquidInfo()
    fake.add_funding("BTC", [(T0, 0.0000125), (T0 + HOUR, -0.00003)])
    fake.set_mids({"BTC": 60_000.0})
    fake.predicted.update({"BTC": 0.00002, "ETH": -0.00001})
    async with client_for(fake) as info:
        contexts = await info.meta_and_asset_ctxs()
        predicted = await info.predicted_fundings()
        binance = await info.predicted_fundings("BinPerp")  # the fake's BinPerp entries are null
    assert contexts["BTC"].funding == -0.00003
    assert contexts["BTC"].mark_px == 60_000.0
    assert predicted == {"BTC": 0.00002, "ETH": -0.00001}
    assert binance == {}
    assert [body["type"] for body in fake.requests] == ["metaAndAssetCtxs", "predictedFundings", "predictedFundings"]
    assert fake.weight_charged == 60


async def test_meta_and_asset_ctxs_rejects_a_universe_out_of_step() -> None:
    answer = [{"universe": [{"name": "BTC"}, {"name": "ETH"}]}, [{"funding": "0.0001", "openInterest": "1"}]]
    fake = FakeHyperliquidInfo()
    fake.fail_next(Fault.body(json.dumps(answer)))
    async with client_for(fake) as info:
        with pytest.raises(InfoError, match="2 assets in `universe` but 1 contexts"):
            await info.meta_and_asset_ctxs()


# -- FundingHistory -------------------------------------------------------------------------------------------------


def write_funding(path: Path, ts: Sequence[int | None], rate: Sequence[float | None]) -> Path:
    pl.DataFrame({"ts": ts, "rate": rate}, schema={"ts": pl.Int64, "rate": pl.Float64}).write_parquet(path)
    return path


def test_funding_history_loads_both_file_names(tmp_path: Path) -> None:
    write_funding(tmp_path / "BTCUSDT.parquet", [T0, T0 + 8 * HOUR], [0.0001, -0.0002])
    write_funding(tmp_path / "HYPE.parquet", [T0], [0.0000125])
    history = FundingHistory.load(tmp_path)
    assert history.symbols == ["BTC", "HYPE"]
    assert list(history.rates("BTC", T0 + DAY)) == [(T0, 0.0001), (T0 + 8 * HOUR, -0.0002)]
    assert list(history.rates("HYPE", T0)) == [(T0, 0.0000125)]
    assert history.report.total_skipped == 0


def test_funding_history_skips_and_counts_bad_rows(tmp_path: Path) -> None:
    ts: list[int | None] = [T0, T0 + HOUR, None, T0 + 2 * HOUR, T0 + 2 * HOUR, T0 + HOUR, T0 + 3 * HOUR, T0 + 4 * HOUR]
    rate: list[float | None] = [1e-4, math.nan, 1e-4, 2e-4, 3e-4, 4e-4, math.inf, 5.0]
    write_funding(tmp_path / "BTCUSDT.parquet", ts, rate)
    history = FundingHistory.load(tmp_path, ["BTC"])
    assert list(history.rates("BTC", T0 + DAY)) == [(T0, 1e-4), (T0 + 2 * HOUR, 2e-4)]
    assert history.report.skipped["BTCUSDT.parquet"] == {
        "missing timestamp": 1,
        "NaN or infinite rate": 2,
        "rate beyond ±100%": 1,
        "duplicate timestamp": 1,
        "timestamp out of order": 1,
    }
    assert history.report.kept == {"BTCUSDT.parquet": 2}
    assert "skipped" in history.report.summary()


def test_funding_history_reports_a_missing_symbol_and_rejects_a_missing_folder(tmp_path: Path) -> None:
    write_funding(tmp_path / "BTCUSDT.parquet", [T0], [0.0001])
    history = FundingHistory.load(tmp_path, ["BTC", "DOGE"])
    assert history.symbols == ["BTC"]
    assert history.report.missing == ["DOGE"]
    assert "no funding file for DOGE" in history.report.summary()
    assert len(history.rates("DOGE", T0 + DAY)) == 0
    with pytest.raises(DataError, match="nowhere: no such funding folder"):
        FundingHistory.load(tmp_path / "nowhere")


def test_funding_history_rejects_unusable_files(tmp_path: Path) -> None:
    pl.DataFrame({"ts": [T0], "funding": [0.0001]}).write_parquet(tmp_path / "BTCUSDT.parquet")
    with pytest.raises(DataError, match=r"BTCUSDT\.parquet: missing column 'rate'"):
        FundingHistory.load(tmp_path)
    write_funding(tmp_path / "BTCUSDT.parquet", [T0], [0.0001])
    write_funding(tmp_path / "BTC.parquet", [T0], [0.0001])
    with pytest.raises(DataError, match=r"both BTC\.parquet and BTCUSDT\.parquet hold BTC's funding"):
        FundingHistory.load(tmp_path)
    (tmp_path / "BTC.parquet").unlink()
    (tmp_path / "ETHUSDT.parquet").write_bytes(b"not parquet")
    with pytest.raises(DataError, match=r"ETHUSDT\.parquet: unreadable Parquet"):
        FundingHistory.load(tmp_path, ["ETH"])


def test_funding_history_asks_which_venue_in_the_collector_layout(tmp_path: Path) -> None:
    for venue, name in [("binance", "BTCUSDT.parquet"), ("hyperliquid", "BTC.parquet")]:
        (tmp_path / venue).mkdir()
        write_funding(tmp_path / venue / name, [T0], [0.0001])
    with pytest.raises(DataError, match=r"holds funding per venue \(binance, hyperliquid\): pass one of those"):
        FundingHistory.load(tmp_path, ["BTC"])
    assert FundingHistory.load(tmp_path / "hyperliquid", ["BTC"]).symbols == ["BTC"]


def test_funding_history_never_answers_from_the_future(tmp_path: Path) -> None:
    times = [T0 + 8 * HOUR * i for i in range(200)]
    write_funding(tmp_path / "BTCUSDT.parquet", times, [i * 1e-6 for i in range(200)])
    history = FundingHistory.load(tmp_path)
    rng = np.random.default_rng(7)
    for until in [T0 - 1, T0, T0 + 1, times[-1], times[-1] + DAY, *rng.integers(T0 - DAY, times[-1] + DAY, 200)]:
        got = history.rates("BTC", int(until))
        expected = [(t, i * 1e-6) for i, t in enumerate(times) if t <= until]
        assert list(got) == expected
        assert all(t <= until for t, _ in got)
    assert len(history.rates("BTC", T0 - 1)) == 0


def test_funding_series_slices_are_read_only_views() -> None:
    series = FundingSeries(np.array([1, 2, 3, 4], dtype=np.int64), np.array([0.1, 0.2, 0.3, 0.4]))
    tail = series[-2:]
    assert isinstance(tail, FundingSeries)
    assert list(tail) == [(3, 0.3), (4, 0.4)]
    assert series[-1] == (4, 0.4)
    assert np.shares_memory(tail.rate, series.rate)
    assert list(series.until(2)) == [(1, 0.1), (2, 0.2)]


# -- LiveFunding ----------------------------------------------------------------------------------------------------


async def test_live_funding_backfills_then_fetches_only_new_settlements() -> None:
    fake = FakeHyperliquidInfo()
    rows = hourly_funding(48)
    fake.add_funding("BTC", rows)
    async with client_for(fake) as info:
        live = LiveFunding(info, history_ms=DAY)
        now = rows[40][0] + 10 * 60_000  # 10 minutes after the 41st settlement
        await live.refresh(["BTC"], now)
        assert list(live.rates("BTC", now)) == [row for row in rows if now - DAY <= row[0] <= now]
        assert fake.requests[-1] == {"type": "fundingHistory", "coin": "BTC", "startTime": now - DAY, "endTime": now}
        await live.refresh(["BTC"], now + 30 * 60_000)  # the next settlement is not due yet: no request
        assert fake.count("fundingHistory") == 1
        later = rows[43][0] + 60_000
        await live.refresh(["BTC"], later)
        assert fake.requests[-1]["startTime"] == rows[40][0] + 1
        assert live.rates("BTC", later)[-1] == rows[43]
        assert list(live.rates("BTC", now)) == [row for row in rows if now - DAY <= row[0] <= now]  # no lookahead
    assert len(live.rates("ETH", later)) == 0


async def test_live_funding_settlements_a_few_ms_after_the_hour_are_not_missed() -> None:
    fake = FakeHyperliquidInfo()
    rows = [(ts + 57, rate) for ts, rate in hourly_funding(10)]  # Hyperliquid stamps them just after the hour
    fake.add_funding("BTC", rows[:5])
    async with client_for(fake) as info:
        live = LiveFunding(info, history_ms=DAY)
        await live.refresh(["BTC"], T0 + 4 * HOUR + 60_000)
        fake.add_funding("BTC", [(T0 + 5 * HOUR + 40, 0.0003)])  # the next one a little earlier in its hour
        await live.refresh(["BTC"], T0 + 5 * HOUR + 50)
        assert live.rates("BTC", T0 + 5 * HOUR + 50)[-1] == (T0 + 5 * HOUR + 40, 0.0003)
        assert list(live.rates("BTC", T0 + 5 * HOUR + 39)) == rows[:5]


async def test_live_funding_failure_propagates() -> None:
    fake = FakeHyperliquidInfo()
    fake.fail_next(Fault.http(400))
    async with client_for(fake) as info:
        live = LiveFunding(info)
        with pytest.raises(InfoError, match="HTTP 400"):
            await live.refresh(["BTC"], T0)


# -- Fear & Greed ---------------------------------------------------------------------------------------------------


def write_fear_greed(path: Path, ts: Sequence[int | None], value: Sequence[float | None]) -> Path:
    labels = ["Fear" if v is not None and v < 50 else "Greed" for v in value]
    frame = pl.DataFrame(
        {"ts": ts, "value": value, "classification": labels},
        schema={"ts": pl.Int64, "value": pl.Float64, "classification": pl.String},
    )
    frame.write_parquet(path)
    return path


def test_fear_greed_is_the_latest_day_and_never_tomorrow(tmp_path: Path) -> None:
    day0 = utc_ms(2024, 1, 1)
    write_fear_greed(tmp_path / "fear_greed_daily.parquet", [day0, day0 + DAY, day0 + 5 * DAY], [20, 55, 80])
    index = FearGreedIndex.load(tmp_path)
    assert index.value_at(day0 - 1) is None
    assert index.value_at(day0) == 20
    assert index.value_at(day0 + DAY - 1) == 20  # tomorrow's value is not known yet
    assert index.value_at(day0 + DAY + 12 * HOUR) == 55
    assert index.latest(day0 + DAY) == (day0 + DAY, 55.0, "Greed")
    assert index.value_at(day0 + 3 * DAY) == 55  # a gap: two days old is still accepted
    assert index.value_at(day0 + 3 * DAY + 1) is None  # older than two days: unknown, not stale
    assert index.value_at(day0 + 5 * DAY) == 80


def test_fear_greed_skips_bad_rows_and_rejects_a_missing_file(tmp_path: Path) -> None:
    day0 = utc_ms(2024, 1, 1)
    file = write_fear_greed(
        tmp_path / "fg.parquet", [day0, None, day0 + DAY, day0 + DAY, day0 + 2 * DAY], [10, 20, 130, 30, math.nan]
    )
    index = FearGreedIndex.load(file)
    assert len(index) == 2
    assert index.value_at(day0 + DAY) == 30
    assert index.report.skipped["fg.parquet"] == {"missing timestamp": 1, "value NaN or outside 0-100": 2}
    with pytest.raises(DataError, match="nowhere: no such Fear & Greed file"):
        FearGreedIndex.load(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty/fear_greed_daily\.parquet: no such Fear & Greed file"):
        FearGreedIndex.load(tmp_path / "empty")


# -- real data ------------------------------------------------------------------------------------------------------


@pytest.mark.shared_data
def test_real_fear_greed_known_values(shared_data: Path) -> None:
    index = FearGreedIndex.load(shared_data / "fear_greed")
    assert index.latest(utc_ms(2020, 3, 13, 12)) == (utc_ms(2020, 3, 13), 10.0, "Extreme Fear")  # the COVID crash
    assert index.latest(utc_ms(2021, 11, 10, 18)) == (utc_ms(2021, 11, 10), 75.0, "Greed")  # the all-time high
    assert index.value_at(utc_ms(2022, 6, 18, 12)) == 6.0
    assert index.value_at(utc_ms(2018, 1, 31)) is None  # before the first day


@pytest.mark.shared_data
def test_real_funding_known_settlements(shared_data: Path) -> None:
    history = FundingHistory.load(shared_data / "funding", ["BTC", "ETH", "DOGE"])
    assert history.report.missing == ["DOGE"]
    assert history.report.total_skipped == 0
    crash = history.rates("BTC", utc_ms(2020, 3, 13, 8))
    assert crash[-1] == (utc_ms(2020, 3, 13, 8), -0.003)  # -0.30% per 8 h: shorts paying, the floor of the crash
    assert history.rates("BTC", utc_ms(2020, 3, 13, 8) - 1)[-1][0] == utc_ms(2020, 3, 13, 0)
    assert history.rates("BTC", utc_ms(2021, 2, 8, 16))[-1] == (utc_ms(2021, 2, 8, 16), 0.00248993)
