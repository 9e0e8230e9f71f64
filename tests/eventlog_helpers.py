"""Events and writer plumbing shared by the event log tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio
from msgspec.structs import replace

from b1e55ed.eventlog.store import EventStore
from b1e55ed.eventlog.writer import EventLog
from b1e55ed.messages import (
    Alert,
    ConsumerAdvanced,
    OrderUpdated,
    PositionUpdated,
    Signal,
    SignalRecorded,
    TradeDecided,
)
from tests import samples


def alert(i: int) -> Alert:
    return Alert(ts=1_700_000_000_000 + i, severity="info", source="test", message=f"event {i}")


def signal(i: int, symbol: str = "BTC", producer: str = "rsi") -> SignalRecorded:
    return SignalRecorded(
        ts=1_700_000_000_000 + i,
        cycle=i,
        signal=Signal(
            symbol=symbol,
            signal="long",
            conviction=7,
            rationale=f"RSI {28 - i % 5} is oversold",
            producer=producer,
            timestamp=1_700_000_000 + i,
            metadata={"rsi": 28.0 - i % 5, "window": 14},
        ),
    )


def lifecycle() -> list[SignalRecorded | TradeDecided | OrderUpdated | PositionUpdated | ConsumerAdvanced]:
    """A signal that becomes a trade, an order that fills, and a position that opens and closes."""
    trade = samples.trade()
    submitted = samples.order(ts=1_700_000_002_500, status="submitted", trade_seq=2)
    opened = samples.position(ts=1_700_000_003_000, position_id="BTC-1", opened_at=1_700_000_003_000)
    return [
        signal(1),
        TradeDecided(ts=1_700_000_002_000, trade=trade, cycle=1),
        submitted,
        replace(submitted, ts=1_700_000_003_000, status="filled", filled_price=58_250.0, filled_size=0.05),
        opened,
        replace(opened, ts=1_700_000_009_000, status="closed", exit_price=64_057.0, pnl=290.35, closed_at=9_000),
        ConsumerAdvanced(ts=1_700_000_009_000, consumer="karma", position=6),
    ]


@asynccontextmanager
async def running_log(store: EventStore, *, max_batch: int = 1000) -> AsyncIterator[EventLog]:
    """A started writer over ``store``; on exit it commits what is queued and stops."""
    log = EventLog(store, max_batch=max_batch)
    async with trio.open_nursery() as nursery:
        await nursery.start(log.run)
        try:
            yield log
        finally:
            log.close()
