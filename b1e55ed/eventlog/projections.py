"""The spec's query tables, derived from events. Written in the append's transaction; ``rebuild`` replays them.

Each event maps to at most one ``Upsert``: a row for one table, keyed by a unique column. A later event with
the same key updates the listed columns and keeps the rest (an order's first ``id`` and ``trade_id`` stay).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from b1e55ed.messages import (
    ConsumerAdvanced,
    Event,
    OrderUpdated,
    PositionUpdated,
    SignalRecorded,
    TradeDecided,
)

_json = msgspec.json.Encoder(order="deterministic")


class Upsert(msgspec.Struct, frozen=True):
    table: str
    key: str
    row: dict[str, Any]
    update: tuple[str, ...] = ()


PROJECTION_TABLES = ("signal_events", "trade_events", "order_events", "position_events", "consumer_positions")

_ORDER_UPDATE = (
    "status",
    "filled_price",
    "filled_size",
    "exchange_order_id",
    "reason",
    "timestamp",
    "last_seq",
)
_POSITION_UPDATE = (
    "size",
    "stop",
    "target",
    "status",
    "exit_price",
    "pnl",
    "closed_at",
    "last_seq",
)


def _signal(seq: int, digest: bytes, event: SignalRecorded) -> Upsert:
    s = event.signal
    row = {
        "id": seq,
        "symbol": s.symbol,
        "signal": s.signal,
        "conviction": s.conviction,
        "producer": s.producer,
        "rationale": s.rationale,
        "metadata": _json.encode(s.metadata).decode(),
        "timestamp": s.timestamp,
        "hash": digest.hex(),
        "cycle": event.cycle,
    }
    return Upsert("signal_events", "id", row)


def _trade(seq: int, digest: bytes, event: TradeDecided) -> Upsert:
    t = event.trade
    row = {
        "id": seq,
        "symbol": t.symbol,
        "direction": t.direction,
        "size": t.size,
        "entry": t.entry,
        "stop": t.stop,
        "target": t.target,
        "strategy": t.strategy,
        "rationale": t.rationale,
        "conviction": t.conviction,
        "timestamp": event.ts,
        "hash": digest.hex(),
        "cycle": event.cycle,
    }
    return Upsert("trade_events", "id", row)


def _order(seq: int, digest: bytes, event: OrderUpdated) -> Upsert:
    row = {
        "id": seq,
        "cloid": event.cloid,
        "trade_id": event.trade_seq,
        "role": event.role,
        "status": event.status,
        "symbol": event.symbol,
        "side": event.side,
        "size": event.size,
        "filled_price": event.filled_price,
        "filled_size": event.filled_size,
        "exchange": event.exchange,
        "exchange_order_id": event.exchange_order_id,
        "reason": event.reason,
        "timestamp": event.ts,
        "last_seq": seq,
    }
    return Upsert("order_events", "cloid", row, _ORDER_UPDATE)


def _position(seq: int, digest: bytes, event: PositionUpdated) -> Upsert:
    row = {
        "id": seq,
        "position_id": event.position_id,
        "symbol": event.symbol,
        "side": event.side,
        "entry_price": event.entry_price,
        "size": event.size,
        "stop": event.stop,
        "target": event.target,
        "status": event.status,
        "exit_price": event.exit_price,
        "pnl": event.pnl,
        "opened_at": event.opened_at,
        "closed_at": event.closed_at,
        "last_seq": seq,
    }
    return Upsert("position_events", "position_id", row, _POSITION_UPDATE)


def _consumer(seq: int, digest: bytes, event: ConsumerAdvanced) -> Upsert:
    row = {"consumer": event.consumer, "position": event.position}
    return Upsert("consumer_positions", "consumer", row, ("position",))


Projector = Callable[[int, bytes, Any], Upsert]

_PROJECTED: tuple[tuple[type[Event], Projector], ...] = (
    (SignalRecorded, _signal),
    (TradeDecided, _trade),
    (OrderUpdated, _order),
    (PositionUpdated, _position),
    (ConsumerAdvanced, _consumer),
)


class _Projectors(dict[type, Projector | None]):
    """Each event class's projection, or None; found by ``isinstance`` (subclasses included) the first time a class
    is looked up, then one dict look-up per event. Most events (decisions, snapshots, cycles) have none."""

    def __missing__(self, cls: type) -> Projector | None:
        found = next((fn for base, fn in _PROJECTED if issubclass(cls, base)), None)
        self[cls] = found
        return found


PROJECTORS = _Projectors(_PROJECTED)


def project(seq: int, digest: bytes, event: Event) -> Upsert | None:
    fn = PROJECTORS[type(event)]
    return None if fn is None else fn(seq, digest, event)
