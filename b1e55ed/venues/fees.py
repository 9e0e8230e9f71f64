"""What a simulated fill costs: the exchange's fee and the slippage a market order suffers.

Both are frozen config structs (``forbid_unknown_fields``) so the config can embed them and a typo is an error,
not a silently ignored key. Bounds are checked when config is decoded (``msgspec.Meta``).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from b1e55ed.messages import Bar, Side

_Rate = Annotated[float, msgspec.Meta(ge=0, lt=1)]
_Coefficient = Annotated[float, msgspec.Meta(ge=0)]


class FeeSchedule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Fee rates as fractions of the fill's notional (size × fill price).

    The defaults are Hyperliquid's perps base tier (tier 0: 14-day weighted volume up to $5M): 0.045% taker,
    0.015% maker, before HYPE-staking and referral discounts. Source: https://hyperliquid.gitbook.io/hyperliquid-docs/
    trading/fees (the live ``userFees`` info answer for a fresh account reports the same ``userCrossRate`` 0.00045 and
    ``userAddRate`` 0.00015). Using the undiscounted tier keeps paper results on the pessimistic side.
    """

    taker: _Rate = 0.00045
    maker: _Rate = 0.00015

    def fee(self, notional: float, liquidity: Literal["taker", "maker"] = "taker") -> float:
        """The fee, always >= 0, for a fill of ``notional`` quote currency."""
        rate = self.maker if liquidity == "maker" else self.taker
        return abs(notional) * rate


class SlippageModel(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How far from its reference price a taker fill lands, as a fraction of that price, on bar ``b``::

        fraction = min(max_fraction,
                       base_bps / 1e4                                   # half the typical spread
                       + volatility_coef × (b.high − b.low) / b.open     # a wild bar costs more
                       + impact_coef × notional / (b.volume × b.open))   # share of the bar's traded value

    ``notional`` is the order's size × its reference price (the bar's open, or a stop's trigger price). A bar with
    no volume has no liquidity to take: the fraction is then ``max_fraction``. The cap keeps one absurd bar (a
    bad print, a tiny-volume candle) from producing an absurd fill. Three terms, each with a reason a trader can
    check against the tape; no randomness, so a backtest replays exactly.
    """

    base_bps: _Coefficient = 1.0
    volatility_coef: _Coefficient = 0.1
    impact_coef: _Coefficient = 0.1
    max_fraction: Annotated[float, msgspec.Meta(ge=0, lt=1)] = 0.05

    def fraction(self, bar: Bar, notional: float) -> float:
        traded_value = bar.volume * bar.open
        if traded_value <= 0 or bar.open <= 0:
            return self.max_fraction
        raw = (
            self.base_bps / 1e4
            + self.volatility_coef * (bar.high - bar.low) / bar.open
            + self.impact_coef * abs(notional) / traded_value
        )
        return min(self.max_fraction, raw)

    def fill_price(self, reference: float, side: Side, bar: Bar, size: float) -> float:
        """``reference`` moved against the taker: a buy pays more, a sell receives less."""
        slip = self.fraction(bar, size * reference)
        return reference * (1 + slip) if side == "buy" else reference * (1 - slip)
