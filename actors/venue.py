"""The venue the OMS trades on, chosen by the config: paper by default, Hyperliquid when live."""

from __future__ import annotations

from b1e55ed.config import Config
from b1e55ed.plugins import Services
from b1e55ed.trading_config import is_driven
from b1e55ed.venues.base import Venue
from b1e55ed.venues.paper import PaperVenue


def build_venue(config: Config, timeframe_ms: int, services: Services) -> Venue:
    return PaperVenue(
        fees=config.paper.fees,
        slippage=config.paper.slippage,
        latency_s=0.0 if is_driven(config.market) else config.paper.latency_s,
        min_notional=config.risk.min_notional,
        timeframe_ms=timeframe_ms,
    )
