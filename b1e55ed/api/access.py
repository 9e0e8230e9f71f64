"""One line per request, to ``api.log`` or, for the dashboard's pages and assets, ``dashboard.log``: the client,
method, path (never the query string), status and time taken. Pure ASGI, so a stream is logged when it ends.

The lines go to the log files only (``logsetup`` keeps them off stderr), so a busy API does not drown the console.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

API = logging.getLogger("b1e55ed.api.access")
DASHBOARD = logging.getLogger("b1e55ed.api.dashboard.access")
DASHBOARD_PATHS = ("/static/", "/ui/")
DASHBOARD_PAGES = frozenset({"/", "/favicon.ico", "/auth/session"})


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            path: str = scope["path"]
            client = scope.get("client")
            logger = DASHBOARD if path in DASHBOARD_PAGES or path.startswith(DASHBOARD_PATHS) else API
            took_ms = (time.perf_counter() - started) * 1000
            logger.info("%s %s %s %d %.1f ms", client[0] if client else "-", scope["method"], path, status, took_ms)
