"""Every message that crosses a channel or lands in the event log.

All structs are frozen. Events are tagged by ``kind`` so one decoder reads the whole log, and they carry
``ts`` (ms since the epoch, UTC). Schema evolution follows msgspec's rules: a new field gets a default, and an
existing field never changes type. The spec's ``Signal`` and ``Trade`` keep its field names.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

Direction = Literal["long", "short"]
SignalValue = Literal["long", "short", "neutral"]


class Signal(msgspec.Struct, frozen=True, kw_only=True):
    """A producer's view of one symbol. ``timestamp`` is Unix seconds, as in the spec."""

    symbol: str
    signal: SignalValue
    conviction: int
    rationale: str
    producer: str
    timestamp: int
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)


class Trade(msgspec.Struct, frozen=True, kw_only=True):
    """A strategy's sized trade. ``size`` is notional ÷ equity (0.05 = 5%)."""

    symbol: str
    direction: Direction
    size: float
    entry: float
    stop: float
    target: float
    rationale: str
    strategy: str
    conviction: int


# --------------------------------------------------------------------------------------------------------------
# Events: the event log's schema. ``kind`` is the tag, stored in the payload and in the ``events.kind`` column.


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind"):
    ts: int


class SignalRecorded(Event, frozen=True, tag="signal"):
    signal: Signal
    cycle: int = 0


class TradeDecided(Event, frozen=True, tag="trade"):
    trade: Trade
    cycle: int = 0


OrderStatus = Literal["pending", "submitted", "partially_filled", "filled", "rejected", "cancelled", "duplicate"]


class OrderUpdated(Event, frozen=True, tag="order"):
    """One state of one order. ``cloid`` is the idempotency key; ``trade_seq`` is the seq of its trade."""

    cloid: str
    status: OrderStatus
    symbol: str
    side: Direction
    size: float
    exchange: str
    trade_seq: int | None = None
    filled_price: float | None = None
    filled_size: float | None = None
    exchange_order_id: str | None = None
    reason: str = ""


PositionStatus = Literal["open", "closed", "stopped"]


class PositionUpdated(Event, frozen=True, tag="position"):
    """The whole state of one position; ``position_id`` is stable for its life."""

    position_id: str
    symbol: str
    side: Direction
    entry_price: float
    size: float
    stop: float
    target: float
    status: PositionStatus
    opened_at: int
    exit_price: float | None = None
    pnl: float | None = None
    closed_at: int | None = None


ActorStateName = Literal["starting", "running", "degraded", "restarting", "stopped"]


class ActorRestarted(Event, frozen=True, tag="actor_restarted"):
    actor: str
    error: str
    attempt: int
    delay_s: float


class ActorEscalated(Event, frozen=True, tag="actor_escalated"):
    """An actor failed more often than its restart intensity allows; trading must halt."""

    actor: str
    error: str
    restarts: int
    window_s: float


class ConsumerAdvanced(Event, frozen=True, tag="consumer"):
    """A log consumer processed everything up to ``position``; appended with its output for exactly-once."""

    consumer: str
    position: int


class RuntimeStarted(Event, frozen=True, tag="runtime_started"):
    version: str
    mode: str
    config_hash: str


class RuntimeStopped(Event, frozen=True, tag="runtime_stopped"):
    reason: str


class Alert(Event, frozen=True, tag="alert"):
    severity: Literal["info", "warning", "critical"]
    source: str
    message: str


AnyEvent = (
    SignalRecorded
    | TradeDecided
    | OrderUpdated
    | PositionUpdated
    | ActorRestarted
    | ActorEscalated
    | ConsumerAdvanced
    | RuntimeStarted
    | RuntimeStopped
    | Alert
)
