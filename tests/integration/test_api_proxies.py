"""Behind nginx: the forwarded client address and scheme are believed from trusted proxies only (a real hypercorn
on loopback; 127.0.0.1, the test client, plays the proxy)."""

from __future__ import annotations

from pathlib import Path

from tests.integration.api_support import TOKEN, api_config, served

ALLOWED = "[203.0.113.0/24]"  # documentation addresses: the real clients behind the proxy


async def test_a_trusted_proxy_names_the_client_the_allow_list_judges(tmp_path: Path) -> None:
    config = api_config(allowlist=ALLOWED, B1E55ED_API__TRUSTED_PROXIES="[127.0.0.1]")
    async with served(tmp_path, config, cycles=0) as server, server.client() as client:
        forwarded = await client.get("/health", headers={"X-Forwarded-For": "203.0.113.7"})
        the_proxy_itself = await client.get("/health")
        # A client behind the proxy that sends the header itself: the proxy appends the peer it saw, the rightmost.
        forged = await client.get("/health", headers={"X-Forwarded-For": "203.0.113.7, 198.51.100.9"})
        garbage = await client.get("/health", headers={"X-Forwarded-For": "203.0.113.7, not-an-address"})
    assert forwarded.status_code == 200
    assert the_proxy_itself.status_code == 403
    assert forged.status_code == 403
    assert "198.51.100.9" in forged.json()["error"]
    assert garbage.status_code == 403  # nothing believed left of what no proxy wrote


async def test_forwarded_headers_from_anyone_else_are_ignored(tmp_path: Path) -> None:
    config = api_config(allowlist=ALLOWED, B1E55ED_API__TRUSTED_PROXIES="[10.0.0.0/8]")
    async with served(tmp_path, config, cycles=0) as server, server.client() as client:
        spoofed = await client.get("/health", headers={"X-Forwarded-For": "203.0.113.7"})
    assert spoofed.status_code == 403
    assert "127.0.0.1" in spoofed.json()["error"]


async def test_the_rate_limit_counts_each_client_behind_the_proxy(tmp_path: Path) -> None:
    config = api_config(rate=2, B1E55ED_API__TRUSTED_PROXIES="[127.0.0.1]")
    async with served(tmp_path, config, cycles=0) as server, server.client() as client:
        first = [await client.get("/health", headers={"X-Forwarded-For": "203.0.113.1"}) for _ in range(3)]
        second = await client.get("/health", headers={"X-Forwarded-For": "203.0.113.2"})
    assert [r.status_code for r in first] == [200, 200, 429]
    assert second.status_code == 200


async def test_the_session_cookie_is_secure_when_the_proxy_says_https(tmp_path: Path) -> None:
    body = {"token": TOKEN}
    trusted = api_config(token=TOKEN, B1E55ED_API__TRUSTED_PROXIES="[127.0.0.1]")
    async with served(tmp_path, trusted, cycles=0) as server, server.client(auth=False) as client:
        https = await client.post("/auth/session", json=body, headers={"X-Forwarded-Proto": "https"})
        plain = await client.post("/auth/session", json=body)
    untrusted = api_config(token=TOKEN)
    async with served(tmp_path / "b", untrusted, cycles=0) as server, server.client(auth=False) as client:
        claimed = await client.post("/auth/session", json=body, headers={"X-Forwarded-Proto": "https"})
    assert "secure" in https.headers["set-cookie"].lower()
    assert "secure" not in plain.headers["set-cookie"].lower()
    assert "secure" not in claimed.headers["set-cookie"].lower()
