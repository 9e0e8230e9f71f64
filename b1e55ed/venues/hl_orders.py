"""A venue order as Hyperliquid's order wire, by its rules, or the reason it cannot be one (before any signing).

- an entry (or an exit) is a limit order: IOC at ``reference`` moved by ``slippage`` against us (a market order, as
  the SDK's ``market_open`` makes it), or, ``tif="Gtc"``, a resting limit at ``reference``;
- a stop or a target is a market trigger order ("sl"/"tp"), reduce-only, whose limit is the trigger moved by
  ``slippage`` (the worst price it may execute at once triggered);
- prices keep 5 significant figures and ``6 - szDecimals`` decimals, sizes ``szDecimals``; an order that adds
  exposure must be worth $10.
"""

from __future__ import annotations

from typing import Any, Literal

from b1e55ed.hyperliquid.rules import aggressive_price, notional_shortfall, round_price, round_size
from b1e55ed.hyperliquid.signing import order_wire
from b1e55ed.venues.base import VenueOrder


def wire_for(
    order: VenueOrder,
    *,
    asset: int,
    sz_decimals: int,
    reference: float | None,
    slippage: float,
    tif: Literal["Ioc", "Gtc"] = "Ioc",
) -> dict[str, Any] | str:
    """The wire of ``order``, or why it is refused. ``reference`` is needed for a limit order only."""
    is_buy = order.side == "buy"
    size = round_size(order.size, sz_decimals)
    if size <= 0:
        return f"size {order.size:g} rounds to 0 at {sz_decimals} decimals"
    if order.trigger_price is not None:
        trigger = round_price(order.trigger_price, sz_decimals)
        tpsl: Literal["tp", "sl"] = "sl" if order.role == "stop" else "tp"
        return order_wire(
            asset=asset,
            is_buy=is_buy,
            size=size,
            limit_price=aggressive_price(trigger, is_buy, sz_decimals, slippage),
            reduce_only=True,
            cloid=order.cloid,
            trigger=(trigger, tpsl),
        )
    if reference is None:
        return "a limit order needs a reference price"
    if not order.reduce_only and (shortfall := notional_shortfall(size, reference)):
        return shortfall
    limit = aggressive_price(reference, is_buy, sz_decimals, slippage) if tif == "Ioc" else reference
    return order_wire(
        asset=asset,
        is_buy=is_buy,
        size=size,
        limit_price=round_price(limit, sz_decimals),
        reduce_only=order.reduce_only,
        cloid=order.cloid,
        tif=tif,
    )
