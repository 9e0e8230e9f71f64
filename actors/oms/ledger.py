"""The OMS's state: orders by cloid, approved trades, positions and cash. Built only by folding events.

The ledger folds events and answers reads; it makes no events (``fills.py``, ``execution.py`` and
``reconcile.py`` do, from what it answers).

The same ``apply`` runs live, as the OMS records each event, and at start, over the whole log: the book after a
restart is exactly what the log says it is.

Cash is perps-style: fees, realised P&L and funding move it; open positions add their unrealised P&L to equity. A
position remembers what its partial exits realised and the funding it paid or received (folded from their events),
so its P&L at close is everything it made, funding included.

The day's starting equity, for the daily loss limits, is the equity of the first settled cycle of the UTC day, in
event time (the cycle's ``as_of``, never the wall clock), so a replay computes the same limits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from b1e55ed.messages import (
    CycleSettled,
    Direction,
    EquitySynced,
    Event,
    Fill,
    FundingPaid,
    KillSwitchChanged,
    OrderUpdated,
    PositionUpdated,
    Trade,
    TradeDecided,
    TradingStateName,
)

FINAL_ORDER_STATES = frozenset({"filled", "rejected", "cancelled", "duplicate"})
DAY_MS = 86_400_000


@dataclass
class Position:
    position_id: str
    symbol: str
    side: Direction
    size: float
    entry_price: float
    stop: float
    target: float
    opened_at: int
    fees: float = 0.0
    realised: float = 0.0  # by partial exits so far; the final exit's is added at close
    funding: float = 0.0  # received (+) or paid (-) while open

    @property
    def sign(self) -> int:
        return 1 if self.side == "long" else -1

    def unrealised(self, mark: float) -> float:
        return self.sign * (mark - self.entry_price) * self.size

    def realised_by(self, price: float, size: float) -> float:
        """What an exit of ``size`` at ``price`` realises: never more than the position holds."""
        return self.sign * (price - self.entry_price) * min(size, self.size)


@dataclass
class Ledger:
    starting_equity: float
    cash: float = 0.0
    orders: dict[str, OrderUpdated] = field(default_factory=dict)
    trades: dict[str, Trade] = field(default_factory=dict)
    positions: dict[str, Position] = field(default_factory=dict)
    peak_equity: float = 0.0
    last_settled_cycle: int = 0
    last_settled_as_of: int = 0
    trading_state: TradingStateName = "ACTIVE"
    day: int = -1  # the UTC day (as_of // DAY_MS) of the last settled cycle
    day_start_equity: float = 0.0
    fill_ids: set[str] = field(default_factory=set)  # the venue's ids of the fills already recorded
    _open: dict[str, OrderUpdated] = field(default_factory=dict)  # orders not final: a cycle's cost stays flat
    _awaiting: set[str] = field(default_factory=set)  # open orders not yet answered (pending) or partly filled

    def __post_init__(self) -> None:
        self.cash = self.cash or self.starting_equity
        self.peak_equity = self.peak_equity or self.starting_equity

    # -- folding ---------------------------------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        match event:  # the most frequent first: one settlement a cycle
            case CycleSettled():
                self.last_settled_cycle, self.last_settled_as_of = event.cycle, event.as_of
                self.peak_equity = max(self.peak_equity, event.equity)
                if event.as_of // DAY_MS != self.day:
                    self.day, self.day_start_equity = event.as_of // DAY_MS, event.equity
            case OrderUpdated():
                self.orders[event.cloid] = event
                if event.status in FINAL_ORDER_STATES:
                    self._open.pop(event.cloid, None)
                    self._awaiting.discard(event.cloid)
                else:
                    self._open[event.cloid] = event
                    if event.status == "submitted":
                        self._awaiting.discard(event.cloid)
                    else:
                        self._awaiting.add(event.cloid)
            case TradeDecided():
                self.trades[event.decision_id] = event.trade
            case Fill():
                if event.fill_id:
                    self.fill_ids.add(event.fill_id)
                self.cash -= event.fee
                position = self.positions.get(event.symbol)
                if position is not None and event.role != "entry":
                    realised = position.realised_by(event.price, event.size)
                    self.cash += realised
                    position.realised += realised
            case PositionUpdated():
                self._apply_position(event)
            case FundingPaid():
                self.cash += event.amount
                if (held := self.positions.get(event.symbol)) is not None:
                    held.funding += event.amount
            case EquitySynced():
                self.cash += event.adjustment
                self.peak_equity += event.adjustment
                self.day_start_equity += event.adjustment
            case KillSwitchChanged():
                self.trading_state = event.state

    def _apply_position(self, event: PositionUpdated) -> None:
        if event.status != "open":
            self.positions.pop(event.symbol, None)
            return
        previous = self.positions.get(event.symbol)
        same = previous is not None and previous.position_id == event.position_id
        realised, funding = (previous.realised, previous.funding) if previous and same else (0.0, 0.0)
        self.positions[event.symbol] = Position(
            position_id=event.position_id,
            symbol=event.symbol,
            side=event.side,
            size=event.size,
            entry_price=event.entry_price,
            stop=event.stop,
            target=event.target,
            opened_at=event.opened_at,
            fees=event.fees,
            realised=realised,
            funding=funding,
        )

    def fold(self, events: Iterable[Event]) -> None:
        for event in events:
            self.apply(event)

    # -- reading ---------------------------------------------------------------------------------------------

    def equity(self, marks: Mapping[str, float]) -> float:
        return self.cash + sum(p.unrealised(marks.get(p.symbol, p.entry_price)) for p in self.positions.values())

    def exposure(self, marks: Mapping[str, float]) -> float:
        return sum(abs(p.size * marks.get(p.symbol, p.entry_price)) for p in self.positions.values())

    def valuation(self, marks: Mapping[str, float]) -> tuple[float, float]:
        """``equity(marks)`` and ``exposure(marks)`` in one pass over the positions, to the same bits."""
        unrealised: float = 0  # as ``sum``: an int 0 when no position is held
        exposure: float = 0
        for p in self.positions.values():
            mark = marks.get(p.symbol, p.entry_price)
            unrealised += p.unrealised(mark)
            exposure += abs(p.size * mark)
        return self.cash + unrealised, exposure

    def pending_entry_notional(
        self, marks: Mapping[str, float], include: Callable[[str], bool] = lambda symbol: True
    ) -> float:
        """Σ|notional| of the entry orders not yet filled: exposure the book has committed to but not yet holds.

        Priced at the mark, or at the order's reference price when its symbol has none; a partly filled order
        counts only its unfilled rest (the filled part is already a position).
        """
        total = 0.0
        for order in self.open_orders():
            if order.role != "entry" or not include(order.symbol):
                continue
            unfilled = max(0.0, order.size - (order.filled_size or 0.0))
            price = marks.get(order.symbol, order.reference_price or order.filled_price or 0.0)
            total += abs(unfilled * price)
        return total

    def daily_loss_pct(self, equity: float, as_of: int) -> float:
        """How far ``equity`` is below the day's starting equity, in percent (0 when up, or on a new day)."""
        if as_of // DAY_MS != self.day or self.day_start_equity <= 0:
            return 0.0
        return max(0.0, (1 - equity / self.day_start_equity) * 100)

    def open_entry_symbols(self) -> set[str]:
        """Symbols held or with an entry order still open: the positions the book has or has committed to."""
        return set(self.positions) | {o.symbol for o in self.open_orders() if o.role == "entry"}

    @property
    def has_open_orders(self) -> bool:
        return bool(self._open)

    @property
    def has_orders_awaiting_venue(self) -> bool:
        """Some open order has no answer from the venue yet (pending), or the rest of its fill still to come."""
        return bool(self._awaiting)

    def open_orders(self) -> list[OrderUpdated]:
        """Orders not in a final state, in the order the book first saw them."""
        return list(self._open.values())

    def pending_entry(self, symbol: str) -> OrderUpdated | None:
        return next((o for o in self.open_orders() if o.symbol == symbol and o.role == "entry"), None)
