"""The venue the OMS trades on, chosen by the config: paper by default, Hyperliquid when live."""

from __future__ import annotations

import httpx

from b1e55ed.config import Config
from b1e55ed.hyperliquid.info import InfoClient
from b1e55ed.market.funding import FundingRates
from b1e55ed.trading_config import is_driven
from b1e55ed.venues.base import Venue
from b1e55ed.venues.hyperliquid import HyperliquidVenue
from b1e55ed.venues.paper import PaperVenue


def build_venue(
    config: Config,
    timeframe_ms: int,
    funding: FundingRates | None,
    http: httpx.AsyncClient | None,
    info: InfoClient | None,
) -> Venue:
    """Live: Hyperliquid on the process's HTTP client, sharing its info client when both read the same URL."""
    if config.mode == "live":
        if http is None:
            raise ValueError("a live venue needs the process's HTTP client")
        shared = info if info is not None and info.base_url == config.hyperliquid.url.rstrip("/") else None
        # The key is in the environment only (the CLI refuses a file that sets it); it goes to the signer, never
        # to a log line.
        key = config.keys.hyperliquid_private_key.reveal()
        return HyperliquidVenue.from_config(config.hyperliquid, key, http=http, info=shared)
    return PaperVenue(
        fees=config.paper.fees,
        slippage=config.paper.slippage,
        latency_s=0.0 if is_driven(config.market) else config.paper.latency_s,
        min_notional=config.risk.min_notional,
        timeframe_ms=timeframe_ms,
        funding=funding if config.paper.funding else None,
    )
