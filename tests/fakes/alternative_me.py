"""A fake alternative.me Fear & Greed API, for ``httpx.MockTransport``: no network, its wire format.

``GET api.alternative.me/fng/?limit=N&format=json`` answers ``{"name": "Fear and Greed Index", "data": [...],
"metadata": {"error": null}}``: the latest ``N`` daily readings (default 1, 0 for all), newest first, each
``{"value": "40", "value_classification": "Fear", "timestamp": "1551157200"}`` (seconds, 00:00 UTC), the newest
with ``time_until_update``. With ``now_ms``, only readings already published are served. Faults and crashes as in
``tests.fakes.binance``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from urllib.parse import parse_qsl

import httpx

from tests.fakes.binance import FaultSchedule

HOST = "api.alternative.me"
DAY_S = 86_400


def classify(value: int) -> str:
    """alternative.me's bands."""
    if value <= 24:
        return "Extreme Fear"
    if value <= 46:
        return "Fear"
    if value <= 54:
        return "Neutral"
    if value <= 75:
        return "Greed"
    return "Extreme Greed"


def make_readings(first_day_s: int, count: int) -> list[tuple[int, int, str]]:
    """``count`` daily readings from ``first_day_s``, each value a known function of its index."""
    values = [(index * 37) % 101 for index in range(count)]
    return [(first_day_s + index * DAY_S, value, classify(value)) for index, value in enumerate(values)]


class FakeAlternativeMe:
    def __init__(self, *, now_ms: Callable[[], int] | None = None) -> None:
        self._now_ms = now_ms
        self.readings: dict[int, tuple[str, str]] = {}  # timestamp (s) → (value, classification) as sent
        self.queries: list[dict[str, str]] = []
        self.faults = FaultSchedule()

    def add_readings(self, readings: Iterable[tuple[int, int | str, str]]) -> None:
        for timestamp, value, classification in readings:
            self.readings[timestamp] = (str(value), classification)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        query = dict(parse_qsl(request.url.query.decode()))
        self.queries.append(query)
        failed = await self.faults.apply(request)
        if failed is not None:
            return failed
        if (request.url.host, request.url.path) != (HOST, "/fng/"):
            return httpx.Response(404, text="Not Found")
        try:
            limit = int(query.get("limit", "1"))
        except ValueError:
            limit = 1
        published = sorted(
            (ts for ts in self.readings if self._now_ms is None or ts * 1000 <= self._now_ms()), reverse=True
        )
        chosen = published if limit <= 0 else published[:limit]
        data: list[dict[str, str]] = [
            {"value": self.readings[ts][0], "value_classification": self.readings[ts][1], "timestamp": str(ts)}
            for ts in chosen
        ]
        if data:
            data[0]["time_until_update"] = "3600"
        body = {"name": "Fear and Greed Index", "data": data, "metadata": {"error": None}}
        return httpx.Response(200, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
