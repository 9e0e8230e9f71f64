"""How likely a sweep's best is luck: the deflated Sharpe ratio and the probability of backtest overfitting, on
return series whose answer is known."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from b1e55ed.sweep.overfitting import (
    deflated_sharpe,
    expected_max_sharpe,
    mean_correlation,
    probability_of_overfitting,
)
from b1e55ed.sweep.run import block_bounds

DAYS = 640


def block_stats(returns: np.ndarray, blocks: int = 16) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    bounds = block_bounds(returns.shape[1], blocks)
    sums = np.stack([returns[:, a:b].sum(axis=1) for a, b in itertools.pairwise(bounds)], axis=1)
    squares = np.stack(
        [(returns[:, a:b] ** 2).sum(axis=1) for a, b in itertools.pairwise(bounds)], axis=1
    )
    return sums, squares, np.diff(bounds).astype(np.float64)


def test_the_best_of_many_unskilled_trials_is_expected_to_look_good() -> None:
    assert expected_max_sharpe(0.01, 1) == 0.0
    assert expected_max_sharpe(0.01, 100) == pytest.approx(0.1 * 2.5306, abs=1e-3)  # Bailey & López de Prado's table
    assert expected_max_sharpe(0.01, 10_000) > expected_max_sharpe(0.01, 100)


def test_deflation_discounts_a_sharpe_by_the_trials_behind_it() -> None:
    rng = np.random.default_rng(1)
    returns = rng.normal(0.002, 0.01, DAYS)  # a real edge: daily Sharpe about 0.2
    alone = deflated_sharpe(returns, variance=0.0, trials=1)
    many = deflated_sharpe(returns, variance=0.05**2, trials=10_000)
    assert alone is not None
    assert many is not None
    assert alone > 0.99
    assert many < alone
    assert deflated_sharpe(np.zeros(DAYS), 0.01, 10) is None  # no variation: undefined


def test_noise_overfits_about_half_the_time_and_a_real_edge_does_not() -> None:
    rng = np.random.default_rng(2)
    noise = rng.normal(0, 0.01, (200, DAYS))
    pbo, splits = probability_of_overfitting(*block_stats(noise))
    assert splits == 12_870
    assert 0.3 < pbo < 0.7
    skilled = noise.copy()
    skilled[0] += 0.003  # one combination truly better in every block
    pbo_skilled, _ = probability_of_overfitting(*block_stats(skilled))
    assert pbo_skilled < 0.05


def test_mean_correlation_of_copies_is_one_and_of_independent_series_near_zero() -> None:
    rng = np.random.default_rng(3)
    series = rng.normal(0, 1, DAYS)
    assert mean_correlation(np.stack([series, series * 2, series + 1])) == pytest.approx(1.0)
    assert abs(mean_correlation(rng.normal(0, 1, (50, DAYS)))) < 0.05
