"""The dashboard's server side without a browser: the page, each panel fragment, the filter, the drill-down, auth.

Requests go through the real app (``create_app``) over httpx's ASGI transport; the log is an in-memory store
holding a few settled cycles (``desk.py``).
"""

from __future__ import annotations

import re

import httpx
import pytest

from b1e55ed.api.app import create_app
from b1e55ed.api.dashboard.panels import PANELS, SYNC_PANELS
from b1e55ed.api.security import SESSION_COOKIE, session_value
from b1e55ed.config import Secret
from b1e55ed.market.feed import Mids
from b1e55ed.market.mids import PriceBoard
from tests.e2e.desk import HOUR_MS, PRODUCERS, START_MS, desk_context, filled_store

BASE_URL = "http://127.0.0.1"


async def client(token: str = "") -> httpx.AsyncClient:
    store = await filled_store()
    app = create_app(desk_context(store, token=token))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL)


def rows(html: str, attribute: str) -> list[str]:
    return re.findall(rf'<tr[^>]*\b{attribute}="([^"]*)"', html)


async def test_page_renders_every_panel_with_data_and_local_assets_only() -> None:
    async with await client() as http:
        response = await http.get("/")
    assert response.status_code == 200
    html = response.text
    for panel in ("prices", "equity", "killswitch", "status", "positions", "scorecard", "signals", "decisions"):
        assert f'id="{panel}"' in html
    assert 'sse-connect="/stream?types=' in html
    assert 'id="simulated"' in html, "simulated prices must be labelled as such"
    assert "99,328.00" in html  # BTC's last close (cycle 6), in the price monitor and the marks
    assert len(rows(html, "data-decision")) == 12
    assert not re.search(r'(src|href)="(https?:)?//', html), "every asset must be served locally"


async def test_the_price_monitor_shows_the_latest_mid_over_the_last_close_and_the_close_without_one() -> None:
    store = await filled_store()
    ctx = desk_context(store)
    ctx.prices = PriceBoard(ctx.health)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(ctx)), base_url=BASE_URL) as http:
        closes = (await http.get("/ui/prices")).text
        page = (await http.get("/")).text
        polled = START_MS + 7 * HOUR_MS + 5_000
        ctx.prices.publish(Mids(ts=polled, source="simulated", prices={"BTC": 99_412.5, "ETH": 3_500.0}))
        mids = (await http.get("/ui/prices")).text
        live_page = (await http.get("/")).text
    assert "99,328.00" in closes  # BTC's last close (cycle 6)
    assert "data-mid=" in closes
    assert "mid " not in closes
    assert ">last close per cycle<" in page
    btc = mids[mids.index('data-symbol="BTC"') : mids.index('data-symbol="ETH"')]
    assert 'data-mid="99412.5"' in btc
    assert ">99,412.50<" in btc  # the mid is the big number
    assert "mid 07:00:05 · close 99,328.00" in btc  # when it was polled, and the last close
    sol = mids[mids.index('data-symbol="SOL"') :]
    assert 'data-mid=""' in sol  # no mid for SOL in that poll: its last close stays
    assert "live mids · last close per cycle" in live_page
    stream = re.search(r'sse-connect="/stream\?types=([a-z,]+)"', page)
    assert stream is not None
    assert "price" in stream.group(1).split(",")  # the page asks for the mids


async def test_each_panel_fragment_renders_alone() -> None:
    async with await client() as http:
        for name in PANELS:
            response = await http.get(f"/ui/{name}")
            assert response.status_code == 200, name
            assert "<html" not in response.text, f"/ui/{name} must be a fragment"


async def test_sync_refreshes_every_data_panel_out_of_band_keeping_the_filter() -> None:
    async with await client() as http:
        response = await http.get("/ui/sync", params={"producer": "momentum", "symbol": ""})
    html = response.text
    assert response.status_code == 200
    assert re.findall(r'<div id="([a-z]+)" hx-swap-oob="innerHTML">', html) == list(SYNC_PANELS)
    assert set(rows(html, "data-producer")) == {"momentum"}


async def test_signal_filter_narrows_the_table() -> None:
    async with await client() as http:
        everything = (await http.get("/ui/signals")).text
        rsi_btc = (await http.get("/ui/signals", params={"producer": "rsi", "symbol": "BTC"})).text
    assert set(rows(everything, "data-producer")) == set(PRODUCERS)
    assert set(rows(rsi_btc, "data-producer")) == {"rsi"}
    assert set(rows(rsi_btc, "data-symbol")) == {"BTC"}
    assert 0 < len(rows(rsi_btc, "data-symbol")) < len(rows(everything, "data-symbol"))


@pytest.mark.parametrize(("field", "value"), [("producer", "astrology"), ("symbol", "DOGE")])
async def test_signal_filter_refuses_unknown_names_naming_the_field(field: str, value: str) -> None:
    async with await client() as http:
        response = await http.get("/ui/signals", params={field: value})
    assert response.status_code == 400
    assert response.json()["parameter"] == field
    assert value in response.json()["error"]


async def test_drill_down_shows_producers_sizing_and_every_risk_check() -> None:
    async with await client() as http:
        taken = (await http.get("/ui/decisions/d-3-BTC")).text
        passed = (await http.get("/ui/decisions/d-3-ETH")).text
        missing = await http.get("/ui/decisions/nope")
    assert re.findall(r'data-check="([^"]+)" data-passed="true"', taken) == [
        "max_position",
        "max_leverage",
        "restricted_symbols",
    ]
    assert "APPROVED" in taken.upper()
    assert "stop distance" in taken
    for producer in PRODUCERS:
        assert f"{producer} reading on BTC at cycle 3" in taken
    assert "only 1 of 3 producers agree" in passed
    assert "Not sized" in passed
    assert missing.status_code == 404
    assert "nope" in missing.text


async def test_unknown_panel_is_a_404_naming_it() -> None:
    async with await client() as http:
        response = await http.get("/ui/horoscope")
    assert response.status_code == 404
    assert "horoscope" in response.json()["error"]


async def test_favicon_and_assets_are_served() -> None:
    async with await client() as http:
        favicon = await http.get("/favicon.ico")
        assets = [
            await http.get(path)
            for path in (
                "/static/dashboard.css",
                "/static/dashboard.js",
                "/static/vendor/htmx.min.js",
                "/static/vendor/htmx-ext-sse.min.js",
                "/static/fonts/jetbrains-mono-latin-300-normal.woff2",
            )
        ]
    assert favicon.status_code == 200
    assert favicon.headers["content-type"].startswith("image/svg+xml")
    assert [asset.status_code for asset in assets] == [200] * len(assets)


async def test_without_a_token_the_kill_switch_is_read_only() -> None:
    async with await client() as http:
        html = (await http.get("/ui/killswitch")).text
    assert html.count("disabled") == 3
    assert "B1E55ED_API__AUTH_TOKEN" in html


async def test_with_a_token_the_page_asks_for_it_and_the_cookie_unlocks_it() -> None:
    token = "correct horse battery staple"
    async with await client(token) as http:
        locked = await http.get("/")
        fragment = await http.get("/ui/signals")
        http.cookies.set(SESSION_COOKIE, session_value(Secret(token)))
        unlocked = await http.get("/")
        controls = await http.get("/ui/killswitch")
    assert locked.status_code == 200
    assert 'id="token-form"' in locked.text
    assert "sse-connect" not in locked.text
    assert token not in locked.text
    assert fragment.status_code == 401
    assert 'id="token-form"' not in unlocked.text
    assert "sse-connect" in unlocked.text
    assert controls.text.count("disabled") == 1  # only the button for the state already in force
