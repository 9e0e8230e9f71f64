"""The dashboard's panels: for each, the template that draws it and the read-model queries that feed it.

The page renders every panel on the server in one response, so the first paint is complete. Afterwards a burst of
SSE events (a cycle commits dozens at once) triggers one ``/ui/sync`` request that redraws every data panel as
out-of-band swaps: one pass over the read model and one swap in the browser, rather than a request per panel
contending for the same SQLite thread. ``/ui/<panel>`` serves a single panel (the signal filter, the kill switch,
the status poll).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from b1e55ed.api.context import ApiContext
from b1e55ed.api.dashboard.charts import equity_chart, reliability_points
from b1e55ed.api.errors import ApiError

SIGNAL_ROWS = 40
DECISION_ROWS = 30
EQUITY_POINTS = 500
KARMA_PATTERNS = 5
ALERT_ROWS = 50


Loader = Callable[[ApiContext, Mapping[str, str]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Panel:
    template: str
    load: Loader


def producer_names(ctx: ApiContext) -> list[str]:
    return [spec.name for spec in ctx.config.brain.producers if spec.enabled]


def signal_filter(ctx: ApiContext, params: Mapping[str, str]) -> dict[str, str]:
    """The producer and symbol to show; empty means all. Unknown names are refused, naming the field."""
    chosen = {"producer": params.get("producer", "").strip(), "symbol": params.get("symbol", "").strip()}
    known = {"producer": producer_names(ctx), "symbol": list(ctx.symbols)}
    for field, value in chosen.items():
        if value and value not in known[field]:
            raise ApiError(400, f"unknown {field} {value!r}; expected one of {', '.join(known[field])}", field)
    return chosen


async def load_prices(ctx: ApiContext, params: Mapping[str, str]) -> dict[str, Any]:
    """Each symbol's last close per cycle (``price``, ``change_pct``, ``ts``) and, while the price monitor has
    one, its latest polled ``mid`` (else None); a symbol with a mid and no cycle yet has no close."""
    mids = ctx.prices.latest if ctx.prices is not None else None
    rows = {row["symbol"]: {**row, "mid": None} for row in await ctx.read.prices()}
    for symbol, mid in (mids.prices if mids is not None else {}).items():
        no_close = {"symbol": symbol, "price": None, "change_pct": None, "ts": None}
        rows.setdefault(symbol, no_close)["mid"] = mid
    return {"prices": [rows[symbol] for symbol in sorted(rows)], "mids": mids}


async def load_signals(ctx: ApiContext, params: Mapping[str, str]) -> dict[str, Any]:
    chosen = signal_filter(ctx, params)
    rows = await ctx.read.signals(
        symbol=chosen["symbol"] or None, producer=chosen["producer"] or None, limit=SIGNAL_ROWS
    )
    return {"signals": rows, "signal_filter": chosen}


async def load_positions(ctx: ApiContext, params: Mapping[str, str]) -> dict[str, Any]:
    return {"positions": await ctx.read.positions()}


async def load_scorecard(ctx: ApiContext, params: Mapping[str, str]) -> dict[str, Any]:
    return {"strategies": await ctx.read.strategies()}


async def load_status(ctx: ApiContext, params: Mapping[str, str]) -> dict[str, Any]:
    return {"health": await ctx.read.health()}


async def load_killswitch(ctx: ApiContext, params: Mapping[str, str]) -> dict[str, Any]:
    return {"trading_state": ctx.gate.state, "can_control": bool(ctx.config.api.auth_token)}


async def load_alerts(ctx: ApiContext, params: Mapping[str, str]) -> dict[str, Any]:
    return {"alerts": await ctx.alerts(ALERT_ROWS)}


async def load_decisions(ctx: ApiContext, params: Mapping[str, str]) -> dict[str, Any]:
    return {"decisions": await ctx.read.decisions(limit=DECISION_ROWS)}


async def load_equity(ctx: ApiContext, params: Mapping[str, str]) -> dict[str, Any]:
    curve = await ctx.read.equity_curve(limit=EQUITY_POINTS)
    return {
        "equity": equity_chart(curve, baseline=ctx.config.paper.starting_equity),
        "starting_equity": ctx.config.paper.starting_equity,
    }


async def load_karma(ctx: ApiContext, params: Mapping[str, str]) -> dict[str, Any]:
    karma = await ctx.read.karma(min_samples=ctx.config.karma.min_samples, top=KARMA_PATTERNS)
    diagrams = [
        {"name": card["name"], "kind": card["kind"], "points": reliability_points(card["reliability"])}
        for card in karma["sources"]
    ]
    return {"karma": karma, "reliability": diagrams}


PANELS: dict[str, Panel] = {
    "prices": Panel("partials/prices.html", load_prices),
    "signals": Panel("partials/signals.html", load_signals),
    "positions": Panel("partials/positions.html", load_positions),
    "scorecard": Panel("partials/scorecard.html", load_scorecard),
    "status": Panel("partials/status.html", load_status),
    "killswitch": Panel("partials/killswitch.html", load_killswitch),
    "decisions": Panel("partials/decisions.html", load_decisions),
    "equity": Panel("partials/equity.html", load_equity),
    "karma": Panel("partials/karma.html", load_karma),
    "alerts": Panel("partials/alerts.html", load_alerts),
}


SYNC_PANELS = ("prices", "equity", "positions", "status", "scorecard", "signals", "decisions", "karma", "alerts")
"""The panels one ``/ui/sync`` request refreshes after a burst of events; the kill switch has its own event."""

SYNC_TYPES = ("signal", "decision", "order", "fill", "position", "cycle", "karma")
"""The SSE event types that trigger ``/ui/sync``."""


async def load_panels(ctx: ApiContext, params: Mapping[str, str], names: Iterable[str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in names:
        data.update(await PANELS[name].load(ctx, params))
    return data
