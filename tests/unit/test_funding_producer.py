"""The funding producer: contrarian on funding extremes, checked on constructed series (whose mean and population
standard deviation are exact), inside the producer stage (disabled, live refresh, timeout), and on real Binance
funding at known extremes.

Constructed histories alternate ``mean + std`` and ``mean - std``: their mean is ``mean`` and their population
standard deviation ``std``, so the latest rate ``mean + z × std`` has exactly that z-score.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pytest
import trio
import trio.testing

from actors.producers.actor import ProducerActor
from actors.producers.funding import DISABLED, FundingProducer
from b1e55ed.cycle import CycleTick, ProducerReport, ProducerReports, Ticks
from b1e55ed.hyperliquid.info import InfoClient
from b1e55ed.market.bars import BarArrays, BarsView
from b1e55ed.market.funding import FundingHistory, FundingRates, FundingSeries, LiveFunding
from b1e55ed.market.state import MarketState
from b1e55ed.messages import Signal
from b1e55ed.plugins import NetworkProducer, PluginSetup, Services
from b1e55ed.registry import ConfigError
from tests.fakes.hyperliquid_info import FakeHyperliquidInfo, Fault

HOUR = 3_600_000
EIGHT_HOURS = 8 * HOUR
T0 = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1000)
MEAN, STD = 0.00002, 0.00005


def utc_ms(year: int, month: int, day: int, hour: int = 0) -> int:
    return int(datetime(year, month, day, hour, tzinfo=UTC).timestamp() * 1000)


def series(rates: Sequence[float], interval_ms: int = EIGHT_HOURS, start: int = T0) -> FundingSeries:
    return FundingSeries(start + interval_ms * np.arange(len(rates), dtype=np.int64), np.asarray(rates, np.float64))


def history_then(latest: float, *, n: int = 90, mean: float = MEAN, std: float = STD) -> list[float]:
    """``n`` rates with this mean and population std, then ``latest``."""
    return [mean + std if i % 2 else mean - std for i in range(n)] + [latest]


def producer_for(
    rates: Sequence[float] | None = None,
    interval_ms: int = EIGHT_HOURS,
    params: Mapping[str, object] | None = None,
    services: Services | None = None,
) -> FundingProducer:
    if services is None:
        funding = None if rates is None else FundingHistory({"BTC": series(rates, interval_ms)})
        services = Services(funding=funding)
    return FundingProducer(PluginSetup("funding", HOUR, params or {}, services))


def last_time(rates: Sequence[float], interval_ms: int = EIGHT_HOURS) -> int:
    return T0 + interval_ms * (len(rates) - 1)


def bars_at(as_of: int, symbols: Sequence[str] = ("BTC",)) -> MarketState:
    """One hourly candle per symbol closing at ``as_of``: the producer ignores candles, the stage needs a market."""
    state = MarketState(HOUR)
    for symbol in symbols:
        one = np.array([100.0])
        state.extend(symbol, BarArrays(np.array([as_of - HOUR], dtype=np.int64), one, one, one, one, one))
    return state


def window(as_of: int) -> BarsView:
    return bars_at(as_of).view(as_of)["BTC"]


def produce(producer: FundingProducer, as_of: int) -> Signal | None:
    return producer.produce("BTC", window(as_of), as_of)


async def stage_report(producer: FundingProducer, as_of: int, symbols: Sequence[str] = ("BTC",)) -> ProducerReport:
    tick_send, tick_receive = trio.open_memory_channel[Ticks](0)
    report_send, report_receive = trio.open_memory_channel[ProducerReports](0)
    async with tick_send, tick_receive, report_send, report_receive:
        stage = ProducerActor(producer, tick_receive, report_send, refresh_timeout_s=10.0)
        tick = CycleTick(cycle=3, as_of=as_of, source="hyperliquid", market=bars_at(as_of, symbols).view(as_of))
        return await stage.report(tick)


# -- the rule -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("z", "direction", "conviction"),
    [
        (-2.0, "long", 5),  # at the threshold
        (-2.4, "long", 5),
        (-2.5, "long", 6),  # one more per half sigma
        (-3.0, "long", 7),
        (-4.5, "long", 10),
        (-9.0, "long", 10),  # capped
        (2.0, "short", 5),
        (3.2, "short", 7),
        (-1.99, "neutral", 1),
        (1.5, "neutral", 1),
    ],
)
def test_conviction_grows_by_one_per_half_sigma_past_the_threshold(z: float, direction: str, conviction: int) -> None:
    rates = history_then(MEAN + z * STD)
    signal = produce(producer_for(rates), last_time(rates))
    assert signal is not None
    assert (signal.signal, signal.conviction) == (direction, conviction)
    assert signal.metadata["z"] == z


def test_rationale_quotes_the_rate_as_a_percent_and_metadata_has_the_numbers() -> None:
    rates = history_then(MEAN - 2.4 * STD)  # -0.01% per 8 h
    as_of = last_time(rates) + HOUR
    signal = produce(producer_for(rates), as_of)
    assert signal == Signal(
        symbol="BTC",
        signal="long",
        conviction=5,
        rationale="BTC funding -0.0100%/8h (z -2.4 vs 90): shorts paying, contrarian long",
        producer="funding",
        timestamp=as_of // 1000,
        metadata={
            "rate": pytest.approx(-0.0001),
            "mean": pytest.approx(MEAN),
            "std": pytest.approx(STD),
            "z": -2.4,
            "n": 90,
            "interval_hours": 8.0,
            "rate_ts": last_time(rates),
        },
    )


def test_an_extreme_on_the_wrong_side_is_neutral() -> None:
    """From +0.10% to +0.05% is -2.5 σ, but longs still pay: a cooling, not shorts paying."""
    rates = history_then(0.0005, mean=0.001, std=0.0002)
    signal = produce(producer_for(rates), last_time(rates))
    assert signal is not None
    assert (signal.signal, signal.conviction, signal.metadata["z"]) == ("neutral", 1, -2.5)
    assert signal.rationale == "BTC funding +0.0500%/8h (z -2.5 vs 90): longs paying, extreme, but on the other side"


def test_the_std_floor_keeps_a_flat_history_from_shouting() -> None:
    flat = [0.0001] * 90
    wobble = produce(producer_for([*flat, 0.000095]), last_time([*flat, 0.000095]))
    assert wobble is not None
    assert (wobble.signal, wobble.metadata["std"], wobble.metadata["z"]) == ("neutral", 0.00002, -0.25)
    flip = produce(producer_for([*flat, -0.00001]), last_time([*flat, -0.00001]))
    assert flip is not None
    assert (flip.signal, flip.conviction, flip.metadata["z"]) == ("long", 10, -5.5)
    # On hourly (Hyperliquid) rates the floor scales to the interval: 0.002% per 8 h is 0.00025% per hour.
    hourly = [0.0000125] * 90 + [0.0000075]
    signal = produce(producer_for(hourly, HOUR), last_time(hourly, HOUR))
    assert signal is not None
    assert signal.metadata["std"] == pytest.approx(0.0000025)
    assert signal.metadata["z"] == -2.0
    assert signal.rationale.startswith("BTC funding +0.0008%/1h (z -2.0 vs 90)")


def test_lookback_takes_only_the_latest_rates() -> None:
    old_regime = [0.003] * 500  # a long-gone mania must not set today's baseline
    rates = old_regime + history_then(MEAN - 3 * STD)
    signal = produce(producer_for(rates), last_time(rates))
    assert signal is not None
    assert (signal.signal, signal.conviction, signal.metadata["n"]) == ("long", 7, 90)


def test_no_data_with_too_little_or_stale_history() -> None:
    short = history_then(-0.001, n=29)
    assert produce(producer_for(short), last_time(short)) is None  # 29 earlier rates; min_history is 30
    enough = history_then(-0.001, n=30)
    assert produce(producer_for(enough), last_time(enough)) is not None
    assert produce(producer_for(enough), last_time(enough) + 24 * HOUR) is not None
    assert produce(producer_for(enough), last_time(enough) + 24 * HOUR + 1) is None  # the data ended a day ago
    assert produce(producer_for(enough, params={"min_history": 10}), T0 + 10 * EIGHT_HOURS) is not None


def test_never_sees_a_rate_settled_after_as_of() -> None:
    rates = history_then(MEAN - 5 * STD)
    producer = producer_for(rates)
    before = produce(producer, last_time(rates) - 1)
    at = produce(producer, last_time(rates))
    assert before is not None
    assert at is not None
    assert before.metadata["rate_ts"] == last_time(rates) - EIGHT_HOURS
    assert (before.signal, at.signal, at.conviction) == ("neutral", "long", 10)


def test_bad_params_are_named() -> None:
    with pytest.raises(ConfigError, match=r"funding: params\.lookback: Expected `int`, got `str`"):
        producer_for([], params={"lookback": "90"})
    with pytest.raises(ConfigError, match=r"funding: params\.min_history: \(30\) must not exceed lookback \(20\)"):
        producer_for([], params={"lookback": 20, "min_history": 30})
    with pytest.raises(ConfigError, match=r"params\.z_threshold: Expected `float` > 0\.0"):
        producer_for([], params={"z_threshold": 0})


# -- availability and the stage -------------------------------------------------------------------------------------


async def test_without_a_source_it_says_no_data_and_reports_disabled() -> None:
    producer = producer_for(None)
    assert isinstance(producer, NetworkProducer)
    assert producer.availability() == DISABLED == "disabled: no funding data"
    assert produce(producer, T0) is None
    report = await stage_report(producer, T0)
    assert (report.status, report.detail, report.signals) == ("disabled", DISABLED, ())


async def test_offline_with_an_info_client_but_no_history_is_disabled() -> None:
    async with httpx.AsyncClient(transport=FakeHyperliquidInfo().transport()) as http:
        producer = producer_for(services=Services(offline=True, info=InfoClient(http)))
        assert producer.source is None
        assert producer.availability() == DISABLED


async def test_with_collected_history_it_runs_without_the_network() -> None:
    rates = history_then(MEAN + 3 * STD)
    producer = producer_for(rates)
    assert producer.availability() is None
    report = await stage_report(producer, last_time(rates), symbols=("BTC", "ETH"))
    assert report.status == "ok"
    assert [(s.symbol, s.signal, s.conviction) for s in report.signals] == [("BTC", "short", 7)]  # ETH: no file


@asynccontextmanager
async def live_producer(fake: FakeHyperliquidInfo) -> AsyncIterator[FundingProducer]:
    async with httpx.AsyncClient(transport=fake.transport()) as http:
        yield producer_for(services=Services(info=InfoClient(http, max_retries=0)))


async def test_live_hyperliquid_funding_is_refreshed_before_each_cycle() -> None:
    fake = FakeHyperliquidInfo()
    rates = history_then(MEAN - 3 * STD)
    fake.add_funding("BTC", list(series(rates, HOUR)))
    now = last_time(rates, HOUR) + 5 * 60_000
    async with live_producer(fake) as producer:
        assert isinstance(producer.source, LiveFunding)
        assert producer.availability() is None
        report = await stage_report(producer, now)
        assert fake.count("fundingHistory") == 1
        assert [(s.signal, s.conviction, s.metadata["interval_hours"]) for s in report.signals] == [("long", 7, 1.0)]
        fake.add_funding("BTC", [(last_time(rates, HOUR) + HOUR, MEAN)])  # the next hour settles back to normal
        report = await stage_report(producer, now + HOUR)
        assert fake.count("fundingHistory") == 2
        assert [s.signal for s in report.signals] == ["neutral"]


async def test_a_hanging_refresh_fails_the_cycle_without_stalling_it(autojump_clock: trio.testing.MockClock) -> None:
    fake = FakeHyperliquidInfo()
    fake.fail_next(Fault.hang())
    async with live_producer(fake) as producer:
        started = trio.current_time()
        report = await stage_report(producer, T0)
        assert trio.current_time() - started == pytest.approx(10.0)
    assert report.status == "failed"
    assert report.detail.startswith("TooSlowError")


async def test_a_pipeline_built_live_source_is_refreshed_too() -> None:
    fake = FakeHyperliquidInfo()
    fake.add_funding("BTC", list(series(history_then(MEAN), HOUR)))
    async with httpx.AsyncClient(transport=fake.transport()) as http:
        live: FundingRates = LiveFunding(InfoClient(http))
        producer = producer_for(services=Services(funding=live))
        assert producer.source is live
        await producer.refresh(["BTC"], T0 + 100 * HOUR)
        assert fake.count("fundingHistory") == 1
        offline = producer_for(services=Services(funding=live, offline=True))
        await offline.refresh(["BTC"], T0 + 200 * HOUR)  # a replay never calls out
        assert fake.count("fundingHistory") == 1


# -- real data ------------------------------------------------------------------------------------------------------


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("when", "direction", "conviction", "rate", "z"),
    [
        ((2020, 3, 13, 8), "long", 10, -0.003, -12.4827),  # the COVID crash: -0.30% per 8 h
        ((2021, 5, 19, 16), "long", 10, -0.00089697, -5.3464),  # the May 2021 crash
        ((2022, 6, 14, 8), "long", 6, -0.00010037, -2.8994),  # the Celsius / 3AC week
        ((2022, 6, 30, 16), "long", 7, -0.00015879, -3.4551),
        ((2021, 1, 4, 8), "short", 10, 0.00236482, 6.4385),  # the January 2021 blow-off
        ((2021, 2, 8, 16), "short", 10, 0.00248993, 4.9402),  # the Tesla-buys-bitcoin day
        ((2021, 2, 10, 8), "short", 6, 0.0017535, 2.5398),
        ((2021, 3, 30, 16), "neutral", 1, 0.00083501, 1.9072),  # high, but not extreme for that spring
    ],
)
def test_real_btc_funding_extremes(
    shared_data: Path, when: tuple[int, int, int, int], direction: str, conviction: int, rate: float, z: float
) -> None:
    funding = FundingHistory.load(shared_data / "funding", ["BTC"])
    producer = producer_for(services=Services(funding=funding))
    as_of = utc_ms(*when)  # the settlement itself: known at its time
    signal = produce(producer, as_of)
    assert signal is not None
    assert (signal.signal, signal.conviction) == (direction, conviction)
    assert signal.metadata["rate"] == pytest.approx(rate)
    assert signal.metadata["z"] == pytest.approx(z, abs=1e-4)
    assert signal.metadata["rate_ts"] == as_of


@pytest.mark.shared_data
def test_real_btc_funding_ends_with_the_data(shared_data: Path) -> None:
    producer = producer_for(services=Services(funding=FundingHistory.load(shared_data / "funding", ["BTC"])))
    assert produce(producer, utc_ms(2019, 9, 12)) is None  # ten days in: too little history
    assert produce(producer, utc_ms(2024, 12, 31, 23)) is not None
    assert produce(producer, utc_ms(2025, 1, 2)) is None  # the file ends 2024-12-31 16:00: stale
