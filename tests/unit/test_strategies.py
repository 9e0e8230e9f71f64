"""The four strategies on real Binance BTC hourly candles, at entries found and checked by hand.

Each case builds the cycle a replay would see: the 500 bars that had closed by ``as_of`` (a candle opened at 14:00
closes at 15:00, so the cycle at 15:00 sees it as its latest bar), the momentum producer's real signal on them,
and the strategy as the default config ships it. The numbers in each docstring were read off the candles with
polars, independently of the strategies, and are checked again here from the raw closes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from actors.producers.momentum import MomentumProducer
from actors.strategies.combined import CombinedStrategy
from actors.strategies.ma_crossover import MACrossoverStrategy
from actors.strategies.momentum import MomentumStrategy
from actors.strategies.rsi_oversold import RSIOversoldStrategy
from b1e55ed.cycle import Candidate, CycleTick, EnrichedCycle
from b1e55ed.default_plugins import DEFAULT_PRODUCERS, DEFAULT_STRATEGIES
from b1e55ed.market.bars import BarArrays
from b1e55ed.market.indicators import wilder_rsi
from b1e55ed.market.state import MarketState
from b1e55ed.plugins import PluginSetup, Strategy

HOUR = 3_600_000
WINDOW = 500


@cache
def candles(path: Path) -> pl.DataFrame:
    return pl.read_parquet(path)


def window(data: Path, symbol: str, as_of: str) -> pl.DataFrame:
    """The last ``WINDOW`` candles that had closed by ``as_of`` (an ISO time, UTC)."""
    as_of_ms = ms(as_of)
    frame = candles(data / "ohlcv_1h" / f"{symbol}USDT.parquet")
    return frame.filter(pl.col("ts") + HOUR <= as_of_ms).tail(WINDOW)


def ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp() * 1000)


def real_cycle(data: Path, as_of: str, symbol: str = "BTC") -> EnrichedCycle:
    frame = window(data, symbol, as_of)
    state = MarketState(HOUR)
    state.extend(symbol, BarArrays(*(frame[c].to_numpy() for c in ("ts", "open", "high", "low", "close", "volume"))))
    view = state.view(ms(as_of), WINDOW)
    (spec,) = [p for p in DEFAULT_PRODUCERS if p.name == "momentum"]
    producer = MomentumProducer(PluginSetup(spec.name, HOUR, spec.params))
    signal = producer.produce(symbol, view[symbol], ms(as_of))
    tick = CycleTick(cycle=1, as_of=ms(as_of), source="replay", market=view)
    return EnrichedCycle(tick=tick, signals=(signal,) if signal else (), context={}, producers={})


def shipped(cls: type, name: str) -> Strategy:
    """The strategy with the params the default config gives it."""
    (spec,) = [s for s in DEFAULT_STRATEGIES if s.name == name]
    strategy: Strategy = cls(PluginSetup(spec.name, HOUR, spec.params))
    return strategy


def only(candidates: Sequence[Candidate]) -> Candidate:
    assert len(candidates) == 1, candidates
    return candidates[0]


def sma(closes: np.ndarray, n: int, bars_ago: int = 0) -> float:
    end = len(closes) - bars_ago
    return float(np.mean(closes[end - n : end]))


# -- MA crossover -------------------------------------------------------------------------------------------------


def test_ma_crossover_long_on_2023_06_27(shared_data: Path) -> None:
    """Bar 14:00-15:00 UTC: SMA20 30,416.43 crossed above SMA50 30,396.82 (a bar earlier 30,386.67 ≤ 30,394.03),
    and the close 30,808.63 is above SMA200 29,573.61: a cross up with the trend, a long."""
    closes = window(shared_data, "BTC", "2023-06-27T15:00")["close"].to_numpy()
    assert sma(closes, 20, 1) <= sma(closes, 50, 1)
    assert sma(closes, 20) == pytest.approx(30_416.431)
    assert sma(closes, 50) == pytest.approx(30_396.8182)
    assert closes[-1] == 30_808.63
    assert sma(closes, 200) == pytest.approx(29_573.606, abs=0.01)

    candidate = only(shipped(MACrossoverStrategy, "ma_crossover").evaluate(real_cycle(shared_data, "2023-06-27T15:00")))
    assert candidate.taken
    assert candidate.direction == "long"
    assert candidate.trade is not None
    assert candidate.trade.entry == 30_808.63
    assert candidate.trade.stop == pytest.approx(30_808.63 * 0.97)
    assert candidate.trade.target == pytest.approx(30_808.63 * 1.10)
    assert candidate.trade.size == pytest.approx(0.05 * 6 / 7, abs=1e-6)  # the fixed conviction 6
    assert "SMA(20) 30,416.4 crossed above SMA(50) 30,396.8" in candidate.trade.rationale
    assert "close 30,808.6 above SMA(200) 29,573.6" in candidate.trade.rationale
    assert candidate.candle_close == ms("2023-06-27T15:00")


def test_ma_crossover_is_silent_the_bar_after_the_cross(shared_data: Path) -> None:
    """At 16:00 SMA20 (30,429.17) is still above SMA50 (30,393.26), but it crossed a bar earlier: nothing new."""
    assert shipped(MACrossoverStrategy, "ma_crossover").evaluate(real_cycle(shared_data, "2023-06-27T16:00")) == []


def test_ma_crossover_short_on_2024_08_30(shared_data: Path) -> None:
    """Bar 10:00-11:00: SMA20 59,465.72 fell below SMA50 59,489.67 (a bar earlier 59,527.41 ≥ 59,482.53); the close
    59,581.13 is below SMA200 61,796.09: a cross down with the trend, a short."""
    closes = window(shared_data, "BTC", "2024-08-30T11:00")["close"].to_numpy()
    assert sma(closes, 20, 1) >= sma(closes, 50, 1)
    assert sma(closes, 20) < sma(closes, 50)
    assert closes[-1] < sma(closes, 200)

    candidate = only(shipped(MACrossoverStrategy, "ma_crossover").evaluate(real_cycle(shared_data, "2024-08-30T11:00")))
    assert candidate.taken
    assert candidate.direction == "short"
    assert candidate.trade is not None
    assert candidate.trade.stop == pytest.approx(59_581.13 * 1.03)
    assert candidate.trade.target == pytest.approx(59_581.13 * 0.90)


def test_ma_cross_against_the_trend_is_not_taken_on_2023_01_22(shared_data: Path) -> None:
    """Bar 22:00-23:00: SMA20 22,814.89 fell below SMA50 22,821.04, but the close 22,676.48 is above SMA200
    21,464.65: the long trend is up, so the short is refused, with the numbers in the reason."""
    closes = window(shared_data, "BTC", "2023-01-22T23:00")["close"].to_numpy()
    assert sma(closes, 20, 1) >= sma(closes, 50, 1)
    assert sma(closes, 20) < sma(closes, 50)
    assert closes[-1] > sma(closes, 200)

    candidate = only(shipped(MACrossoverStrategy, "ma_crossover").evaluate(real_cycle(shared_data, "2023-01-22T23:00")))
    assert not candidate.taken
    assert candidate.trade is None
    assert "against the trend: close 22,676.5 above SMA(200) 21,464.7" in candidate.reason


# -- momentum -----------------------------------------------------------------------------------------------------


def test_momentum_long_confirmed_by_volume_on_2023_12_04(shared_data: Path) -> None:
    """At 11:00, BTC closed 41,978.18, +15.0% on the 36,492.22 close of 20 days before (bar 2023-11-14 10:00):
    momentum long, conviction 10 (4 × 15.0 / 5, capped). Mean volume of the last 24 bars 2,370.1 against 1,307.4
    over the 168 before: 1.81× ≥ 1.25×, confirmed. Conviction 10 → 5% × 10/7 = 7.14%."""
    frame = window(shared_data, "BTC", "2023-12-04T11:00")
    volume = frame["volume"].to_numpy()
    ratio = volume[-24:].mean() / volume[-192:-24].mean()
    assert ratio == pytest.approx(1.8129, abs=1e-4)

    cycle = real_cycle(shared_data, "2023-12-04T11:00")
    (signal,) = cycle.signals
    assert (signal.signal, signal.conviction, signal.metadata["change_pct"]) == ("long", 10, 15.0332)
    candidate = only(shipped(MomentumStrategy, "momentum").evaluate(cycle))
    assert candidate.taken
    assert candidate.direction == "long"
    assert candidate.trade is not None
    assert candidate.trade.size == pytest.approx(0.071429, abs=1e-6)
    assert candidate.trade.conviction == 10
    assert candidate.sizing["mean_conviction"] == 10.0
    assert [(ref.producer, ref.signal, ref.conviction) for ref in candidate.signals] == [("momentum", "long", 10)]
    assert "volume 1.81×" in candidate.trade.rationale


def test_momentum_without_volume_is_not_taken_on_2023_01_26(shared_data: Path) -> None:
    """BTC +37.5% in 20 days (16,786.86 → 23,087.87), but the last day's volume is 1.15× the week before's:
    the move is not confirmed."""
    candidate = only(shipped(MomentumStrategy, "momentum").evaluate(real_cycle(shared_data, "2023-01-26T07:00")))
    assert not candidate.taken
    assert candidate.trade is None
    assert "momentum long 10" in candidate.reason
    assert "volume 1.15×" in candidate.reason
    assert "needs ≥ 1.25×" in candidate.reason


def test_momentum_short_without_volume_on_2023_01_02(shared_data: Path) -> None:
    """BTC -5.3% in 20 days (17,643.73 → 16,715.42), volume 0.82× the week before: not taken."""
    candidate = only(shipped(MomentumStrategy, "momentum").evaluate(real_cycle(shared_data, "2023-01-02T18:00")))
    assert not candidate.taken
    assert "momentum short 4" in candidate.reason
    assert "volume 0.82×" in candidate.reason


# -- combined -----------------------------------------------------------------------------------------------------


def test_combined_long_on_2023_03_26(shared_data: Path) -> None:
    """SMA20 crossed above SMA50 on the bar 14:00-15:00 (27,596.41 vs 27,589.75; an hour before 27,578.80 vs
    27,595.45), three bars before the 18:00 cycle, and stayed above (27,665.66 vs 27,574.83). Momentum is long
    (+23.8% in 20 days, conviction 10): both agree, a long sized on conviction 10."""
    closes = window(shared_data, "BTC", "2023-03-26T18:00")["close"].to_numpy()
    assert sma(closes, 20, 4) <= sma(closes, 50, 4)
    assert sma(closes, 20, 3) > sma(closes, 50, 3)
    assert all(sma(closes, 20, ago) > sma(closes, 50, ago) for ago in range(3))

    cycle = real_cycle(shared_data, "2023-03-26T18:00")
    candidate = only(shipped(CombinedStrategy, "combined").evaluate(cycle))
    assert candidate.taken
    assert candidate.direction == "long"
    assert candidate.trade is not None
    assert "crossed above SMA(50) 3 bars ago" in candidate.trade.rationale
    assert "momentum long 10" in candidate.trade.rationale
    assert candidate.trade.size == pytest.approx(0.071429, abs=1e-6)


def test_combined_refuses_a_cross_against_momentum_on_2023_03_28(shared_data: Path) -> None:
    """SMA20 crossed below SMA50 on the bar 18:00-19:00 of 03-27 (five bars before the 00:00 cycle), but the
    20-day momentum is long (+22.2%): they disagree, no trade."""
    candidate = only(shipped(CombinedStrategy, "combined").evaluate(real_cycle(shared_data, "2023-03-28T00:00")))
    assert not candidate.taken
    assert "crossed below SMA(50) 5 bars ago" in candidate.reason
    assert "momentum says long" in candidate.reason


def test_combined_needs_a_momentum_signal(shared_data: Path) -> None:
    """2023-03-01 11:00: a fresh cross up three bars ago, but the 20-day change is inside ±5%: no momentum."""
    cycle = real_cycle(shared_data, "2023-03-01T11:00")
    assert [s.signal for s in cycle.signals] == ["neutral"]
    candidate = only(shipped(CombinedStrategy, "combined").evaluate(cycle))
    assert not candidate.taken
    assert "no directional momentum signal" in candidate.reason


# -- RSI oversold -------------------------------------------------------------------------------------------------


def swing_low_by_hand(lows: np.ndarray, index: int, n: int = 5) -> bool:
    return all(lows[index] < lows[index + k] for k in range(-n, n + 1) if k != 0)


def test_rsi_oversold_at_support_on_2023_12_11(shared_data: Path) -> None:
    """At 21:00, RSI(14) 17.99 (< 30). The last three swing lows of the 200-bar window are 43,584.51 (12-09 23:00),
    43,603.88 (12-10 09:00) and 40,400.00 (12-11 02:00, the flash-crash wick); support is their lowest, 40,400.
    The close 40,858.02 is 1.13% above it (≤ 2%): price came back to the wick's low, an oversold retest, a long.
    Conviction 10 (5 + 12 points below 30, capped) → 7.14%."""
    frame = window(shared_data, "BTC", "2023-12-11T21:00")
    lows, ts = frame["low"].to_numpy(), frame["ts"].to_numpy()
    wick = int(np.flatnonzero(ts == ms("2023-12-11T02:00"))[0])
    assert lows[wick] == 40_400.0
    assert swing_low_by_hand(lows, wick)
    assert wilder_rsi(frame["close"].to_numpy())[-1] == pytest.approx(17.9929, abs=1e-4)

    candidate = only(shipped(RSIOversoldStrategy, "rsi_oversold").evaluate(real_cycle(shared_data, "2023-12-11T21:00")))
    assert candidate.taken
    assert candidate.direction == "long"
    assert candidate.trade is not None
    assert candidate.trade.conviction == 10
    assert candidate.trade.size == pytest.approx(0.071429, abs=1e-6)
    assert "RSI(14) 18.0 < 30" in candidate.trade.rationale
    assert "+1.13% from support 40,400 (lowest of the last 3 swing lows, 18 bars ago)" in candidate.trade.rationale


def test_rsi_oversold_just_above_support_on_2024_07_03(shared_data: Path) -> None:
    """At 21:00, RSI 28.48: conviction 5 + 1 = 6. Support is the 59,600.00 swing low of 07-03 10:00 (below the
    61,806.28 and 62,401.23 ones of 07-02); the close 59,609.26 sits 0.02% above it."""
    frame = window(shared_data, "BTC", "2024-07-03T21:00")
    lows, ts = frame["low"].to_numpy(), frame["ts"].to_numpy()
    swing = int(np.flatnonzero(ts == ms("2024-07-03T10:00"))[0])
    assert lows[swing] == 59_600.0
    assert swing_low_by_hand(lows, swing)

    candidate = only(shipped(RSIOversoldStrategy, "rsi_oversold").evaluate(real_cycle(shared_data, "2024-07-03T21:00")))
    assert candidate.taken
    assert candidate.trade is not None
    assert candidate.trade.conviction == 6
    assert candidate.trade.size == pytest.approx(0.05 * 6 / 7, abs=1e-6)


def test_rsi_oversold_below_broken_support_on_2024_04_17(shared_data: Path) -> None:
    """RSI 24.6, but the close 60,304.95 is 2.10% below support 61,600 (the 04-16 10:00 swing low): broken."""
    candidate = only(shipped(RSIOversoldStrategy, "rsi_oversold").evaluate(real_cycle(shared_data, "2024-04-17T16:00")))
    assert not candidate.taken
    assert "support broke" in candidate.reason
    assert "-2.10% from support 61,600" in candidate.reason


def test_rsi_oversold_far_above_support_on_2023_08_18(shared_data: Path) -> None:
    """RSI 28.8, but support is the 25,166 wick of 08-17 21:00 and the close 26,502.66 is 5.31% above it."""
    candidate = only(shipped(RSIOversoldStrategy, "rsi_oversold").evaluate(real_cycle(shared_data, "2023-08-18T07:00")))
    assert not candidate.taken
    assert "not near support" in candidate.reason
    assert "+5.31% from support 25,166" in candidate.reason


def test_no_candidate_when_rsi_is_not_oversold(shared_data: Path) -> None:
    """2023-06-27 15:00, a rising market: RSI well above 30, nothing to consider."""
    frame = window(shared_data, "BTC", "2023-06-27T15:00")
    assert wilder_rsi(frame["close"].to_numpy())[-1] > 50
    assert shipped(RSIOversoldStrategy, "rsi_oversold").evaluate(real_cycle(shared_data, "2023-06-27T15:00")) == []
