"""The shared sizing rule: conviction-weighted, calibrated when karma knows, Kelly-capped when asked, policy-capped."""

from __future__ import annotations

from typing import Any

import pytest

from actors.strategies.sizing import Driver, SizingRule, round_half_up, signal_refs
from b1e55ed.karma.calibration import Calibration
from b1e55ed.messages import Signal, SignalRef
from b1e55ed.plugins import PluginSetup
from b1e55ed.registry import ConfigError

BREAKEVEN = 3 / 13  # exits 3/10, no fees


def rule(**params: Any) -> SizingRule:
    return PluginSetup("s", 3_600_000, params).params_as(SizingRule)


def cal(tables: dict[str, dict[int, float]] | None = None, **settings: Any) -> Calibration:
    """Karma's calibration measured at 3/10, no fees unless given."""
    return Calibration(tables or {}, **({"stop_pct": 3.0, "target_pct": 10.0} | settings))


def equivalent(p: float, breakeven: float = BREAKEVEN) -> float:
    return 10 * max(p - breakeven, 0) / (1 - breakeven)


def test_conviction_seven_is_five_percent_and_size_scales_with_it() -> None:
    assert rule().size([Driver("rsi", 7)], cal()).size == 0.05
    assert rule().size([Driver("rsi", 10)], cal()).size == pytest.approx(0.05 * 10 / 7, abs=1e-6)  # 7.14%
    assert rule().size([Driver("rsi", 3)], cal()).size == pytest.approx(0.05 * 3 / 7, abs=1e-6)


def test_several_drivers_size_on_their_mean_conviction() -> None:
    sizing = rule().size([Driver("a", 6), Driver("b", 9)], cal())
    assert sizing.numbers == {
        "conviction": 8.0,
        "mean_conviction": 7.5,
        "base_size": 0.05,
        "reference_conviction": 7.0,
        "raw_size": pytest.approx(0.05 * 7.5 / 7),
        "max_size": 0.15,
        "size": 0.053571,
    }
    assert sizing.conviction == 8  # 7.5 rounded half up


def test_policy_cap_always_applies() -> None:
    sizing = rule(base_size=0.15).size([Driver("a", 10)], cal())
    assert sizing.numbers["raw_size"] == pytest.approx(0.15 * 10 / 7)  # 21.4%
    assert sizing.size == 0.15
    assert rule(base_size=0.15).describe(sizing).endswith("(capped at 15%)")
    assert rule(base_size=0.15, max_size=0.1).size([Driver("a", 10)], cal()).size == 0.1


def test_a_calibrated_driver_sizes_by_its_edge_over_the_breakeven() -> None:
    """rsi says 8, but karma has seen rsi's 8s win 45% of the time at 3/10, where 3/13 ≈ 23% breaks even: its
    edge is 0.22 of the 0.77 between breakeven and certainty, so it sizes like a 2.85."""
    sizing = rule().size([Driver("rsi", 8)], cal({"rsi": {8: 0.45}}))
    assert sizing.numbers["reported_conviction"] == 8.0
    assert sizing.numbers["win_probability"] == 0.45
    assert sizing.numbers["breakeven"] == pytest.approx(BREAKEVEN)
    assert sizing.numbers["edge"] == pytest.approx(0.45 - BREAKEVEN)
    assert sizing.numbers["mean_conviction"] == pytest.approx(equivalent(0.45))
    assert sizing.size == pytest.approx(0.05 * equivalent(0.45) / 7, abs=1e-6)
    assert sizing.conviction == 8  # the trade still carries what the producer said
    assert "calibrated: win probability 45%" in rule().describe(sizing)


def test_fees_raise_the_breakeven() -> None:
    """A 0.045% taker fee on entry and exit costs 0.09 points: (3 + 0.09) ÷ 13."""
    sizing = rule().size([Driver("rsi", 8)], cal({"rsi": {8: 0.45}}, fee_rate=0.00045))
    assert sizing.numbers["breakeven"] == pytest.approx(3.09 / 13)
    assert sizing.size < rule().size([Driver("rsi", 8)], cal({"rsi": {8: 0.45}})).size


def test_calibration_for_another_conviction_or_producer_is_not_used() -> None:
    calibration = cal({"rsi": {7: 0.6}, "funding": {8: 0.3}})
    sizing = rule().size([Driver("rsi", 8)], calibration)
    assert "win_probability" not in sizing.numbers
    assert sizing.size == pytest.approx(0.05 * 8 / 7, abs=1e-6)


def test_a_rule_driver_reads_the_rules_calibration_only() -> None:
    calibration = Calibration({"ma": {6: 0.9}}, rules={"ma": {6: 0.5}}, stop_pct=3, target_pct=10)
    assert rule().size([Driver("ma", 6, rule=True)], calibration).numbers["win_probability"] == 0.5
    assert rule().size([Driver("ma", 6)], calibration).numbers["win_probability"] == 0.9


def test_mixed_drivers_average_calibrated_and_reported_convictions() -> None:
    sizing = rule().size([Driver("rsi", 8), Driver("momentum", 6)], cal({"rsi": {8: 0.9}}))
    assert sizing.numbers["mean_conviction"] == pytest.approx((equivalent(0.9) + 6.0) / 2)
    assert sizing.numbers["reported_conviction"] == 7.0
    assert sizing.numbers["calibrated_drivers"] == 1.0
    assert sizing.numbers["win_probability"] == 0.9


def test_kelly_caps_a_calibrated_size() -> None:
    """p 0.60 with a 10% target and a 3% stop: b = 3.33, f* = 0.60 - 0.40 / 3.33 = 0.48; a twentieth of it is
    2.4%, below the calibrated size."""
    kelly = rule(base_size=0.10, kelly_fraction=0.05)
    sizing = kelly.size([Driver("rsi", 8)], cal({"rsi": {8: 0.60}}))
    assert sizing.numbers["payoff_ratio"] == pytest.approx(10 / 3)
    assert sizing.numbers["kelly_optimal"] == pytest.approx(0.48)
    assert sizing.numbers["kelly_cap"] == pytest.approx(0.024)
    assert sizing.numbers["raw_size"] == pytest.approx(0.10 * equivalent(0.6) / 7)
    assert sizing.numbers["kelly_applied"] == 1.0
    assert sizing.size == 0.024
    assert "(Kelly cap 2.40%)" in kelly.describe(sizing)


def test_kelly_applies_only_at_the_exits_karma_measured() -> None:
    sizing = rule(kelly_fraction=0.05, stop_pct=2).size([Driver("rsi", 8)], cal({"rsi": {8: 0.60}}))
    assert sizing.numbers["kelly_applied"] == 0.0


def test_kelly_leaves_a_smaller_size_alone() -> None:
    sizing = rule(kelly_fraction=0.5).size([Driver("rsi", 8)], cal({"rsi": {8: 0.6}}))
    assert sizing.numbers["kelly_cap"] == pytest.approx(0.5 * (0.6 - 0.4 * 0.3))  # 24%
    assert sizing.size == pytest.approx(0.05 * equivalent(0.6) / 7, abs=1e-6)


def test_no_edge_means_no_size_and_says_why() -> None:
    """p 0.20 is below the 3/13 breakeven: a losing bet at any size, Kelly or not."""
    sizing = rule().size([Driver("rsi", 8)], cal({"rsi": {8: 0.20}}))
    assert sizing.numbers["edge"] == pytest.approx(0.20 - BREAKEVEN)
    assert sizing.size == 0.0
    assert not sizing.has_edge
    assert "no edge: win probability 20.0% ≤ breakeven 23.1% at exits 10/3, fees included" in rule().no_edge_reason(
        sizing
    )
    kelly = rule(kelly_fraction=0.25).size([Driver("rsi", 8)], cal({"rsi": {8: 0.20}}))
    assert kelly.numbers["kelly_optimal"] == pytest.approx(-0.04)
    assert kelly.size == 0.0


def test_kelly_is_skipped_without_calibration_and_says_so() -> None:
    sizing = rule(kelly_fraction=0.25).size([Driver("rsi", 8)], cal())
    assert sizing.numbers["kelly_applied"] == 0.0
    assert "kelly_cap" not in sizing.numbers
    assert sizing.size == pytest.approx(0.05 * 8 / 7, abs=1e-6)


def test_kelly_needs_every_driver_calibrated() -> None:
    sizing = rule(kelly_fraction=0.25).size([Driver("rsi", 8), Driver("momentum", 6)], cal({"rsi": {8: 0.2}}))
    assert sizing.numbers["kelly_applied"] == 0.0
    assert sizing.has_edge


def test_stop_and_target_come_from_the_rule() -> None:
    sized = rule().size([Driver("a", 7)], cal())
    long = rule(stop_pct=2, target_pct=6).trade(
        symbol="BTC", direction="long", entry=100.0, sizing=sized, rationale="r", strategy="s"
    )
    assert long.stop == pytest.approx(98.0)
    assert long.target == pytest.approx(106.0)
    assert (long.size, long.conviction) == (0.05, 7)
    short = rule().trade(symbol="BTC", direction="short", entry=100.0, sizing=sized, rationale="r", strategy="s")
    assert short.stop == pytest.approx(103.0)
    assert short.target == pytest.approx(90.0)


def test_signal_refs_carry_the_calibrated_probability() -> None:
    signals = [
        Signal(symbol="BTC", signal="long", conviction=8, rationale="", producer="rsi", timestamp=0),
        Signal(symbol="BTC", signal="long", conviction=6, rationale="", producer="momentum", timestamp=0),
    ]
    assert signal_refs(signals, cal({"rsi": {8: 0.55}})) == (
        SignalRef("rsi", "long", 8, 0.55),
        SignalRef("momentum", "long", 6, None),
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"base_size": -0.05}, r"^s: params\.base_size: Expected `float` > 0\.0$"),
        ({"stop_pct": 0}, r"^s: params\.stop_pct: Expected `float` > 0\.0$"),
        ({"kelly_fraction": 1.5}, r"^s: params\.kelly_fraction: Expected `float` <= 1\.0$"),
        ({"max_size": "15%"}, r"^s: params\.max_size: Expected `float`, got `str`$"),
        ({"stop_pc": 3}, r"^s: params\.stop_pc: unknown key$"),
    ],
)
def test_bad_params_are_named(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        rule(**params)


def test_a_calibration_that_is_not_a_probability_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"calibration\['rsi'\]\[8\] is 1\.2, not a probability"):
        rule().size([Driver("rsi", 8)], cal({"rsi": {8: 1.2}}))
    with pytest.raises(ValueError, match="not a probability"):
        rule().size([Driver("rsi", 8)], cal({"rsi": {8: float("nan")}}))


@pytest.mark.parametrize(("value", "rounded"), [(6.5, 7), (7.5, 8), (6.49, 6), (7.0, 7)])
def test_round_half_up(value: float, rounded: int) -> None:
    assert round_half_up(value) == rounded
