"""``--walk-forward TRAIN:TEST`` (``365d:90d``): re-optimise on each training window, trade the next test window
with the winner, and stitch the out-of-sample days.

Windows start at the first day of the history and step by ``TEST``: train on ``[d, d + TRAIN)``, test on
``[d + TRAIN, d + TRAIN + TEST)``, until the test window would start after the last day (the last one may be
shorter). Every window trades from a flat book at the starting equity, with the moving averages of the whole history
(so no warm-up is lost); a position still open at a window's end is marked at its last close. The stitched equity
compounds the test windows' daily returns, and its Sharpe ratio (as the backtest report defines it) is the
walk-forward result, beside the in-sample best of the whole history.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from b1e55ed.sweep.engine import METRICS
from b1e55ed.sweep.run import DAY_MS, Sweep

YEAR_DAYS = 365


class WalkForwardError(ValueError):
    """A ``--walk-forward`` spec that cannot be walked; the message says why."""


@dataclass(frozen=True)
class Window:
    train: tuple[str, str]  # first and last day, YYYY-MM-DD
    test: tuple[str, str]
    chosen: dict[str, Any]  # the winner's swept params
    in_sample: float | None  # its objective in training
    out_of_sample_return: float


@dataclass(frozen=True)
class WalkForward:
    train_days: int
    test_days: int
    objective: str
    windows: list[Window]
    sharpe: float | None  # of the stitched out-of-sample days
    total_return: float
    days: int


def parse(spec: str) -> tuple[int, int]:
    found = re.fullmatch(r"\s*(\d+)d?\s*:\s*(\d+)d?\s*", spec)
    if found is None or int(found[1]) < 1 or int(found[2]) < 1:
        raise WalkForwardError(f"--walk-forward {spec}: expected TRAIN:TEST in days, such as 365d:90d")
    return int(found[1]), int(found[2])


def walk_forward(
    sweep: Sweep, combos: list[Any], names: tuple[str, ...], objective: str, train_days: int, test_days: int
) -> WalkForward:
    close_day = (sweep.candles.close_ts - 1) // DAY_MS
    first_day, last_day = int(close_day[0]), int(close_day[-1])
    column = METRICS.index(objective)
    sign = -1.0 if objective == "max_drawdown" else 1.0
    windows, stitched = [], []
    start = first_day
    while start + train_days <= last_day:
        train = _span(close_day, start, start + train_days)
        test = _span(close_day, start + train_days, start + train_days + test_days)
        if train is None or test is None:
            break
        scores = sweep.run(combos, span=train)[:, column] * sign
        if np.isfinite(scores).any():
            best = int(np.nanargmax(scores))
            returns = sweep.daily_returns(combos[best], span=test)
            stitched.append(returns)
            windows.append(
                Window(
                    train=(_date(start), _date(start + train_days - 1)),
                    test=(_date(start + train_days), _date(min(start + train_days + test_days, last_day + 1) - 1)),
                    chosen={name: getattr(combos[best], name) for name in names},
                    in_sample=float(scores[best] * sign),
                    out_of_sample_return=float(np.prod(1 + returns) - 1),
                )
            )
        start += test_days
    if not windows:
        raise WalkForwardError(f"--walk-forward {train_days}d:{test_days}d: the history is shorter than one window")
    days = np.concatenate(stitched)
    spread = float(np.std(days, ddof=1)) if len(days) > 1 else 0.0
    sharpe = float(np.mean(days)) / spread * math.sqrt(YEAR_DAYS) if spread > 0 else None
    return WalkForward(train_days, test_days, objective, windows, sharpe, float(np.prod(1 + days) - 1), len(days))


def _span(close_day: Any, first_day: int, end_day: int) -> tuple[int, int] | None:
    first, last = int(np.searchsorted(close_day, first_day)), int(np.searchsorted(close_day, end_day))
    return (first, last) if last - first >= 2 else None


def _date(day: int) -> str:
    return str(np.datetime64(day, "D"))
