"""A mock Hyperliquid exchange: ``/info`` and ``/exchange`` in Hyperliquid's wire format, orders, fills, positions.

Every ``/exchange`` request must carry a signature that the SDK's own recovery function
(``recover_agent_or_user_from_l1_action``) traces to the wallet the mock was made for, and a nonce it has not
seen; otherwise it answers ``{"status": "err"}`` as Hyperliquid does. Orders are checked against Hyperliquid's
rules (5 significant figures, 6 - szDecimals decimals, size lots, $10), deduplicated by cloid, and executed:

- a limit order crosses when no mid is set for its coin, or its price reaches the mid; it fills at the mid (or
  its own price when there is none); an IOC's unfilled rest is cancelled, a GTC's rests;
- a trigger order rests until ``set_mid`` crosses its trigger, then fills at that mid, reduce-only (capped at the
  position, cancelled when there is none); one sent with the ``positionTpsl`` grouping is cancelled when its
  coin's position closes.

Faults, injected with ``inject`` (or ``POST /control {"inject": [...]}``), each spent by the next ``/exchange``
request: ``timeout_after_accept`` (process it, answer only after ``hang_s``), ``http_5xx`` (502, not processed),
``reject`` (every order refused, cloid not spent), ``partial_fill`` (the next crossing order fills half),
``duplicate_cloid`` (the next order refused as a duplicate) and ``disconnect`` (connection closed, not processed).

The HTTP server around it is ``hl_exchange_server``; this module is transport-free.
"""

from __future__ import annotations

import json
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from hyperliquid.utils.signing import recover_agent_or_user_from_l1_action

from b1e55ed.hyperliquid.rules import MIN_NOTIONAL_USD, is_valid_price, is_valid_size, round_size

FAULTS = frozenset({"timeout_after_accept", "http_5xx", "reject", "partial_fill", "duplicate_cloid", "disconnect"})
DEFAULT_COINS = {"BTC": 5, "ETH": 4, "SOL": 2}
TAKER_FEE = 0.00045
MAKER_FEE = 0.00015
IOC_NO_MATCH = "Order could not immediately match against any resting orders. asset={asset}"
NOT_OPEN = "Order was never placed, already canceled, or filled."


@dataclass(frozen=True)
class Reply:
    status: int = 200
    payload: Any = None
    delay_s: float = 0.0
    disconnect: bool = False


@dataclass
class MockOrder:
    oid: int
    cloid: str | None
    coin: str
    asset: int
    is_buy: bool
    limit_px: float
    orig_sz: float
    reduce_only: bool
    tif: str
    trigger_px: float | None
    tpsl: str
    timestamp: int
    sz: float = 0.0
    status: str = "open"
    position_tpsl: bool = False  # cancelled by the exchange when its coin's position closes

    def __post_init__(self) -> None:
        self.sz = self.sz or self.orig_sz

    def wire(self) -> dict[str, Any]:
        kind = "Limit" if self.trigger_px is None else ("Stop Market" if self.tpsl == "sl" else "Take Profit Market")
        return {
            "coin": self.coin,
            "side": "B" if self.is_buy else "A",
            "limitPx": _num(self.limit_px),
            "sz": _num(self.sz),
            "oid": self.oid,
            "timestamp": self.timestamp,
            "origSz": _num(self.orig_sz),
            "cloid": self.cloid,
            "reduceOnly": self.reduce_only,
            "orderType": kind,
            "isTrigger": self.trigger_px is not None,
            "triggerPx": _num(self.trigger_px or 0.0),
            "triggerCondition": "N/A" if self.trigger_px is None else f"Price {self.trigger_px}",
            "tif": self.tif,
        }


@dataclass
class MockExchange:
    wallet: str
    is_mainnet: bool = False
    coins: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_COINS))
    mids: dict[str, float] = field(default_factory=dict)
    hang_s: float = 3.0
    account_value: float = 10_000.0

    def __post_init__(self) -> None:
        self.universe = list(self.coins)
        self.orders: dict[int, MockOrder] = {}
        self.by_cloid: dict[str, int] = {}
        self.fills: list[dict[str, Any]] = []
        self.positions: dict[str, tuple[float, float]] = {}  # coin → (signed size, entry price)
        self.faults: deque[str] = deque()
        self.nonces: set[int] = set()
        self.requests: Counter[str] = Counter()  # "/info <type>" and "/exchange <type>" → how many
        self.order_attempts: Counter[str] = Counter()  # cloid → how many order requests named it
        self.refusals: list[str] = []
        self.funding: list[dict[str, Any]] = []
        self._next_oid = 1000
        self._next_tid = 1

    # -- control -------------------------------------------------------------------------------------------------

    def inject(self, *faults: str) -> None:
        unknown = set(faults) - FAULTS
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}; expected some of {sorted(FAULTS)}")
        self.faults.extend(faults)

    def set_mid(self, coin: str, price: float) -> None:
        """Move the market: resting limits that now cross fill, triggers that now fire fill."""
        self.mids[coin] = price
        for order in [o for o in self.orders.values() if o.coin == coin and o.status == "open"]:
            if order.trigger_px is None:
                if self._crosses(order.is_buy, order.limit_px, coin):
                    self._fill(order, order.sz, order.limit_px, crossed=False)
            elif self._triggered(order, price):
                size = self._reduce_cap(order, order.sz)
                if size <= 0:
                    order.status = "canceled"
                else:
                    self._fill(order, size, price, crossed=True)
                    order.status = "filled"

    def settle_funding(self, coin: str, rate: float) -> None:
        """One hourly funding payment on the coin's position at its mark: a long pays a positive rate."""
        if coin not in self.positions:
            return
        size, entry = self.positions[coin]
        mark = self.mids.get(coin, entry)
        usdc = -size * mark * rate
        self.funding.append(
            {
                "time": _now_ms(),
                "hash": "0x" + "0" * 64,
                "delta": {
                    "type": "funding",
                    "coin": coin,
                    "usdc": _num(usdc),
                    "szi": _num(size),
                    "fundingRate": str(rate),
                    "nSamples": None,
                },
            }
        )

    def control(self, request: dict[str, Any]) -> dict[str, Any]:
        if faults := request.get("inject"):
            self.inject(*faults)
        for coin, rate in (request.get("funding") or {}).items():
            self.settle_funding(coin, float(rate))
        for coin, price in (request.get("mid") or {}).items():
            if price is None:
                self.mids.pop(coin, None)  # back to filling every order at its own price
            else:
                self.set_mid(coin, float(price))
        return self.summary()

    def summary(self) -> dict[str, Any]:
        return {
            "positions": {coin: list(value) for coin, value in self.positions.items()},
            "orders": [{**order.wire(), "status": order.status} for order in self.orders.values()],
            "order_attempts": dict(self.order_attempts),
            "fills": len(self.fills),
            "refusals": self.refusals,
        }

    # -- requests ------------------------------------------------------------------------------------------------

    def handle(self, path: str, body: bytes) -> Reply:
        try:
            request = json.loads(body)
        except ValueError:
            return Reply(422, "Failed to deserialize the JSON body into the target type")
        if path == "/info":
            return self._info(request)
        if path == "/exchange":
            return self._exchange(request)
        if path == "/control":
            return Reply(200, self.control(request))
        return Reply(404, f"no route {path}")

    def _info(self, request: dict[str, Any]) -> Reply:
        kind = request.get("type")
        self.requests[f"/info {kind}"] += 1
        user = str(request.get("user", "")).lower()
        if kind == "meta":
            universe = [{"name": c, "szDecimals": d, "maxLeverage": 50} for c, d in self.coins.items()]
            return Reply(200, {"universe": universe})
        if kind == "spotMeta":  # a perpetuals-only exchange: the SDK's Info asks for it at start
            return Reply(200, {"universe": [], "tokens": []})
        if kind == "allMids":
            return Reply(200, {coin: _num(price) for coin, price in self.mids.items()})
        if user and user != self.wallet.lower():
            lists = ("frontendOpenOrders", "openOrders", "userFills")
            return Reply(200, [] if kind in lists else {"status": "unknownOid"})
        if kind == "orderStatus":
            order = self._find(request.get("oid"))
            if order is None:
                return Reply(200, {"status": "unknownOid"})
            entry = {"order": order.wire(), "status": order.status, "statusTimestamp": _now_ms()}
            return Reply(200, {"status": "order", "order": entry})
        if kind == "frontendOpenOrders":
            return Reply(200, [o.wire() for o in self.orders.values() if o.status == "open"])
        if kind == "openOrders":  # the plain form: coin, side, limitPx, sz, oid, timestamp, origSz, cloid
            keys = ("coin", "side", "limitPx", "sz", "oid", "timestamp", "origSz", "cloid")
            return Reply(200, [{k: o.wire()[k] for k in keys} for o in self.orders.values() if o.status == "open"])
        if kind == "userFills":
            return Reply(200, list(reversed(self.fills)))
        if kind == "clearinghouseState":
            return Reply(200, self._clearinghouse())
        if kind == "userFunding":
            start = int(request.get("startTime", 0))
            return Reply(200, [row for row in self.funding if row["time"] >= start])
        return Reply(422, "Failed to deserialize the JSON body into the target type")

    def _exchange(self, request: dict[str, Any]) -> Reply:
        action = request.get("action") or {}
        kind = action.get("type")
        self.requests[f"/exchange {kind}"] += 1
        fault = self.faults.popleft() if self.faults else None
        if fault == "http_5xx":
            return Reply(502, "<html>502 Bad Gateway</html>")
        if fault == "disconnect":
            return Reply(disconnect=True)
        refusal = self._authenticate(request)
        if refusal:
            self.refusals.append(refusal)
            return Reply(200, {"status": "err", "response": refusal})
        if kind == "order":
            position_tpsl = action.get("grouping") == "positionTpsl"
            statuses = [self._order(wire, fault, position_tpsl) for wire in action.get("orders", [])]
            payload = {"status": "ok", "response": {"type": "order", "data": {"statuses": statuses}}}
        elif kind in ("cancel", "cancelByCloid"):
            statuses = [self._cancel(c.get("cloid", c.get("o"))) for c in action.get("cancels", [])]
            payload = {"status": "ok", "response": {"type": "cancel", "data": {"statuses": statuses}}}
        elif kind == "batchModify":
            statuses = [self._modify(m["oid"], m["order"]) for m in action.get("modifies", [])]
            payload = {"status": "ok", "response": {"type": "order", "data": {"statuses": statuses}}}
        else:
            return Reply(422, "Failed to deserialize the JSON body into the target type")
        return Reply(200, payload, delay_s=self.hang_s if fault == "timeout_after_accept" else 0.0)

    def _authenticate(self, request: dict[str, Any]) -> str:
        nonce, signature = request.get("nonce"), request.get("signature")
        if not isinstance(nonce, int) or not isinstance(signature, dict):
            return "Missing nonce or signature"
        try:
            signer = recover_agent_or_user_from_l1_action(
                request["action"],
                signature,
                request.get("vaultAddress"),
                nonce,
                request.get("expiresAfter"),
                self.is_mainnet,
            )
        except Exception as exc:
            return f"Invalid signature: {type(exc).__name__}"
        if str(signer).lower() != self.wallet.lower():
            return f"User or API Wallet {str(signer).lower()} does not exist."
        if nonce in self.nonces:
            return "Invalid nonce: duplicate nonce"
        self.nonces.add(nonce)
        return ""

    # -- orders --------------------------------------------------------------------------------------------------

    def _order(self, wire: dict[str, Any], fault: str | None, position_tpsl: bool = False) -> Any:
        asset, cloid = wire["a"], wire.get("c")
        if cloid:
            self.order_attempts[cloid] += 1
        if not 0 <= asset < len(self.universe):
            return {"error": f"Invalid asset {asset}"}
        coin = self.universe[asset]
        decimals = self.coins[coin]
        if fault == "reject":
            return {"error": f"Insufficient margin to place order. asset={asset}"}
        if fault == "duplicate_cloid" or (cloid and cloid in self.by_cloid):
            return {"error": "Order has duplicate cloid."}
        price, size = float(wire["p"]), float(wire["s"])
        trigger = wire["t"].get("trigger")
        if not is_valid_price(price, decimals) or (
            trigger and not is_valid_price(float(trigger["triggerPx"]), decimals)
        ):
            return {"error": "Order has invalid price."}
        if not is_valid_size(size, decimals):
            return {"error": "Order has invalid size."}
        if not wire["r"] and price * size < MIN_NOTIONAL_USD:
            return {"error": f"Order must have minimum value of ${MIN_NOTIONAL_USD:g}. asset={asset}"}
        self._next_oid += 1
        order = MockOrder(
            oid=self._next_oid,
            cloid=cloid,
            coin=coin,
            asset=asset,
            is_buy=wire["b"],
            limit_px=price,
            orig_sz=size,
            reduce_only=wire["r"],
            tif=wire["t"].get("limit", {}).get("tif", "Gtc"),
            trigger_px=float(trigger["triggerPx"]) if trigger else None,
            tpsl=trigger["tpsl"] if trigger else "",
            timestamp=_now_ms(),
            position_tpsl=position_tpsl and bool(trigger),
        )
        if order.reduce_only and not trigger and self._reduce_cap(order, size) <= 0:
            return {"error": "Reduce only order would increase position."}
        self.orders[order.oid] = order
        if cloid:
            self.by_cloid[cloid] = order.oid
        if trigger or not self._crosses(order.is_buy, price, coin):
            if order.tif == "Ioc" and not trigger:
                order.status = "canceled"
                return {"error": IOC_NO_MATCH.format(asset=asset)}
            return {"resting": {"oid": order.oid, "cloid": cloid}}
        fill_size = size if fault != "partial_fill" else max(round_size(size / 2, decimals), 10.0**-decimals)
        if order.reduce_only:
            fill_size = self._reduce_cap(order, fill_size)
        fill_price = self.mids.get(coin, price)
        self._fill(order, fill_size, fill_price, crossed=True)
        if order.sz > 0 and order.tif == "Ioc":
            order.status = "canceled"
        avg = _num(fill_price)
        return {"filled": {"totalSz": _num(fill_size), "avgPx": avg, "oid": order.oid, "cloid": cloid}}

    def _cancel(self, key: Any) -> Any:
        order = self._find(key)
        if order is None or order.status != "open":
            return {"error": NOT_OPEN}
        order.status = "canceled"
        return "success"

    def _modify(self, key: Any, wire: dict[str, Any]) -> Any:
        order = self._find(key)
        if order is None or order.status != "open":
            return {"error": "Cannot modify canceled or filled order"}
        order.limit_px, order.orig_sz = float(wire["p"]), float(wire["s"])
        order.sz = order.orig_sz
        if trigger := wire["t"].get("trigger"):
            order.trigger_px = float(trigger["triggerPx"])
        return {"resting": {"oid": order.oid, "cloid": order.cloid}}

    def _find(self, key: Any) -> MockOrder | None:
        if isinstance(key, int):
            return self.orders.get(key)
        oid = self.by_cloid.get(str(key)) if key is not None else None
        return self.orders.get(oid) if oid is not None else None

    def _crosses(self, is_buy: bool, price: float, coin: str) -> bool:
        mid = self.mids.get(coin)
        return mid is None or (price >= mid if is_buy else price <= mid)

    @staticmethod
    def _triggered(order: MockOrder, mid: float) -> bool:
        assert order.trigger_px is not None
        rising = (order.tpsl == "sl") == order.is_buy  # a short's stop, a long's target: fire as price rises
        return mid >= order.trigger_px if rising else mid <= order.trigger_px

    def _reduce_cap(self, order: MockOrder, size: float) -> float:
        held, _ = self.positions.get(order.coin, (0.0, 0.0))
        opposite = held < 0 if order.is_buy else held > 0
        return min(size, abs(held)) if opposite else 0.0

    def _fill(self, order: MockOrder, size: float, price: float, *, crossed: bool) -> None:
        held, entry = self.positions.get(order.coin, (0.0, 0.0))
        delta = size if order.is_buy else -size
        after = round(held + delta, 10)
        if held == 0 or (held > 0) == (delta > 0):
            entry = (abs(held) * entry + size * price) / abs(after)
        elif after != 0 and (after > 0) != (held > 0):
            entry = price  # flipped through zero: the rest opens at this price
        if after == 0:
            self.positions.pop(order.coin, None)
            for tied in self.orders.values():
                if tied.coin == order.coin and tied.position_tpsl and tied.status == "open" and tied is not order:
                    tied.status = "canceled"
        else:
            self.positions[order.coin] = (after, entry)
        order.sz = round(order.sz - size, 10)
        if order.sz <= 0:
            order.status = "filled"
        self._next_tid += 1
        fee = round(price * size * (TAKER_FEE if crossed else MAKER_FEE), 6)
        self.fills.append(
            {
                "coin": order.coin,
                "px": _num(price),
                "sz": _num(size),
                "side": "B" if order.is_buy else "A",
                "time": _now_ms(),
                "startPosition": _num(held),
                "dir": ("Open " if order.reduce_only is False else "Close ") + ("Long" if order.is_buy else "Short"),
                "closedPnl": "0.0",
                "hash": f"0x{self._next_tid:064x}",
                "oid": order.oid,
                "crossed": crossed,
                "fee": _num(fee),
                "tid": self._next_tid,
                "cloid": order.cloid,
                "feeToken": "USDC",
            }
        )

    def _clearinghouse(self) -> dict[str, Any]:
        positions = []
        total = 0.0
        for coin, (size, entry) in self.positions.items():
            mark = self.mids.get(coin, entry)
            total += abs(size) * mark
            positions.append(
                {
                    "type": "oneWay",
                    "position": {
                        "coin": coin,
                        "szi": _num(size),
                        "entryPx": _num(entry),
                        "positionValue": _num(abs(size) * mark),
                        "unrealizedPnl": _num(size * (mark - entry)),
                        "leverage": {"type": "cross", "value": 1},
                    },
                }
            )
        summary = {"accountValue": _num(self.account_value), "totalNtlPos": _num(total)}
        return {"assetPositions": positions, "marginSummary": summary}


def _now_ms() -> int:
    return int(time.time() * 1000)


def _num(value: float) -> str:
    return f"{value:.10f}".rstrip("0").rstrip(".") or "0"
