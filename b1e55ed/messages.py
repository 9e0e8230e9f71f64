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
    """A sized trade the risk gate approved; ``decision_id`` links it to its decision and its orders."""

    trade: Trade
    cycle: int = 0
    decision_id: str = ""


OrderStatus = Literal["pending", "submitted", "partially_filled", "filled", "rejected", "cancelled", "duplicate"]
OrderRole = Literal["entry", "stop", "target", "exit"]
Side = Literal["buy", "sell"]


class OrderUpdated(Event, frozen=True, tag="order"):
    """One state of one order. ``cloid`` is the idempotency key; ``trade_seq`` is the seq of its trade.

    ``pending`` is written, and committed, before the venue is called; every later state follows from the venue.
    ``size`` is in units of the asset; ``side`` is the position's direction, ``order_side`` the order's.
    """

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
    role: OrderRole = "entry"
    order_side: Side = "buy"
    reduce_only: bool = False
    trigger_price: float | None = None
    reference_price: float | None = None
    not_before: int = 0
    parent: str | None = None
    cycle: int = 0


class Fill(Event, frozen=True, tag="fill"):
    """An execution at the venue. ``size`` in units; ``fee`` in quote currency, always >= 0."""

    cloid: str
    symbol: str
    side: Side
    size: float
    price: float
    fee: float
    role: OrderRole
    venue: str
    liquidity: Literal["taker", "maker"] = "taker"
    cycle: int = 0
    fill_id: str = ""


PositionStatus = Literal["open", "closed", "stopped"]


class PositionUpdated(Event, frozen=True, tag="position"):
    """The whole state of one position; ``position_id`` is stable for its life. ``size`` is in units."""

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
    fees: float = 0.0


class Bar(msgspec.Struct, frozen=True, array_like=True):
    """One candle. ``ts`` is its open time (ms); it closes at ``ts`` + the timeframe."""

    ts: int
    open: float
    high: float
    low: float
    close: float
    volume: float


MarketSource = Literal["replay", "simulated", "hyperliquid"]


class CycleStarted(Event, frozen=True, tag="cycle"):
    """The brain's tick: cycle ``cycle`` sees data up to ``as_of``; ``closes`` are the symbols in it."""

    cycle: int
    as_of: int
    source: MarketSource
    closes: dict[str, float]


class SnapshotRecorded(Event, frozen=True, tag="snapshot"):
    """The enricher's frozen view of one cycle: PCS context per symbol and each producer's answer."""

    cycle: int
    as_of: int
    context: dict[str, dict[str, float]]
    producers: dict[str, str]
    features_hash: str = ""


Result = Literal["win", "loss", "timeout"]


class KarmaOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """A scored signal or rule decision: its virtual position from ``opened`` (the signal's cycle close, ms) at
    ``entry`` to ``closed`` (the close of the bar it ended in) at ``exit``, ``bars`` bars later. ``ret`` is the
    signed return, ``weight`` its uniqueness (1 ÷ the concurrent outcomes of its source and symbol, averaged over
    its life), ``p`` the calibrated win probability in force when it opened (None before calibration)."""

    source: str
    symbol: str
    direction: Direction
    conviction: int
    opened: int
    entry: float
    closed: int
    exit: float
    bars: int
    result: Result
    ret: float
    weight: float
    p: float | None = None


class KarmaScored(Event, frozen=True, tag="karma"):
    """Karma's slot in a cycle: the outcomes that matured by ``as_of``, in ``book`` ("producers", or a strategy's
    own rule), and each source's calibration that changed: win probability at conviction 1 to 10."""

    cycle: int
    as_of: int
    book: str
    outcomes: list[KarmaOutcome]
    calibration: dict[str, list[float]] = msgspec.field(default_factory=dict)


class SignalRef(msgspec.Struct, frozen=True):
    producer: str
    signal: SignalValue
    conviction: int
    calibrated: float | None = None


class Check(msgspec.Struct, frozen=True):
    """One risk check's verdict: ``detail`` states the numbers against the limit."""

    name: str
    passed: bool
    detail: str


class Decision(Event, frozen=True, tag="decision"):
    """A strategy's verdict on one candidate, taken or not, with everything that explains it."""

    cycle: int
    as_of: int
    strategy: str
    symbol: str
    decision_id: str
    taken: bool
    reason: str
    direction: Direction | None = None
    signals: list[SignalRef] = msgspec.field(default_factory=list)
    sizing: dict[str, float] = msgspec.field(default_factory=dict)
    trade: Trade | None = None


class RiskVerdict(Event, frozen=True, tag="verdict"):
    """The risk gate's answer to a taken decision: every check, and whether the order may go."""

    cycle: int
    decision_id: str
    strategy: str
    symbol: str
    approved: bool
    checks: list[Check]
    reason: str = ""


class CycleSettled(Event, frozen=True, tag="settled"):
    """The cycle's last event: the portfolio after it. The next cycle starts only after this commits."""

    cycle: int
    as_of: int
    cash: float
    equity: float
    exposure: float
    open_positions: int


TradingStateName = Literal["ACTIVE", "REDUCING", "HALTED"]
KillSwitchCause = Literal[
    "manual", "drawdown", "daily_loss", "escalation", "venue_errors", "disconnect", "storage"
]


class KillSwitchChanged(Event, frozen=True, tag="killswitch"):
    state: TradingStateName
    previous: TradingStateName
    cause: KillSwitchCause
    detail: str


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


class FundingPaid(Event, frozen=True, tag="funding"):
    """A perpetual funding payment on an open position. ``amount`` is cash to the account (negative: paid);
    a long pays ``rate × notional`` when the rate is positive, a short receives it."""

    symbol: str
    rate: float
    notional: float
    amount: float
    venue: str
    funding_ts: int


class EquitySynced(Event, frozen=True, tag="equity_synced"):
    """The book's equity set to the live venue's account value, at the first cycle after a start: what the log
    never saw (the account's real size, deposits, withdrawals, funding while stopped). ``adjustment`` (venue minus
    book) is added to cash, and to the peak and the day's start, as an external cash flow, not a profit."""

    venue: str
    equity: float
    adjustment: float


Severity = Literal["info", "warning", "critical"]


class Alert(Event, frozen=True, tag="alert"):
    severity: Severity
    source: str
    message: str


AnyEvent = (
    SignalRecorded
    | TradeDecided
    | OrderUpdated
    | Fill
    | PositionUpdated
    | CycleStarted
    | SnapshotRecorded
    | KarmaScored
    | Decision
    | RiskVerdict
    | CycleSettled
    | KillSwitchChanged
    | ActorRestarted
    | ActorEscalated
    | ConsumerAdvanced
    | RuntimeStarted
    | RuntimeStopped
    | FundingPaid
    | EquitySynced
    | Alert
)
