"""Behind a reverse proxy (nginx): the client's address and scheme, from the headers of trusted proxies only.

A request whose direct peer is in ``api.trusted_proxies`` has its ``X-Forwarded-For`` and ``X-Forwarded-Proto``
believed; from anyone else they are ignored. The client is the rightmost ``X-Forwarded-For`` address that is not
itself a trusted proxy (each proxy appends the peer it saw), so a client cannot choose its address by sending the
header itself. The allow-list, the rate limit and the SSE limit then see that address, and a request that reached
the proxy over HTTPS is ``https`` here, so the session cookie is ``Secure``.

Hypercorn's ``ProxyFixMiddleware`` trusts a number of hops from whoever connects, not named proxies: a client that
reached the port directly could claim any address, hence this small middleware.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from b1e55ed.api.security import AllowList


class TrustedProxies:
    def __init__(self, app: ASGIApp, *, proxies: Iterable[str]) -> None:
        self.app = app
        self._proxies = AllowList(proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        peer = scope.get("client")
        if scope["type"] == "http" and peer and self._proxies.allows(peer[0]):
            scope = {**scope, **self._forwarded(scope["headers"], peer)}
        await self.app(scope, receive, send)

    def _forwarded(self, headers: Iterable[tuple[bytes, bytes]], peer: tuple[str, int]) -> dict[str, object]:
        chain: list[str] = []
        protos: list[str] = []
        for name, value in headers:
            if name == b"x-forwarded-for":
                chain += [part.strip() for part in value.decode("latin-1").split(",")]
            elif name == b"x-forwarded-proto":
                protos += [part.strip().lower() for part in value.decode("latin-1").split(",")]
        found: dict[str, object] = {}
        for address in reversed(chain):
            if not _is_address(address):
                break  # not something a proxy wrote: believe nothing further left
            found["client"] = (address, 0)
            if not self._proxies.allows(address):
                break
        if protos and protos[-1] in ("http", "https"):  # the last proxy's word: it is the one we trust
            found["scheme"] = protos[-1]
        return found or {"client": peer}


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
