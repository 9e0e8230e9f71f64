"""A fake Hyperliquid ``/info`` server, for ``httpx.MockTransport``: no network, Hyperliquid's wire format.

It answers ``allMids``, ``candleSnapshot``, ``fundingHistory`` (at most 500 rows per answer, the first from
``startTime``), ``metaAndAssetCtxs``, ``predictedFundings`` and ``clearinghouseState`` as the real API documents
them (hyperliquid.gitbook.io, "Info endpoint"): prices and sizes as decimal strings, ``t``/``T`` as integer ms with
``T`` = ``t`` + interval - 1, at most 5,000 candles per answer (the first 5,000 opening in [startTime, endTime]),
and a body it cannot read answered with 422 and Hyperliquid's text. It counts requests and the weight the real
server would charge (taking the documented "per 60 candles" and "per 20 items" steps as ``len // 60`` and
``len // 20``), and can be told to fail the next requests: an HTTP status (429 with ``Retry-After``, 5xx), a body of our
choosing, one that is not JSON, a connection that cannot be made, or one that never answers; ``failing`` makes every
request of one type fail so, until it is removed.

Meant to grow into a loopback mock exchange: add a request type by adding an entry to ``answers``.
"""

from __future__ import annotations

import json
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import trio

from b1e55ed.messages import Bar
from b1e55ed.timeframes import HYPERLIQUID_INTERVALS
from b1e55ed.timeframes import INTERVAL_MS as ALL_INTERVAL_MS

RESPONSE_CANDLE_CAP = 5000  # documented: "Only the most recent 5000 candles are available"
RESPONSE_FUNDING_CAP = 500  # fundingHistory answers with at most 500 rows, the first ones from startTime
DESERIALIZE_ERROR = "Failed to deserialize the JSON body into the target type"

INTERVAL_MS = {name: ALL_INTERVAL_MS[name] for name in HYPERLIQUID_INTERVALS}

FaultKind = Literal["status", "body", "malformed", "unreachable", "hang"]


@dataclass(frozen=True)
class Fault:
    """How the fake fails one request. Build with the class methods."""

    kind: FaultKind
    status: int = 500
    retry_after: str | None = None
    text: str = ""

    @classmethod
    def http(cls, status: int, retry_after: str | None = None) -> Fault:
        return cls("status", status=status, retry_after=retry_after)

    @classmethod
    def body(cls, text: str, status: int = 200) -> Fault:
        """Answer with exactly ``text``: a JSON answer in the wrong shape, say."""
        return cls("body", status=status, text=text)

    @classmethod
    def malformed(cls) -> Fault:
        """200 with a body that is not JSON, as a proxy's error page would be."""
        return cls("malformed")

    @classmethod
    def unreachable(cls) -> Fault:
        """``httpx.ConnectError``: DNS failed, connection refused, no network."""
        return cls("unreachable")

    @classmethod
    def hang(cls) -> Fault:
        """Never answers; the caller's timeout decides."""
        return cls("hang")


class TrioClock:
    """A ``Clock`` that moves with trio's clock: ``start_ms`` when built, then trio seconds × 1,000.

    Under the autojump clock the feed's event time and its ``trio.sleep`` advance together. Build it inside trio.
    """

    def __init__(self, start_ms: int) -> None:
        self._start_ms = start_ms
        self._origin = trio.current_time()

    def now_ms(self) -> int:
        return self._start_ms + round((trio.current_time() - self._origin) * 1000)


class FakeHyperliquidInfo:
    """The fake server. ``transport()`` gives the ``httpx.MockTransport`` to build an ``AsyncClient`` on.

    With ``now_ms``, a candle is served only once it has opened (``t`` <= now), like the real venue: the latest one
    served is then the still-open candle, which a feed must not treat as closed.
    """

    def __init__(self, *, now_ms: Callable[[], int] | None = None) -> None:
        self._now_ms = now_ms
        self.mids: dict[str, float] = {}
        self.candles: dict[tuple[str, str], dict[int, Bar]] = {}
        self.funding_rates: dict[str, dict[int, float]] = {}  # coin → settlement ms → hourly rate
        self.asset_ctxs: dict[str, dict[str, Any]] = {}  # coin → extra metaAndAssetCtxs fields (markPx, ...)
        self.predicted: dict[str, float] = {}  # coin → HlPerp predicted rate
        self.user_states: dict[str, dict[str, Any]] = {}  # user → clearinghouseState answer, in wire format
        self.requests: list[dict[str, Any]] = []
        self.weight_charged = 0
        self._faults: deque[Fault] = deque()
        self.failing: dict[str, Fault] = {}  # request type → how every request of it fails, until removed
        # request type → answer; a mock exchange adds its own (clearinghouseState, openOrders, orderStatus, ...)
        self.answers: dict[Any, Callable[[dict[str, Any]], httpx.Response]] = {
            "allMids": self._all_mids,
            "candleSnapshot": self._candle_snapshot,
            "fundingHistory": self._funding_history,
            "metaAndAssetCtxs": self._meta_and_asset_ctxs,
            "predictedFundings": self._predicted_fundings,
            "clearinghouseState": self._clearinghouse_state,
        }

    # -- set up ------------------------------------------------------------------------------------------------

    def set_mids(self, mids: Mapping[str, float]) -> None:
        self.mids.update(mids)

    def add_bars(self, coin: str, interval: str, bars: Iterable[Bar]) -> None:
        series = self.candles.setdefault((coin, interval), {})
        for bar in bars:
            series[bar.ts] = bar

    def add_funding(self, coin: str, rates: Iterable[tuple[int, float]]) -> None:
        """Funding settlements ``(time ms, hourly rate)`` of ``coin``; the latest is also its current funding."""
        self.funding_rates.setdefault(coin, {}).update(rates)

    def set_account(
        self,
        user: str,
        account_value: float,
        positions: Mapping[str, tuple[float, float]] | None = None,
        *,
        leverage: int = 5,
    ) -> None:
        """``user``'s clearinghouseState: ``positions`` is coin → (signed size, entry price); value and PnL are
        marked at the mid when one is set, else at the entry price."""
        wire_positions = []
        total_ntl = 0.0
        for coin, (size, entry_px) in (positions or {}).items():
            mark = self.mids.get(coin, entry_px)
            value = abs(size) * mark
            total_ntl += value
            position = {
                "coin": coin,
                "entryPx": _decimal(entry_px),
                "leverage": {"type": "cross", "value": leverage},
                "liquidationPx": None,
                "marginUsed": _decimal(value / leverage),
                "maxLeverage": 50,
                "positionValue": _decimal(value),
                "returnOnEquity": "0.0",
                "szi": _decimal(size),
                "unrealizedPnl": _decimal(size * (mark - entry_px)),
            }
            wire_positions.append({"position": position, "type": "oneWay"})
        summary = {
            "accountValue": _decimal(account_value),
            "totalMarginUsed": _decimal(total_ntl / leverage),
            "totalNtlPos": _decimal(total_ntl),
            "totalRawUsd": _decimal(account_value),
        }
        self.user_states[user] = {
            "assetPositions": wire_positions,
            "crossMaintenanceMarginUsed": "0.0",
            "crossMarginSummary": summary,
            "marginSummary": summary,
            "time": self._now_ms() if self._now_ms is not None else 0,
            "withdrawable": _decimal(account_value),
        }

    def fail_next(self, *faults: Fault) -> None:
        """The next ``len(faults)`` requests fail, in this order; later ones are answered normally."""
        self._faults.extend(faults)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    # -- what happened -----------------------------------------------------------------------------------------

    def count(self, request_type: str | None = None) -> int:
        """Requests received (of ``request_type``, or of any type), failed ones included."""
        if request_type is None:
            return len(self.requests)
        return Counter(body.get("type") for body in self.requests)[request_type]

    def candle_requests(self) -> list[dict[str, Any]]:
        """The ``req`` objects of every ``candleSnapshot`` received."""
        return [body["req"] for body in self.requests if body.get("type") == "candleSnapshot"]

    # -- the server --------------------------------------------------------------------------------------------

    async def handle(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST" or request.url.path != "/info":
            return httpx.Response(404, text="Not Found")
        try:
            body = json.loads(request.content)
        except ValueError:
            return httpx.Response(422, text=DESERIALIZE_ERROR)
        self.requests.append(body if isinstance(body, dict) else {"type": None, "body": body})
        failing = self.failing.get(str(body.get("type"))) if isinstance(body, dict) else None
        if self._faults or failing is not None:
            return await self._fail(self._faults.popleft() if self._faults else failing, request)
        answer = self.answers.get(body.get("type")) if isinstance(body, dict) else None
        if answer is None:
            return httpx.Response(422, text=DESERIALIZE_ERROR)
        return answer(body)

    async def _fail(self, fault: Fault | None, request: httpx.Request) -> httpx.Response:
        assert fault is not None
        if fault.kind == "unreachable":
            raise httpx.ConnectError("[Errno -3] Temporary failure in name resolution", request=request)
        if fault.kind == "hang":
            await trio.sleep_forever()
        if fault.kind == "malformed":
            return httpx.Response(200, text="<html><body>502 Bad Gateway</body></html>")
        if fault.kind == "body":
            return httpx.Response(fault.status, text=fault.text)
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
        return httpx.Response(fault.status, headers=headers, text=f"fault injected: HTTP {fault.status}")

    def _all_mids(self, body: dict[str, Any]) -> httpx.Response:
        self.weight_charged += 2
        return httpx.Response(200, json={coin: _decimal(price) for coin, price in self.mids.items()})

    def _candle_snapshot(self, body: dict[str, Any]) -> httpx.Response:
        req = body.get("req")
        if not isinstance(req, dict):
            return httpx.Response(422, text=DESERIALIZE_ERROR)
        coin, interval = req.get("coin"), req.get("interval")
        start, end = req.get("startTime"), req.get("endTime")
        if not isinstance(coin, str) or not isinstance(interval, str) or interval not in INTERVAL_MS:
            return httpx.Response(422, text=DESERIALIZE_ERROR)
        if not isinstance(start, int):
            return httpx.Response(422, text=DESERIALIZE_ERROR)
        if not isinstance(end, int):
            end = self._now_ms() if self._now_ms is not None else 2**63 - 1  # endTime is optional on the wire
        if self._now_ms is not None:
            end = min(end, self._now_ms())
        series = self.candles.get((coin, interval), {})
        opens = sorted(ts for ts in series if start <= ts <= end)[:RESPONSE_CANDLE_CAP]
        self.weight_charged += 20 + len(opens) // 60
        interval_ms = INTERVAL_MS[interval]
        return httpx.Response(200, json=[_wire_candle(coin, interval, interval_ms, series[ts]) for ts in opens])

    def _funding_history(self, body: dict[str, Any]) -> httpx.Response:
        coin, start, end = body.get("coin"), body.get("startTime"), body.get("endTime")
        if not isinstance(coin, str) or not isinstance(start, int):
            return httpx.Response(422, text=DESERIALIZE_ERROR)
        if not isinstance(end, int):
            end = self._now_ms() if self._now_ms is not None else 2**63 - 1  # endTime is optional on the wire
        if self._now_ms is not None:
            end = min(end, self._now_ms())
        series = self.funding_rates.get(coin, {})
        times = sorted(ts for ts in series if start <= ts <= end)[:RESPONSE_FUNDING_CAP]
        self.weight_charged += 20 + len(times) // 20
        rows = [
            {"coin": coin, "fundingRate": _decimal(series[ts]), "premium": _decimal(series[ts] / 2), "time": ts}
            for ts in times
        ]
        return httpx.Response(200, json=rows)

    def _current_funding(self, coin: str) -> float:
        series = self.funding_rates.get(coin, {})
        now = self._now_ms() if self._now_ms is not None else 2**63 - 1
        past = [ts for ts in series if ts <= now]
        return series[max(past)] if past else 0.0

    def _meta_and_asset_ctxs(self, body: dict[str, Any]) -> httpx.Response:
        self.weight_charged += 20
        coins = sorted(set(self.funding_rates) | set(self.asset_ctxs) | set(self.mids))
        universe = [{"maxLeverage": 50, "name": coin, "szDecimals": 5} for coin in coins]
        contexts = []
        for coin in coins:
            mid = self.mids.get(coin)
            context: dict[str, Any] = {
                "dayNtlVlm": "1000000.0",
                "funding": _decimal(self._current_funding(coin)),
                "impactPxs": None,
                "markPx": None if mid is None else _decimal(mid),
                "midPx": None if mid is None else _decimal(mid),
                "openInterest": "1000.0",
                "oraclePx": _decimal(mid or 1.0),
                "premium": "0.0",
                "prevDayPx": _decimal(mid or 1.0),
            }
            context.update(self.asset_ctxs.get(coin, {}))
            contexts.append(context)
        return httpx.Response(200, json=[{"universe": universe}, contexts])

    def _predicted_fundings(self, body: dict[str, Any]) -> httpx.Response:
        self.weight_charged += 20
        answer = [
            [coin, [["BinPerp", None], ["HlPerp", {"fundingRate": _decimal(rate), "nextFundingTime": 0}]]]
            for coin, rate in sorted(self.predicted.items())
        ]
        return httpx.Response(200, json=answer)

    def _clearinghouse_state(self, body: dict[str, Any]) -> httpx.Response:
        user = body.get("user")
        if not isinstance(user, str):
            return httpx.Response(422, text=DESERIALIZE_ERROR)
        self.weight_charged += 2
        empty = {"accountValue": "0.0", "totalMarginUsed": "0.0", "totalNtlPos": "0.0", "totalRawUsd": "0.0"}
        state = self.user_states.get(
            user,
            {"assetPositions": [], "crossMarginSummary": empty, "marginSummary": empty, "withdrawable": "0.0"},
        )
        return httpx.Response(200, json=state)


def _decimal(value: float) -> str:
    return repr(float(value))


def _wire_candle(coin: str, interval: str, interval_ms: int, bar: Bar) -> dict[str, Any]:
    """One candle exactly as Hyperliquid sends it (keys in its order)."""
    return {
        "T": bar.ts + interval_ms - 1,
        "c": _decimal(bar.close),
        "h": _decimal(bar.high),
        "i": interval,
        "l": _decimal(bar.low),
        "n": 1 + int(bar.volume) % 97,
        "o": _decimal(bar.open),
        "s": coin,
        "t": bar.ts,
        "v": _decimal(bar.volume),
    }


def make_bars(start_ms: int, count: int, interval_ms: int, *, base: float = 100.0) -> list[Bar]:
    """``count`` plausible candles from ``start_ms``, each a known function of its index (tests can predict them)."""
    bars = []
    for index in range(count):
        open_ = base + index
        close = open_ + 0.5
        bars.append(Bar(start_ms + index * interval_ms, open_, close + 1.0, open_ - 1.0, close, 10.0 + index))
    return bars
