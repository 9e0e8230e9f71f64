"""Helpers for the API tests (no tests here): a runtime on a temp SQLite log, seeded with one real-looking
trading story, served by real hypercorn on a free loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import trio

from b1e55ed.api.server import free_port
from b1e55ed.api.wiring import api_actor, api_context
from b1e55ed.clock import ManualClock
from b1e55ed.config import Config, load_config
from b1e55ed.market.mids import PriceBoard
from b1e55ed.messages import (
    Check,
    CycleSettled,
    CycleStarted,
    Decision,
    Event,
    KarmaOutcome,
    KarmaScored,
    RiskVerdict,
    Signal,
    SignalRecorded,
    SignalRef,
    SnapshotRecorded,
    TradeDecided,
)
from b1e55ed.runtime import Runtime, Supervised
from tests import samples

T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z
HOUR = 3_600_000
TOKEN = "test-token-3f9c"
DECISION_ID = "0x" + "ab" * 16
PRODUCERS = ["momentum", "rsi"]
STRATEGIES = ["confluence"]


def api_config(*, token: str = "", rate: int = 0, cors: str = "[]", allowlist: str = "[]", **env: str) -> Config:
    environ = {
        "B1E55ED_API__PORT": str(free_port()),
        "B1E55ED_API__RATE_LIMIT_PER_MIN": str(rate),
        "B1E55ED_API__CORS_ORIGINS": cors,
        "B1E55ED_API__IP_ALLOWLIST": allowlist,
        **env,
    }
    if token:
        environ["B1E55ED_API__AUTH_TOKEN"] = token
    return load_config(environ=environ, env_file=None)


def cycle_events(cycle: int, *, first_seq: int, close_position: bool = False) -> list[Event]:
    """One cycle's story in canonical order, its first event at ``first_seq``: a tick, two signals, a snapshot,
    a decision taken and one not, the risk verdict, the trade, its order, fill and position, and the settlement."""
    as_of = T0 + cycle * HOUR
    ts = as_of + 1
    price = 42_000.0 + 100 * cycle
    events: list[Event] = [
        CycleStarted(ts=ts, cycle=cycle, as_of=as_of, source="simulated", closes={"BTC": price, "ETH": 2_200.0})
    ]
    for producer, conviction in zip(PRODUCERS, (6, 8), strict=True):
        signal = Signal(
            symbol="BTC",
            signal="long",
            conviction=conviction,
            rationale=f"{producer} says up",
            producer=producer,
            timestamp=as_of // 1000,
            metadata={"value": 1.5},
        )
        events.append(SignalRecorded(ts=ts, signal=signal, cycle=cycle))
    if cycle > 1:  # the last cycle's signals, scored: momentum's reached its target, rsi's its stop
        events.append(karma_scored(cycle, as_of, ts))
    events.append(
        SnapshotRecorded(
            ts=ts,
            cycle=cycle,
            as_of=as_of,
            context={"BTC": {"atr_pct": 1.2, "volume_ratio": 0.9}},
            producers={"momentum": "ok", "rsi": "ok"},
        )
    )
    decision_id = DECISION_ID if cycle == 1 else f"0x{cycle:032x}"
    trade = samples.trade(entry=price, stop=price * 0.97, target=price * 1.06, rationale="2 of 2 producers agree")
    refs = [SignalRef("momentum", "long", 6, None), SignalRef("rsi", "long", 8, 0.61)]
    events += [
        Decision(
            ts=ts,
            cycle=cycle,
            as_of=as_of,
            strategy="confluence",
            symbol="BTC",
            decision_id=decision_id,
            taken=True,
            reason="2 of 2 producers agree",
            direction="long",
            signals=refs,
            sizing={"equity": 10_000.0, "size": 0.05, "notional": 500.0},
            trade=trade,
        ),
        samples.decision(
            ts=ts,
            cycle=cycle,
            as_of=as_of,
            symbol="ETH",
            decision_id=f"0x{cycle + 1000:032x}",
            reason="no producer has a view on ETH",
        ),
        RiskVerdict(
            ts=ts,
            cycle=cycle,
            decision_id=decision_id,
            strategy="confluence",
            symbol="BTC",
            approved=True,
            checks=[Check("max_position", True, "0.05 <= 0.15"), Check("max_leverage", True, "0.05 <= 3")],
        ),
        TradeDecided(ts=ts, trade=trade, cycle=cycle, decision_id=decision_id),
    ]
    units = 500.0 / price
    trade_seq = first_seq + len(events) - 1
    events += [
        samples.order(ts=ts, cloid=decision_id, size=units, trade_seq=trade_seq, cycle=cycle),
        samples.order(
            ts=ts + 50,
            cloid=decision_id,
            status="filled",
            size=units,
            filled_price=price,
            filled_size=units,
            trade_seq=trade_seq,
            cycle=cycle,
        ),
        samples.fill(ts=ts + 50, cloid=decision_id, size=units, price=price, fee=0.2, cycle=cycle),
        samples.position(
            ts=ts + 50,
            position_id=decision_id,
            entry_price=price,
            size=units,
            stop=price * 0.97,
            target=price * 1.06,
            status="closed" if close_position else "open",
            opened_at=ts + 50,
            exit_price=price * 1.02 if close_position else None,
            pnl=10.0 if close_position else None,
            closed_at=ts + 100 if close_position else None,
        ),
        CycleSettled(
            ts=ts + 100,
            cycle=cycle,
            as_of=as_of,
            cash=9_500.0,
            equity=10_000.0 + cycle,
            exposure=0.05,
            open_positions=1,
        ),
    ]
    return events


def karma_scored(cycle: int, as_of: int, ts: int) -> KarmaScored:
    entry = 42_000.0 + 100 * (cycle - 1)
    outcomes = [
        KarmaOutcome(
            source=producer,
            symbol="BTC",
            direction="long",
            conviction=conviction,
            opened=as_of - HOUR,
            entry=entry,
            closed=as_of,
            exit=round(entry * (1.1 if won else 0.97), 8),
            bars=1,
            result="win" if won else "loss",
            ret=0.1 if won else -0.03,
            weight=1.0,
            p=0.3 if producer == "rsi" else None,
        )
        for producer, conviction, won in (("momentum", 6, True), ("rsi", 8, False))
    ]
    calibration = {"rsi": [0.25] * 7 + [0.3] * 3}
    return KarmaScored(ts=ts, cycle=cycle, as_of=as_of, book="producers", outcomes=outcomes, calibration=calibration)


@dataclass
class Served:
    runtime: Runtime
    url: str
    token: str

    def client(self, *, auth: bool = True, **kwargs: object) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.token}"} if auth and self.token else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=10.0, **kwargs)  # type: ignore[arg-type]


@asynccontextmanager
async def served(
    tmp_path: Path,
    config: Config | None = None,
    *,
    cycles: int = 2,
    heartbeat_s: float = 15.0,
    prices: PriceBoard | None = None,
) -> AsyncIterator[Served]:
    """A runtime whose only stage is the API, its log seeded with ``cycles`` cycles (the first one closes);
    ``prices`` is the price monitor whose mids the API serves."""
    config = config or api_config()
    runtime = Runtime(config, db_path=tmp_path / "brain.db", clock=ManualClock(T0))

    def stages(rt: Runtime) -> list[Supervised]:
        ctx = api_context(rt, strategies=STRATEGIES, producers=PRODUCERS, prices=prices)
        ctx.sse_heartbeat_s = heartbeat_s
        return [api_actor(ctx)]

    async with trio.open_nursery() as nursery:
        await nursery.start(runtime.run, stages)
        for cycle in range(1, cycles + 1):
            first_seq = runtime.log.head.seq + 1
            await runtime.log.append(*cycle_events(cycle, first_seq=first_seq, close_position=cycle == 1))
        try:
            yield Served(runtime, f"http://127.0.0.1:{config.api.port}", config.api.auth_token.reveal())
        finally:
            runtime.request_stop("test over")
