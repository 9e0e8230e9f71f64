"""The strategies' rules on small hand-built markets: params, edges, calibration, and the shipped config."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from actors.strategies.combined import CombinedStrategy
from actors.strategies.ma_crossover import MACrossoverStrategy
from actors.strategies.momentum import MomentumStrategy
from actors.strategies.rsi_oversold import RSIOversoldStrategy
from b1e55ed.cycle import Candidate, CycleTick, EnrichedCycle
from b1e55ed.default_plugins import DEFAULT_STRATEGIES
from b1e55ed.karma.calibration import Calibration
from b1e55ed.market.bars import BarArrays
from b1e55ed.market.state import MarketState
from b1e55ed.messages import Signal, SignalValue
from b1e55ed.plugins import PluginSetup
from b1e55ed.registry import ConfigError, resolve_enabled

HOUR = 3_600_000
T0 = 1_700_000_000_000 - 1_700_000_000_000 % HOUR

Closes = Sequence[float] | np.ndarray


def cycle(
    closes: Mapping[str, Closes],
    signals: Sequence[Signal] = (),
    *,
    volumes: Mapping[str, Closes] | None = None,
    lows: Mapping[str, Closes] | None = None,
    calibration: Calibration | None = None,
) -> EnrichedCycle:
    state = MarketState(HOUR)
    length = max(len(c) for c in closes.values())
    for symbol, close in closes.items():
        close = np.asarray(close, dtype=np.float64)
        ts = T0 + HOUR * np.arange(length - len(close), length)
        volume = np.asarray((volumes or {}).get(symbol, np.ones(len(close))), dtype=np.float64)
        low = np.asarray((lows or {}).get(symbol, close), dtype=np.float64)
        state.extend(symbol, BarArrays(ts, close, np.maximum(close, low), low, close, volume))
    as_of = T0 + HOUR * length
    tick = CycleTick(cycle=1, as_of=as_of, source="replay", market=state.view(as_of))
    calibration = calibration if calibration is not None else Calibration()
    return EnrichedCycle(tick=tick, signals=tuple(signals), context={}, producers={}, calibration=calibration)


def signal(symbol: str, value: SignalValue, conviction: int, producer: str = "momentum") -> Signal:
    return Signal(
        symbol=symbol,
        signal=value,
        conviction=conviction,
        rationale=f"{producer} {value}",
        producer=producer,
        timestamp=0,
    )


def only(candidates: Sequence[Candidate]) -> Candidate:
    assert len(candidates) == 1, candidates
    return candidates[0]


def ma(**params: Any) -> MACrossoverStrategy:
    return MACrossoverStrategy(PluginSetup("ma_crossover", HOUR, params))


def momentum(**params: Any) -> MomentumStrategy:
    return MomentumStrategy(PluginSetup("momentum", HOUR, params))


def combined(**params: Any) -> CombinedStrategy:
    return CombinedStrategy(PluginSetup("combined", HOUR, params))


def rsi(**params: Any) -> RSIOversoldStrategy:
    return RSIOversoldStrategy(PluginSetup("rsi_oversold", HOUR, params))


# Flat at 100 for 260 bars (fast = slow exactly), then one bar jumps: the fast MA moves more, a cross on that bar.
def flat_then(last: float) -> list[float]:
    return [100.0] * 260 + [last]


# An integer uptrend (exact sums), flat at 100 long enough for every MA to read 100, then one bar dips to 99:
# the fast MA crosses below the slow one while the close stays above SMA(200), which still remembers the climb.
UP_THEN_DIP = [float(p) for p in np.repeat(np.arange(50, 101), 5)] + [100.0] * 60 + [99.0]


# -- MA crossover -------------------------------------------------------------------------------------------------


def test_cross_up_with_the_trend_is_a_long_and_down_a_short() -> None:
    up = only(ma().evaluate(cycle({"BTC": flat_then(110.0)})))
    assert (up.taken, up.direction) == (True, "long")
    down = only(ma().evaluate(cycle({"BTC": flat_then(90.0)})))
    assert (down.taken, down.direction) == (True, "short")


def test_cross_against_the_trend_is_refused_unless_the_filter_is_off() -> None:
    refused = only(ma().evaluate(cycle({"BTC": UP_THEN_DIP})))
    assert not refused.taken
    assert "crossed below" in refused.reason
    assert "against the trend: close 99 above SMA(200)" in refused.reason
    assert only(ma(trend=0).evaluate(cycle({"BTC": UP_THEN_DIP}))).taken


def test_directions_param_can_turn_shorts_off() -> None:
    candidate = only(ma(directions=["long"]).evaluate(cycle({"BTC": flat_then(90.0)})))
    assert not candidate.taken
    assert "shorts are disabled" in candidate.reason


def test_no_cross_no_candidate_and_a_short_window_is_skipped() -> None:
    assert ma().evaluate(cycle({"BTC": [100.0] * 261})) == []
    assert ma().evaluate(cycle({"BTC": flat_then(110.0)[-200:]})) == []  # fewer bars than the 200-bar trend MA


def test_ema_reacts_where_sma_does_not() -> None:
    """A 300-bar slide from 400 to 101, then one bar back at 400: EMA(20) jumps over EMA(50), SMA(20) does not."""
    closes = [*np.arange(400.0, 100.0, -1.0), 400.0]
    assert ma().evaluate(cycle({"BTC": closes})) == []
    candidate = only(ma(ma="ema").evaluate(cycle({"BTC": closes})))
    assert candidate.trade is not None
    assert "EMA(20) 138.071 crossed above EMA(50) 136.265" in candidate.trade.rationale


def test_own_rule_is_calibrated_under_the_strategy_name() -> None:
    rules = Calibration(rules={"ma_crossover": {6: 0.8}}, stop_pct=3, target_pct=10)
    calibrated = only(ma().evaluate(cycle({"BTC": flat_then(110.0)}, calibration=rules)))
    assert calibrated.trade is not None
    assert calibrated.trade.size == pytest.approx(0.05 * 10 * (0.8 - 3 / 13) / (10 / 13) / 7, abs=1e-6)
    assert calibrated.sizing["win_probability"] == 0.8
    producer_named_alike = Calibration({"ma_crossover": {6: 0.8}}, stop_pct=3, target_pct=10)
    assert "win_probability" not in only(
        ma().evaluate(cycle({"BTC": flat_then(110.0)}, calibration=producer_named_alike))
    ).sizing

    losing = Calibration(rules={"ma_crossover": {6: 0.2}}, stop_pct=3, target_pct=10)
    refused = only(ma().evaluate(cycle({"BTC": flat_then(110.0)}, calibration=losing)))
    assert not refused.taken
    assert refused.direction == "long"  # the rule fired: karma scores it, taken or not
    assert "no edge: win probability 20.0%" in refused.reason
    assert refused.sizing["size"] == 0.0


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"fast": 50, "slow": 20}, r"params\.fast: \(50\) must be below slow \(20\)"),
        ({"fast": 0}, r"params\.fast: Expected `int` >= 1"),
        ({"ma": "wma"}, r"params\.ma: Invalid enum value 'wma'"),
        ({"directions": ["up"]}, r"params\.directions\[0\]: Invalid enum value 'up'"),
        ({"conviction": 11}, r"params\.conviction: Expected `int` <= 10"),
    ],
)
def test_bad_ma_params_are_named(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ma(**params)


# -- momentum -----------------------------------------------------------------------------------------------------


def busy_last_day(ratio: float) -> list[float]:
    return [1.0] * 168 + [ratio] * 24


def test_momentum_is_taken_when_the_last_day_is_busier() -> None:
    enriched = cycle({"ETH": [3_000.0] * 192}, [signal("ETH", "short", 8)], volumes={"ETH": busy_last_day(1.5)})
    candidate = only(momentum().evaluate(enriched))
    assert (candidate.taken, candidate.direction) == (True, "short")
    assert candidate.trade is not None
    assert candidate.trade.size == pytest.approx(0.05 * 8 / 7, abs=1e-6)
    assert "volume 1.50×" in candidate.reason


def test_momentum_volume_threshold_and_windows_come_from_params() -> None:
    quiet = cycle({"ETH": [3_000.0] * 192}, [signal("ETH", "long", 5)], volumes={"ETH": busy_last_day(1.2)})
    assert not only(momentum().evaluate(quiet)).taken
    assert only(momentum(min_volume_ratio=1.1).evaluate(quiet)).taken
    short = cycle({"ETH": [3_000.0] * 100}, [signal("ETH", "long", 5)], volumes={"ETH": [1.0] * 76 + [9.0] * 24})
    unknown = only(momentum().evaluate(short))
    assert not unknown.taken
    assert "volume ratio unknown (needs 192 bars" in unknown.reason
    assert only(momentum(baseline_bars=76).evaluate(short)).taken


def test_momentum_reads_only_its_producers_directional_signals() -> None:
    closes, volumes = {"BTC": [1.0] * 192, "ETH": [1.0] * 192}, {"BTC": busy_last_day(2), "ETH": busy_last_day(2)}
    signals = [signal("BTC", "neutral", 1), signal("ETH", "long", 7, producer="rsi")]
    assert momentum().evaluate(cycle(closes, signals, volumes=volumes)) == []
    assert only(momentum(producer="rsi").evaluate(cycle(closes, signals, volumes=volumes))).symbol == "ETH"


# -- combined -----------------------------------------------------------------------------------------------------


def test_combined_takes_a_cross_within_the_window_that_momentum_agrees_with() -> None:
    closes = [*flat_then(110.0), 110.0, 110.0]  # the cross was two bars ago; fast stays above
    agreed = only(combined().evaluate(cycle({"BTC": closes}, [signal("BTC", "long", 6)])))
    assert (agreed.taken, agreed.direction) == (True, "long")
    assert "2 bars ago" in agreed.reason
    assert combined(within_bars=2).evaluate(cycle({"BTC": closes}, [signal("BTC", "long", 6)])) == []


def test_combined_trend_filter_is_optional() -> None:
    with_trend = combined(trend=200).evaluate(cycle({"BTC": UP_THEN_DIP}, [signal("BTC", "short", 6)]))
    assert "against the trend" in only(with_trend).reason
    assert only(combined().evaluate(cycle({"BTC": UP_THEN_DIP}, [signal("BTC", "short", 6)]))).taken


# -- RSI oversold -------------------------------------------------------------------------------------------------


def falling_onto(support: float, retest: float) -> tuple[list[float], list[float]]:
    """A slide to a swing low at ``support``, a bounce, then a slide back to a close at ``retest``."""
    closes = [*np.linspace(200.0, support + 5, 150), support + 3, *np.linspace(support + 10, 130.0, 20)]
    closes += list(np.linspace(129.0, retest, 30))
    lows = list(closes)
    lows[150] = support  # the swing low: strictly below the five lows on each side
    return closes, lows


def test_oversold_close_just_above_support_is_a_long() -> None:
    closes, lows = falling_onto(support=100.0, retest=101.5)
    candidate = only(rsi().evaluate(cycle({"SOL": closes}, lows={"SOL": lows})))
    assert (candidate.taken, candidate.direction) == (True, "long")
    assert candidate.trade is not None
    assert "+1.50% from support 100 (lowest of the last 3 swing lows, 50 bars ago)" in candidate.trade.rationale
    assert candidate.trade.conviction == 10  # RSI 0 after a straight fall: capped


def test_near_pct_is_a_param_and_a_break_below_is_refused() -> None:
    closes, lows = falling_onto(support=100.0, retest=103.0)
    assert "not near support" in only(rsi().evaluate(cycle({"SOL": closes}, lows={"SOL": lows}))).reason
    assert only(rsi(near_pct=3.5).evaluate(cycle({"SOL": closes}, lows={"SOL": lows}))).taken
    closes, lows = falling_onto(support=100.0, retest=99.0)
    assert "support broke" in only(rsi().evaluate(cycle({"SOL": closes}, lows={"SOL": lows}))).reason


def test_no_swing_low_means_no_support() -> None:
    candidate = only(rsi().evaluate(cycle({"SOL": list(np.linspace(300.0, 100.0, 250))})))
    assert not candidate.taken
    assert "no swing low in the last 200 bars" in candidate.reason


def test_the_supports_of_many_windows_over_one_series_are_each_windows_own() -> None:
    """Lows with ties (rounded) and flat stretches, windows of every length around ``support_bars``."""
    rng = np.random.default_rng(7)
    low = np.round(100 + np.cumsum(rng.normal(0, 1, 1_500)), 0)
    low[600:640] = low[600]
    state = MarketState(HOUR)
    state.extend("SOL", BarArrays(T0 + HOUR * np.arange(len(low)), low, low + 1, low, low, np.ones(len(low))))
    columns, _, _ = state.view(T0 + HOUR * len(low))["SOL"].span
    starts = np.array([0, 5, 300, 590, 900, 1_280, 1_290, 1_100], dtype=np.int64)
    stops = np.array([1_500, 150, 520, 650, 1_120, 1_500, 1_300, 1_109], dtype=np.int64)
    strategy = rsi()
    windows = [state.view(T0 + HOUR * stop, stop - start)["SOL"] for start, stop in zip(starts, stops, strict=True)]
    expected = [strategy.support(bars) for bars in windows]
    assert 0 < sum(found is None for found in expected) < len(expected)
    assert strategy.supports(columns.low, starts, stops) == expected


def test_rsi_params_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"rsi_oversold: params\.swing_count: Expected `int` >= 1"):
        rsi(swing_count=0)
    with pytest.raises(ConfigError, match=r"params\.support_bars: \(10\) must exceed twice swing_bars"):
        rsi(support_bars=10)


# -- the shipped config -------------------------------------------------------------------------------------------


def test_every_default_strategy_is_enabled_resolves_and_builds_from_its_params() -> None:
    resolved = resolve_enabled(DEFAULT_STRATEGIES, key="brain.strategies")
    assert [spec.name for spec, _ in resolved] == ["confluence", "momentum", "ma_crossover", "combined", "rsi_oversold"]
    enriched = cycle({"BTC": flat_then(110.0)}, [signal("BTC", "long", 6)], volumes={"BTC": [1.0] * 237 + [3.0] * 24})
    for spec, cls in resolved:
        strategy = cls(PluginSetup(spec.name, HOUR, spec.params))
        assert strategy.name == spec.name
        assert all(c.symbol == "BTC" for c in strategy.evaluate(enriched))
