"""Funding (Binance and Hyperliquid), fear & greed, basis and metadata collectors against their fakes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from b1e55ed.collect.asof import basis_premium
from b1e55ed.collect.basis import collect_symbol_basis
from b1e55ed.collect.binance import BinanceMarketData
from b1e55ed.collect.fear_greed import collect_fear_greed
from b1e55ed.collect.funding import collect_rates
from b1e55ed.collect.http import CollectError
from b1e55ed.collect.hyperliquid import HyperliquidMarketData
from b1e55ed.collect.layout import Venue, load_basis, load_fear_greed, load_funding, load_metadata
from b1e55ed.collect.metadata import collect_metadata
from b1e55ed.collect.session import Session
from b1e55ed.market.replay import DataError
from tests.fakes.alternative_me import make_readings
from tests.fakes.binance import FakeCrash, make_rates
from tests.fakes.collect_sources import FakeSources
from tests.fakes.hyperliquid_info import Fault, make_bars

T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
HOUR, DAY = 3_600_000, 86_400_000
NOW = T0 + 120 * DAY + 30 * 60_000
FUNDING = "/fapi/v1/fundingRate"
RATES = make_rates(T0 - 400 * DAY, 2000, 8 * HOUR)


@pytest.fixture
def sources() -> FakeSources:
    sources = FakeSources(now_ms=NOW)
    sources.binance.add_funding("BTCUSDT", RATES)  # past NOW: only the settled ones are served
    hourly = [(T0 + i * HOUR + 48, 0.00001 * (i % 5)) for i in range(1200)]  # Hyperliquid settles a few ms late
    sources.hyperliquid.add_funding("BTC", hourly)
    return sources


async def collect_funding_of(session: Session, venue: Venue, since_ms: int = T0) -> None:
    binance, hyperliquid = BinanceMarketData(session.fetcher), HyperliquidMarketData(session.fetcher)
    await collect_rates(session, binance, hyperliquid, "BTC", venue, since_ms=since_ms)


async def test_binance_funding_pages_by_time_and_resumes(sources: FakeSources, tmp_path: Path) -> None:
    sources.binance.add_funding("BTCUSDT", [(RATES[1500][0], 3.0)])  # 300%: garbage
    settled = [(ts, rate) for ts, rate in RATES if ts <= NOW and ts != RATES[1500][0]]
    assert len(settled) == 1560
    sources.binance.faults.crash_at(2)
    with pytest.raises(FakeCrash):
        async with sources.session(tmp_path) as session:
            await collect_funding_of(session, "binance", since_ms=T0 - 400 * DAY)
    assert load_funding(tmp_path, "BTC").height == 1000
    async with sources.session(tmp_path) as session:
        await collect_funding_of(session, "binance")
    stored = load_funding(tmp_path, "BTC", "binance")
    assert stored["ts"].to_list() == [ts for ts, _ in settled]
    assert stored["rate"].to_list() == pytest.approx([rate for _, rate in settled])
    starts = [int(q["startTime"]) for q in sources.binance.queries(FUNDING)]
    after_first_page = settled[999][0] + 1
    assert starts == [T0 - 400 * DAY, after_first_page, after_first_page]  # the crash, then the rerun's one page
    assert session.reports[0].requests == 1
    assert dict(session.reports[0].rejects.counts) == {"rate beyond ±100%": 1}
    assert session.reports[0].file == "funding/binance/BTCUSDT.parquet"


async def test_hyperliquid_funding_pages_500_at_a_time_and_resumes(sources: FakeSources, tmp_path: Path) -> None:
    sources.hyperliquid.crash_at(2)
    with pytest.raises(FakeCrash):
        async with sources.session(tmp_path) as session:
            await collect_funding_of(session, "hyperliquid")
    assert load_funding(tmp_path, "BTC", "hyperliquid").height == 500
    async with sources.session(tmp_path) as session:
        await collect_funding_of(session, "hyperliquid")
    stored = load_funding(tmp_path, "BTC", "hyperliquid")
    assert stored["ts"].to_list() == [T0 + i * HOUR + 48 for i in range(1200)]
    bodies = [body for body in sources.hyperliquid.requests if body["type"] == "fundingHistory"]
    assert [b["startTime"] for b in bodies] == [T0, T0 + 499 * HOUR + 49, T0 + 499 * HOUR + 49, T0 + 999 * HOUR + 49]
    assert {b["endTime"] for b in bodies} == {NOW}
    assert session.reports[0].file == "funding/hyperliquid/BTC.parquet"
    # up to date: one request, nothing added
    async with sources.session(tmp_path) as session:
        await collect_funding_of(session, "hyperliquid")
    assert (session.reports[0].requests, session.reports[0].added) == (1, 0)


async def test_an_unknown_symbol_names_the_endpoint(sources: FakeSources, tmp_path: Path) -> None:
    async with sources.session(tmp_path) as session:
        with pytest.raises(CollectError, match=r"fundingRate\?symbol=DOGEUSDT.*Invalid symbol"):
            await collect_rates(
                session, BinanceMarketData(session.fetcher), HyperliquidMarketData(session.fetcher), "DOGE", "binance"
            )


async def test_fear_greed_takes_all_history_once_then_only_new_days(sources: FakeSources, tmp_path: Path) -> None:
    first_day_s = T0 // 1000 - 2000 * 86_400
    sources.alternative_me.add_readings(make_readings(first_day_s, 2200))  # the future ones are not yet published
    async with sources.session(tmp_path) as session:
        await collect_fear_greed(session)
    stored = load_fear_greed(tmp_path)
    assert stored.height == 2121
    assert stored["ts"].is_sorted()
    assert stored["ts"][-1] == T0 + 120 * DAY
    assert sources.alternative_me.queries == [{"limit": "0", "format": "json"}]
    # Less than a day later there is nothing new to ask for.
    async with sources.session(tmp_path) as session:
        await collect_fear_greed(session)
    assert len(sources.alternative_me.queries) == 1
    assert "up to date" in session.reports[0].note
    sources.clock.advance(3 * DAY)
    async with sources.session(tmp_path) as session:
        await collect_fear_greed(session)
    assert sources.alternative_me.queries[-1] == {"limit": "4", "format": "json"}
    assert session.reports[0].added == 3
    assert session.reports[0].rejects.total == 0
    assert load_fear_greed(tmp_path)["ts"].n_unique() == 2124


async def test_fear_greed_rejects_are_counted(sources: FakeSources, tmp_path: Path) -> None:
    day_s = T0 // 1000
    sources.alternative_me.add_readings([(day_s, 40, "Fear"), (day_s + 86_400, 140, "Greed"), (day_s + 172_800, 3, "")])
    async with sources.session(tmp_path) as session:
        await collect_fear_greed(session)
    assert dict(session.reports[0].rejects.counts) == {"value outside 0..100": 1, "missing classification": 1}
    assert load_fear_greed(tmp_path).rows() == [(T0, 40, "Fear")]


async def test_basis_joins_perp_and_spot_hours_stamped_at_the_close(tmp_path: Path) -> None:
    sources = FakeSources(now_ms=T0 + 1500 * HOUR + 60_000)
    sources.binance.add_bars("futures", "BTCUSDT", "1h", make_bars(T0, 1501, HOUR, base=101.0))
    spot = [bar for bar in make_bars(T0, 1501, HOUR, base=100.0) if bar.ts != T0 + 7 * HOUR]  # a spot outage
    sources.binance.add_bars("spot", "BTCUSDT", "1h", spot)
    async with sources.session(tmp_path) as session:
        await collect_symbol_basis(session, BinanceMarketData(session.fetcher), "BTC", since_ms=T0)
    basis = load_basis(tmp_path, "BTC")
    assert basis.height == 1499  # 1500 closed hours, less the spot gap
    assert basis.row(0) == (T0 + HOUR, 100.5, 101.5, pytest.approx(101.5 / 100.5 - 1))
    assert T0 + 8 * HOUR not in basis["ts"].to_list()
    assert basis["ts"].max() == T0 + 1500 * HOUR  # the last closed hour, stamped when it closed
    assert sources.binance.count("/fapi/v1/klines") == 2
    assert sources.binance.count("/api/v3/klines") == 2
    sources.clock.advance(2 * HOUR)
    async with sources.session(tmp_path) as session:
        await collect_symbol_basis(session, BinanceMarketData(session.fetcher), "BTC", since_ms=T0)
    assert session.reports[0].added == 1  # hour 1500 was open at the first run; it has closed since
    assert sources.binance.queries("/fapi/v1/klines")[-1]["startTime"] == str(T0 + 1500 * HOUR)
    assert load_basis(tmp_path, "BTC")["ts"].max() == T0 + 1501 * HOUR


async def test_metadata_is_a_snapshot_of_listed_perpetuals(sources: FakeSources, tmp_path: Path) -> None:
    hl = sources.hyperliquid
    hl.add_asset("BTC", sz_decimals=5, max_leverage=40, mark_px=97_000.0, open_interest=12_000.5, day_ntl_vlm=2.5e9)
    hl.add_asset("ETH", sz_decimals=4, max_leverage=25, mark_px=3_500.0)
    hl.add_asset("LUNA", sz_decimals=1, max_leverage=3, mark_px=0.1, delisted=True)
    hl.add_asset("BAD", sz_decimals=0, max_leverage=3, mark_px=0.0)
    hl.add_asset("NEW", sz_decimals=0, max_leverage=3, mark_px=None)  # listed, no mark yet
    async with sources.session(tmp_path) as session:
        await collect_metadata(session, HyperliquidMarketData(session.fetcher))
    frame = load_metadata(tmp_path)
    assert frame["symbol"].to_list() == ["BTC", "ETH"]
    assert frame.row(0, named=True) == {
        "symbol": "BTC",
        "sz_decimals": 5,
        "max_leverage": 40,
        "open_interest": 12_000.5,
        "day_notional_volume": 2.5e9,
        "mark_price": 97_000.0,
        "funding": 0.0000125,
    }
    report = session.reports[0]
    assert dict(report.rejects.counts) == {"non-positive mark price": 1, "NaN or infinite value": 1}
    assert "1 delisted left out" in report.note
    # A bad answer keeps the previous snapshot.
    hl.fail_next(Fault.body(json.dumps([{"universe": []}, [{"funding": "x"}]])))
    async with sources.session(tmp_path) as session:
        with pytest.raises(CollectError, match="metaAndAssetCtxs"):
            await collect_metadata(session, HyperliquidMarketData(session.fetcher))
    assert load_metadata(tmp_path).equals(frame)


async def test_metadata_reads_the_base_fakes_answer_too(tmp_path: Path) -> None:
    sources = FakeSources(now_ms=NOW)
    sources.hyperliquid.set_mids({"BTC": 97_000.0, "SOL": 180.0})
    sources.hyperliquid.add_funding("BTC", [(NOW - HOUR, 0.00002)])
    async with sources.session(tmp_path) as session:
        await collect_metadata(session, HyperliquidMarketData(session.fetcher))
    frame = load_metadata(tmp_path)
    assert frame.select("symbol", "mark_price", "funding").rows() == [("BTC", 97_000.0, 0.00002), ("SOL", 180.0, 0.0)]


def test_loaders_say_which_command_collects_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"basis/ETH.parquet: no such file; run `python -m b1e55ed collect basis"):
        load_basis(tmp_path, "ETH")


async def test_basis_premium_is_known_only_from_the_close_and_while_fresh(tmp_path: Path) -> None:
    sources = FakeSources(now_ms=T0 + 10 * HOUR + 1)
    sources.binance.add_bars("futures", "BTCUSDT", "1h", make_bars(T0, 11, HOUR, base=101.0))
    sources.binance.add_bars("spot", "BTCUSDT", "1h", make_bars(T0, 11, HOUR, base=100.0))
    async with sources.session(tmp_path) as session:
        await collect_symbol_basis(session, BinanceMarketData(session.fetcher), "BTC", since_ms=T0)
    premium = basis_premium(tmp_path, max_age_ms=2 * HOUR)
    assert premium("BTC", T0 + HOUR - 1) is None  # the first hour has not closed yet
    assert premium("BTC", T0 + HOUR) == pytest.approx(101.5 / 100.5 - 1)
    assert premium("BTC", T0 + 10 * HOUR + 5) == pytest.approx(110.5 / 109.5 - 1)
    assert premium("BTC", T0 + 13 * HOUR) is None  # stale: the collection stopped
    assert premium("ETH", T0 + HOUR) is None  # never collected
