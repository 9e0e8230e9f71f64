"""A small trading desk for the dashboard tests: an in-memory log holding a few settled cycles, and its API context.

The events are the ones the runtime writes (cycle, signals, snapshot, decisions, verdicts, trades, orders, fills,
positions, settled), so the read model and the templates see the real shapes.
"""

from __future__ import annotations

from typing import Any

import trio

from b1e55ed.api.context import ApiContext
from b1e55ed.api.queries import ReadModel
from b1e55ed.broadcast import Broadcast
from b1e55ed.clock import ManualClock
from b1e55ed.config import ApiConfig, Config, Secret
from b1e55ed.eventlog.chain import Record
from b1e55ed.eventlog.store import MemoryStore
from b1e55ed.eventlog.writer import EventLog
from b1e55ed.health import HealthRegistry
from b1e55ed.messages import (
    Check,
    CycleSettled,
    CycleStarted,
    Decision,
    Event,
    Fill,
    OrderUpdated,
    PositionUpdated,
    RiskVerdict,
    Signal,
    SignalRecorded,
    SignalRef,
    SignalValue,
    SnapshotRecorded,
    Trade,
    TradeDecided,
    TradingStateName,
)
from b1e55ed.tradingstate import TradingGate

HOUR_MS = 3_600_000
START_MS = 1_767_225_600_000  # 2026-01-01 00:00 UTC
SYMBOLS = ("BTC", "ETH", "SOL")
PRODUCERS = ("rsi", "momentum", "funding")
STRATEGY = "confluence"
BASE = {"BTC": 97_000.0, "ETH": 3_400.0, "SOL": 190.0}


def _cycle(cycle: int, equity: float) -> list[Event]:
    as_of = START_MS + cycle * HOUR_MS
    ts = as_of + 1_000
    closes = {symbol: BASE[symbol] * (1 + 0.004 * cycle) for symbol in SYMBOLS}
    events: list[Event] = [CycleStarted(ts=ts, cycle=cycle, as_of=as_of, source="simulated", closes=closes)]
    for producer in PRODUCERS:
        for symbol in SYMBOLS:
            call: SignalValue = "long" if (cycle + len(producer) + len(symbol)) % 3 else "neutral"
            signal = Signal(
                symbol=symbol,
                signal=call,
                conviction=3 + (cycle + len(producer)) % 7,
                rationale=f"{producer} reading on {symbol} at cycle {cycle}",
                producer=producer,
                timestamp=as_of // 1000,
            )
            events.append(SignalRecorded(ts=ts, cycle=cycle, signal=signal))
    context = {symbol: {"price": closes[symbol], "atr_pct": 1.8, "volume_ratio": 1.2} for symbol in SYMBOLS}
    events.append(
        SnapshotRecorded(ts=ts, cycle=cycle, as_of=as_of, context=context, producers=dict.fromkeys(PRODUCERS, "ok"))
    )
    refs = [SignalRef(producer=p, signal="long", conviction=7) for p in PRODUCERS]
    taken_id, passed_id = f"d-{cycle}-BTC", f"d-{cycle}-ETH"
    btc = closes["BTC"]
    trade = Trade(
        symbol="BTC",
        direction="long",
        size=0.01,
        entry=btc,
        stop=btc * 0.97,
        target=btc * 1.06,
        rationale="3 of 3 producers agree",
        strategy=STRATEGY,
        conviction=7,
    )
    sizing = {"equity": equity, "risk_fraction": 0.01, "stop_distance": btc * 0.03, "size": 0.01}
    events += [
        Decision(
            ts=ts,
            cycle=cycle,
            as_of=as_of,
            strategy=STRATEGY,
            symbol="BTC",
            decision_id=taken_id,
            taken=True,
            reason="3 of 3 producers long with mean conviction 7.0",
            direction="long",
            signals=refs,
            sizing=sizing,
            trade=trade,
        ),
        Decision(
            ts=ts,
            cycle=cycle,
            as_of=as_of,
            strategy=STRATEGY,
            symbol="ETH",
            decision_id=passed_id,
            taken=False,
            reason="only 1 of 3 producers agree; 2 needed",
            signals=refs[:1],
        ),
        RiskVerdict(
            ts=ts,
            cycle=cycle,
            decision_id=taken_id,
            strategy=STRATEGY,
            symbol="BTC",
            approved=True,
            checks=[
                Check(name="max_position", passed=True, detail="9.7% of equity ≤ 15%"),
                Check(name="max_leverage", passed=True, detail="0.1x ≤ 3x"),
                Check(name="restricted_symbols", passed=True, detail="BTC is not restricted"),
            ],
        ),
        TradeDecided(ts=ts, trade=trade, cycle=cycle, decision_id=taken_id),
    ]
    cloid = f"0x{cycle:04x}"
    submitted = OrderUpdated(
        ts=ts,
        cloid=cloid,
        status="filled",
        symbol="BTC",
        side="long",
        size=0.01,
        exchange="paper",
        filled_price=btc,
        filled_size=0.01,
        cycle=cycle,
    )
    events += [
        submitted,
        Fill(
            ts=ts,
            cloid=cloid,
            symbol="BTC",
            side="buy",
            size=0.01,
            price=btc,
            fee=0.4,
            role="entry",
            venue="paper",
            cycle=cycle,
        ),
        PositionUpdated(
            ts=ts,
            position_id=cloid,
            symbol="BTC",
            side="long",
            entry_price=btc,
            size=0.01,
            stop=btc * 0.97,
            target=btc * 1.06,
            status="open",
            opened_at=ts,
        ),
        CycleSettled(
            ts=ts + 500, cycle=cycle, as_of=as_of, cash=equity - 970, equity=equity, exposure=970, open_positions=cycle
        ),
    ]
    return events


def sample_events(cycles: int = 6) -> list[Event]:
    equity = [10_000.0, 10_012.5, 9_990.0, 10_040.0, 10_065.0, 10_051.0, 10_102.0, 10_130.0]
    return [event for cycle in range(1, cycles + 1) for event in _cycle(cycle, equity[cycle % len(equity)])]


def desk_context(store: MemoryStore, *, token: str = "", state: TradingStateName = "ACTIVE") -> ApiContext:
    config = Config(symbols=SYMBOLS, api=ApiConfig(auth_token=Secret(token), rate_limit_per_min=0))
    clock = ManualClock(START_MS + 7 * HOUR_MS)
    health = HealthRegistry(clock)
    for name in ("brain", "eventlog", "oms", *PRODUCERS):
        health.register(name).mark_running()
    gate = TradingGate(state)
    read = ReadModel(
        store,
        health=health,
        gate=gate,
        clock=clock,
        strategies=[STRATEGY],
        producers=list(PRODUCERS),
        starting_equity=config.paper.starting_equity,
    )

    async def killswitch(target: TradingStateName) -> dict[str, Any]:
        previous = gate.state
        gate.transition(target, "manual", "dashboard test", clock.now_ms())
        return {"state": target, "previous": previous, "changed": previous != target}

    return ApiContext(
        config=config,
        store=store,
        hub=Broadcast[Record](),
        health=health,
        gate=gate,
        clock=clock,
        read=read,
        strategies=[STRATEGY],
        symbols=list(SYMBOLS),
        killswitch=killswitch,
    )


async def filled_store(cycles: int = 6) -> MemoryStore:
    store = MemoryStore()
    log = EventLog(store)
    async with trio.open_nursery() as nursery:
        await nursery.start(log.run)
        await log.append(*sample_events(cycles))
        log.close()
    return store
