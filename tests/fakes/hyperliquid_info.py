"""A fake Hyperliquid ``/info`` server, for ``httpx.MockTransport``: no network, Hyperliquid's wire format.

It answers ``allMids`` and ``candleSnapshot`` as the real API documents them (hyperliquid.gitbook.io, "Info
endpoint"): prices and sizes as decimal strings, ``t``/``T`` as integer ms with ``T`` = ``t`` + interval - 1, at
most 5,000 candles per answer (the first 5,000 opening in [startTime, endTime]), and a body it cannot read answered
with 422 and Hyperliquid's text. It counts requests and the weight the real server would charge (taking the
documented "per 60 candles" step as ``len // 60``), and can be told to fail the next requests: an HTTP status (429
with ``Retry-After``, 5xx), a body of our choosing, one that is not JSON, a connection that cannot be made, or one
that never answers.

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

RESPONSE_CANDLE_CAP = 5000  # documented: "Only the most recent 5000 candles are available"
DESERIALIZE_ERROR = "Failed to deserialize the JSON body into the target type"

INTERVAL_MS = {
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
    "3d": 259_200_000,
    "1w": 604_800_000,
}

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
        self.requests: list[dict[str, Any]] = []
        self.weight_charged = 0
        self._faults: deque[Fault] = deque()
        # request type → answer; a mock exchange adds its own (clearinghouseState, openOrders, orderStatus, ...)
        self.answers: dict[Any, Callable[[dict[str, Any]], httpx.Response]] = {
            "allMids": self._all_mids,
            "candleSnapshot": self._candle_snapshot,
        }

    # -- set up ------------------------------------------------------------------------------------------------

    def set_mids(self, mids: Mapping[str, float]) -> None:
        self.mids.update(mids)

    def add_bars(self, coin: str, interval: str, bars: Iterable[Bar]) -> None:
        series = self.candles.setdefault((coin, interval), {})
        for bar in bars:
            series[bar.ts] = bar

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
        if self._faults:
            fault = self._faults.popleft()
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
        answer = self.answers.get(body.get("type")) if isinstance(body, dict) else None
        if answer is None:
            return httpx.Response(422, text=DESERIALIZE_ERROR)
        return answer(body)

    def _all_mids(self, body: dict[str, Any]) -> httpx.Response:
        self.weight_charged += 2
        return httpx.Response(200, json={coin: _decimal(price) for coin, price in self.mids.items()})

    def _candle_snapshot(self, body: dict[str, Any]) -> httpx.Response:
        req = body.get("req")
        if not isinstance(req, dict):
            return httpx.Response(422, text=DESERIALIZE_ERROR)
        coin, interval = req.get("coin"), req.get("interval")
        start, end = req.get("startTime"), req.get("endTime")
        if not isinstance(coin, str) or interval not in INTERVAL_MS or not isinstance(start, int):
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
