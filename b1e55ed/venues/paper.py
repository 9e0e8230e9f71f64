"""``PaperVenue``: a deterministic simulated exchange for paper trading and backtests.

It executes against the candles the OMS hands to ``poll``, never against a clock or a random number, so the same
orders and bars always give the same fills. Its rules, in the order a bar is processed:

1. **Market orders** (role entry/exit, no trigger) fill at the open of the first bar with ``ts >= not_before`` —
   the bar after the decision — at the open moved against the taker by ``SlippageModel``, paying the taker fee.
2. **Trigger orders** (stop/target: reduce-only, with ``trigger_price``) are then checked against the same bar's
   low/high, stops before targets: when both lie inside one bar we cannot know which came first, so we assume the
   worse. A stop fills at its trigger price, or at the open if the bar gapped through it (worse); a target at its
   trigger, or at the open if the bar gapped beyond it (better). Then slippage and the taker fee, because a market
   TP/SL on Hyperliquid executes as a market order once triggered (hyperliquid-docs, "Take profit and stop loss
   orders"): a target takes liquidity like a stop does. Hyperliquid triggers on the mark price; candles give trades.
3. **Reduce-only** orders never grow or flip a position: a fill is capped at the position's size. A reduce-only
   order with nothing left to reduce is cancelled (OCO: the stop that closes a position cancels its target).

A reduce-only order is accepted, and rests, while a queued entry on the opposite side would give it a position
to reduce. That lets the OMS submit an entry with its stop and target together (as Hyperliquid's ``normalTpsl``
grouping does), so that stops are live from the entry's own bar on, as the design requires. A trigger whose
position does not exist yet simply waits; if its entry is cancelled, it is cancelled too.

Simplifications, on purpose: no partial fills (an order fills whole, or capped for reduce-only); no order book
(the open and the trigger are the reference prices); every fill's ``ts`` is its bar's ``ts`` (the open), for
triggers too, since a candle does not say when inside it the price was touched.

**Funding.** With a ``FundingRates`` source, every settlement time ``T`` of a symbol's funding history that falls
inside a bar's span ``(open, close]`` is settled after that bar's fills, on the position held then, marked at the
bar's close: ``amount = −sign × rate × |size| × close`` (a long pays a positive rate, a short receives it). So a
position opened at the open of the bar starting at ``T`` does not pay ``T``'s funding, and one closed before ``T``
does not either. The times and rates come from the history (Binance every 8 h, Hyperliquid hourly), never from a
clock: a replay settles exactly the same payments. ``funding()`` hands them over once, after ``poll``.

Venue-side cancellations (OCO, orphaned reduce-only orders) produce no fill; ``poll`` returns fills only, so the
OMS sees them through ``order_state``/``open_orders``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated

import msgspec
import trio

from b1e55ed.messages import Bar, Side
from b1e55ed.venues.base import Ack, OrderState, VenueFill, VenueFunding, VenueOrder, VenuePosition
from b1e55ed.venues.fees import FeeSchedule, SlippageModel

if TYPE_CHECKING:
    from b1e55ed.market.funding import FundingRates

__all__ = ["PaperConfig", "PaperVenue"]

_TRIGGER_ROLES = frozenset({"stop", "target"})
_DUST = 1e-12
"""A position whose size is this small relative to the sizes that produced it is float residue: it is flat."""
_Positive = Annotated[float, msgspec.Meta(gt=0)]


class PaperConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    starting_equity: _Positive = 10_000.0
    fees: FeeSchedule = msgspec.field(default_factory=FeeSchedule)
    slippage: SlippageModel = msgspec.field(default_factory=SlippageModel)
    latency_s: Annotated[float, msgspec.Meta(ge=0)] = 0.05
    funding: bool = True


class PaperVenue:
    """A simulated exchange that implements ``Venue``. See the module docstring for the execution rules.

    ``latency_s`` delays every ``submit`` (with ``trio.sleep``, so the autojump clock and the replay stay
    deterministic). Otherwise no method yields to the scheduler: the venue is a few dicts in memory, and a
    history-driven batch settles hundreds of cycles against it without a scheduler round each.

    ``min_notional`` is Hyperliquid's $10 minimum, applied to orders that add exposure, checked against
    ``size × reference_price``. ``timeframe_ms`` is the candle length; ``poll`` uses it to refuse a bar that
    overlaps one it has already executed against, which would double-trigger stops. ``funding``, when given, is
    the rate history the venue settles perpetual funding from (None: no funding).
    """

    name = "paper"

    def __init__(
        self,
        *,
        fees: FeeSchedule,
        slippage: SlippageModel,
        latency_s: float = 0.0,
        min_notional: float = 10.0,
        timeframe_ms: int,
        funding: FundingRates | None = None,
    ) -> None:
        if not (math.isfinite(latency_s) and latency_s >= 0):
            raise ValueError(f"latency_s must be finite and >= 0, got {latency_s}")
        if not (math.isfinite(min_notional) and min_notional >= 0):
            raise ValueError(f"min_notional must be finite and >= 0, got {min_notional}")
        if timeframe_ms <= 0:
            raise ValueError(f"timeframe_ms must be > 0, got {timeframe_ms}")
        self.fees = fees
        self.slippage = slippage
        self.latency_s = latency_s
        self.min_notional = min_notional
        self.timeframe_ms = timeframe_ms
        self._open: dict[str, VenueOrder] = {}  # insertion order = submission order = processing order
        self._states: dict[str, OrderState] = {}
        self._seen: set[str] = set()
        self._positions: dict[str, VenuePosition] = {}
        self._last_bar_ts: dict[str, int] = {}
        self._funding_rates = funding
        self._funding_due: list[VenueFunding] = []
        self._in_play: frozenset[str] | None = None  # symbols_in_play, until an order or a position changes

    # -- the Venue protocol --------------------------------------------------------------------------------------

    async def submit(self, order: VenueOrder) -> Ack:
        """Accept or reject ``order`` after the simulated latency. A rejected order's cloid is spent too."""
        if self.latency_s:
            await trio.sleep(self.latency_s)
        if order.cloid in self._seen:
            return Ack(cloid=order.cloid, accepted=False, reason="duplicate cloid")
        self._seen.add(order.cloid)
        reason = self._rejection(order)
        if reason:
            self._states[order.cloid] = OrderState(cloid=order.cloid, status="rejected")
            return Ack(cloid=order.cloid, accepted=False, reason=reason)
        self._open[order.cloid] = order
        self._in_play = None
        self._states[order.cloid] = OrderState(cloid=order.cloid, status="open")
        return Ack(cloid=order.cloid, accepted=True)

    async def cancel(self, cloid: str) -> bool:
        order = self._open.get(cloid)
        if order is None:
            return False
        self._cancel(order)
        self._cancel_orphans(order.symbol)
        return True

    async def order_state(self, cloid: str) -> OrderState | None:
        """None for a cloid never received, and for one restored only as "seen" (its final state lives in the log)."""
        return self._states.get(cloid)

    async def poll(self, bars: Mapping[str, Sequence[Bar]]) -> list[VenueFill]:
        """Execute against each symbol's new bars, in time order; fills by symbol (as given), bar, then processing.

        Every bar is checked for sequence before any executes, so a bad batch changes nothing. Funding settled
        inside a bar is settled after that bar's fills, and kept for ``funding()``.
        """
        for symbol, symbol_bars in bars.items():
            last = self._last_bar_ts.get(symbol)
            for bar in symbol_bars:
                if last is not None and bar.ts < last + self.timeframe_ms:
                    raise ValueError(
                        f"{symbol} bar at {bar.ts} repeats or overlaps the bar at {last}: poll takes only new bars, "
                        "in time order"
                    )
                last = bar.ts
        fills: list[VenueFill] = []
        for symbol, symbol_bars in bars.items():
            for bar in symbol_bars:
                fills.extend(self._execute_bar(symbol, bar))
                self._funding_due.extend(self._settle_funding(symbol, bar))
                self._last_bar_ts[symbol] = bar.ts
        return fills

    async def funding(self) -> list[VenueFunding]:
        """The funding settled by the polls since the last call, by symbol (as polled) and time."""
        due, self._funding_due = self._funding_due, []
        return due

    async def open_orders(self) -> list[VenueOrder]:
        """Open orders in submission order, the order ``restore`` expects them back in."""
        return list(self._open.values())

    async def positions(self) -> list[VenuePosition]:
        return [self._positions[symbol] for symbol in sorted(self._positions)]

    async def account_value(self) -> float | None:
        return None  # simulated: the account is what the log says

    def symbols_in_play(self) -> frozenset[str]:
        """Symbols with an open order or a position. Any other symbol's bars fill nothing and settle no funding, so
        a poll without them gives the same fills and funding (``BarDrivenVenue``)."""
        if self._in_play is None:
            self._in_play = frozenset(self._positions.keys() | {order.symbol for order in self._open.values()})
        return self._in_play

    # -- restart -------------------------------------------------------------------------------------------------

    def restore(
        self,
        open_orders: Sequence[VenueOrder],
        positions: Sequence[VenuePosition],
        seen_cloids: Iterable[str],
        order_states: Iterable[OrderState] = (),
    ) -> None:
        """Replace all state with what the event log says, so the venue carries on as if it had never stopped.

        ``open_orders`` must come in submission order (as ``open_orders()`` lists them): the venue processes orders
        in that order, so any other order could change fills. ``seen_cloids`` keeps duplicates refused across the
        restart. ``order_states`` (optional) lets ``order_state`` answer for orders that already reached a final
        state; a cloid only in ``seen_cloids`` is refused as a duplicate but has no state here.
        """
        self._open = {order.cloid: order for order in open_orders}
        self._positions = {position.symbol: position for position in positions if position.size != 0}
        self._states = {state.cloid: state for state in order_states}
        self._states.update({cloid: OrderState(cloid=cloid, status="open") for cloid in self._open})
        self._seen = set(seen_cloids) | self._states.keys()
        self._last_bar_ts = {}
        self._funding_due = []
        self._in_play = None

    # -- rules ---------------------------------------------------------------------------------------------------

    def _rejection(self, order: VenueOrder) -> str:
        """Why ``order`` is refused, naming the rule, or "" if it is accepted."""
        if not (math.isfinite(order.size) and order.size > 0):
            return f"size must be positive and finite, got {order.size}"
        is_trigger = order.role in _TRIGGER_ROLES
        if is_trigger and (order.trigger_price is None or not order.reduce_only):
            return f"a {order.role} order must be reduce-only with a trigger_price"
        if not is_trigger and order.trigger_price is not None:
            return f"trigger_price is only for stop/target orders, not {order.role}"
        if order.trigger_price is not None and not (math.isfinite(order.trigger_price) and order.trigger_price > 0):
            return f"trigger_price must be positive and finite, got {order.trigger_price}"
        if order.reduce_only:
            return "" if self._has_something_to_reduce(order.symbol, order.side) else "reduce-only with no position"
        price = order.reference_price
        if price is None or not (math.isfinite(price) and price > 0):
            return "min_notional check needs a positive reference_price"
        if order.size * price < self.min_notional:
            return f"notional {order.size * price:.2f} below min_notional {self.min_notional:.2f}"
        return ""

    def _reducible(self, symbol: str, side: Side) -> float:
        """Units a reduce-only ``side`` order may take off the position now: 0 if flat or on the same side."""
        size = self._positions[symbol].size if symbol in self._positions else 0.0
        return max(size, 0.0) if side == "sell" else max(-size, 0.0)

    def _has_something_to_reduce(self, symbol: str, side: Side) -> bool:
        """A position to reduce now, or a queued entry on the other side that will open one."""
        if self._reducible(symbol, side) > 0:
            return True
        return any(o.symbol == symbol and not o.reduce_only and o.side != side for o in self._open.values())

    def _execute_bar(self, symbol: str, bar: Bar) -> list[VenueFill]:
        fills: list[VenueFill] = []
        markets: list[VenueOrder] = []
        stops: list[VenueOrder] = []
        targets: list[VenueOrder] = []
        for order in self._open.values():
            if order.symbol != symbol or order.not_before > bar.ts:
                continue
            if order.trigger_price is None:
                markets.append(order)
            elif order.role == "stop":
                stops.append(order)
            elif order.role == "target":
                targets.append(order)
        for order in markets:
            if order.cloid not in self._open:  # cancelled by an earlier fill on this bar
                continue
            size = min(order.size, self._reducible(symbol, order.side)) if order.reduce_only else order.size
            if size <= 0:  # an exit that finds nothing to reduce at its open
                self._cancel(order)
                continue
            fills.append(self._fill(order, bar, bar.open, size))
        for order in stops + targets:
            if not _triggered(order, bar) or order.cloid not in self._open:
                continue
            size = min(order.size, self._reducible(symbol, order.side))
            if size > 0:
                fills.append(self._fill(order, bar, _trigger_reference(order, bar), size))
        return fills

    def _settle_funding(self, symbol: str, bar: Bar) -> list[VenueFunding]:
        """Funding for every settlement in ``(bar.ts, bar close]`` on the position held after the bar's fills."""
        position = self._positions.get(symbol)
        if self._funding_rates is None or position is None:
            return []
        close_ts = bar.ts + self.timeframe_ms
        rates = self._funding_rates.rates(symbol, close_ts)
        settled: list[tuple[int, float]] = []
        for index in range(len(rates) - 1, -1, -1):
            ts, rate = rates[index]
            if ts <= bar.ts:
                break
            settled.append((ts, rate))
        if not settled:
            return []
        notional = abs(position.size) * bar.close
        sign = 1 if position.size > 0 else -1
        return [
            VenueFunding(symbol=symbol, rate=rate, notional=notional, amount=-sign * rate * notional, ts=ts)
            for ts, rate in reversed(settled)
        ]

    def _fill(self, order: VenueOrder, bar: Bar, reference: float, size: float) -> VenueFill:
        price = self.slippage.fill_price(reference, order.side, bar, size)
        fill = VenueFill(
            cloid=order.cloid,
            symbol=order.symbol,
            side=order.side,
            size=size,
            price=price,
            fee=self.fees.fee(size * price, "taker"),
            ts=bar.ts,
            role=order.role,
            liquidity="taker",
        )
        del self._open[order.cloid]
        self._in_play = None
        self._states[order.cloid] = OrderState(
            cloid=order.cloid, status="filled", filled_size=size, average_price=price
        )
        self._apply_fill(order.symbol, order.side, size, price)
        self._cancel_orphans(order.symbol)
        return fill

    def _apply_fill(self, symbol: str, side: Side, size: float, price: float) -> None:
        """Entries add (average entry weighted by size), reductions keep the entry, a flip starts afresh."""
        old = self._positions.get(symbol)
        old_size, old_entry = (old.size, old.entry_price) if old else (0.0, 0.0)
        delta = size if side == "buy" else -size
        new_size = old_size + delta
        if abs(new_size) <= _DUST * max(abs(old_size), size):
            self._positions.pop(symbol, None)
            return
        if old_size == 0 or (old_size > 0) == (delta > 0):
            entry = (abs(old_size) * old_entry + size * price) / (abs(old_size) + size)
        elif (old_size > 0) == (new_size > 0):
            entry = old_entry
        else:
            entry = price
        self._positions[symbol] = VenuePosition(symbol=symbol, size=new_size, entry_price=entry)

    def _cancel(self, order: VenueOrder) -> None:
        del self._open[order.cloid]
        self._in_play = None
        self._states[order.cloid] = OrderState(cloid=order.cloid, status="cancelled")

    def _cancel_orphans(self, symbol: str) -> None:
        """Cancel reduce-only orders on ``symbol`` left with nothing to reduce (OCO after a close, or the entry that
        would have opened their position was cancelled)."""
        for order in list(self._open.values()):
            if order.symbol == symbol and order.reduce_only and not self._has_something_to_reduce(symbol, order.side):
                self._cancel(order)


def _falls_to_trigger(order: VenueOrder) -> bool:
    """A sell stop (long's stop) and a buy target (short's target) fire when the price falls to the trigger; a buy
    stop and a sell target when it rises to it."""
    return (order.role == "stop") == (order.side == "sell")


def _triggered(order: VenueOrder, bar: Bar) -> bool:
    assert order.trigger_price is not None
    return bar.low <= order.trigger_price if _falls_to_trigger(order) else bar.high >= order.trigger_price


def _trigger_reference(order: VenueOrder, bar: Bar) -> float:
    """The trigger price, or the open when the bar opened already past it: worse for a stop, better for a target."""
    assert order.trigger_price is not None
    if _falls_to_trigger(order):
        return min(order.trigger_price, bar.open)
    return max(order.trigger_price, bar.open)
