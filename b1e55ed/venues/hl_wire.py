"""Hyperliquid's ``/info`` answers as they come over the wire (numbers as strings), and the shapes we keep."""

from __future__ import annotations

from typing import Annotated, Final

import msgspec

WirePrice = Annotated[float, msgspec.Meta(gt=0, le=1e300)]
WireQuantity = Annotated[float, msgspec.Meta(ge=0, le=1e300)]


class WireCandle(msgspec.Struct, frozen=True):
    """One element of a ``candleSnapshot`` answer: ``t``/``T`` open and close ms, ``s`` coin, ``i`` interval,
    ``o c h l v`` strings, ``n`` the trade count. ``T`` is the last ms of the candle (``t`` + interval - 1)."""

    open_ms: int = msgspec.field(name="t")
    close_ms: int = msgspec.field(name="T")
    coin: str = msgspec.field(name="s")
    interval: str = msgspec.field(name="i")
    open: WirePrice = msgspec.field(name="o")
    close: WirePrice = msgspec.field(name="c")
    high: WirePrice = msgspec.field(name="h")
    low: WirePrice = msgspec.field(name="l")
    volume: WireQuantity = msgspec.field(name="v")
    trades: int = msgspec.field(name="n", default=0)


WireSigned = Annotated[float, msgspec.Meta(ge=-1e300, le=1e300)]  # sizes, PnL and rates can be negative; never nan


class Leverage(msgspec.Struct, frozen=True):
    """``{"type": "cross" | "isolated", "value": 20, "rawUsd": ...}``; ``rawUsd`` (isolated only) is not kept."""

    type: str
    value: WireQuantity


class Position(msgspec.Struct, frozen=True):
    """One perp position of ``clearinghouseState``: ``size`` (``szi``) is signed, negative for a short."""

    coin: str
    size: WireSigned = msgspec.field(name="szi")
    entry_px: WirePrice | None = msgspec.field(name="entryPx", default=None)
    position_value: WireQuantity = msgspec.field(name="positionValue", default=0.0)
    unrealized_pnl: WireSigned = msgspec.field(name="unrealizedPnl", default=0.0)
    leverage: Leverage | None = None


class WireAssetPosition(msgspec.Struct, frozen=True):
    position: Position


class MarginSummary(msgspec.Struct, frozen=True):
    account_value: WireSigned = msgspec.field(name="accountValue")
    total_ntl_pos: WireQuantity = msgspec.field(name="totalNtlPos", default=0.0)


class WireClearinghouseState(msgspec.Struct, frozen=True):
    asset_positions: list[WireAssetPosition] = msgspec.field(name="assetPositions")
    margin_summary: MarginSummary = msgspec.field(name="marginSummary")


class ClearinghouseState(msgspec.Struct, frozen=True):
    """A user's perp account: open positions (flattened from ``assetPositions[].position``) and the margin
    summary's ``accountValue`` and ``totalNtlPos`` (USD)."""

    positions: tuple[Position, ...]
    account_value: float
    total_ntl_pos: float


class WireFunding(msgspec.Struct, frozen=True):
    """One ``fundingHistory`` row: ``{"coin", "fundingRate", "premium", "time"}``, rates per hour as strings."""

    coin: str
    rate: WireSigned = msgspec.field(name="fundingRate")
    time: int


class WireAsset(msgspec.Struct, frozen=True):
    name: str


class WireMeta(msgspec.Struct, frozen=True):
    universe: list[WireAsset]


class AssetContext(msgspec.Struct, frozen=True):
    """One perp's live context from ``metaAndAssetCtxs``: ``funding`` is the current hourly rate."""

    funding: WireSigned
    open_interest: WireQuantity = msgspec.field(name="openInterest", default=0.0)
    mark_px: WirePrice | None = msgspec.field(name="markPx", default=None)
    premium: WireSigned | None = None


class WireVenueFunding(msgspec.Struct, frozen=True):
    rate: WireSigned = msgspec.field(name="fundingRate")
    next_funding_ms: int = msgspec.field(name="nextFundingTime", default=0)


MIDS_DECODER: Final = msgspec.json.Decoder(dict[str, WirePrice], strict=False)
CANDLES_DECODER: Final = msgspec.json.Decoder(list[WireCandle], strict=False)
CLEARINGHOUSE_DECODER: Final = msgspec.json.Decoder(WireClearinghouseState, strict=False)
FUNDING_DECODER: Final = msgspec.json.Decoder(list[WireFunding], strict=False)
ASSET_CTXS_DECODER: Final = msgspec.json.Decoder(tuple[WireMeta, list[AssetContext]], strict=False)
# [[coin, [[venue, {fundingRate, nextFundingTime, ...} | null], ...]], ...]
PREDICTED_DECODER: Final = msgspec.json.Decoder(
    list[tuple[str, list[tuple[str, WireVenueFunding | None]]]], strict=False
)
