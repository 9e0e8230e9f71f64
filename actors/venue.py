"""The venue the OMS trades on, chosen by the config: paper by default, Hyperliquid when live."""

from __future__ import annotations

from b1e55ed.config import Config
from b1e55ed.plugins import Services
from b1e55ed.trading_config import is_driven
from b1e55ed.venues.base import Venue
from b1e55ed.venues.hyperliquid import HyperliquidVenue
from b1e55ed.venues.paper import PaperVenue


def build_venue(config: Config, timeframe_ms: int, services: Services) -> Venue:
    if config.mode == "live":
        # The key is in the environment only (the CLI refuses a file that sets it); it goes to the signer, never
        # to a log line.
        return HyperliquidVenue.from_config(config.hyperliquid, config.keys.hyperliquid_private_key.reveal())
    return PaperVenue(
        fees=config.paper.fees,
        slippage=config.paper.slippage,
        latency_s=0.0 if is_driven(config.market) else config.paper.latency_s,
        min_notional=config.risk.min_notional,
        timeframe_ms=timeframe_ms,
        funding=services.funding if config.paper.funding else None,
    )
