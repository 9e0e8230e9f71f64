"""Every source the collectors read, faked behind one ``httpx.MockTransport`` that routes by host, on one clock.

``FakeSources(now_ms)`` holds a ``FakeBinance`` (spot and futures hosts), a ``FakeHyperliquidHistory`` and a
``FakeAlternativeMe``, all serving only what has been published by ``clock.now_ms()`` (a ``ManualClock``).
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TextIO

import httpx

from b1e55ed.clock import ManualClock
from b1e55ed.collect.http import JsonFetcher
from b1e55ed.collect.session import Session
from b1e55ed.jsonhttp import RetryPolicy
from tests.fakes.alternative_me import HOST as ALTERNATIVE_ME_HOST
from tests.fakes.alternative_me import FakeAlternativeMe
from tests.fakes.binance import FUTURES_HOST, SPOT_HOST, FakeBinance
from tests.fakes.hyperliquid_history import FakeHyperliquidHistory

HYPERLIQUID_HOST = "api.hyperliquid.xyz"


class FakeSources:
    def __init__(self, now_ms: int) -> None:
        self.clock = ManualClock(now_ms)
        self.binance = FakeBinance(now_ms=self.clock.now_ms)
        self.hyperliquid = FakeHyperliquidHistory(now_ms=self.clock.now_ms)
        self.alternative_me = FakeAlternativeMe(now_ms=self.clock.now_ms)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host in (SPOT_HOST, FUTURES_HOST):
            return await self.binance.handle(request)
        if host == HYPERLIQUID_HOST:
            return await self.hyperliquid.handle(request)
        if host == ALTERNATIVE_ME_HOST:
            return await self.alternative_me.handle(request)
        raise httpx.ConnectError(f"no route to {host} in the fake", request=request)

    @asynccontextmanager
    async def session(
        self,
        data_dir: Path,
        *,
        flush_interval_s: float = 0.0,
        policy: RetryPolicy | None = None,
        progress_stream: TextIO | None = None,
        spy: Callable[[httpx.Request], Awaitable[None]] | None = None,
    ) -> AsyncIterator[Session]:
        """A collector ``Session`` on these fakes; ``spy`` sees each request before the fake answers it."""

        async def handle(request: httpx.Request) -> httpx.Response:
            if spy is not None:
                await spy(request)
            return await self.handle(request)

        policy = policy if policy is not None else RetryPolicy(max_retries=2)
        async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as http:
            stream = progress_stream if progress_stream is not None else io.StringIO()
            yield Session(
                data_dir,
                JsonFetcher(http, policy),
                self.clock,
                progress_stream=stream,
                flush_interval_s=flush_interval_s,
            )
