"""The report's metrics on small series whose answers can be checked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from b1e55ed.backtest import metrics

DAY = metrics.DAY_MS
HOUR = 3_600_000


def arr(*values: float) -> metrics.Floats:
    return np.array(values, np.float64)


def times(*values: int) -> metrics.Ints:
    return np.array(values, np.int64)


def test_daily_equity_takes_each_days_last_cycle_and_a_close_at_midnight_ends_the_day_before() -> None:
    # Day 0: cycles at 01:00 and at midnight ending it; day 1: none; day 2: one at noon.
    daily = metrics.daily_equity(times(HOUR, DAY, 2 * DAY + 12 * HOUR), arr(100, 104, 90))
    assert daily.days.tolist() == [0, 1, 2]
    assert daily.equity.tolist() == [104, 104, 90]  # day 1 keeps day 0's value


def test_daily_returns_start_from_the_starting_equity() -> None:
    daily = metrics.Daily(times(0, 1), arr(110, 99))
    assert metrics.daily_returns(100, daily) == pytest.approx([0.10, -0.10])


def test_external_cash_is_neither_a_gain_nor_a_loss() -> None:
    daily = metrics.Daily(times(0, 1), arr(100, 250))
    flows = metrics.flows_per_day(daily.days, [DAY + HOUR], [100.0])
    assert flows.tolist() == [0, 100]
    assert metrics.daily_returns(100, daily, flows) == pytest.approx([0.0, 0.5])


def test_total_return_compounds_the_daily_returns() -> None:
    assert metrics.total_return(arr(0.10, -0.10)) == pytest.approx(-0.01)
    assert metrics.total_return(arr()) == 0


def test_cagr_of_ten_percent_in_a_year_and_of_twenty_one_percent_in_two_is_ten_percent() -> None:
    one_year = np.zeros(365)
    one_year[0] = 0.10
    two_years = np.zeros(730)
    two_years[0] = 0.21
    assert metrics.cagr(one_year) == pytest.approx(0.10)
    assert metrics.cagr(two_years) == pytest.approx(0.10)
    assert metrics.cagr(arr()) is None
    assert metrics.cagr(arr(-1.0)) is None  # ruin has no growth rate


def test_sharpe_is_mean_over_sample_deviation_times_root_365() -> None:
    returns = arr(0.01, -0.01, 0.02, 0.0)
    # mean 0.005; squared deviations 25e-6 + 225e-6 + 225e-6 + 25e-6 = 500e-6, over n - 1 = 3
    assert metrics.sharpe(returns) == pytest.approx(0.005 / math.sqrt(500e-6 / 3) * math.sqrt(365))
    assert metrics.sharpe(arr(0.01, 0.01)) is None  # no variation
    assert metrics.sharpe(arr(0.01)) is None


def test_sortino_divides_by_the_downside_deviation_over_every_day() -> None:
    returns = arr(0.01, -0.01, 0.02, 0.0)
    # downside: only -0.01, so sqrt(1e-4 / 4) = 0.005 = the mean: the ratio is √365
    assert metrics.sortino(returns) == pytest.approx(math.sqrt(365))
    assert metrics.sortino(arr(0.01, 0.02)) is None  # no losing day


def test_calmar_is_cagr_over_the_maximum_drawdown() -> None:
    assert metrics.calmar(0.20, 0.10) == pytest.approx(2.0)
    assert metrics.calmar(0.20, 0.0) is None
    assert metrics.calmar(None, 0.1) is None


def test_drawdown_is_the_fall_from_the_running_peak() -> None:
    equity = arr(100, 120, 90, 130, 117)
    assert metrics.drawdown(equity) == pytest.approx([0, 0, -0.25, 0, -0.10])
    assert metrics.max_drawdown(equity) == pytest.approx(0.25)
    assert metrics.max_drawdown(arr(100, 101, 102)) == 0


def test_the_longest_drawdown_runs_from_the_peak_to_the_recovery() -> None:
    underwater = metrics.longest_drawdown(times(0, 10, 20, 30, 40), arr(100, 120, 90, 130, 117))
    # 120 at t=10, back above at t=30: 20; then 130 at t=30, still below at t=40: only 10
    assert underwater == metrics.Underwater(duration_ms=20, start=10, end=30, recovered=True)


def test_a_drawdown_never_recovered_lasts_until_the_last_cycle() -> None:
    underwater = metrics.longest_drawdown(times(0, 5, 50), arr(100, 90, 95))
    assert underwater == metrics.Underwater(duration_ms=50, start=0, end=50, recovered=False)
    assert metrics.longest_drawdown(times(0, 1), arr(100, 100)).duration_ms == 0  # flat is not under water


def test_profit_factor_expectancy_and_win_rate_of_closed_trades() -> None:
    pnl = arr(50, -20, 30, -10)
    assert metrics.profit_factor(pnl) == pytest.approx(80 / 30)
    assert metrics.expectancy(pnl) == pytest.approx(12.5)
    assert metrics.win_rate(pnl) == pytest.approx(0.5)
    assert metrics.profit_factor(arr(10, 20)) is None  # no loss
    assert metrics.expectancy(arr()) is None
    assert metrics.win_rate(arr()) is None


def test_exposure_is_the_share_of_cycles_with_a_position_and_leverage_the_mean_notional_over_equity() -> None:
    assert metrics.time_in_market(times(0, 1, 2, 0)) == pytest.approx(0.5)
    assert metrics.mean_leverage(arr(0, 50, 100), arr(100, 100, 100)) == pytest.approx(0.5)
    assert metrics.time_in_market(times()) is None


def test_buy_and_hold_holds_cash_until_a_symbols_first_close() -> None:
    closes = np.array([[100, np.nan], [110, 20], [121, 10]], np.float64)
    # half in the first symbol from 100; half in cash until the second lists at 20, then half of that
    assert metrics.buy_and_hold(1000, closes) == pytest.approx([1000, 1050, 855])


def test_buy_and_hold_keeps_the_last_close_of_a_symbol_missing_from_a_cycle() -> None:
    closes = np.array([[100, 10], [np.nan, 20], [200, np.nan]], np.float64)
    assert metrics.buy_and_hold(100, closes) == pytest.approx([100, 150, 200])


def test_monthly_returns_compound_the_days_of_each_month() -> None:
    jan_30 = int(np.datetime64("2024-01-30", "D").astype(np.int64))
    days = times(jan_30, jan_30 + 1, jan_30 + 2)
    months = metrics.monthly_returns(days, arr(0.10, 0.10, -0.50))
    assert [m.month for m in months] == ["2024-01", "2024-02"]
    assert [m.value for m in months] == pytest.approx([0.21, -0.50])
