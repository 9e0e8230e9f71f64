"""A typed client for Hyperliquid's read-only ``POST /info`` endpoint, inside the request-weight budget.

Every request is a JSON body ``{"type": <request type>, ...}``. Hyperliquid rate-limits REST per IP by *weight*:
1,200 a minute in all. ``allMids`` (and ``l2Book``, ``clearinghouseState``, ``orderStatus``, ...) weigh 2,
``userRole`` 60, every other info request 20; ``candleSnapshot`` adds weight per 60 candles returned, and
``userFills``-like requests per 20 items (hyperliquid.gitbook.io, "Rate limits and user limits"). One
``WeightBudget`` per IP keeps us inside it, so every user of ``/info`` in the process must share one client, or at
least one budget.

Errors::

    InfoError (ValueError)       the request or its answer is wrong: a 4xx other than 429, a body that is not
    │                            JSON or not in the documented shape. Retrying will not help.
    └── InfoUnavailable          the outside world failed: 429, 5xx, connect errors or timeouts, still failing
                                 after the retries (``jsonhttp.RetryPolicy``). The supervisor's restart is the
                                 next retry.

Both name the request type and the status or the offending field. Request bodies are never logged.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any, Final, Self, TypeVar

import httpx
import msgspec

from b1e55ed.httperrors import EndpointError, EndpointUnavailable
from b1e55ed.hyperliquid.wire import (
    ASSET_CTXS_DECODER,
    CANDLES_DECODER,
    CLEARINGHOUSE_DECODER,
    FUNDING_DECODER,
    META_DECODER,
    MIDS_DECODER,
    OPEN_ORDERS_DECODER,
    ORDER_STATUS_DECODER,
    PREDICTED_DECODER,
    USER_FILLS_DECODER,
    USER_FUNDING_DECODER,
    AssetContext,
    ClearinghouseState,
    WireCandle,
    WireOpenOrder,
    WireOrderStatus,
    WirePerpMeta,
    WireUserFill,
    WireUserFunding,
)
from b1e55ed.jsonhttp import ErrorNames, JsonClient, RetryPolicy
from b1e55ed.messages import Bar
from b1e55ed.ratelimit import WeightBudget
from b1e55ed.timeframes import HYPERLIQUID_INTERVALS, INTERVAL_MS

logger = logging.getLogger(__name__)

MAINNET_API_URL: Final = "https://api.hyperliquid.xyz"
TESTNET_API_URL: Final = "https://api.hyperliquid-testnet.xyz"

INFO_WEIGHT_LIGHT: Final = 2  # allMids, l2Book, clearinghouseState, orderStatus, spotClearinghouseState, ...
INFO_WEIGHT_DEFAULT: Final = 20  # every other documented info request: openOrders, userFills, candleSnapshot, ...
CANDLE_WEIGHT_ITEMS: Final = 60  # candleSnapshot costs one more weight per this many candles returned
CANDLE_PAGE_LIMIT: Final = 5000  # at most this many candles per answer ("only the most recent 5000 are available")
FUNDING_WEIGHT_ITEMS: Final = 20  # fundingHistory costs one more weight per this many rows returned
FILLS_WEIGHT_ITEMS: Final = 20  # userFills costs one more weight per this many fills returned
FUNDING_PAGE_LIMIT: Final = 500  # at most this many funding rows per answer
HL_FUNDING_INTERVAL_MS: Final = 3_600_000  # Hyperliquid settles funding hourly (rates are per hour)

_RETRY_AFTER_CAP_S: Final = 120.0  # a Retry-After beyond this is treated as this: a feed must not sleep for hours

T = TypeVar("T")


class InfoError(EndpointError, ValueError):
    """An ``/info`` request failed for a reason a retry will not cure."""

    def __init__(self, request_type: str, detail: str, *, status: int | None = None) -> None:
        super().__init__(f"/info {request_type}", detail, status=status)
        self.request_type = request_type

    @classmethod
    def at(cls, endpoint: str, detail: str, *, status: int | None = None) -> Self:
        """The error for ``endpoint`` (``/info <request type>``), as ``JsonClient`` names it."""
        return cls(endpoint.removeprefix("/info "), detail, status=status)


class InfoUnavailable(InfoError, EndpointUnavailable):
    """Hyperliquid did not answer usefully (429, 5xx, network) even after the retries."""


INFO_ERRORS: Final = ErrorNames(refused=InfoError.at, unavailable=InfoUnavailable.at)


def candle_snapshot_weight(expected_candles: int) -> int:
    """The weight of one ``candleSnapshot``: 20, plus one per 60 candles (rounded up, to never under-count)."""
    return INFO_WEIGHT_DEFAULT + math.ceil(max(0, expected_candles) / CANDLE_WEIGHT_ITEMS)


# Wire formats. Hyperliquid sends prices and sizes as decimal strings and times as integer ms; the decoders run
# in msgspec's lax mode, which turns "29258.0" into a float, and the bounds reject "nan", "inf" and negatives.
class InfoClient:
    """Hyperliquid's info API over an injected ``httpx.AsyncClient`` (which runs on trio through anyio).

    Each public method builds one documented request body and sends it through ``_post`` with its weight and a
    typed decoder; later requests (clearinghouseState, openOrders, userFills, orderStatus) are one small method
    each. ``_post`` sends it through ``JsonClient``: the weight spent first, the retry policy's retries, and
    ``InfoError`` for everything a retry cannot cure.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str = MAINNET_API_URL,
        timeout_s: float = 10.0,
        budget: WeightBudget | None = None,
        max_retries: int = 3,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.url = self.base_url + "/info"
        self.budget = budget if budget is not None else WeightBudget()
        policy = RetryPolicy(
            max_retries=max_retries,
            backoff_initial_s=backoff_initial_s,
            backoff_max_s=backoff_max_s,
            timeout_s=timeout_s,
            retry_after_cap_s=_RETRY_AFTER_CAP_S,
        )
        self._json = JsonClient(http, policy, errors=INFO_ERRORS)

    async def all_mids(self) -> dict[str, float]:
        """Mid price per coin (perps by name, spot pairs as ``@index``); the last trade when a book is empty."""
        return await self._post({"type": "allMids"}, INFO_WEIGHT_LIGHT, MIDS_DECODER)

    async def candles(self, coin: str, interval: str, start_ms: int, end_ms: int) -> list[Bar]:
        """Candles of ``coin`` opening in [``start_ms``, ``end_ms``], oldest first, the still-open one included if
        it is in range. An answer holds at most ``CANDLE_PAGE_LIMIT`` candles, so a longer range is fetched in
        pages, each starting after the last candle of the one before."""
        if interval not in HYPERLIQUID_INTERVALS:
            offered = ", ".join(HYPERLIQUID_INTERVALS)
            raise ValueError(f"unsupported candle interval {interval!r}; expected one of {offered}")
        interval_ms = INTERVAL_MS[interval]
        if end_ms < start_ms:
            raise ValueError(f"candles: end_ms {end_ms} is before start_ms {start_ms}")
        by_open: dict[int, Bar] = {}
        cursor = start_ms
        while True:
            page = await self._candle_page(coin, interval, interval_ms, cursor, end_ms)
            for candle in page:
                by_open[candle.open_ms] = Bar(
                    candle.open_ms, candle.open, candle.high, candle.low, candle.close, candle.volume
                )
            if len(page) < CANDLE_PAGE_LIMIT:
                break
            next_cursor = max(candle.open_ms for candle in page) + interval_ms
            if next_cursor <= cursor or next_cursor > end_ms:
                break
            cursor = next_cursor
        return [by_open[ts] for ts in sorted(by_open)]

    async def clearinghouse_state(self, user: str) -> ClearinghouseState:
        """``user``'s perp positions and margin summary (weight 2)."""
        wire = await self._post({"type": "clearinghouseState", "user": user}, INFO_WEIGHT_LIGHT, CLEARINGHOUSE_DECODER)
        return ClearinghouseState(
            positions=tuple(asset.position for asset in wire.asset_positions),
            account_value=wire.margin_summary.account_value,
            total_ntl_pos=wire.margin_summary.total_ntl_pos,
        )

    async def funding_history(self, coin: str, start_ms: int, end_ms: int) -> list[tuple[int, float]]:
        """``(time, hourly rate)`` of ``coin``'s funding settlements in [``start_ms``, ``end_ms``], oldest first.

        An answer holds at most ``FUNDING_PAGE_LIMIT`` rows (the first ones from ``startTime``), so a longer range
        is fetched in pages, each starting just after the last row of the one before. The weight is 20 plus one
        per 20 rows, spent up front on the rows the range can hold (hourly), so it is never under-counted.
        """
        if end_ms < start_ms:
            raise ValueError(f"funding_history: end_ms {end_ms} is before start_ms {start_ms}")
        by_time: dict[int, float] = {}
        cursor = start_ms
        while True:
            expected = min(FUNDING_PAGE_LIMIT, (end_ms - cursor) // HL_FUNDING_INTERVAL_MS + 1)
            weight = INFO_WEIGHT_DEFAULT + math.ceil(expected / FUNDING_WEIGHT_ITEMS)
            body = {"type": "fundingHistory", "coin": coin, "startTime": cursor, "endTime": end_ms}
            page = await self._post(body, weight, FUNDING_DECODER)
            for index, row in enumerate(page):
                if row.coin != coin:
                    raise InfoError("fundingHistory", f"`$[{index}].coin` is {row.coin!r}, asked for {coin!r}")
                if start_ms <= row.time <= end_ms:
                    by_time[row.time] = row.rate
            if len(page) < FUNDING_PAGE_LIMIT:
                break
            next_cursor = max(row.time for row in page) + 1
            if next_cursor <= cursor or next_cursor > end_ms:
                break
            cursor = next_cursor
        return sorted(by_time.items())

    async def meta_and_asset_ctxs(self) -> dict[str, AssetContext]:
        """Every perp's live context by coin: current funding (hourly), open interest, mark price (weight 20)."""
        meta, contexts = await self._post({"type": "metaAndAssetCtxs"}, INFO_WEIGHT_DEFAULT, ASSET_CTXS_DECODER)
        if len(meta.universe) != len(contexts):
            raise InfoError(
                "metaAndAssetCtxs", f"{len(meta.universe)} assets in `universe` but {len(contexts)} contexts"
            )
        return {asset.name: context for asset, context in zip(meta.universe, contexts, strict=True)}

    async def predicted_fundings(self, venue: str = "HlPerp") -> dict[str, float]:
        """The next funding rate per coin as ``venue`` predicts it (``HlPerp``: Hyperliquid's own, hourly; others
        such as ``BinPerp`` quote their own interval). Coins the venue does not list are left out (weight 20)."""
        answer = await self._post({"type": "predictedFundings"}, INFO_WEIGHT_DEFAULT, PREDICTED_DECODER)
        rates: dict[str, float] = {}
        for coin, venues in answer:
            for name, prediction in venues:
                if name == venue and prediction is not None:
                    rates[coin] = prediction.rate
        return rates

    async def perp_meta(self) -> WirePerpMeta:
        """The perp universe: each asset's name and ``szDecimals``, its index being its asset id (weight 20)."""
        return await self._post({"type": "meta"}, INFO_WEIGHT_DEFAULT, META_DECODER)

    async def open_orders(self, user: str) -> list[WireOpenOrder]:
        """``user``'s resting orders, trigger orders included (``frontendOpenOrders``, weight 20)."""
        return await self._post({"type": "frontendOpenOrders", "user": user}, INFO_WEIGHT_DEFAULT, OPEN_ORDERS_DECODER)

    async def user_fills(self, user: str) -> list[WireUserFill]:
        """``user``'s most recent fills, at most 2,000 (weight 20, plus one per 20 fills: spent once they came)."""
        fills = await self._post({"type": "userFills", "user": user}, INFO_WEIGHT_DEFAULT, USER_FILLS_DECODER)
        if extra := len(fills) // FILLS_WEIGHT_ITEMS:
            await self.budget.spend(extra)
        return fills

    async def user_funding(self, user: str, start_ms: int) -> list[WireUserFunding]:
        """Funding ``user`` paid or received from ``start_ms`` on (weight 20, plus one per 20 rows, once known)."""
        body = {"type": "userFunding", "user": user, "startTime": start_ms}
        rows = await self._post(body, INFO_WEIGHT_DEFAULT, USER_FUNDING_DECODER)
        if extra := len(rows) // FILLS_WEIGHT_ITEMS:
            await self.budget.spend(extra)
        return rows

    async def order_status(self, user: str, oid_or_cloid: int | str) -> WireOrderStatus:
        """One order of ``user`` by exchange id or cloid; ``status`` "unknownOid" if it never arrived (weight 2)."""
        body = {"type": "orderStatus", "user": user, "oid": oid_or_cloid}
        return await self._post(body, INFO_WEIGHT_LIGHT, ORDER_STATUS_DECODER)

    async def _candle_page(
        self, coin: str, interval: str, interval_ms: int, start_ms: int, end_ms: int
    ) -> list[WireCandle]:
        expected = min(CANDLE_PAGE_LIMIT, (end_ms - start_ms) // interval_ms + 1)
        body = {
            "type": "candleSnapshot",
            "req": {"coin": coin, "interval": interval, "startTime": start_ms, "endTime": end_ms},
        }
        page = await self._post(body, candle_snapshot_weight(expected), CANDLES_DECODER)
        for index, candle in enumerate(page):
            if candle.coin != coin or candle.interval != interval:
                raise InfoError(
                    "candleSnapshot",
                    f"`$[{index}].s`/`i` is {candle.coin!r}/{candle.interval!r}, asked for {coin!r}/{interval!r}",
                )
        return page

    async def _post(self, body: Mapping[str, Any], weight: int, decoder: msgspec.json.Decoder[T]) -> T:
        """Send ``body`` within the budget, by the retry policy, and decode the answer with ``decoder``."""
        endpoint = f"/info {body['type']}"
        return await self._json.send("POST", self.url, endpoint, decoder, body=body, budget=self.budget, weight=weight)
