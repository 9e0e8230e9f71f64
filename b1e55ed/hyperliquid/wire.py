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


# -- the trading account: ``meta``, ``frontendOpenOrders``, ``userFills``, ``orderStatus`` --------------------------


class WirePerpAsset(msgspec.Struct, frozen=True):
    """One ``meta.universe`` entry; its index in the list is the asset id orders use."""

    name: str
    sz_decimals: Annotated[int, msgspec.Meta(ge=0, le=6)] = msgspec.field(name="szDecimals")
    is_delisted: bool = msgspec.field(name="isDelisted", default=False)


class WirePerpMeta(msgspec.Struct, frozen=True):
    universe: list[WirePerpAsset]


class WireOpenOrder(msgspec.Struct, frozen=True):
    """One ``frontendOpenOrders`` entry (also the ``order`` of an ``orderStatus`` answer). ``side`` B buys, A sells;
    ``sz`` is what is left, ``origSz`` what was asked; ``orderType`` is "Limit", "Stop Market", "Take Profit
    Market", ..."""

    coin: str
    side: str
    limit_px: WirePrice = msgspec.field(name="limitPx")
    sz: WireQuantity
    oid: int
    timestamp: int = 0
    orig_sz: WireQuantity = msgspec.field(name="origSz", default=0.0)
    cloid: str | None = None
    reduce_only: bool = msgspec.field(name="reduceOnly", default=False)
    order_type: str = msgspec.field(name="orderType", default="Limit")
    is_trigger: bool = msgspec.field(name="isTrigger", default=False)
    trigger_px: WireQuantity = msgspec.field(name="triggerPx", default=0.0)


class WireOrderStatusEntry(msgspec.Struct, frozen=True):
    order: WireOpenOrder
    status: str  # open, filled, canceled, triggered, rejected, marginCanceled, ...
    status_timestamp: int = msgspec.field(name="statusTimestamp", default=0)


class WireOrderStatus(msgspec.Struct, frozen=True):
    """``{"status": "order", "order": {...}}``, or ``{"status": "unknownOid"}`` for an order never received."""

    status: str
    order: WireOrderStatusEntry | None = None


class WireUserFill(msgspec.Struct, frozen=True):
    """One ``userFills`` entry: ``crossed`` is true for the taker; ``fee`` is in ``feeToken`` (USDC for perps)."""

    coin: str
    px: WirePrice
    sz: WireQuantity
    side: str
    time: int
    oid: int
    tid: int
    fee: WireSigned = 0.0
    crossed: bool = True
    cloid: str | None = None
    dir: str = ""
    closed_pnl: WireSigned = msgspec.field(name="closedPnl", default=0.0)


class WireFundingDelta(msgspec.Struct, frozen=True):
    """``delta`` of a ``userFunding`` entry: ``usdc`` paid to the account (negative: paid by it), ``szi`` the
    signed position it was paid on, ``fundingRate`` the hourly rate."""

    coin: str
    usdc: WireSigned
    szi: WireSigned = 0.0
    funding_rate: WireSigned = msgspec.field(name="fundingRate", default=0.0)


class WireUserFunding(msgspec.Struct, frozen=True):
    time: int
    delta: WireFundingDelta


META_DECODER: Final = msgspec.json.Decoder(WirePerpMeta, strict=False)
USER_FUNDING_DECODER: Final = msgspec.json.Decoder(list[WireUserFunding], strict=False)
OPEN_ORDERS_DECODER: Final = msgspec.json.Decoder(list[WireOpenOrder], strict=False)
ORDER_STATUS_DECODER: Final = msgspec.json.Decoder(WireOrderStatus, strict=False)
USER_FILLS_DECODER: Final = msgspec.json.Decoder(list[WireUserFill], strict=False)
