"""The read side of the API and the dashboard: JSON-ready answers from the log's projections and events.

Everything here only reads the store (through the writer's connection or the in-memory store), so a query never
blocks trading beyond one SQLite call. Times are ms since the epoch, except a signal's ``timestamp`` and the
``since`` filter, which are Unix seconds as in the spec.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
import trio

from b1e55ed.api.recent import RecentRecords
from b1e55ed.clock import Clock
from b1e55ed.eventlog.chain import Record
from b1e55ed.eventlog.store import EventStore
from b1e55ed.health import HealthRegistry
from b1e55ed.karma.report import KarmaFold
from b1e55ed.messages import (
    CycleSettled,
    CycleStarted,
    Decision,
    KarmaScored,
    RiskVerdict,
    SnapshotRecorded,
    TradeDecided,
)
from b1e55ed.tradingstate import TradingGate

CLOSED = ("closed", "stopped")
KARMA_PAGE = 5_000
_PRICE_LOOKBACK = 50  # cycles searched for a symbol's latest and previous close


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).isoformat().replace("+00:00", "Z")


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


class ReadModel:
    def __init__(
        self,
        store: EventStore,
        *,
        health: HealthRegistry,
        gate: TradingGate,
        clock: Clock,
        strategies: Sequence[str],
        producers: Sequence[str],
        starting_equity: float,
        next_cycle: Callable[[], int | None] = lambda: None,
    ) -> None:
        self._store = store
        self._health = health
        self._gate = gate
        self._clock = clock
        self._strategies = list(strategies)
        self._producers = list(producers)
        self._starting_equity = starting_equity
        self._next_cycle = next_cycle
        self._karma, self._karma_after, self._karma_lock = KarmaFold(), 0, trio.Lock()
        self._karma_report: tuple[tuple[int, float, int], dict[str, Any]] | None = None
        self.recent = RecentRecords(store, {"cycle": _PRICE_LOOKBACK, "settled": 500, "snapshot": 1, "decision": 100})

    # -- signals, orders, trades ---------------------------------------------------------------------------

    async def signals(
        self, *, symbol: str | None = None, producer: str | None = None, since: int | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Newest first. ``since`` is Unix seconds (a signal's ``timestamp``)."""
        equals: dict[str, object] = {}
        if symbol:
            equals["symbol"] = symbol
        if producer:
            equals["producer"] = producer
        at_least = {"timestamp": since} if since is not None else None
        rows = await self._store.rows("signal_events", equals=equals, at_least=at_least, limit=limit)
        for row in rows:
            row["metadata"] = msgspec.json.decode(row["metadata"] or "{}")
        return rows

    async def orders(self, *, limit: int = 100) -> list[dict[str, Any]]:
        return await self._store.rows("order_events", limit=limit)

    async def trades(self, *, limit: int = 100) -> list[dict[str, Any]]:
        return await self._store.rows("trade_events", limit=limit)

    # -- positions and prices ------------------------------------------------------------------------------

    async def positions(self) -> list[dict[str, Any]]:
        """Open positions with their mark (the latest close the brain saw) and unrealised P&L."""
        rows = await self._store.rows("position_events", equals={"status": "open"}, limit=10_000)
        marks = {p["symbol"]: p["price"] for p in await self.prices()}
        positions = []
        for row in reversed(rows):
            mark = marks.get(row["symbol"])
            sign = 1.0 if row["side"] == "long" else -1.0
            pnl = None if mark is None else sign * (mark - row["entry_price"]) * row["size"]
            positions.append(
                {
                    "position_id": row["position_id"],
                    "symbol": row["symbol"],
                    "side": row["side"],
                    "size": row["size"],
                    "entry_price": row["entry_price"],
                    "mark": mark,
                    "pnl": pnl,
                    "stop": row["stop"],
                    "target": row["target"],
                    "opened_ts": row["opened_at"],
                }
            )
        return positions

    async def prices(self) -> list[dict[str, Any]]:
        """Each symbol's latest close, and its change since the previous cycle that saw it."""
        latest: dict[str, tuple[float, int]] = {}
        previous: dict[str, float] = {}
        for record in await self.recent.latest("cycle", _PRICE_LOOKBACK):
            event = record.event()
            assert isinstance(event, CycleStarted)
            for symbol, close in event.closes.items():
                if symbol not in latest:
                    latest[symbol] = (close, event.as_of)
                elif symbol not in previous:
                    previous[symbol] = close
        prices = []
        for symbol in sorted(latest):
            close, ts = latest[symbol]
            before = previous.get(symbol)
            change = None if not before else _finite((close / before - 1.0) * 100.0)
            prices.append({"symbol": symbol, "price": close, "change_pct": change, "ts": ts})
        return prices

    # -- strategies and equity -----------------------------------------------------------------------------

    async def strategies(self) -> list[dict[str, Any]]:
        """Per strategy, over its closed positions: trades, win rate, P&L, per-trade Sharpe, max drawdown (%)."""
        trades = {row["id"]: row["strategy"] for row in await self._store.projection("trade_events")}
        owner = {
            row["cloid"]: trades.get(row["trade_id"])
            for row in await self._store.projection("order_events")
            if row["role"] == "entry"
        }
        closed: dict[str, list[dict[str, Any]]] = {name: [] for name in self._strategies}
        for row in await self._store.projection("position_events"):
            strategy = owner.get(row["position_id"])
            if strategy is not None and row["status"] in CLOSED and row["pnl"] is not None:
                closed.setdefault(strategy, []).append(row)
        return [self._stats(name, sorted(rows, key=lambda r: r["closed_at"] or 0)) for name, rows in closed.items()]

    def _stats(self, name: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
        pnls = [float(row["pnl"]) for row in rows]
        returns = [
            float(row["pnl"]) / (row["entry_price"] * row["size"]) for row in rows if row["entry_price"] * row["size"]
        ]
        wins = sum(1 for pnl in pnls if pnl > 0)
        sharpe = None
        if len(returns) >= 2:
            mean = sum(returns) / len(returns)
            std = math.sqrt(sum((r - mean) ** 2 for r in returns) / (len(returns) - 1))
            sharpe = _finite(mean / std) if std > 0 else None
        equity = peak = self._starting_equity
        drawdown = 0.0
        for pnl in pnls:
            equity += pnl
            peak = max(peak, equity)
            if peak > 0:
                drawdown = max(drawdown, (peak - equity) / peak * 100.0)
        return {
            "name": name,
            "trades": len(pnls),
            "win_rate": wins / len(pnls) if pnls else None,
            "pnl": sum(pnls),
            "sharpe": sharpe,
            "max_drawdown": drawdown,
        }

    async def equity_curve(self, *, limit: int = 500) -> list[dict[str, Any]]:
        """The equity after each settled cycle, oldest first."""
        curve = []
        for record in reversed(await self.recent.latest("settled", limit)):
            event = record.event()
            assert isinstance(event, CycleSettled)
            curve.append({"ts": event.as_of, "equity": event.equity})
        return curve

    # -- decisions -----------------------------------------------------------------------------------------

    async def decisions(self, *, limit: int = 50) -> list[dict[str, Any]]:
        summaries = []
        for record in await self.recent.latest("decision", limit):
            event = record.event()
            assert isinstance(event, Decision)
            summaries.append(
                {
                    "seq": record.seq,
                    "decision_id": event.decision_id,
                    "ts": event.ts,
                    "cycle": event.cycle,
                    "strategy": event.strategy,
                    "symbol": event.symbol,
                    "taken": event.taken,
                    "direction": event.direction,
                    "reason": event.reason,
                }
            )
        return summaries

    async def karma(self, *, min_samples: float, top: int = 10) -> dict[str, Any]:
        """Karma's scorecards, reliability bins and top patterns, from the karma events folded so far."""
        async with self._karma_lock:  # one reader folds the new events; the next finds them folded
            while records := await self._store.read(after=self._karma_after, limit=KARMA_PAGE):
                for record in records:
                    if record.kind == "karma" and isinstance(event := record.event(), KarmaScored):
                        self._karma.add(event)
                self._karma_after = records[-1].seq
            key = (len(self._karma.scored), min_samples, top)
            if self._karma_report is None or self._karma_report[0] != key:  # new outcomes: score them again
                self._karma_report = key, self._karma.report(min_samples=min_samples, top=top)
            return self._karma_report[1]

    async def decision(self, decision_id: str) -> dict[str, Any] | None:
        """Why (or why not): the producers and their convictions, the context, the sizing and each risk check."""
        found = await self._store.recent(["decision"], limit=1, field=("decision_id", decision_id))
        if not found:
            return None
        record = found[0]
        decision = record.event()
        assert isinstance(decision, Decision)
        verdicts = await self._store.recent(["verdict"], limit=1, field=("decision_id", decision_id))
        trades = await self._store.recent(["trade"], limit=1, field=("decision_id", decision_id))
        snapshots = await self._store.recent(["snapshot"], limit=1, field=("cycle", decision.cycle))
        rationale = {
            row["producer"]: row
            for row in await self._store.rows(
                "signal_events", equals={"cycle": decision.cycle, "symbol": decision.symbol}, limit=1000
            )
        }
        verdict = verdicts[0].event() if verdicts else None
        assert verdict is None or isinstance(verdict, RiskVerdict)
        snapshot = snapshots[0].event() if snapshots else None
        assert snapshot is None or isinstance(snapshot, SnapshotRecorded)
        trade = trades[0].event() if trades else None
        assert trade is None or isinstance(trade, TradeDecided)
        orders = await self._store.rows("order_events", equals={"cloid": decision_id}, limit=1)
        return {
            "seq": record.seq,
            "decision_id": decision_id,
            "ts": decision.ts,
            "cycle": decision.cycle,
            "as_of": decision.as_of,
            "strategy": decision.strategy,
            "symbol": decision.symbol,
            "taken": decision.taken,
            "direction": decision.direction,
            "reason": decision.reason,
            "producers": [
                {
                    "producer": ref.producer,
                    "signal": ref.signal,
                    "conviction": ref.conviction,
                    "calibrated": ref.calibrated,
                    "rationale": rationale[ref.producer]["rationale"] if ref.producer in rationale else None,
                }
                for ref in decision.signals
            ],
            "context": dict(snapshot.context.get(decision.symbol, {})) if snapshot else {},
            "producer_status": dict(snapshot.producers) if snapshot else {},
            "sizing": dict(decision.sizing),
            "trade": msgspec.to_builtins(decision.trade),
            "checks": [msgspec.to_builtins(check) for check in verdict.checks] if verdict else [],
            "verdict": None
            if verdict is None
            else {"approved": verdict.approved, "reason": verdict.reason, "seq": verdicts[0].seq},
            "trade_seq": trades[0].seq if trades else None,
            "order": orders[0] if orders else None,
        }

    # -- health --------------------------------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        """The spec's shape (status, components with producers and last_cycle), plus every actor's state."""
        actors = {name: msgspec.to_builtins(snap) for name, snap in self._health.snapshot().items()}
        producers = {name: _word(actors[name]["state"]) if name in actors else "unknown" for name in self._producers}
        snapshots = await self.recent.latest("snapshot", 1)
        if snapshots:
            snapshot = snapshots[0].event()
            assert isinstance(snapshot, SnapshotRecorded)
            for name, answer in snapshot.producers.items():
                if producers.get(name) == "ok" and answer not in ("ok", "no data"):
                    producers[name] = answer
        last_cycle = await self._last_cycle()
        database = _word(actors["eventlog"]["state"]) if "eventlog" in actors else "unknown"
        degraded = any(snap["state"] != "running" for snap in actors.values()) or self._gate.state != "ACTIVE"
        return {
            "status": "degraded" if degraded else "healthy",
            "components": {
                "database": database,
                "api": "ok",
                "producers": producers,
                "last_cycle": _iso(last_cycle["as_of"]) if last_cycle else None,
            },
            "producers": producers,
            "actors": actors,
            "last_cycle": last_cycle,
            "next_cycle": self._next_cycle(),
            "killswitch": self._gate.state,
            "now": self._clock.now_ms(),
        }

    async def _last_cycle(self) -> dict[str, Any] | None:
        found = await self.recent.latest("settled", 1)
        if not found:
            return None
        settled = found[0]
        event = settled.event()
        assert isinstance(event, CycleSettled)
        return {
            "cycle": event.cycle,
            "as_of": event.as_of,
            "settled_ts": event.ts,
            "equity": event.equity,
            "cash": event.cash,
            "exposure": event.exposure,
            "open_positions": event.open_positions,
            "seq": settled.seq,
        }

    async def cycle_result(self, cycle: int) -> dict[str, Any]:
        """What one cycle produced: for ``POST /scan``."""
        settled = await self._store.recent(["settled"], limit=1, field=("cycle", cycle))
        decisions = await self._store.recent(["decision"], limit=10_000, field=("cycle", cycle))
        signals = await self._store.rows("signal_events", equals={"cycle": cycle}, limit=10_000)
        trades = await self._store.rows("trade_events", equals={"cycle": cycle}, limit=10_000)
        summary = await self._last_cycle() if settled else None
        return {
            "cycle": cycle,
            "settled": bool(settled),
            "signals": len(signals),
            "decisions": [_decision_summary(r) for r in reversed(decisions)],
            "trades": len(trades),
            "portfolio": summary if summary and summary["cycle"] == cycle else None,
        }


def _decision_summary(record: Record) -> dict[str, Any]:
    event = record.event()
    assert isinstance(event, Decision)
    return {
        "decision_id": event.decision_id,
        "strategy": event.strategy,
        "symbol": event.symbol,
        "taken": event.taken,
        "reason": event.reason,
    }


def _word(state: str) -> str:
    return {"running": "ok"}.get(state, state)
