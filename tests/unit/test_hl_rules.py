"""Hyperliquid's price and size rules: 5 significant figures, 6 - szDecimals decimals, size lots, $10."""

from __future__ import annotations

import pytest

from b1e55ed.hyperliquid.rules import (
    aggressive_price,
    is_valid_price,
    is_valid_size,
    notional_shortfall,
    round_price,
    round_size,
)


@pytest.mark.parametrize(
    ("price", "sz_decimals", "expected"),
    [
        (43_251.37, 5, 43_251.0),  # 5 significant figures
        (123_456.0, 5, 123_456.0),  # an integer price is always allowed
        (123_456.7, 5, 123_460.0),
        (3_012.456, 4, 3_012.5),
        (1.234567, 0, 1.2346),  # 5 significant figures before 6 decimals
        (0.0123456789, 0, 0.012346),  # at most 6 - 0 decimals
        (0.0123456789, 2, 0.0123),  # at most 6 - 2 decimals
        (0.00001234, 1, 0.00001),
    ],
)
def test_prices_keep_five_significant_figures_and_six_minus_sz_decimals_decimals(
    price: float, sz_decimals: int, expected: float
) -> None:
    assert round_price(price, sz_decimals) == expected
    assert is_valid_price(expected, sz_decimals)


def test_invalid_prices_are_named() -> None:
    assert not is_valid_price(43_251.37, 5)
    assert not is_valid_price(0.0123456, 2)
    with pytest.raises(ValueError, match="price must be positive"):
        round_price(float("nan"), 2)


@pytest.mark.parametrize(
    ("size", "sz_decimals", "expected"),
    [(0.012345, 5, 0.01235), (0.0123449, 5, 0.01234), (1.5, 0, 2.0), (12.3456, 2, 12.35), (0.000004, 5, 0.0)],
)
def test_sizes_round_to_sz_decimals(size: float, sz_decimals: int, expected: float) -> None:
    assert round_size(size, sz_decimals) == expected


def test_size_validity() -> None:
    assert is_valid_size(0.01235, 5)
    assert not is_valid_size(0.012345, 5)
    assert not is_valid_size(0.0, 5)


def test_ten_dollar_minimum() -> None:
    assert notional_shortfall(0.0002, 50_000.0) == ""  # exactly $10
    assert "$9.99 is below Hyperliquid's $10 minimum" in notional_shortfall(0.0001998, 50_000.0)


def test_aggressive_price_crosses_by_the_slippage_and_obeys_the_rules() -> None:
    assert aggressive_price(50_000.0, True, 5, 0.05) == 52_500.0
    assert aggressive_price(3_000.0, False, 4, 0.05) == 2_850.0
    assert aggressive_price(1.23456, True, 0, 0.01) == round_price(1.23456 * 1.01, 0)
