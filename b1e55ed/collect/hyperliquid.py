"""Hyperliquid history and asset data from ``POST /info``, inside the same ``WeightBudget`` as ``InfoClient``.

``InfoClient`` (``b1e55ed.hyperliquid.info``) serves the live feed and has no public way to send other request
types, so the collectors post their two through ``JsonFetcher``; pass the feed's ``InfoClient.budget`` when both
run in one process, since Hyperliquid counts weight per IP.

Wire formats (hyperliquid.gitbook.io, "Info endpoint"): ``{"type": "fundingHistory", "coin", "startTime",
"endTime"}`` answers ``[{"coin", "fundingRate", "premium", "time"}]``, oldest first, at most 500 per answer (page on
from the last ``time`` + 1); it weighs 20 plus one per 20 items returned. ``{"type": "metaAndAssetCtxs"}`` answers
``[{"universe": [{"name", "szDecimals", "maxLeverage", "isDelisted"?}, ...]}, [{"funding", "openInterest",
"dayNtlVlm", "markPx", "oraclePx", "premium", ...}, ...]]``, the two lists index-aligned; it weighs 20.
"""

from __future__ import annotations

import math
from typing import Final

import msgspec
import polars as pl

from b1e55ed.hyperliquid.info import INFO_WEIGHT_DEFAULT, MAINNET_API_URL
from b1e55ed.ratelimit import WeightBudget

from .http import CollectError, JsonFetcher
from .layout import FUNDING_SCHEMA, METADATA_SCHEMA
from .session import Page

FUNDING_PAGE_CAP: Final = 500
FUNDING_WEIGHT_ITEMS: Final = 20  # fundingHistory costs one more weight per this many items returned


class _Rate(msgspec.Struct, frozen=True):
    coin: str
    rate: float = msgspec.field(name="fundingRate")
    time: int


class _Asset(msgspec.Struct, frozen=True):
    name: str
    sz_decimals: int = msgspec.field(name="szDecimals")
    max_leverage: int = msgspec.field(name="maxLeverage")
    delisted: bool = msgspec.field(name="isDelisted", default=False)


class _Meta(msgspec.Struct, frozen=True):
    universe: list[_Asset]


class _AssetContext(msgspec.Struct, frozen=True):
    funding: float
    open_interest: float = msgspec.field(name="openInterest")
    day_notional_volume: float = msgspec.field(name="dayNtlVlm")
    mark_price: float | None = msgspec.field(name="markPx", default=None)  # null on a market with no mark yet


_RATES: Final = msgspec.json.Decoder(list[_Rate], strict=False)
_META_AND_CONTEXTS: Final = msgspec.json.Decoder(tuple[_Meta, list[_AssetContext]], strict=False)


class HyperliquidMarketData:
    def __init__(
        self, fetcher: JsonFetcher, *, base_url: str = MAINNET_API_URL, budget: WeightBudget | None = None
    ) -> None:
        self._fetcher = fetcher
        self.url = base_url.rstrip("/") + "/info"
        self.budget = budget if budget is not None else WeightBudget()

    async def funding_history(self, coin: str, cursor: int, end_ms: int) -> Page:
        """Funding of ``coin`` settled in [``cursor``, ``end_ms``] (``FUNDING_SCHEMA``), and the next page's start."""
        body = {"type": "fundingHistory", "coin": coin, "startTime": cursor, "endTime": end_ms}
        rows = await self._fetcher.post(self.url, body, _RATES, budget=self.budget, weight=INFO_WEIGHT_DEFAULT)
        if len(rows) >= FUNDING_WEIGHT_ITEMS:  # the per-item weight is only known now: pay it before going on
            await self.budget.spend(len(rows) // FUNDING_WEIGHT_ITEMS)
        for index, row in enumerate(rows):
            if row.coin != coin:
                detail = f"`$[{index}].coin` is {row.coin!r}, not {coin!r}"
                raise CollectError(f"POST {self.url} fundingHistory", detail)
        frame = pl.DataFrame(
            {"ts": [row.time for row in rows], "rate": [row.rate for row in rows]}, schema=dict(FUNDING_SCHEMA)
        )
        if len(rows) < FUNDING_PAGE_CAP:
            return Page(frame, None)
        return Page(frame, int(frame["ts"].max()) + 1)  # type: ignore[arg-type]

    async def asset_contexts(self) -> tuple[pl.DataFrame, int]:
        """Every listed perpetual (``METADATA_SCHEMA``), and how many delisted ones were left out."""
        body = {"type": "metaAndAssetCtxs"}
        meta, contexts = await self._fetcher.post(
            self.url, body, _META_AND_CONTEXTS, budget=self.budget, weight=INFO_WEIGHT_DEFAULT
        )
        if len(meta.universe) != len(contexts):
            raise CollectError(
                f"POST {self.url} metaAndAssetCtxs",
                f"{len(meta.universe)} assets in the universe but {len(contexts)} asset contexts",
            )
        listed = [(asset, ctx) for asset, ctx in zip(meta.universe, contexts, strict=True) if not asset.delisted]
        frame = pl.DataFrame(
            {
                "symbol": [asset.name for asset, _ in listed],
                "sz_decimals": [asset.sz_decimals for asset, _ in listed],
                "max_leverage": [asset.max_leverage for asset, _ in listed],
                "open_interest": [ctx.open_interest for _, ctx in listed],
                "day_notional_volume": [ctx.day_notional_volume for _, ctx in listed],
                "mark_price": [math.nan if ctx.mark_price is None else ctx.mark_price for _, ctx in listed],
                "funding": [ctx.funding for _, ctx in listed],
            },
            schema=dict(METADATA_SCHEMA),
        )
        return frame, len(meta.universe) - len(listed)
