"""Hyperliquid's order rules for perpetuals: what a price and a size may look like, and the smallest order.

Hyperliquid has no fixed tick. A perp price has at most 5 significant figures and at most ``6 - szDecimals``
decimals (an integer price is always allowed); a size has at most ``szDecimals`` decimals; an order must be worth
at least $10 (hyperliquid-docs, "Tick and lot size"). ``szDecimals`` is per asset, from the ``meta`` info request.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

MAX_SIGNIFICANT_FIGURES: Final = 5
MAX_PERP_DECIMALS: Final = 6
MIN_NOTIONAL_USD: Final = 10.0
DEFAULT_SLIPPAGE: Final = 0.05  # the SDK's market_open bound: an IOC limit 5% through the reference price


def round_price(price: float, sz_decimals: int) -> float:
    """``price`` with at most 5 significant figures and ``6 - sz_decimals`` decimals (integers pass as they are)."""
    if not (math.isfinite(price) and price > 0):
        raise ValueError(f"price must be positive and finite, got {price}")
    if price == int(price) and price >= 10**MAX_SIGNIFICANT_FIGURES:
        return float(int(price))
    return round(float(f"{price:.{MAX_SIGNIFICANT_FIGURES}g}"), max(0, MAX_PERP_DECIMALS - sz_decimals))


def round_size(size: float, sz_decimals: int) -> float:
    """``size`` rounded (half up) to ``sz_decimals`` decimals; 0.0 when it is smaller than half a lot."""
    if not (math.isfinite(size) and size >= 0):
        raise ValueError(f"size must be non-negative and finite, got {size}")
    lot = Decimal(1).scaleb(-sz_decimals)
    return float(Decimal(repr(size)).quantize(lot, rounding=ROUND_HALF_UP))


def aggressive_price(reference: float, is_buy: bool, sz_decimals: int, slippage: float = DEFAULT_SLIPPAGE) -> float:
    """A limit that crosses the book by at most ``slippage``: what a market order is on Hyperliquid (IOC)."""
    return round_price(reference * (1 + slippage if is_buy else 1 - slippage), sz_decimals)


def is_valid_price(price: float, sz_decimals: int) -> bool:
    return math.isfinite(price) and price > 0 and round_price(price, sz_decimals) == price


def is_valid_size(size: float, sz_decimals: int) -> bool:
    return math.isfinite(size) and size > 0 and round_size(size, sz_decimals) == size


def notional_shortfall(size: float, price: float, minimum: float = MIN_NOTIONAL_USD) -> str:
    """Why ``size`` at ``price`` is too small to be an order, or "" when it is large enough."""
    notional = size * price
    if notional + 1e-9 < minimum:
        return f"order value ${notional:,.2f} is below Hyperliquid's ${minimum:g} minimum"
    return ""
