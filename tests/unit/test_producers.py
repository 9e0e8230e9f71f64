"""The RSI and momentum producers: pure functions of a window of bars, checked on constructed and on real candles.

Constructed RSI series put every move in the 14 changes that seed Wilder's averages and stay flat afterwards: flat
bars shrink the average gain and loss by the same factor, so RSI = 100 × gains ÷ (gains + losses) exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import trio

from actors.producers.actor import ProducerActor
from actors.producers.momentum import MomentumProducer
from actors.producers.rsi import RSIProducer
from b1e55ed.cycle import CycleTick, ProducerReport, ProducerReports, Ticks
from b1e55ed.market.bars import BarArrays, BarsView
from b1e55ed.market.replay import load_history
from b1e55ed.market.state import MarketState
from b1e55ed.messages import Signal
from b1e55ed.plugins import PluginSetup, Producer

HOUR = 3_600_000
DAY = 24 * HOUR
T0 = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1000)


def utc_ms(year: int, month: int, day: int, hour: int = 0) -> int:
    return int(datetime(year, month, day, hour, tzinfo=UTC).timestamp() * 1000)


def market_of(closes: Sequence[float], timeframe_ms: int = HOUR, ts: npt.ArrayLike | None = None) -> MarketState:
    """One symbol, BTC, with the given closes on a grid (or at the given open times)."""
    close = np.asarray(closes, dtype=np.float64)
    opens = T0 + timeframe_ms * np.arange(len(close)) if ts is None else np.asarray(ts, dtype=np.int64)
    state = MarketState(timeframe_ms)
    state.extend("BTC", BarArrays(opens, close, close, close, close, np.ones(len(close))))
    return state


def window_of(
    closes: Sequence[float], timeframe_ms: int = HOUR, ts: npt.ArrayLike | None = None
) -> tuple[BarsView, int]:
    """The 500-bar window ending with the last bar, and the time it closed (the cycle's as-of)."""
    state = market_of(closes, timeframe_ms, ts)
    as_of = int(state.series("BTC").columns.ts[-1]) + timeframe_ms
    return state.view(as_of, 500)["BTC"], as_of


def rsi_closes(gains: float, losses: float, flat: int = 40) -> list[float]:
    """Closes whose RSI(14) is 100 × gains ÷ (gains + losses): 7 rises, 7 falls, then ``flat`` unchanged bars."""
    closes = [1_000.0]
    for move in [gains / 7] * 7 + [-losses / 7] * 7:
        closes.append(closes[-1] + move)
    return closes + [closes[-1]] * flat


def rsi_producer(**params: float) -> RSIProducer:
    return RSIProducer(PluginSetup("rsi", HOUR, params))


def momentum_producer(timeframe_ms: int = HOUR, **params: float) -> MomentumProducer:
    return MomentumProducer(PluginSetup("momentum", timeframe_ms, params))


def produce(producer: RSIProducer | MomentumProducer, closes: Sequence[float], timeframe_ms: int = HOUR) -> Signal:
    bars, as_of = window_of(closes, timeframe_ms)
    signal = producer.produce("BTC", bars, as_of)
    assert signal is not None
    return signal


# -- RSI ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gains", "expected_rsi", "direction", "conviction"),
    [
        pytest.param(29.5, 29.5, "long", 5, id="just-below-30-is-5"),
        pytest.param(28.0, 28.0, "long", 7, id="spec-example-28-is-7"),
        pytest.param(27.0, 27.0, "long", 8, id="27-is-8"),
        pytest.param(25.0, 25.0, "long", 10, id="25-is-10"),
        pytest.param(10.0, 10.0, "long", 10, id="capped-at-10"),
        pytest.param(70.5, 70.5, "short", 5, id="just-above-70-is-5"),
        pytest.param(72.0, 72.0, "short", 7, id="72-is-7"),
        pytest.param(73.0, 73.0, "short", 8, id="73-is-8"),
        pytest.param(90.0, 90.0, "short", 10, id="short-capped-at-10"),
        pytest.param(50.0, 50.0, "neutral", 1, id="middle"),
        pytest.param(30.0, 30.0, "neutral", 1, id="30-is-not-below-30"),
        pytest.param(70.0, 70.0, "neutral", 1, id="70-is-not-above-70"),
    ],
)
def test_rsi_direction_and_conviction(gains: float, expected_rsi: float, direction: str, conviction: int) -> None:
    signal = produce(rsi_producer(), rsi_closes(gains, 100.0 - gains))
    assert signal.metadata["rsi"] == pytest.approx(expected_rsi)
    assert (signal.signal, signal.conviction) == (direction, conviction)
    assert signal.producer == "rsi"
    assert signal.symbol == "BTC"


def test_rsi_rationale_quotes_the_rsi_and_metadata_holds_the_numbers() -> None:
    signal = produce(rsi_producer(), rsi_closes(28.0, 72.0))
    assert "RSI(14) = 28.0" in signal.rationale
    assert "oversold" in signal.rationale
    assert signal.metadata == {"rsi": pytest.approx(28.0), "threshold": 30.0}

    overbought = produce(rsi_producer(), rsi_closes(76.0, 24.0))
    assert "RSI(14) = 76.0" in overbought.rationale
    assert "overbought" in overbought.rationale
    assert overbought.metadata == {"rsi": pytest.approx(76.0), "threshold": 70.0}

    neutral = produce(rsi_producer(), rsi_closes(55.0, 45.0))
    assert "RSI(14) = 55.0" in neutral.rationale
    assert neutral.metadata == {"rsi": pytest.approx(55.0)}


def test_rsi_signal_timestamp_is_the_cycle_time_in_seconds() -> None:
    bars, as_of = window_of(rsi_closes(28.0, 72.0))
    signal = rsi_producer().produce("BTC", bars, as_of)
    assert signal is not None
    assert signal.timestamp == as_of // 1000


def test_rsi_thresholds_come_from_params() -> None:
    closes = rsi_closes(40.0, 60.0)  # RSI 40: neutral by default, 5 points below a threshold of 45
    assert produce(rsi_producer(), closes).signal == "neutral"
    signal = produce(rsi_producer(oversold=45, overbought=55), closes)
    assert (signal.signal, signal.conviction) == ("long", 10)
    assert signal.metadata["threshold"] == 45.0


@pytest.mark.parametrize("count", [1, 10, 15, 30])
def test_rsi_is_no_data_with_too_few_bars(count: int) -> None:
    bars, as_of = window_of(rsi_closes(28.0, 72.0)[:count])
    assert rsi_producer().produce("BTC", bars, as_of) is None


def test_rsi_a_rising_market_without_a_fall_is_overbought() -> None:
    signal = produce(rsi_producer(), [100.0 + i for i in range(100)])
    assert signal.metadata["rsi"] == 100.0
    assert (signal.signal, signal.conviction) == ("short", 10)


def test_rsi_a_flat_market_is_neutral() -> None:
    signal = produce(rsi_producer(), [100.0] * 100)
    assert signal.metadata["rsi"] == 50.0
    assert signal.signal == "neutral"


def test_rsi_sees_only_its_window_not_the_history_before_it() -> None:
    """The same 500 bars give the same signal whatever came before them."""
    rng = np.random.default_rng(5)
    window = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, 500)))
    calm = np.full(1_000, window[0])
    wild = window[0] * np.exp(np.cumsum(rng.normal(0.0, 0.05, 1_000)))
    signals = []
    histories: list[npt.NDArray[np.float64]] = [calm, wild, np.empty(0)]
    for before in histories:
        closes = [*before, *window]
        ts = T0 + HOUR * np.arange(-len(before), len(window))  # the window's 500 bars at the same times
        bars, as_of = window_of(closes, ts=ts)
        signals.append(rsi_producer().produce("BTC", bars, as_of))
    assert signals[0] is not None
    assert signals[0] == signals[1] == signals[2]


# -- RSI on real candles (../shared/data) -------------------------------------------------------------------------


def real_window(shared_data: Path, as_of: int, bars: int = 500, history_bars: int = 600) -> BarsView:
    """BTC 1h: the 500-bar window that had closed by ``as_of``, loading only ``history_bars`` hours before it."""
    data = load_history(shared_data / "ohlcv_1h", ["BTC"], as_of - history_bars * HOUR, as_of, HOUR)
    state = MarketState(HOUR)
    state.extend("BTC", data.bars["BTC"])
    return state.view(as_of, bars)["BTC"]


@pytest.mark.shared_data
def test_rsi_real_covid_crash_is_oversold_with_high_conviction(shared_data: Path) -> None:
    # 2020-03-12 14:00 UTC: BTC had fallen from 7,900 to 5,994 (close of the 13:00 bar). Hand-checked with a
    # bar-by-bar Wilder loop over the same 500 closes: RSI(14) = 11.12.
    as_of = utc_ms(2020, 3, 12, 14)
    bars = real_window(shared_data, as_of)
    assert len(bars) == 500
    assert bars.last_close == 5994.03
    signal = rsi_producer().produce("BTC", bars, as_of)
    assert signal is not None
    assert signal.metadata["rsi"] == pytest.approx(11.1169, abs=1e-4)
    assert (signal.signal, signal.conviction) == ("long", 10)
    assert "RSI(14) = 11.1" in signal.rationale


@pytest.mark.shared_data
def test_rsi_real_rally_through_20k_is_overbought(shared_data: Path) -> None:
    # 2020-12-16 22:00 UTC: BTC broke its 2017 high of 20k that day, closing the 21:00 bar at 21,192.78.
    # Hand-checked with a bar-by-bar Wilder loop: RSI(14) = 82.02.
    as_of = utc_ms(2020, 12, 16, 22)
    bars = real_window(shared_data, as_of)
    assert bars.last_close == 21192.78
    signal = rsi_producer().produce("BTC", bars, as_of)
    assert signal is not None
    assert signal.metadata["rsi"] == pytest.approx(82.0154, abs=1e-4)
    assert (signal.signal, signal.conviction) == ("short", 10)
    assert "overbought" in signal.rationale


@pytest.mark.shared_data
def test_real_signals_depend_only_on_the_window(shared_data: Path) -> None:
    """500 bars ending at as-of give the same signals from a short load and from months of history before them."""
    as_of = utc_ms(2020, 3, 12, 14)
    short = real_window(shared_data, as_of, history_bars=600)
    long = real_window(shared_data, as_of, history_bars=3_000)
    np.testing.assert_array_equal(short.ts, long.ts)
    for producer in (rsi_producer(), momentum_producer()):
        assert producer.produce("BTC", short, as_of) == producer.produce("BTC", long, as_of)


# -- momentum -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timeframe_ms", "days", "bars"),
    [(HOUR, 20.0, 480), (4 * HOUR, 20.0, 120), (DAY, 20.0, 20), (HOUR, 7.0, 168), (15 * 60_000, 20.0, 1_920)],
)
def test_momentum_lookback_is_days_of_time(timeframe_ms: int, days: float, bars: int) -> None:
    producer = momentum_producer(timeframe_ms, lookback_days=days)
    assert producer.lookback_bars == bars
    assert producer.lookback_ms == days * DAY


def closes_moving(change_pct: float, bars: int = 481) -> list[float]:
    """``bars`` closes at 100, then the last one moved by ``change_pct`` %: the change over the last 480 bars."""
    return [100.0] * (bars - 1) + [100.0 * (1 + change_pct / 100)]


@pytest.mark.parametrize(
    ("change_pct", "direction", "conviction"),
    [
        pytest.param(5.0, "long", 4, id="threshold-is-4"),
        pytest.param(7.5, "long", 6, id="1.5x-threshold-is-6"),
        pytest.param(10.0, "long", 8, id="2x-threshold-is-8"),
        pytest.param(12.5, "long", 10, id="2.5x-threshold-is-10"),
        pytest.param(40.0, "long", 10, id="capped"),
        pytest.param(-5.0, "short", 4, id="fall-at-threshold-is-4"),
        pytest.param(-7.5, "short", 6, id="fall-1.5x-is-6"),
        pytest.param(-10.0, "short", 8, id="fall-2x-is-8"),
        pytest.param(-50.0, "short", 10, id="fall-capped"),
        pytest.param(4.9, "neutral", 1, id="rise-inside-threshold"),
        pytest.param(-4.9, "neutral", 1, id="fall-inside-threshold"),
        pytest.param(0.0, "neutral", 1, id="flat"),
    ],
)
def test_momentum_direction_and_conviction(change_pct: float, direction: str, conviction: int) -> None:
    signal = produce(momentum_producer(), closes_moving(change_pct))
    assert (signal.signal, signal.conviction) == (direction, conviction)
    assert signal.metadata["change_pct"] == pytest.approx(change_pct)
    assert signal.metadata["from"] == 100.0
    assert signal.metadata["lookback_bars"] == 480


def test_momentum_compares_with_the_close_twenty_days_before_the_last() -> None:
    # The bar 481 from the end closes at 50; everything after it at 80, the last at 100: +100% over 20 days.
    closes = [10.0] * 100 + [50.0] + [80.0] * 479 + [100.0]
    signal = produce(momentum_producer(), closes)
    assert signal.metadata["from"] == 50.0
    assert signal.metadata["to"] == 100.0
    assert signal.metadata["change_pct"] == pytest.approx(100.0)
    assert "+100.0% in 20d" in signal.rationale
    assert "bullish" in signal.rationale


def test_momentum_rationale_names_the_move() -> None:
    short = produce(momentum_producer(), closes_moving(-12.0))
    assert "-12.0% in 20d" in short.rationale
    assert "bearish" in short.rationale
    neutral = produce(momentum_producer(), closes_moving(2.0))
    assert "+2.0% in 20d" in neutral.rationale
    assert "±5%" in neutral.rationale


def test_momentum_on_4h_bars_looks_back_120_bars() -> None:
    closes = [100.0] * 10 + [80.0] + [90.0] * 119 + [100.0]  # 80 sits 120 bars before the last: 20 days of 4h
    signal = produce(momentum_producer(4 * HOUR), closes, timeframe_ms=4 * HOUR)
    assert signal.metadata["from"] == 80.0
    assert (signal.signal, signal.conviction) == ("long", 10)


def test_momentum_threshold_comes_from_params() -> None:
    signal = produce(momentum_producer(threshold_pct=2.0), closes_moving(3.0))
    assert (signal.signal, signal.conviction) == ("long", 6)


@pytest.mark.parametrize("bars", [1, 2, 100, 480])
def test_momentum_is_no_data_without_twenty_days_of_bars(bars: int) -> None:
    window, as_of = window_of(closes_moving(20.0, bars))
    assert momentum_producer().produce("BTC", window, as_of) is None


def test_momentum_lookback_is_time_even_across_a_gap_in_the_grid() -> None:
    """An exchange outage leaves a gap; 20 days back is still 480 hours back, not 480 bars back."""
    hours = [h for h in range(600) if not 300 <= h < 310]  # a 10-hour outage
    ts = T0 + HOUR * np.asarray(hours)
    closes = [50.0 if h < 119 else 100.0 if h == 119 else 105.0 for h in hours]
    closes[-1] = 110.0  # hour 599; 20 days before it is hour 119, which closed at 100
    bars, as_of = window_of(closes, ts=ts)
    signal = momentum_producer().produce("BTC", bars, as_of)
    assert signal is not None
    assert signal.metadata["from"] == 100.0
    assert signal.metadata["from_close_ts"] == T0 + 120 * HOUR
    assert signal.metadata["change_pct"] == pytest.approx(10.0)
    assert (signal.signal, signal.conviction) == ("long", 8)


def test_momentum_is_no_data_when_a_gap_leaves_less_than_twenty_days() -> None:
    hours = [h for h in range(470) if not 200 <= h < 205]  # 465 bars over 469 hours
    bars, as_of = window_of([100.0] * len(hours), ts=T0 + HOUR * np.asarray(hours))
    assert momentum_producer().produce("BTC", bars, as_of) is None


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("as_of", "then", "now", "change_pct", "direction"),
    [
        # 2024-03-11 00:00 UTC: the 2024-03-10 23:00 bar closed at 68,955.88; 480 bars (20 days, no gap) earlier
        # the 2024-02-19 23:00 bar closed at 51,774.73: +33.18%, the run-up to the March 2024 high.
        pytest.param(utc_ms(2024, 3, 11), 51774.73, 68955.88, 33.1844, "long", id="2024-03-11-rally"),
        # 2022-06-18 00:00 UTC: the 2022-06-17 23:00 bar closed at 20,468.81; the 2022-05-28 23:00 bar at
        # 29,031.33: -29.49%, the Celsius / 3AC sell-off.
        pytest.param(utc_ms(2022, 6, 18), 29031.33, 20468.81, -29.4941, "short", id="2022-06-18-crash"),
    ],
)
def test_momentum_real_known_cases(
    shared_data: Path, as_of: int, then: float, now: float, change_pct: float, direction: str
) -> None:
    bars = real_window(shared_data, as_of)
    signal = momentum_producer().produce("BTC", bars, as_of)
    assert signal is not None
    assert (signal.metadata["from"], signal.metadata["to"]) == (then, now)
    assert signal.metadata["change_pct"] == pytest.approx(change_pct, abs=1e-4)
    assert (signal.signal, signal.conviction) == (direction, 10)


# -- the producer as an actor -------------------------------------------------------------------------------------


class Flaky:
    """RSI, except that it raises on the cycles named: the stage must report and go on."""

    def __init__(self, fail_on: set[int]) -> None:
        self.name = "flaky"
        self._rsi = rsi_producer()
        self._fail_on = fail_on
        self.calls = 0

    def produce(self, symbol: str, bars: BarsView, as_of: int) -> Signal | None:
        self.calls += 1
        if as_of in self._fail_on:
            raise ZeroDivisionError(f"boom at {as_of}")
        return self._rsi.produce(symbol, bars, as_of)


async def run_producer_stage(producer: Producer, batches: Sequence[Ticks]) -> list[ProducerReport]:
    tick_send, tick_receive = trio.open_memory_channel[Ticks](0)
    report_send, report_receive = trio.open_memory_channel[ProducerReports](0)
    reports: list[ProducerReport] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(ProducerActor(producer, tick_receive, report_send).run)
        async with tick_send:
            for batch in batches:
                await tick_send.send(batch)
                reports += await report_receive.receive()
    return reports


async def test_producer_stage_reports_failed_and_keeps_going() -> None:
    state = market_of(rsi_closes(28.0, 72.0))
    state.extend("ETH", state.series("BTC").columns.slice(0, 5))
    last_close = int(state.series("BTC").columns.ts[-1]) + HOUR
    as_ofs = [last_close - HOUR, last_close, last_close + HOUR]
    ticks = [CycleTick(cycle=i + 1, as_of=t, source="replay", market=state.view(t)) for i, t in enumerate(as_ofs)]
    producer = Flaky(fail_on={last_close})
    reports = await run_producer_stage(producer, [(tick,) for tick in ticks])

    assert [(r.cycle, r.status) for r in reports] == [(1, "ok"), (2, "failed"), (3, "ok")]
    assert reports[1].producer == "flaky"
    assert reports[1].signals == ()
    assert reports[1].detail == f"ZeroDivisionError: boom at {last_close}"
    # ETH's 5 bars are too few: only BTC speaks, and the signal is the pure producer's.
    assert [s.symbol for s in reports[2].signals] == ["BTC"]
    assert reports[2].signals[0] == rsi_producer().produce("BTC", state.view(as_ofs[2])["BTC"], as_ofs[2])


class BatchFlaky(Flaky):
    """Flaky, answering a whole batch at once: a batch holding a failing cycle raises as a whole."""

    def produce_batch(self, symbol: str, windows: Sequence[BarsView], as_ofs: Sequence[int]) -> list[Signal | None]:
        return [self.produce(symbol, bars, as_of) for bars, as_of in zip(windows, as_ofs, strict=True)]


async def test_a_batch_gets_the_reports_of_its_cycles_one_by_one_and_a_failure_stays_in_its_own_cycle() -> None:
    state = market_of(rsi_closes(28.0, 72.0))
    last_close = int(state.series("BTC").columns.ts[-1]) + HOUR
    as_ofs = [last_close - 2 * HOUR, last_close - HOUR, last_close, last_close + HOUR]
    ticks = tuple(CycleTick(cycle=i + 1, as_of=t, source="replay", market=state.view(t)) for i, t in enumerate(as_ofs))
    one_by_one = await run_producer_stage(Flaky(fail_on={last_close}), [(tick,) for tick in ticks])
    batched = BatchFlaky(fail_on={last_close})

    assert await run_producer_stage(batched, [ticks]) == one_by_one
    assert [r.status for r in one_by_one] == ["ok", "ok", "failed", "ok"]
    assert await run_producer_stage(BatchFlaky(fail_on=set()), [ticks]) == await run_producer_stage(
        Flaky(fail_on=set()), [(tick,) for tick in ticks]
    )


async def test_producer_stage_says_no_data_when_no_symbol_has_enough_bars() -> None:
    state = market_of([100.0, 101.0, 102.0])
    as_of = T0 + 3 * HOUR
    tick = CycleTick(cycle=7, as_of=as_of, source="simulated", market=state.view(as_of))
    (report,) = await run_producer_stage(Flaky(fail_on=set()), [(tick,)])
    assert (report.cycle, report.status, report.signals) == (7, "no data", ())
