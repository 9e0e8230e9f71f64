"""What the API's routes need, handed to ``create_app``: the runtime's objects, never module-level state."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from b1e55ed.api.cache import ResponseCache
from b1e55ed.api.metrics import ApiMetrics
from b1e55ed.api.queries import ReadModel
from b1e55ed.broadcast import Broadcast
from b1e55ed.clock import Clock
from b1e55ed.config import Config
from b1e55ed.errors import ScanRefused
from b1e55ed.eventlog.chain import Record
from b1e55ed.eventlog.store import EventStore
from b1e55ed.health import HealthRegistry
from b1e55ed.market.mids import PriceBoard
from b1e55ed.messages import TradingStateName
from b1e55ed.tradingstate import TradingGate

ScanRequest = Callable[[], Awaitable[dict[str, Any]]]
"""Run one brain cycle now and return its result once it settled; raises ``b1e55ed.errors.ScanRefused``."""

KillSwitchRequest = Callable[[TradingStateName], Awaitable[dict[str, Any]]]
"""Move trading to a state; returns ``{"state", "previous", "changed"}`` once the change is committed."""


AlertsFeed = Callable[[int], Awaitable[list[dict[str, Any]]]]
"""The latest alerts, newest first, each with its delivery state per channel (``AlertStore.latest``)."""


async def _no_alerts(limit: int) -> list[dict[str, Any]]:
    return []


async def _no_scan() -> dict[str, Any]:
    raise ScanRefused("no brain is running in this process, so there is no cycle to trigger")


@dataclass
class ApiContext:
    config: Config
    store: EventStore
    hub: Broadcast[Record]
    health: HealthRegistry
    gate: TradingGate
    clock: Clock
    read: ReadModel
    strategies: list[str]
    symbols: list[str]
    killswitch: KillSwitchRequest
    scan: ScanRequest = _no_scan
    alerts: AlertsFeed = _no_alerts
    metrics: ApiMetrics = field(default_factory=ApiMetrics)
    cache: ResponseCache = field(default_factory=ResponseCache)
    sse_heartbeat_s: float = 15.0
    trading_busy: Callable[[], bool] = lambda: False
    """True while a cycle runs: the SSE fan-out waits, so streams never compete with a cycle for the loop."""
    prices: PriceBoard | None = None
    """The live price monitor (mid prices for the dashboard and ``price`` frames); None when nothing polls."""
