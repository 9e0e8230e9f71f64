"""Properties checked on machine-made inputs (Hypothesis): the codec, the chain's verification, the risk gate.

The number of examples per property is in ``EXAMPLES``; a failure prints the smallest input that breaks it.
"""

from __future__ import annotations

from typing import Literal

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from actors.oms.ledger import Ledger, Position
from actors.oms.risk import entry_checks
from b1e55ed.eventlog import codec
from b1e55ed.eventlog.chain import EMPTY_HEAD, ChainBroken, Record, extend, verify_rows
from b1e55ed.messages import Event, Trade
from b1e55ed.trading_config import RiskPolicy
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
