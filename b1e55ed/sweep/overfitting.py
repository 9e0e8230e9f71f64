"""How likely the sweep's best result is luck.

- **Deflated Sharpe Ratio** (Bailey and López de Prado, 2014): the probability that the best combination's true
  Sharpe ratio is above zero, given that it is the best of ``N`` trials. The Sharpe ratio expected of the best of
  ``N`` unskilled trials is ``√V × ((1 − γ) Φ⁻¹(1 − 1/N) + γ Φ⁻¹(1 − 1/(N e)))``, ``V`` the variance of the
  trials' Sharpe ratios and ``γ`` Euler's constant; then ``DSR = Φ((SR − SR₀) √(T − 1) ÷ √(1 − γ₃ SR + (γ₄ − 1) ÷ 4
  SR²))`` with the best's daily Sharpe ``SR``, skewness ``γ₃``, kurtosis ``γ₄`` and ``T`` days. Given with the raw
  number of trials and with the effective number of independent ones, ``ρ̄ + (1 − ρ̄) N``, ``ρ̄`` the mean pairwise
  correlation of the daily returns of a sample of the combinations.
- **Probability of Backtest Overfitting** (Bailey, Borwein, López de Prado and Zhu, 2015), by combinatorially
  symmetric cross-validation: the days cut into ``S`` blocks; for each way of choosing half of them as in-sample,
  the combination best in sample, and its rank out of sample. PBO is the share of splits where that rank is at or
  below the median. Each combination keeps only its blocks' sums, never its returns.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from b1e55ed.sweep.engine import overfit_logits

EULER = 0.5772156649015329
Floats = npt.NDArray[np.float64]
NORMAL = NormalDist()


@dataclass(frozen=True)
class Overfitting:
    trials: int
    effective_trials: float
    mean_correlation: float
    best_daily_sharpe: float
    deflated_sharpe: float | None  # with the raw number of trials
    deflated_sharpe_effective: float | None  # with the effective number
    pbo: float | None
    pbo_blocks: int
    pbo_splits: int


def expected_max_sharpe(variance: float, trials: float) -> float:
    if trials <= 1 or variance <= 0:
        return 0.0
    first = NORMAL.inv_cdf(1 - 1 / trials)
    second = NORMAL.inv_cdf(1 - 1 / (trials * math.e))
    return math.sqrt(variance) * ((1 - EULER) * first + EULER * second)


def deflated_sharpe(returns: Floats, variance: float, trials: float) -> float | None:
    days = len(returns)
    spread = float(np.std(returns, ddof=1)) if days > 1 else 0.0
    if spread <= 0:
        return None
    sharpe = float(np.mean(returns)) / spread
    centred = returns - np.mean(returns)
    skew = float(np.mean(centred**3)) / float(np.mean(centred**2)) ** 1.5
    kurtosis = float(np.mean(centred**4)) / float(np.mean(centred**2)) ** 2
    denominator = 1 - skew * sharpe + (kurtosis - 1) / 4 * sharpe**2
    if denominator <= 0:
        return None
    z = (sharpe - expected_max_sharpe(variance, trials)) * math.sqrt(days - 1) / math.sqrt(denominator)
    return NORMAL.cdf(z)


def mean_correlation(sample: Floats) -> float:
    """The mean of the pairwise correlations of ``sample``'s rows (returns series); rows without variation left out."""
    rows = sample[np.std(sample, axis=1) > 0]
    if len(rows) < 2:
        return 1.0
    matrix = np.corrcoef(rows)
    count = len(rows)
    return float((matrix.sum() - count) / (count * (count - 1)))


def probability_of_overfitting(block_sums: Floats, block_squares: Floats, block_days: Floats) -> tuple[float, int]:
    """PBO by CSCV over every way of choosing half the blocks in sample; and how many splits that was."""
    blocks = block_sums.shape[1]
    chosen = list(itertools.combinations(range(blocks), blocks // 2))
    splits = np.zeros((len(chosen), blocks), dtype=np.bool_)
    for row, inside in enumerate(chosen):
        splits[row, list(inside)] = True
    logits = overfit_logits(block_sums, block_squares, block_days, splits)
    return float(np.mean(logits <= 0)), len(chosen)
