"""A fake Binance public market-data API, for ``httpx.MockTransport``: no network, Binance's wire format.

It answers as developers.binance.com documents: ``GET api.binance.com/api/v3/klines`` and
``GET fapi.binance.com/fapi/v1/klines`` with arrays of ``[open time, "o", "h", "l", "c", "v", close time,
"quote volume", trades, "taker base", "taker quote", "0"]``, oldest first, at most ``limit`` (default 500; at most
1,000 on spot, 1,500 on futures), from ``startTime`` onwards, up to ``endTime``, or the latest ``limit`` when only
``endTime`` (or nothing) is sent; ``GET fapi.binance.com/fapi/v1/fundingRate`` with ``[{"symbol", "fundingTime",
"fundingRate", "markPrice"}]`` the same way (default 100, at most 1,000). Errors are Binance's: HTTP 400 with
``{"code": -1121, "msg": "Invalid symbol."}`` and the like. With ``now_ms``, a candle is served once it has opened,
so the last one served is the still-open candle.

It records every request, can fail the next requests (a ``Fault`` from ``hyperliquid_info``: an HTTP status with
``Retry-After``, a body, one that is not JSON, no connection, no answer), fail from the n-th on, or raise
``FakeCrash`` at the n-th (the process dying mid-run, as far as the collector can tell). Rows are rendered to JSON
once, when added, so the fake costs little in benchmarks.
"""

from __future__ import annotations

import bisect
import json
from collections import deque
from collections.abc import Callable, Iterable
from typing import Literal
from urllib.parse import parse_qsl

import httpx
import trio

from b1e55ed.messages import Bar
from b1e55ed.timeframes import BINANCE_INTERVALS
from b1e55ed.timeframes import INTERVAL_MS as ALL_INTERVAL_MS
from tests.fakes.hyperliquid_info import Fault

SPOT_HOST = "api.binance.com"
FUTURES_HOST = "fapi.binance.com"
INTERVAL_MS = {name: ALL_INTERVAL_MS[name] for name in BINANCE_INTERVALS}
KLINE_DEFAULT, SPOT_KLINE_MAX, FUTURES_KLINE_MAX = 500, 1000, 1500
FUNDING_DEFAULT, FUNDING_MAX = 100, 1000

Market = Literal["spot", "futures"]
_Window = tuple[int | None, int | None, int]  # startTime, endTime (capped at now), limit


class FakeCrash(RuntimeError):
    """Raised out of the transport at a chosen request: the run dies there."""


class _Rows:
    """A time-sorted series of pre-rendered JSON rows."""

    def __init__(self) -> None:
        self.times: list[int] = []
        self.json: dict[int, str] = {}

    def put(self, ts: int, row_json: str) -> None:
        if ts not in self.json:
            bisect.insort(self.times, ts)
        self.json[ts] = row_json

    def select(self, start: int | None, end: int | None, limit: int) -> list[str]:
        lo = 0 if start is None else bisect.bisect_left(self.times, start)
        hi = len(self.times) if end is None else bisect.bisect_right(self.times, end)
        chosen = self.times[lo:hi]
        chosen = chosen[:limit] if start is not None else chosen[-limit:]
        return [self.json[ts] for ts in chosen]


def fault_response(fault: Fault, request: httpx.Request) -> httpx.Response | None:
    """The answer ``fault`` stands for (None for "hang", which never answers); raises for "unreachable"."""
    if fault.kind == "unreachable":
        raise httpx.ConnectError("[Errno -3] Temporary failure in name resolution", request=request)
    if fault.kind == "hang":
        return None
    if fault.kind == "malformed":
        return httpx.Response(200, text="<html><body>502 Bad Gateway</body></html>")
    if fault.kind == "body":
        return httpx.Response(fault.status, text=fault.text)
    headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
    return httpx.Response(fault.status, headers=headers, json={"code": -1003, "msg": f"fault: HTTP {fault.status}"})


class FaultSchedule:
    """Which requests fail, and how: the next few, every one from the n-th, or a crash at the n-th."""

    def __init__(self) -> None:
        self.received = 0
        self._next: deque[Fault] = deque()
        self._from: tuple[int, Fault] | None = None
        self._crash_at: int | None = None

    def fail_next(self, *faults: Fault) -> None:
        self._next.extend(faults)

    def fail_from(self, request_number: int, fault: Fault) -> None:
        """Request ``request_number`` (1-based, counting every request received) and all after it fail."""
        self._from = (request_number, fault)

    def crash_at(self, request_number: int) -> None:
        self._crash_at = request_number

    async def apply(self, request: httpx.Request) -> httpx.Response | None:
        """Counts the request; the fault's answer if it fails, None to answer normally."""
        self.received += 1
        if self._crash_at == self.received:
            raise FakeCrash(f"crash injected at request {self.received}")
        fault = self._next.popleft() if self._next else None
        if fault is None and self._from is not None and self.received >= self._from[0]:
            fault = self._from[1]
        if fault is None:
            return None
        answer = fault_response(fault, request)
        if answer is None:
            await trio.sleep_forever()
        return answer


def _decimal(value: float) -> str:
    return repr(float(value))


def kline_row(bar: Bar, interval_ms: int) -> list[object]:
    """One kline exactly as Binance sends it."""
    quote = bar.volume * bar.close
    return [
        bar.ts,
        _decimal(bar.open),
        _decimal(bar.high),
        _decimal(bar.low),
        _decimal(bar.close),
        _decimal(bar.volume),
        bar.ts + interval_ms - 1,
        _decimal(quote),
        7 + int(bar.volume) % 50,
        _decimal(bar.volume / 2),
        _decimal(quote / 2),
        "0",
    ]


def _error(code: int, msg: str, status: int = 400) -> httpx.Response:
    return httpx.Response(status, json={"code": code, "msg": msg})


class FakeBinance:
    """The fake server. ``transport()`` gives the ``httpx.MockTransport`` to build an ``AsyncClient`` on."""

    def __init__(self, *, now_ms: Callable[[], int] | None = None) -> None:
        self._now_ms = now_ms
        self.klines: dict[tuple[Market, str, str], _Rows] = {}
        self.funding: dict[str, _Rows] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []  # (path, query) of every request, failed ones included
        self.faults = FaultSchedule()

    # -- set up ------------------------------------------------------------------------------------------------

    def add_bars(self, market: Market, pair: str, interval: str, bars: Iterable[Bar]) -> None:
        rows = self.klines.setdefault((market, pair, interval), _Rows())
        interval_ms = INTERVAL_MS[interval]
        for bar in bars:
            rows.put(bar.ts, json.dumps(kline_row(bar, interval_ms)))

    def add_funding(self, pair: str, rates: Iterable[tuple[int, float]], mark_price: float = 30_000.0) -> None:
        rows = self.funding.setdefault(pair, _Rows())
        for time, rate in rates:
            wire = {"symbol": pair, "fundingTime": time, "fundingRate": f"{rate:.8f}", "markPrice": f"{mark_price:.8f}"}
            rows.put(time, json.dumps(wire))

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    # -- what happened -----------------------------------------------------------------------------------------

    def count(self, path: str | None = None) -> int:
        return sum(1 for seen, _ in self.requests if path is None or seen == path)

    def queries(self, path: str) -> list[dict[str, str]]:
        return [query for seen, query in self.requests if seen == path]

    # -- the server --------------------------------------------------------------------------------------------

    async def handle(self, request: httpx.Request) -> httpx.Response:
        query = dict(parse_qsl(request.url.query.decode()))
        self.requests.append((request.url.path, query))
        failed = await self.faults.apply(request)
        if failed is not None:
            return failed
        if request.method != "GET":
            return _error(-1000, "Method not allowed", status=405)
        route = (request.url.host, request.url.path)
        if route == (SPOT_HOST, "/api/v3/klines"):
            return self._klines("spot", query, SPOT_KLINE_MAX)
        if route == (FUTURES_HOST, "/fapi/v1/klines"):
            return self._klines("futures", query, FUTURES_KLINE_MAX)
        if route == (FUTURES_HOST, "/fapi/v1/fundingRate"):
            return self._funding(query)
        return httpx.Response(404, text="<html><body><h1>404 Not Found</h1></body></html>")

    def _klines(self, market: Market, query: dict[str, str], max_limit: int) -> httpx.Response:
        pair, interval = query.get("symbol"), query.get("interval")
        if not pair:
            return _error(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
        if interval not in INTERVAL_MS:
            return _error(-1120, "Invalid interval.")
        if not any(key[:2] == (market, pair) for key in self.klines):
            return _error(-1121, "Invalid symbol.")
        window = self._window(query, KLINE_DEFAULT, max_limit)
        if isinstance(window, httpx.Response):
            return window
        rows = self.klines.get((market, pair, interval), _Rows()).select(*window)
        return self._json_array(rows)

    def _funding(self, query: dict[str, str]) -> httpx.Response:
        pair = query.get("symbol")
        if pair not in self.funding:
            return _error(-1121, "Invalid symbol.")
        window = self._window(query, FUNDING_DEFAULT, FUNDING_MAX)
        if isinstance(window, httpx.Response):
            return window
        return self._json_array(self.funding[pair].select(*window))

    def _window(self, query: dict[str, str], default: int, max_limit: int) -> _Window | httpx.Response:
        try:
            start = int(query["startTime"]) if "startTime" in query else None
            end = int(query["endTime"]) if "endTime" in query else None
            limit = int(query.get("limit", default))
        except ValueError:
            return _error(-1100, "Illegal characters found in a parameter.")
        if not 1 <= limit <= max_limit:
            return _error(-1130, "Data sent for parameter 'limit' is not valid.")
        if self._now_ms is not None:
            end = self._now_ms() if end is None else min(end, self._now_ms())
        return start, end, limit

    @staticmethod
    def _json_array(rows: list[str]) -> httpx.Response:
        headers = {"Content-Type": "application/json", "X-MBX-USED-WEIGHT-1M": "2"}
        return httpx.Response(200, headers=headers, content=("[" + ",".join(rows) + "]").encode())


def make_rates(start_ms: int, count: int, every_ms: int = 8 * 3_600_000) -> list[tuple[int, float]]:
    """``count`` funding settlements from ``start_ms``, each rate a known function of its index."""
    return [(start_ms + index * every_ms, 0.0001 * ((index % 7) - 2)) for index in range(count)]
