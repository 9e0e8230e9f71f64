"""Properties checked on machine-made inputs (Hypothesis): the codec, the chain's verification, the risk gate, and
the paper venue with the ledger.

The number of examples per property is in ``EXAMPLES``; a failure prints the smallest input that breaks it.
"""

from __future__ import annotations

from typing import Literal

import pytest
import trio
from hypothesis import event, given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from actors.oms.fills import record_fills, record_funding
from actors.oms.ledger import Ledger, Position
from actors.oms.risk import entry_checks
from b1e55ed.eventlog import codec
from b1e55ed.eventlog.chain import EMPTY_HEAD, ChainBroken, Record, extend, verify_rows
from b1e55ed.ids import child_id
from b1e55ed.messages import Bar, Direction, Event, OrderUpdated, Side, Trade
from b1e55ed.trading_config import RiskPolicy
from b1e55ed.venues.base import VenueOrder
from b1e55ed.venues.fees import FeeSchedule, SlippageModel
from b1e55ed.venues.paper import PaperVenue
from tests.properties import any_event

EXAMPLES = 300
Column = Literal["payload", "prev_hash", "hash"]
SYMBOLS = ("BTC", "ETH", "SOL", "DOGE")
_EPSILON = 1e-9


@settings(max_examples=EXAMPLES, deadline=None)
@given(any_event())
def test_every_event_survives_the_codec(event: Event) -> None:
    assert codec.decode(codec.encode(event)) == event
    assert codec.decode_header(codec.encode(event)).kind == codec.kind_of(event)


def rows(records: list[Record]) -> list[tuple[int, int, str, bytes, bytes, bytes]]:
    return [(r.seq, r.ts, r.kind, r.payload, r.prev_hash, r.hash) for r in records]


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    st.lists(any_event(), min_size=1, max_size=8),
    st.integers(min_value=0),
    st.sampled_from(("payload", "prev_hash", "hash")),
    st.integers(min_value=0),
    st.integers(min_value=1, max_value=255),
)
def test_verify_finds_any_single_changed_byte_and_names_its_seq(
    events: list[Event], which: int, column: Column, offset: int, flip: int
) -> None:
    records = extend(EMPTY_HEAD, events)
    assert verify_rows(rows(records)).count == len(events)
    index = which % len(records)
    value = bytearray(getattr(records[index], column))
    value[offset % len(value)] ^= flip
    records[index] = replace(records[index], **{column: bytes(value)})
    with pytest.raises(ChainBroken) as broken:
        verify_rows(rows(records))
    assert broken.value.seq == index + 1


prices = st.floats(min_value=0.01, max_value=100_000.0, allow_nan=False)


@st.composite
def books(draw: st.DrawFn) -> tuple[Ledger, dict[str, float]]:
    """A ledger with up to three open positions, and marks for every symbol."""
    ledger = Ledger(draw(st.floats(min_value=1_000.0, max_value=1_000_000.0)))
    marks = {symbol: draw(prices) for symbol in SYMBOLS}
    for symbol in draw(st.lists(st.sampled_from(SYMBOLS), unique=True, max_size=3)):
        entry = marks[symbol] * draw(st.floats(min_value=0.8, max_value=1.2))
        share = draw(st.floats(min_value=0.0, max_value=0.5))  # of the starting equity, at entry
        ledger.positions[symbol] = Position(
            position_id=f"p-{symbol}",
            symbol=symbol,
            side=draw(st.sampled_from(("long", "short"))),
            size=share * ledger.starting_equity / entry,
            entry_price=entry,
            stop=entry * 0.97,
            target=entry * 1.1,
            opened_at=0,
        )
    return ledger, marks


@st.composite
def trades(draw: st.DrawFn) -> Trade:
    entry = draw(prices)
    return Trade(
        symbol=draw(st.sampled_from(SYMBOLS)),
        direction=draw(st.sampled_from(("long", "short"))),
        size=draw(st.floats(min_value=0.0, max_value=0.5)),
        entry=entry,
        stop=entry * 0.97,
        target=entry * 1.1,
        rationale="property",
        strategy="any",
        conviction=draw(st.integers(1, 10)),
    )


policies = st.builds(
    RiskPolicy,
    max_position=st.floats(min_value=0.01, max_value=1.0),
    max_leverage=st.floats(min_value=0.1, max_value=10.0),
    max_sector_exposure=st.floats(min_value=0.01, max_value=1.0),
    sectors=st.just({"BTC": "a", "ETH": "b", "SOL": "b", "DOGE": "a"}),
)


@settings(max_examples=EXAMPLES, deadline=None)
@given(books(), trades(), policies, st.sampled_from(("REDUCING", "HALTED")))
def test_the_risk_gate_lets_no_entry_through_unless_trading_is_active(
    book: tuple[Ledger, dict[str, float]], trade: Trade, policy: RiskPolicy, state: str
) -> None:
    ledger, marks = book
    checks = entry_checks(trade, "0x1", ledger=ledger, marks=marks, policy=policy, trading_state=state)
    assert not all(check.passed for check in checks)
    assert next(c.name for c in checks if not c.passed) == "trading_state"


@settings(max_examples=EXAMPLES, deadline=None)
@given(books(), trades(), policies)
def test_an_approved_entry_keeps_position_leverage_and_sector_within_the_policy(
    book: tuple[Ledger, dict[str, float]], trade: Trade, policy: RiskPolicy
) -> None:
    ledger, marks = book
    checks = entry_checks(trade, "0x1", ledger=ledger, marks=marks, policy=policy, trading_state="ACTIVE")
    approved = all(check.passed for check in checks)
    event("approved" if approved else "refused")
    if not approved:
        return
    equity = ledger.equity(marks)
    notional = trade.size * equity
    assert trade.size <= policy.max_position + _EPSILON
    assert (ledger.exposure(marks) + notional) / equity <= policy.max_leverage + _EPSILON
    sector = policy.sectors[trade.symbol]
    held = sum(abs(p.size * marks[p.symbol]) for p in ledger.positions.values() if policy.sectors[p.symbol] == sector)
    limit = policy.max_sector_exposure * equity
    assert held + notional <= limit + _EPSILON * max(1.0, limit)


# -- the paper venue and the ledger conserve value -----------------------------------------------------------------

HOUR = 3_600_000
START = 10_000.0


class FixedFunding:
    """Funding rates at fixed times: what the venue reads from a history."""

    def __init__(self, rates: list[tuple[int, float]]) -> None:
        self._rates = sorted(rates)

    def rates(self, symbol: str, until_ms: int) -> list[tuple[int, float]]:
        return [(ts, rate) for ts, rate in self._rates if ts <= until_ms]


@st.composite
def market_stories(draw: st.DrawFn) -> tuple[list[Bar], dict[int, tuple[Direction, float, float, float]], FixedFunding]:
    """A random walk of BTC bars (gaps at the open included), trades decided at some closes (direction, units, stop
    and target distance in percent) and funding settlements at random hours."""
    count = draw(st.integers(3, 30))
    price, bars = 50_000.0, []
    for index in range(count):
        bar_open = price * (1 + draw(st.floats(-0.03, 0.03)))
        close = bar_open * (1 + draw(st.floats(-0.06, 0.06)))
        high = max(bar_open, close) * (1 + draw(st.floats(0, 0.03)))
        low = min(bar_open, close) * (1 - draw(st.floats(0, 0.03)))
        volume = draw(st.floats(0, 1e4))
        bars.append(Bar(ts=index * HOUR, open=bar_open, high=high, low=low, close=close, volume=volume))
        price = close
    directions: tuple[Direction, ...] = ("long", "short")
    trade = st.tuples(st.sampled_from(directions), st.floats(0.001, 0.5), st.floats(0.5, 8), st.floats(0.5, 15))
    trades = draw(st.dictionaries(st.integers(0, count - 2), trade, min_size=1, max_size=6))
    settlements = draw(st.lists(st.tuples(st.integers(0, count * HOUR), st.floats(-0.01, 0.01)), max_size=6))
    return bars, trades, FixedFunding(settlements)


async def play(
    bars: list[Bar], trades: dict[int, tuple[Direction, float, float, float]], funding: FixedFunding
) -> list[tuple[float, float, dict[str, float], dict[str, float]]]:
    """The story through the paper venue and the ledger, as the OMS drives them. After each bar: the ledger's
    equity, the value of the venue's cash flows and positions at the close, and both sides' positions."""
    venue = PaperVenue(
        fees=FeeSchedule(), slippage=SlippageModel(), min_notional=0.0, timeframe_ms=HOUR, funding=funding
    )
    ledger, flows, held, seen = Ledger(START), 0.0, 0.0, []
    for index, bar in enumerate(bars):
        fills = await venue.poll({"BTC": [bar]})
        record_fills(ledger, fills, cycle=index, ts=bar.ts, venue="paper")
        payments = await venue.funding()
        record_funding(ledger, payments, ts=bar.ts, venue="paper")
        for fill in fills:
            signed = fill.size if fill.side == "buy" else -fill.size
            flows, held = flows - signed * fill.price - fill.fee, held + signed
        flows += sum(payment.amount for payment in payments)
        if (decided := trades.get(index)) is not None and "BTC" not in ledger.positions:
            for order in entry_orders(index, bar, *decided):
                ledger.fold([order])
                await venue.submit(VenueOrder.of(order))
        venue_positions = {p.symbol: p.size for p in await venue.positions()}
        book = {symbol: p.sign * p.size for symbol, p in ledger.positions.items()}
        seen.append((ledger.equity({"BTC": bar.close}), START + flows + held * bar.close, venue_positions, book))
    return seen


def entry_orders(
    index: int, bar: Bar, direction: Direction, units: float, stop_pct: float, target_pct: float
) -> list[OrderUpdated]:
    """An entry at the next bar's open with its reduce-only stop and target, as the OMS logs them."""
    cloid, sign = f"0x{index:04x}", 1 if direction == "long" else -1
    buy: Side = "buy" if direction == "long" else "sell"
    sell: Side = "sell" if direction == "long" else "buy"
    entry = OrderUpdated(
        ts=bar.ts, cloid=cloid, status="pending", symbol="BTC", side=direction, size=units, exchange="paper",
        role="entry", order_side=buy, reference_price=bar.close, not_before=bar.ts + HOUR,
    )  # fmt: skip
    levels = (("stop", bar.close * (1 - sign * stop_pct / 100)), ("target", bar.close * (1 + sign * target_pct / 100)))
    child = {"order_side": sell, "reduce_only": True, "parent": cloid}
    protection = [
        replace(entry, cloid=child_id(cloid, role), role=role, trigger_price=price, **child) for role, price in levels
    ]
    return [entry, *protection]


@settings(max_examples=EXAMPLES, deadline=None)
@given(market_stories())
def test_the_paper_venue_and_the_ledger_conserve_value(
    story: tuple[list[Bar], dict[int, tuple[Direction, float, float, float]], FixedFunding],
) -> None:
    """Equity changes only by P&L, fees and funding: after every bar, the ledger's equity is the starting equity plus
    every fill's cash flow (its notional, less its fee) and every funding payment, plus the positions the venue
    holds at the close; and the ledger holds what the venue holds."""
    seen = trio.run(play, *story)
    event(f"{sum(1 for _, _, held, _ in seen if held)} bars holding a position")
    for equity, value, venue_positions, book in seen:
        assert equity == pytest.approx(value, rel=1e-9, abs=1e-6)
        assert book.keys() == venue_positions.keys()
        for symbol, size in venue_positions.items():
            assert book[symbol] == pytest.approx(size, rel=1e-9)
