"""How the dashboard draws numbers and the equity curve: pure functions, no server."""

from __future__ import annotations

import math
from typing import Any

import pytest

from b1e55ed.api.dashboard import format as fmt
from b1e55ed.api.dashboard.charts import HEIGHT, PAD, equity_chart, reliability_points


def points(*equity: float) -> list[dict[str, float]]:
    return [{"ts": 1_767_225_600_000 + i * 3_600_000, "equity": value} for i, value in enumerate(equity)]


def ys(path: str) -> list[float]:
    return [float(pair.split(",")[1]) for pair in path.removeprefix("M").split()]


def test_no_curve_draws_nothing() -> None:
    assert equity_chart([]) is None


def test_the_curve_spans_the_chart_from_its_low_to_its_high() -> None:
    chart = equity_chart(points(10_000, 10_100, 9_900), baseline=10_000)
    assert chart is not None
    assert ys(chart.line) == [HEIGHT / 2, PAD, HEIGHT - PAD]
    assert chart.baseline_y == HEIGHT / 2
    assert (chart.low, chart.high, chart.last, chart.points) == (9_900, 10_100, 9_900, 3)
    assert chart.change == -100
    assert chart.change_pct == pytest.approx(-1.0)


def test_a_flat_curve_sits_mid_chart_and_reports_its_true_range() -> None:
    chart = equity_chart(points(10_000, 10_000, 10_000), baseline=10_000)
    assert chart is not None
    assert set(ys(chart.line)) == {HEIGHT / 2}
    assert (chart.low, chart.high) == (10_000, 10_000)


def test_one_point_is_drawn_across_the_chart() -> None:
    chart = equity_chart(points(10_050), baseline=10_000)
    assert chart is not None
    assert chart.line == f"M{PAD},{PAD} {600 - PAD},{PAD}"
    assert chart.points == 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [(97_412.5, "97,412.50"), (3.42101, "3.4210"), (0.00123456, "0.00123456"), (None, "—"), (math.nan, "—")],
)
def test_prices_get_the_decimals_their_size_calls_for(value: float | None, expected: str) -> None:
    assert fmt.price(value) == expected


def test_signed_figures_and_missing_values() -> None:
    assert fmt.money(12.5) == "+12.50"
    assert fmt.money(-1234.5) == "-1,234.50"
    assert fmt.pct(1.234) == "+1.23%"
    assert fmt.share(0.55) == "55.0%"
    assert [fmt.sign(v) for v in (1.0, -1.0, 0.0, None)] == ["up", "down", "muted", "muted"]
    assert fmt.fixed("not a number") == "—"


def test_times_are_utc() -> None:
    assert fmt.utc(1_767_225_600_000) == "2026-01-01 00:00:00"
    assert fmt.unix(1_767_225_600) == "01-01 00:00"
    assert [fmt.span(ms) for ms in (850, 42_000, 420_000, 7_200_000, 172_800_000)] == [
        "850 ms",
        "42 s",
        "7 min",
        "2 h",
        "2 d",
    ]


def test_a_reliability_diagram_plots_filled_bins_only_sized_by_count() -> None:
    bins: list[dict[str, Any]] = [
        {"low": 0.1, "high": 0.2, "predicted": 0.15, "observed": 0.25, "count": 4.0},
        {"low": 0.2, "high": 0.3, "predicted": None, "observed": None, "count": 0.0},
        {"low": 0.3, "high": 0.4, "predicted": 0.35, "observed": 0.3, "count": 1.0},
    ]
    wide, narrow = reliability_points(bins)
    assert (wide.x, wide.y, wide.count) == (15.0, 75.0, 4.0)  # observed runs up the chart
    assert (narrow.x, narrow.y) == (35.0, 70.0)
    assert wide.r == 6.0
    assert narrow.r == pytest.approx(1.5 + 4.5 * 0.5)
    assert reliability_points([]) == []
