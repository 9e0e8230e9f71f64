"""The dashboard's alerts panel: the latest alerts, each with its delivery state per channel."""

from __future__ import annotations

import re
from typing import Any

import httpx

from b1e55ed.api.app import create_app
from tests.e2e.desk import desk_context, filled_store

ALERTS: list[dict[str, Any]] = [
    {
        "id": 2,
        "seq": 90,
        "ts": 1_704_067_200_000,
        "trigger": "stop_hit",
        "severity": "warning",
        "text": "stop hit: BTC long 0.01 entry 42,000 exit 40,740, P&L -15.44; decision 0xabab",
        "deliveries": {
            "log": {"state": "sent", "attempts": 1, "last_error": ""},
            "telegram": {"state": "pending", "attempts": 3, "last_error": "HTTP 502"},
        },
    },
    {
        "id": 1,
        "seq": 12,
        "ts": 1_704_060_000_000,
        "trigger": "killswitch",
        "severity": "critical",
        "text": "kill switch ACTIVE → HALTED (manual)",
        "deliveries": {"log": {"state": "sent", "attempts": 1, "last_error": ""}},
    },
]


async def test_the_alerts_panel_shows_each_alert_and_its_delivery_per_channel() -> None:
    ctx = desk_context(await filled_store())
    asked: list[int] = []

    async def latest(limit: int) -> list[dict[str, Any]]:
        asked.append(limit)
        return ALERTS

    ctx.alerts = latest
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(ctx)), base_url="http://t") as http:
        page = (await http.get("/")).text
        panel = (await http.get("/ui/alerts")).text
    assert 'id="alerts"' in page
    assert asked == [50, 50]
    assert re.findall(r'data-alert="(\d+)"', panel) == ["2", "1"]
    assert re.findall(r'data-channel="(\w+)" data-state="(\w+)"', panel) == [
        ("log", "sent"),
        ("telegram", "pending"),
        ("log", "sent"),
    ]
    assert "3 attempt(s): HTTP 502" in panel
    assert "decision 0xabab" in panel


async def test_without_an_alerter_the_panel_says_there_is_nothing_yet() -> None:
    ctx = desk_context(await filled_store())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(ctx)), base_url="http://t") as http:
        panel = (await http.get("/ui/alerts")).text
    assert "No alerts yet" in panel
