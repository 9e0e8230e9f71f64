"""``GET /metrics`` in Prometheus text format: cycle time, events/s, orders, errors, SSE clients.

``ApiMetrics`` is fed by the hub (every committed batch), the brain (each cycle's wall time, tick to settlement)
and the HTTP middleware; what is counted elsewhere (hub subscribers, actor restarts) is read at render.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from b1e55ed.broadcast import Broadcast
from b1e55ed.eventlog.chain import Record
from b1e55ed.health import HealthRegistry

_RATE_WINDOW_S = 60.0


@dataclass
class ApiMetrics:
    requests: int = 0
    server_errors: int = 0
    client_errors: int = 0
    rate_limited: int = 0
    events: int = 0
    orders: int = 0
    fills: int = 0
    alerts: int = 0
    cycles: int = 0
    cycles_timed: int = 0
    last_cycle_s: float = 0.0
    cycle_seconds_sum: float = 0.0
    sse_connections: int = 0
    sse_clients: int = 0
    sse_dropped: int = 0
    _recent: deque[tuple[float, int]] = field(default_factory=deque)

    def observe(self, records: Sequence[Record]) -> None:
        """Committed records, as the hub hands them on."""
        now = time.monotonic()
        self.events += len(records)
        self._recent.append((now, len(records)))
        while self._recent and now - self._recent[0][0] > _RATE_WINDOW_S:
            self._recent.popleft()
        for record in records:
            kind = record.kind
            if kind == "order":
                self.orders += 1
            elif kind == "fill":
                self.fills += 1
            elif kind == "alert":
                self.alerts += 1
            elif kind == "settled":
                self.cycles += 1

    def cycle_timed(self, seconds: float) -> None:
        """The brain's measure of one cycle, tick sent to settlement committed (wall time)."""
        self.cycles_timed += 1
        self.last_cycle_s = seconds
        self.cycle_seconds_sum += seconds

    def events_per_second(self) -> float:
        if not self._recent:
            return 0.0
        span = max(time.monotonic() - self._recent[0][0], 1.0)
        return sum(n for _, n in self._recent) / span

    def count_response(self, status: int) -> None:
        self.requests += 1
        if status >= 500:
            self.server_errors += 1
        elif status == 429:
            self.rate_limited += 1
        elif status >= 400:
            self.client_errors += 1

    def render(self, hub: Broadcast[Record], health: HealthRegistry) -> str:
        restarts = sum(snap.restarts for snap in health.snapshot().values())
        lines: list[str] = []

        def metric(name: str, kind: str, help_text: str, value: float) -> None:
            lines.append(f"# HELP b1e55ed_{name} {help_text}")
            lines.append(f"# TYPE b1e55ed_{name} {kind}")
            lines.append(f"b1e55ed_{name} {value}")

        metric("cycles_total", "counter", "Brain cycles settled since the API started.", self.cycles)
        metric("cycle_seconds_last", "gauge", "Wall time of the last cycle, tick to settlement.", self.last_cycle_s)
        metric("cycle_seconds_sum", "counter", "Wall time spent in cycles.", self.cycle_seconds_sum)
        metric("cycle_seconds_count", "counter", "Cycles timed by the brain.", self.cycles_timed)
        metric("events_total", "counter", "Events committed to the log since the API started.", self.events)
        metric(
            "events_per_second",
            "gauge",
            "Events committed per second over the last minute.",
            round(self.events_per_second(), 3),
        )
        metric("orders_total", "counter", "Order state changes committed.", self.orders)
        metric("fills_total", "counter", "Fills committed.", self.fills)
        metric("alerts_total", "counter", "Alerts committed.", self.alerts)
        metric("actor_restarts_total", "counter", "Actor restarts by the supervisor.", restarts)
        metric("http_requests_total", "counter", "HTTP requests answered.", self.requests)
        metric("http_server_errors_total", "counter", "HTTP answers with a 5xx status.", self.server_errors)
        metric(
            "http_client_errors_total", "counter", "HTTP answers with a 4xx status other than 429.", self.client_errors
        )
        metric("http_rate_limited_total", "counter", "HTTP requests refused by the rate limit.", self.rate_limited)
        metric("sse_clients", "gauge", "SSE clients connected now.", self.sse_clients)
        metric("sse_connections_total", "counter", "SSE connections accepted.", self.sse_connections)
        metric("sse_dropped_total", "counter", "SSE clients dropped for falling behind.", self.sse_dropped)
        metric(
            "hub_subscribers", "gauge", "Broadcast hub subscribers (SSE clients and internal).", hub.subscriber_count
        )
        return "\n".join(lines) + "\n"
