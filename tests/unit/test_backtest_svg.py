"""The report's charts: round axis values, one polyline per series, and halts marked where they happened."""

from __future__ import annotations

import pytest

from b1e55ed.backtest.svg import Series, axis_ticks, chart

DAY = 86_400_000


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (-0.11, 0.0, [-0.15, -0.10, -0.05, 0.0]),
        (9_300, 10_500, [9_000, 9_500, 10_000, 10_500]),
        (5, 5, [4.0, 4.5, 5.0, 5.5, 6.0]),  # a flat series still gets a scale
    ],
)
def test_axis_values_are_round_steps_that_span_the_data(low: float, high: float, expected: list[float]) -> None:
    assert axis_ticks(low, high) == pytest.approx(expected)


def test_zero_is_never_written_as_minus_zero() -> None:
    svg = chart([0, DAY], [Series("dd", [-0.11, 0.0], "dd", area=True)], label="drawdown", fmt=lambda v: f"{v:.1f}")
    assert ">-0.0<" not in svg
    assert ">0.0<" in svg


def test_each_series_is_one_line_and_a_mark_is_drawn_inside_the_run_only() -> None:
    series = [Series("equity", [100, 110, 105], "equity"), Series("hold", [100, 120, 90], "bench")]
    marks = [(DAY, "HALTED (drawdown)"), (10 * DAY, "after the end")]
    svg = chart([0, DAY, 2 * DAY], series, label="equity", fmt=str, marks=marks)
    assert svg.count("<polyline") == 2
    assert "HALTED (drawdown)" in svg
    assert "after the end" not in svg
    assert "xmlns" not in svg  # inline SVG needs no namespace, and the page holds no URL


def test_a_run_without_cycles_has_no_chart_but_says_so() -> None:
    assert "no settled cycle" in chart([], [Series("equity", [], "equity")], label="equity", fmt=str)
