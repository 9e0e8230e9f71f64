"""The guard in front of every route: IP allow-list, rate limit, then the bearer token. Pure ASGI, no buffering.

- **Allow-list** (``api.ip_allowlist``): when set, other addresses get 403.
- **Rate limit** (``api.rate_limit_per_min`` per IP; 0 = off): a token bucket that holds a minute's worth and
  refills continuously; past it, 429 with ``Retry-After`` in seconds.
- **Token** (``B1E55ED_API__AUTH_TOKEN``): every route but the public ones requires it, as
  ``Authorization: Bearer <token>`` or as the dashboard's HttpOnly session cookie (a browser's EventSource cannot
  send headers). Both are compared in constant time. Without a token the server only binds loopback, and
  mutating routes answer 403 saying how to set one.

The token never appears in a response, and this module logs no request header.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import time
from collections.abc import Iterable
from http.cookies import SimpleCookie

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from b1e55ed.api.errors import error_response
from b1e55ed.api.metrics import ApiMetrics
from b1e55ed.config import ApiConfig, Secret

SESSION_COOKIE = "b1e55ed_session"
PUBLIC_PATHS = frozenset({"/health", "/", "/favicon.ico", "/auth/session"})
PUBLIC_PREFIXES = ("/static/",)
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
NO_TOKEN = "no API token is configured: set B1E55ED_API__AUTH_TOKEN to enable {what}"
_MAX_CLIENTS = 10_000  # rate-limit buckets kept; the idlest are forgotten past it


def session_value(token: Secret) -> str:
    """The cookie's value: derived from the token, so the cookie never holds the token itself."""
    return hmac.new(token.reveal().encode(), b"b1e55ed dashboard session", hashlib.sha256).hexdigest()


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


class RateLimiter:
    """A token bucket per client address: ``per_minute`` requests, refilled continuously."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._rate = per_minute / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}  # address → (tokens, at)

    def retry_after(self, client: str, now: float | None = None) -> int:
        """0 when the request may go (and is counted), else the seconds to wait."""
        if self.per_minute <= 0:
            return 0
        now = time.monotonic() if now is None else now
        tokens, at = self._buckets.pop(client, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - at) * self._rate)
        if tokens >= 1.0:
            self._remember(client, tokens - 1.0, now)
            return 0
        self._remember(client, tokens, now)
        return max(1, math.ceil((1.0 - tokens) / self._rate))

    def _remember(self, client: str, tokens: float, now: float) -> None:
        self._buckets[client] = (tokens, now)  # re-inserted: the dict's order is least recently seen first
        if len(self._buckets) > _MAX_CLIENTS:
            del self._buckets[next(iter(self._buckets))]


class AllowList:
    def __init__(self, entries: Iterable[str]) -> None:
        self._networks = [ipaddress.ip_network(entry, strict=False) for entry in entries]

    def __bool__(self) -> bool:
        return bool(self._networks)

    def allows(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._networks)


class AccessGuard:
    def __init__(self, app: ASGIApp, *, config: ApiConfig, metrics: ApiMetrics) -> None:
        self.app = app
        self._token = config.auth_token
        self._session = session_value(config.auth_token) if config.auth_token else ""
        self._limiter = RateLimiter(config.rate_limit_per_min)
        self._allow = AllowList(config.ip_allowlist)
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        metrics = self._metrics

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                metrics.count_response(int(message["status"]))
            await send(message)

        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, counting_send)
            return
        await self.app(scope, receive, counting_send)

    def _refusal(self, scope: Scope) -> Response | None:
        client = scope.get("client")
        address = client[0] if client else ""
        path: str = scope["path"]
        method: str = scope["method"]
        if self._allow and not self._allow.allows(address):
            return error_response(403, f"address {address or 'unknown'} is not in api.ip_allowlist")
        if wait := self._limiter.retry_after(address):
            per_minute = self._limiter.per_minute
            return error_response(
                429,
                f"rate limit of {per_minute} requests a minute exceeded; retry in {wait} s",
                headers={"Retry-After": str(wait)},
            )
        if method == "OPTIONS":
            return None
        if not self._token:
            if method in MUTATING:
                return error_response(403, NO_TOKEN.format(what=f"{method} {path}"))
            return None
        if is_public(path) or self._authorized(scope):
            return None
        return error_response(
            401,
            "missing or wrong API token: send `Authorization: Bearer <token>`",
            headers={"WWW-Authenticate": 'Bearer realm="b1e55ed"'},
        )

    def _authorized(self, scope: Scope) -> bool:
        authorization = ""
        cookie = ""
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"cookie":
                cookie = value.decode("latin-1")
        scheme, _, credential = authorization.partition(" ")
        if scheme.lower() == "bearer" and self._token.matches(credential.strip()):
            return True
        if cookie:
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(cookie)
            except Exception:
                return False
            morsel = jar.get(SESSION_COOKIE)
            if morsel is not None and hmac.compare_digest(morsel.value.encode(), self._session.encode()):
                return True
        return False
