"""Karma's arithmetic: the calibration estimate, pool-adjacent-violators, the breakeven, and the scorecards."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from b1e55ed.karma.calibration import Tally, breakeven, calibrate, monotone
from b1e55ed.karma.scorecard import Scored, attribute, patterns, score, trade_scores, wilson
from b1e55ed.messages import KarmaOutcome


def outcome(**fields: Any) -> KarmaOutcome:
    base: dict[str, Any] = {
        "source": "rsi",
        "symbol": "BTC",
        "direction": "long",
        "conviction": 7,
        "opened": 0,
        "entry": 100.0,
        "closed": 3_600_000,
        "exit": 110.0,
        "bars": 1,
        "result": "win",
        "ret": 0.1,
        "weight": 1.0,
    }
    return KarmaOutcome(**(base | fields))


def test_wilson_matches_the_textbook_interval() -> None:
    low, high = wilson(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4)
    assert high == pytest.approx(0.9433, abs=1e-4)
    assert wilson(0, 0) == (0.0, 1.0)


def test_calibration_waits_for_min_samples_and_shrinks_toward_the_base_rate() -> None:
    tally = Tally()
    for _ in range(9):
        tally.add(5, 1.0, won=False)
    tally.add(9, 1.0, won=True)
    assert calibrate(tally, min_samples=11, prior_strength=4) is None
    table = calibrate(tally, min_samples=10, prior_strength=4)
    assert table is not None
    # Shrunk: convictions without outcomes sit at the base rate (1 win in 10, weight 4 each); nine losses pull 5
    # to 0.4/13, below them, so pool-adjacent-violators pools 1 to 5 at their weighted mean.
    pooled = (4 * 4 * 0.1 + 13 * (0.4 / 13)) / (4 * 4 + 13)
    assert table[:5] == pytest.approx([pooled] * 5, abs=1e-6)  # rounded to 6 decimals
    # One win at 9, shrunk hard toward 0.1: (1 + 0.4) ÷ 5 = 0.28, then pooled with 10's base rate above it.
    assert table[8:] == pytest.approx([(0.28 * 5 + 0.1 * 4) / 9] * 2, abs=1e-6)
    assert list(table) == sorted(table)


@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0.01, 100)), min_size=1, max_size=12))
def test_pool_adjacent_violators_is_monotone_and_keeps_the_weighted_mean(pairs: list[tuple[float, float]]) -> None:
    values, weights = [v for v, _ in pairs], [w for _, w in pairs]
    fitted = monotone(values, weights)
    assert all(a <= b + 1e-12 for a, b in itertools.pairwise(fitted))
    mean = sum(v * w for v, w in pairs) / sum(weights)
    assert sum(f * w for f, w in zip(fitted, weights, strict=True)) / sum(weights) == pytest.approx(mean)


def test_breakeven_of_three_over_ten_is_three_thirteenths_plus_fees() -> None:
    assert breakeven(3, 10, 0) == pytest.approx(3 / 13)
    assert breakeven(3, 10, 0.0005) == pytest.approx(3.1 / 13)


def test_a_score_counts_effective_outcomes() -> None:
    scored = score(
        [
            outcome(weight=0.5, p=0.4),
            outcome(result="loss", ret=-0.03, exit=97.0, weight=0.5, p=0.4),
            outcome(result="timeout", ret=0.01, exit=101.0, weight=1.0),
        ]
    )
    assert (scored["count"], scored["effective"], scored["wins"], scored["hit_rate"]) == (3, 2.0, 0.5, 0.25)
    assert scored["mean_return"] == pytest.approx((0.5 * 0.1 - 0.5 * 0.03 + 0.01) / 2)
    assert scored["brier"] == pytest.approx((0.36 + 0.16) / 2)  # only the calibrated two
    assert scored["wilson_low"] == pytest.approx(wilson(0.5, 2.0)[0], abs=1e-6)


def test_the_information_coefficient_reads_shorts_as_negative_conviction() -> None:
    rising = [outcome(conviction=c, ret=0.01 * c) for c in range(1, 6)]
    falling = [outcome(direction="short", conviction=c, ret=0.01 * c) for c in range(1, 6)]
    assert score(rising)["ic"] == pytest.approx(1.0)
    assert score(rising + falling)["ic"] == pytest.approx(1.0)


def test_patterns_are_agreeing_producer_sets_ranked_by_their_lower_bound() -> None:
    """rsi and momentum alone agree in even cycles and always win; with funding, in odd ones, half the time."""
    items = []
    for cycle in range(40):
        won = cycle % 2 == 0 or cycle % 4 == 1
        sources = ("rsi", "momentum") if cycle % 2 == 0 else ("rsi", "momentum", "funding")
        result = "win" if won else "loss"
        items += [Scored("producers", outcome(source=s, opened=cycle, result=result)) for s in sources]
    items.append(Scored("producers", outcome(source="rsi", opened=99)))  # alone: no pattern
    found = patterns(items, min_samples=10, top=5)
    assert [p["producers"] for p in found] == [["momentum", "rsi"], ["funding", "momentum", "rsi"]]
    assert (found[0]["score"]["effective"], found[0]["score"]["hit_rate"]) == (20.0, 1.0)
    assert found[1]["score"]["hit_rate"] == 0.5
    assert patterns(items, min_samples=100, top=5) == []


def test_real_trades_and_their_attribution() -> None:
    scores = trade_scores([(30.0, 1.0, -0.5), (-10.0, 1.0, 0.0), (-5.0, 0.5, 0.2)])
    assert scores["win_rate"] == pytest.approx(1 / 3, abs=1e-6)
    assert scores["profit_factor"] == 2.0
    assert scores["expectancy"] == 5.0
    assert scores["fees"] == 2.5
    assert scores["funding"] == pytest.approx(-0.3)
    assert attribute(12.0, {"rsi": 8, "momentum": 4}) == {"rsi": 8.0, "momentum": 4.0}
