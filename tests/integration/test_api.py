"""The API against real hypercorn on loopback, over a runtime whose SQLite log holds two seeded cycles."""

from __future__ import annotations

import base64
import hashlib
import logging
from pathlib import Path

import pytest

from b1e55ed.api.server import UnsafeBind, check_bind
from b1e55ed.config import ApiConfig, Secret
from b1e55ed.eventlog.chain import GENESIS
from b1e55ed.messages import KillSwitchChanged
from tests.integration.api_support import DECISION_ID, T0, TOKEN, api_config, cycle_events, served


async def test_health_reports_components_producers_and_the_last_cycle(tmp_path: Path) -> None:
    async with served(tmp_path) as server, server.client() as client:
        response = await client.get("/health")
    assert response.status_code == 200
    health = response.json()
    assert health["status"] == "healthy"
    assert health["components"]["database"] == "ok"
    assert health["components"]["last_cycle"] == "2024-01-01T02:00:00Z"
    assert set(health["producers"]) == {"momentum", "rsi"}
    assert health["last_cycle"]["cycle"] == 2
    assert health["killswitch"] == "ACTIVE"
    assert health["actors"]["api"]["state"] == "running"


async def test_signals_filter_by_symbol_producer_since_and_limit(tmp_path: Path) -> None:
    async with served(tmp_path, cycles=3) as server, server.client() as client:
        everything = (await client.get("/signals")).json()
        rsi = (await client.get("/signals", params={"producer": "rsi"})).json()
        recent = (await client.get("/signals", params={"since": (T0 + 2 * 3_600_000) // 1000})).json()
        one = (await client.get("/signals", params={"symbol": "BTC", "limit": 1})).json()
        none = (await client.get("/signals", params={"symbol": "DOGE"})).json()
    assert everything["count"] == 6
    assert [s["id"] for s in everything["signals"]] == sorted((s["id"] for s in everything["signals"]), reverse=True)
    assert {s["producer"] for s in rsi["signals"]} == {"rsi"}
    assert rsi["count"] == 3
    assert {s["cycle"] for s in recent["signals"]} == {2, 3}
    assert one["count"] == 1
    assert one["signals"][0]["cycle"] == 3
    assert one["signals"][0]["metadata"] == {"value": 1.5}
    assert none == {"signals": [], "count": 0}


async def test_positions_trades_orders_and_strategy_stats(tmp_path: Path) -> None:
    async with served(tmp_path) as server, server.client() as client:
        positions = (await client.get("/positions")).json()["positions"]
        trades = (await client.get("/trades")).json()["trades"]
        orders = (await client.get("/orders", params={"limit": 1})).json()["orders"]
        strategies = (await client.get("/strategies")).json()["strategies"]
    [position] = positions  # cycle 1's position closed; cycle 2's is open
    assert position["symbol"] == "BTC"
    assert position["side"] == "long"
    assert position["mark"] == 42_200.0
    assert position["pnl"] == 0.0
    assert {"entry_price", "size", "stop", "target", "opened_ts"} <= set(position)
    assert [t["cycle"] for t in trades] == [2, 1]
    assert len(orders) == 1
    assert orders[0]["status"] == "filled"
    assert strategies == [
        {"name": "confluence", "trades": 1, "win_rate": 1.0, "pnl": 10.0, "sharpe": None, "max_drawdown": 0.0}
    ]


async def test_karma_serves_scorecards_reliability_bins_and_patterns(tmp_path: Path) -> None:
    async with served(tmp_path, cycles=3) as server, server.client() as client:
        karma = (await client.get("/karma")).json()
    assert karma["version"] == 1
    cards = {card["name"]: card for card in karma["sources"]}
    assert set(cards) == {"momentum", "rsi"}
    momentum, rsi = cards["momentum"]["overall"], cards["rsi"]["overall"]
    assert (momentum["count"], momentum["effective"], momentum["hit_rate"]) == (2, 2.0, 1.0)
    assert (rsi["hit_rate"], rsi["brier"]) == (0.0, pytest.approx(0.09))
    assert cards["rsi"]["calibration"] == [0.25] * 7 + [0.3] * 3
    [bin_] = [b for b in cards["rsi"]["reliability"] if b["count"]]
    assert (bin_["low"], bin_["predicted"], bin_["observed"], bin_["count"]) == (0.3, 0.3, 0.0, 2.0)
    assert karma["patterns"] == []  # two outcomes of momentum+rsi: fewer than min_samples


async def test_a_decision_explains_itself(tmp_path: Path) -> None:
    async with served(tmp_path) as server, server.client() as client:
        listed = (await client.get("/decisions")).json()["decisions"]
        response = await client.get(f"/decisions/{DECISION_ID}")
        missing = await client.get("/decisions/0xnothing")
    assert {d["taken"] for d in listed} == {True, False}
    decision = response.json()
    assert decision["taken"] is True
    assert decision["strategy"] == "confluence"
    assert [(p["producer"], p["conviction"]) for p in decision["producers"]] == [("momentum", 6), ("rsi", 8)]
    assert decision["producers"][1]["rationale"] == "rsi says up"
    assert decision["context"] == {"atr_pct": 1.2, "volume_ratio": 0.9}
    assert decision["sizing"]["notional"] == 500.0
    assert [c["name"] for c in decision["checks"]] == ["max_position", "max_leverage"]
    assert decision["verdict"]["approved"] is True
    assert decision["order"]["status"] == "filled"
    assert missing.status_code == 404
    assert missing.json()["parameter"] == "decision_id"


async def test_events_let_an_outsider_recompute_the_chain(tmp_path: Path) -> None:
    async with served(tmp_path) as server, server.client() as client:
        first = (await client.get("/events", params={"limit": 10})).json()
        rest = (await client.get("/events", params={"after": first["next_after"], "limit": 1000})).json()
    events = first["events"] + rest["events"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    prev = GENESIS
    for event in events:
        payload = base64.b64decode(event["payload"])
        assert bytes.fromhex(event["prev_hash"]) == prev
        digest = hashlib.sha256(prev + event["seq"].to_bytes(8, "big") + payload).digest()
        assert digest.hex() == event["hash"]
        prev = digest
    assert rest["head"] == {"seq": events[-1]["seq"], "hash": prev.hex()}


async def test_metrics_are_prometheus_text(tmp_path: Path) -> None:
    async with served(tmp_path) as server, server.client() as client:
        await client.get("/nope")
        response = await client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = dict(line.split(" ", 1) for line in response.text.splitlines() if line and not line.startswith("#"))
    assert samples["b1e55ed_cycles_total"] == "2"
    assert int(samples["b1e55ed_orders_total"]) == 4
    assert samples["b1e55ed_sse_clients"] == "0"
    assert int(samples["b1e55ed_http_client_errors_total"]) >= 1
    for name in ("cycle_seconds_last", "events_per_second", "http_server_errors_total", "actor_restarts_total"):
        assert f"b1e55ed_{name}" in samples


async def test_openapi_describes_every_route(tmp_path: Path) -> None:
    async with served(tmp_path) as server, server.client() as client:
        schema = (await client.get("/openapi.json")).json()
    expected = {
        "/health",
        "/signals",
        "/positions",
        "/scan",
        "/strategies",
        "/trades",
        "/orders",
        "/decisions",
        "/decisions/{decision_id}",
        "/events",
        "/killswitch",
        "/metrics",
        "/stream",
        "/openapi.json",
        "/auth/session",
    }
    assert expected <= set(schema["paths"])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/signals?limit=0", "limit"),
        ("/signals?limit=lots", "limit"),
        ("/signals?since=-5", "since"),
        ("/signals?since=", "since"),
        ("/signals?symbol=" + "X" * 65, "symbol"),
        ("/events?after=99999999999999999999", "after"),
        ("/stream?types=signal,gossip", "types"),
    ],
)
async def test_bad_parameters_answer_400_naming_the_parameter(tmp_path: Path, path: str, parameter: str) -> None:
    async with served(tmp_path, cycles=0) as server, server.client() as client:
        response = await client.get(path)
    assert response.status_code == 400
    body = response.json()
    assert body["parameter"] == parameter
    assert f"`{parameter}`" in body["error"]


async def test_bad_bodies_and_routes_answer_json_errors(tmp_path: Path) -> None:
    async with served(tmp_path, api_config(token=TOKEN), cycles=0) as server, server.client() as client:
        not_json = await client.post("/killswitch", content=b"{nope")
        no_state = await client.post("/killswitch", json={})
        bad_state = await client.post("/killswitch", json={"state": "PANIC"})
        too_big = await client.post("/killswitch", content=b"x" * 10_000)
        unknown = await client.get("/nowhere")
        wrong_method = await client.delete("/signals")
    assert (not_json.status_code, not_json.json()["parameter"]) == (400, "body")
    assert (no_state.status_code, no_state.json()["parameter"]) == (400, "state")
    assert (bad_state.status_code, bad_state.json()["parameter"]) == (400, "state")
    assert too_big.status_code == 413
    assert unknown.status_code == 404
    assert "/nowhere" in unknown.json()["error"]
    assert wrong_method.status_code == 405
    assert "DELETE" in wrong_method.json()["error"]


async def test_the_token_is_required_except_for_health(tmp_path: Path) -> None:
    async with served(tmp_path, api_config(token=TOKEN), cycles=0) as server:
        async with server.client(auth=False) as anonymous:
            refused = await anonymous.get("/signals")
            wrong = await anonymous.get("/signals", headers={"Authorization": "Bearer not-the-token"})
            health = await anonymous.get("/health")
            stream = await anonymous.get("/stream")
        async with server.client() as client:
            allowed = await client.get("/signals")
    assert refused.status_code == 401
    assert "Authorization: Bearer" in refused.json()["error"]
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert wrong.status_code == 401
    assert stream.status_code == 401
    assert health.status_code == 200
    assert allowed.status_code == 200


async def test_the_dashboard_session_cookie_authenticates_like_the_token(tmp_path: Path) -> None:
    async with served(tmp_path, api_config(token=TOKEN), cycles=0) as server, server.client(auth=False) as client:
        wrong = await client.post("/auth/session", json={"token": "guess"})
        session = await client.post("/auth/session", json={"token": TOKEN})
        with_cookie = await client.get("/signals")
    assert wrong.status_code == 401
    assert session.status_code == 200
    cookie = session.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert TOKEN not in cookie
    assert with_cookie.status_code == 200


async def test_without_a_token_mutating_routes_answer_403_saying_how_to_set_one(tmp_path: Path) -> None:
    async with served(tmp_path, cycles=0) as server, server.client() as client:
        reading = await client.get("/signals")
        killswitch = await client.post("/killswitch", json={"state": "HALTED"})
    assert reading.status_code == 200
    assert killswitch.status_code == 403
    assert "B1E55ED_API__AUTH_TOKEN" in killswitch.json()["error"]
    assert server.runtime.gate.state == "ACTIVE"


async def test_past_the_rate_limit_the_answer_is_429_with_retry_after(tmp_path: Path) -> None:
    async with served(tmp_path, api_config(rate=5), cycles=0) as server, server.client() as client:
        statuses = [(await client.get("/health")).status_code for _ in range(5)]
        refused = await client.get("/health")
    assert statuses == [200] * 5
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert "rate limit" in refused.json()["error"]


async def test_cors_answers_configured_origins_only(tmp_path: Path) -> None:
    config = api_config(cors="[http://desk.example]")
    async with served(tmp_path, config, cycles=0) as server, server.client() as client:
        allowed = await client.get("/health", headers={"Origin": "http://desk.example"})
        other = await client.get("/health", headers={"Origin": "http://evil.example"})
        preflight = await client.options(
            "/signals",
            headers={
                "Origin": "http://desk.example",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "Authorization",
            },
        )
    assert allowed.headers["access-control-allow-origin"] == "http://desk.example"
    assert "access-control-allow-origin" not in other.headers
    assert preflight.status_code == 200
    assert "GET" in preflight.headers["access-control-allow-methods"]


async def test_an_address_outside_the_allow_list_is_refused(tmp_path: Path) -> None:
    async with served(tmp_path, api_config(allowlist="[10.0.0.0/8]"), cycles=0) as server, server.client() as client:
        refused = await client.get("/health")
    assert refused.status_code == 403
    assert "ip_allowlist" in refused.json()["error"]


async def test_the_killswitch_route_changes_the_state_and_logs_it(tmp_path: Path) -> None:
    async with served(tmp_path, api_config(token=TOKEN), cycles=0) as server, server.client() as client:
        halted = (await client.post("/killswitch", json={"state": "HALTED"})).json()
        again = (await client.post("/killswitch", json={"state": "halt"})).json()
        health = (await client.get("/health")).json()
        last = await server.runtime.log.store.last_of_kind("killswitch")
    assert halted == {"state": "HALTED", "previous": "ACTIVE", "changed": True}
    assert again == {"state": "HALTED", "previous": "HALTED", "changed": False}
    assert health["killswitch"] == "HALTED"
    assert last is not None
    event = last.event()
    assert isinstance(event, KillSwitchChanged)
    assert event.cause == "manual"


async def test_scan_without_a_ticking_brain_is_409(tmp_path: Path) -> None:
    async with served(tmp_path, api_config(token=TOKEN), cycles=0) as server, server.client() as client:
        response = await client.post("/scan")
    assert response.status_code == 409
    assert "no brain" in response.json()["error"]


async def test_the_token_never_reaches_the_log(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with served(tmp_path, api_config(token=TOKEN), cycles=0) as server, server.client() as client:
        await client.post("/auth/session", json={"token": TOKEN})
        await client.get("/signals", params={"symbol": "BTC"})
        await client.get("/nope")
    assert caplog.records
    assert TOKEN not in caplog.text


def test_a_non_loopback_bind_needs_a_token() -> None:
    for host in ("127.0.0.1", "::1", "localhost"):
        check_bind(ApiConfig(host=host))
    with pytest.raises(UnsafeBind, match="B1E55ED_API__AUTH_TOKEN"):
        check_bind(ApiConfig(host="0.0.0.0"))
    check_bind(ApiConfig(host="0.0.0.0", auth_token=Secret(TOKEN)))


async def test_cached_answers_change_with_the_next_commit(tmp_path: Path) -> None:
    async with served(tmp_path, cycles=1) as server, server.client() as client:
        before = (await client.get("/signals")).json()
        again = (await client.get("/signals")).json()
        log = server.runtime.log
        await log.append(*cycle_events(2, first_seq=log.head.seq + 1))
        after = (await client.get("/signals")).json()
        strategies = (await client.get("/strategies")).json()["strategies"]
    assert again == before
    assert before["count"] == 2
    assert after["count"] == 4
    assert strategies[0]["trades"] == 1
