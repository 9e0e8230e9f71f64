"""The report's metrics: plain numpy functions, each one defined once, in its docstring.

Conventions shared by every metric:

- Equity is sampled once per UTC day: the equity of the last settled cycle at or before the day's end (a cycle
  whose ``as_of`` is exactly midnight closes the day before). Days without a cycle keep the last value.
- Daily returns are time-weighted: ``r_d = (E_d - F_d) / E_(d-1) - 1``, where ``F_d`` is external cash added on
  day ``d`` (a live account's ``EquitySynced`` adjustment; zero on paper), and ``E_(-1)`` is the starting equity,
  the equity of the first settled cycle (no order can fill before the first cycle settles).
- A year is 365 days; the risk-free rate is zero.
- A metric that is undefined for the input (no trade, no variation, no loss) is ``None``, never NaN or infinity,
  so the report stays valid, comparable JSON.

The glossary of the HTML report is these docstrings' first paragraphs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

DAY_MS = 86_400_000
YEAR_DAYS = 365

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


class Daily(NamedTuple):
    """End-of-day equity: ``days`` are UTC day numbers (ms since the epoch ÷ DAY_MS), ``equity`` their values."""

    days: Ints
    equity: Floats


def daily_equity(as_of: Ints, equity: Floats) -> Daily:
    """Equity at the end of each UTC day from the first cycle's day to the last's, carried over days with no cycle."""
    if len(as_of) == 0:
        return Daily(np.zeros(0, np.int64), np.zeros(0, np.float64))
    day_of = (np.asarray(as_of, np.int64) - 1) // DAY_MS
    days = np.arange(day_of[0], day_of[-1] + 1, dtype=np.int64)
    last = np.searchsorted(day_of, days, side="right") - 1
    return Daily(days, np.asarray(equity, np.float64)[last])


def daily_returns(start: float, daily: Daily, flows: Floats | None = None) -> Floats:
    """Time-weighted daily returns of ``daily`` from ``start``; ``flows`` is external cash per day (or None)."""
    if len(daily.equity) == 0 or start <= 0:
        return np.zeros(0, np.float64)
    previous = np.concatenate(([start], daily.equity[:-1]))
    added = np.zeros_like(daily.equity) if flows is None else np.asarray(flows, np.float64)
    return (daily.equity - added) / previous - 1.0


def flows_per_day(days: Ints, flow_ts: Sequence[int], flow_amounts: Sequence[float]) -> Floats:
    """External cash flows summed onto the days of ``days`` they fall in (a flow before the first day is dropped)."""
    per_day = np.zeros(len(days), np.float64)
    for ts, amount in zip(flow_ts, flow_amounts, strict=True):
        index = int(np.searchsorted(days, (ts - 1) // DAY_MS))
        if 0 <= index < len(days) and days[index] == (ts - 1) // DAY_MS:
            per_day[index] += amount
    return per_day


def total_return(returns: Floats) -> float:
    """Total return: the compounded daily returns, ``Π(1 + r_d) − 1`` (final ÷ starting equity − 1 on paper)."""
    return float(np.prod(1.0 + returns) - 1.0) if len(returns) else 0.0


def cagr(returns: Floats) -> float | None:
    """CAGR: the compound annual growth rate, ``(1 + total return)^(365 ÷ days) − 1``; None for no day or total ruin."""
    growth = 1.0 + total_return(returns)
    if len(returns) == 0 or growth <= 0:
        return None
    return float(growth ** (YEAR_DAYS / len(returns)) - 1.0)


def sharpe(returns: Floats) -> float | None:
    """Sharpe ratio: mean daily return ÷ its sample standard deviation (n − 1) × √365; None under 2 days or no
    variation."""
    if len(returns) < 2:
        return None
    spread = float(np.std(returns, ddof=1))
    return float(np.mean(returns)) / spread * math.sqrt(YEAR_DAYS) if spread > 0 else None


def sortino(returns: Floats) -> float | None:
    """Sortino ratio: mean daily return ÷ downside deviation × √365, the downside deviation being
    ``√(mean(min(r_d, 0)²))`` over every day; None when no day lost."""
    if len(returns) == 0:
        return None
    downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)))
    return float(np.mean(returns)) / downside * math.sqrt(YEAR_DAYS) if downside > 0 else None


def calmar(annual_growth: float | None, worst_drawdown: float) -> float | None:
    """Calmar ratio: CAGR ÷ maximum drawdown (both fractions; the drawdown over every settled cycle, as below);
    None without a drawdown or a CAGR."""
    if annual_growth is None or worst_drawdown <= 0:
        return None
    return annual_growth / worst_drawdown


def drawdown(equity: Floats) -> Floats:
    """Drawdown: how far equity is below its running peak, as a fraction ≤ 0 (−0.1 is 10% below the peak)."""
    if len(equity) == 0:
        return np.zeros(0, np.float64)
    peak = np.maximum.accumulate(equity)
    return np.where(peak > 0, equity / np.where(peak > 0, peak, 1.0) - 1.0, 0.0)


def max_drawdown(equity: Floats) -> float:
    """Maximum drawdown: the largest fall from a running peak of the equity of every settled cycle, as a positive
    fraction (0.2 is 20%)."""
    return float(-np.min(drawdown(equity))) if len(equity) else 0.0


class Underwater(NamedTuple):
    """The longest stretch below a peak: from ``start`` (the peak) to ``end``; ``recovered`` if equity got back."""

    duration_ms: int
    start: int | None
    end: int | None
    recovered: bool


def longest_drawdown(times: Ints, equity: Floats) -> Underwater:
    """Maximum drawdown duration: the longest time from a peak of the settled cycles' equity until equity is back
    at or above it, or until the last cycle if it never is."""
    best = Underwater(0, None, None, True)
    peak_value, peak_time, below = -math.inf, 0, False
    for time, value in zip(np.asarray(times).tolist(), np.asarray(equity).tolist(), strict=True):
        if value >= peak_value:
            if below and time - peak_time > best.duration_ms:
                best = Underwater(time - peak_time, peak_time, time, True)
            peak_value, peak_time, below = value, time, False
        else:
            below = True
    if below and int(times[-1]) - peak_time > best.duration_ms:
        best = Underwater(int(times[-1]) - peak_time, peak_time, int(times[-1]), False)
    return best


def profit_factor(pnl: Floats) -> float | None:
    """Profit factor: gross profit ÷ gross loss over closed trades (net of fees and funding); None without a loss."""
    loss = float(-np.sum(pnl[pnl < 0]))
    return float(np.sum(pnl[pnl > 0])) / loss if loss > 0 else None


def expectancy(pnl: Floats) -> float | None:
    """Expectancy: the mean P&L per closed trade, in USD, net of fees and funding; None without a trade."""
    return float(np.mean(pnl)) if len(pnl) else None


def win_rate(pnl: Floats) -> float | None:
    """Win rate: the share of closed trades with a P&L above zero; None without a trade."""
    return float(np.mean(pnl > 0)) if len(pnl) else None


def time_in_market(open_positions: Ints) -> float | None:
    """Exposure: the share of settled cycles that ended with at least one open position; None without a cycle."""
    return float(np.mean(np.asarray(open_positions) > 0)) if len(open_positions) else None


def mean_leverage(exposure: Floats, equity: Floats) -> float | None:
    """Mean gross exposure: the mean over settled cycles of Σ|notional| of the open positions ÷ equity."""
    if len(equity) == 0:
        return None
    safe = np.where(equity > 0, equity, np.nan)
    ratios = np.asarray(exposure, np.float64) / safe
    return float(np.nanmean(ratios)) if np.isfinite(ratios).any() else None


def buy_and_hold(start: float, closes: Floats) -> Floats:
    """Buy-and-hold: the starting equity split equally among the symbols, each bought at its first close in the
    run (held as cash until then), marked at its latest close, with no fees; ``closes`` is cycles × symbols, NaN
    where a symbol has no candle."""
    if closes.size == 0:
        return np.full(closes.shape[0], start, np.float64)
    filled = _forward_fill(closes)
    valid = ~np.isnan(filled)
    first_row = np.where(valid.any(axis=0), valid.argmax(axis=0), 0)
    first = filled[first_row, np.arange(filled.shape[1])]
    ratio = np.where(valid, filled / np.where(np.isnan(first), 1.0, first), 1.0)
    return np.asarray(start * ratio.mean(axis=1), np.float64)


def _forward_fill(values: Floats) -> Floats:
    rows = np.where(~np.isnan(values), np.arange(values.shape[0])[:, None], 0)
    np.maximum.accumulate(rows, axis=0, out=rows)
    filled = values[rows, np.arange(values.shape[1])]
    return np.asarray(filled, np.float64)


class MonthReturn(NamedTuple):
    month: str  # YYYY-MM
    value: float


def monthly_returns(days: Ints, returns: Floats) -> list[MonthReturn]:
    """Monthly return: the compounded daily returns of the days in the calendar month (UTC) that the run covers."""
    months: dict[str, float] = {}
    for day, value in zip(np.asarray(days).tolist(), np.asarray(returns).tolist(), strict=True):
        key = str(np.datetime64(day, "D").astype("datetime64[M]"))
        months[key] = months.get(key, 1.0) * (1.0 + value)
    return [MonthReturn(month, growth - 1.0) for month, growth in months.items()]
