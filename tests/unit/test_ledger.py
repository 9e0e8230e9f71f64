"""The OMS's ledger: positions, cash and equity built only by folding events, so a restart is a replay of the log.

Fills are recorded the way the OMS records them: the position event is derived with ``position_after`` before the
fill is applied, then the order's filled state, the fill and the position change are folded in that order.
"""

from __future__ import annotations

import pytest
from msgspec.structs import replace

from actors.oms.fills import position_after
from actors.oms.ledger import Ledger
from b1e55ed.ids import child_id
from b1e55ed.messages import (
    CycleSettled,
    Direction,
    Event,
    Fill,
    FundingPaid,
    KillSwitchChanged,
    PositionUpdated,
    Side,
    TradeDecided,
)
from tests import samples

START = 10_000.0
TAKER = 0.00045  # the paper venue's default taker fee
T_DECIDE, T_ENTRY, T_EXIT = 1_000, 2_000, 3_000


class Book:
    """A ledger driven as the OMS drives it, keeping the log of everything it folded."""

    def __init__(self) -> None:
        self.ledger = Ledger(START)
        self.log: list[Event] = []

    def record(self, *events: Event) -> None:
        self.ledger.fold(events)
        self.log.extend(events)

    def decide(self, symbol: str, direction: Direction, units: float, entry: float, stop: float, target: float) -> str:
        """An approved trade, its entry order and its reduce-only stop and target, all pending."""
        cloid = f"0x{symbol.lower()}-{len(self.log)}"
        trade = samples.trade(
            symbol=symbol, direction=direction, size=units * entry / START, entry=entry, stop=stop, target=target
        )
        buy: Side = "buy" if direction == "long" else "sell"
        sell: Side = "sell" if direction == "long" else "buy"
        entry_order = samples.order(
            ts=T_DECIDE, cloid=cloid, symbol=symbol, side=direction, size=units, order_side=buy, reference_price=entry
        )
        protection = [
            replace(
                entry_order,
                cloid=child_id(cloid, role),
                role=role,
                order_side=sell,
                reduce_only=True,
                trigger_price=price,
                parent=cloid,
            )
            for role, price in (("stop", stop), ("target", target))
        ]
        self.record(TradeDecided(ts=T_DECIDE, trade=trade, decision_id=cloid), entry_order, *protection)
        return cloid

    def fill(self, cloid: str, price: float, ts: int, size: float | None = None) -> PositionUpdated | None:
        order = self.ledger.orders[cloid]
        units = order.size if size is None else size
        fill = Fill(
            ts=ts,
            cloid=cloid,
            symbol=order.symbol,
            side=order.order_side,
            size=units,
            price=price,
            fee=round(units * price * TAKER, 10),
            role=order.role,
            venue="paper",
        )
        position = position_after(self.ledger, fill, order, ts)
        filled = replace(order, ts=ts, status="filled", filled_price=price, filled_size=units)
        self.record(filled, fill, *([position] if position else []))
        return position


def opened_long() -> tuple[Book, str]:
    """0.1 BTC bought at 50,000 ($5,000; fee $2.25), stop 48,500, target 55,000."""
    book = Book()
    cloid = book.decide("BTC", "long", 0.1, 50_000.0, 48_500.0, 55_000.0)
    book.fill(cloid, 50_000.0, T_ENTRY)
    return book, cloid


def opened_short() -> tuple[Book, str]:
    """2 ETH sold at 3,000 ($6,000; fee $2.70), stop 3,090, target 2,700."""
    book = Book()
    cloid = book.decide("ETH", "short", 2.0, 3_000.0, 3_090.0, 2_700.0)
    book.fill(cloid, 3_000.0, T_ENTRY)
    return book, cloid


def replayed(log: list[Event]) -> Ledger:
    ledger = Ledger(START)
    ledger.fold(log)
    return ledger


def stop_of(cloid: str) -> str:
    return child_id(cloid, "stop")


def target_of(cloid: str) -> str:
    return child_id(cloid, "target")


# -- opening ------------------------------------------------------------------------------------------------------


def test_an_entry_fill_opens_a_position_with_the_trades_stop_and_target_and_its_fee() -> None:
    book = Book()
    cloid = book.decide("BTC", "long", 0.1, 50_000.0, 48_500.0, 55_000.0)
    assert book.ledger.pending_entry("BTC") is not None
    opened = book.fill(cloid, 50_010.0, T_ENTRY)  # filled a little above the reference: slippage
    assert opened is not None
    assert opened.fees == pytest.approx(2.250450)  # 0.1 × 50,010 × 0.045%
    assert opened == PositionUpdated(
        ts=T_ENTRY,
        position_id=cloid,
        symbol="BTC",
        side="long",
        entry_price=50_010.0,
        size=0.1,
        stop=48_500.0,
        target=55_000.0,
        status="open",
        opened_at=T_ENTRY,
        fees=opened.fees,
    )
    position = book.ledger.positions["BTC"]
    assert (position.side, position.size, position.entry_price) == ("long", 0.1, 50_010.0)
    assert (position.stop, position.target) == (48_500.0, 55_000.0)
    assert book.ledger.cash == pytest.approx(START - 2.25045)
    assert book.ledger.pending_entry("BTC") is None
    assert {o.role for o in book.ledger.open_orders()} == {"stop", "target"}  # still guarding the position


def test_equity_and_exposure_mark_open_positions() -> None:
    book, _ = opened_long()
    ledger = book.ledger
    assert ledger.cash == pytest.approx(9_997.75)
    assert ledger.equity({}) == pytest.approx(9_997.75)  # no mark: valued at its entry
    assert ledger.exposure({}) == pytest.approx(5_000.0)
    assert ledger.equity({"BTC": 52_000.0}) == pytest.approx(9_997.75 + 200.0)
    assert ledger.exposure({"BTC": 52_000.0}) == pytest.approx(5_200.0)
    assert ledger.equity({"BTC": 45_000.0}) == pytest.approx(9_997.75 - 500.0)


def test_valuation_is_equity_and_exposure_to_the_bit_and_an_int_zero_exposure_when_flat() -> None:
    long_book, _ = opened_long()
    short_book, _ = opened_short()
    both = Book()
    both.record(*long_book.log, *short_book.log)
    for ledger in (Book().ledger, long_book.ledger, both.ledger):
        for marks in ({}, {"BTC": 52_000.1}, {"BTC": 45_000.3, "ETH": 3_100.7}):
            equity, exposure = ledger.valuation(marks)
            assert (equity, exposure) == (ledger.equity(marks), ledger.exposure(marks))
            assert (type(equity), type(exposure)) == (type(ledger.equity(marks)), type(ledger.exposure(marks)))
    assert Book().ledger.valuation({}) == (START, 0)  # the exposure an int, as ``sum`` gives it: the log's bytes


def test_a_short_position_mirrors_the_signs() -> None:
    book, _ = opened_short()
    ledger = book.ledger
    assert ledger.positions["ETH"].side == "short"
    assert ledger.cash == pytest.approx(START - 2.7)
    assert ledger.equity({"ETH": 3_100.0}) == pytest.approx(START - 2.7 - 200.0)  # price up: a short loses
    assert ledger.equity({"ETH": 2_900.0}) == pytest.approx(START - 2.7 + 200.0)
    assert ledger.exposure({"ETH": 3_100.0}) == pytest.approx(6_200.0)  # exposure is |notional|


# -- closing ------------------------------------------------------------------------------------------------------


def test_a_stop_fill_closes_the_position_as_stopped_with_pnl_net_of_all_fees() -> None:
    book, cloid = opened_long()
    closed = book.fill(stop_of(cloid), 48_500.0, T_EXIT)  # fee 0.1 × 48,500 × 0.045% = 2.1825
    assert closed is not None
    assert closed.status == "stopped"
    assert (closed.position_id, closed.exit_price, closed.closed_at) == (cloid, 48_500.0, T_EXIT)
    assert closed.fees == pytest.approx(2.25 + 2.1825)
    assert closed.pnl == pytest.approx(-150.0 - 4.4325)  # -154.4325
    assert "BTC" not in book.ledger.positions
    assert book.ledger.cash == pytest.approx(START - 4.4325 - 150.0)  # 9,845.5675
    assert book.ledger.equity({"BTC": 60_000.0}) == book.ledger.cash  # flat: the mark no longer matters
    assert book.ledger.exposure({"BTC": 60_000.0}) == 0.0


def test_a_target_fill_closes_the_position_with_its_profit() -> None:
    book, cloid = opened_long()
    closed = book.fill(target_of(cloid), 55_000.0, T_EXIT)  # fee 2.475
    assert closed is not None
    assert closed.status == "closed"
    assert closed.pnl == pytest.approx(500.0 - 4.725)  # 495.275
    assert book.ledger.cash == pytest.approx(START - 4.725 + 500.0)
    assert book.ledger.positions == {}


def test_a_short_closed_at_its_target_profits_from_the_fall() -> None:
    book, cloid = opened_short()
    closed = book.fill(target_of(cloid), 2_700.0, T_EXIT)  # fee 2.43
    assert closed is not None
    assert (closed.status, closed.side) == ("closed", "short")
    assert closed.pnl == pytest.approx(600.0 - 5.13)
    assert book.ledger.cash == pytest.approx(START + 600.0 - 5.13)


def test_a_short_stopped_out_loses_the_rise() -> None:
    book, cloid = opened_short()
    closed = book.fill(stop_of(cloid), 3_090.0, T_EXIT)  # fee 2.781
    assert closed is not None
    assert closed.status == "stopped"
    assert closed.pnl == pytest.approx(-180.0 - 5.481)
    assert book.ledger.cash == pytest.approx(START - 180.0 - 5.481)


def test_cash_is_starting_equity_less_fees_plus_realised_pnl_over_many_trades() -> None:
    book = Book()
    btc = book.decide("BTC", "long", 0.1, 50_000.0, 48_500.0, 55_000.0)
    eth = book.decide("ETH", "short", 2.0, 3_000.0, 3_090.0, 2_700.0)
    book.fill(btc, 50_000.0, T_ENTRY)
    book.fill(eth, 3_000.0, T_ENTRY)
    closes = [book.fill(stop_of(btc), 48_500.0, T_EXIT), book.fill(target_of(eth), 2_700.0, T_EXIT)]
    fees = sum(e.fee for e in book.log if isinstance(e, Fill))
    assert fees == pytest.approx(2.25 + 2.7 + 2.1825 + 2.43)
    assert book.ledger.cash == pytest.approx(START - fees - 150.0 + 600.0)
    assert sum(c.pnl or 0.0 for c in closes if c) == pytest.approx(book.ledger.cash - START)


def test_a_close_after_a_partial_exit_reports_the_whole_realised_pnl() -> None:
    """Half sold at 52,000 (+100), the rest at the 55,000 target (+250): the position made 350 less its fees."""
    book, cloid = opened_long()
    exit_order = replace(
        book.ledger.orders[stop_of(cloid)], cloid="0xexit", role="exit", trigger_price=None, status="submitted"
    )
    book.record(exit_order)
    reduced = book.fill("0xexit", 52_000.0, T_EXIT, size=0.05)  # fee 1.17
    assert reduced is not None
    assert reduced.status == "open"
    assert reduced.size == pytest.approx(0.05)
    closed = book.fill(target_of(cloid), 55_000.0, T_EXIT + 1, size=0.05)  # fee 1.2375
    assert closed is not None
    fees = 2.25 + 1.17 + 1.2375
    assert closed.fees == pytest.approx(fees)
    assert closed.pnl == pytest.approx(100.0 + 250.0 - fees)
    assert book.ledger.cash == pytest.approx(START + 350.0 - fees)
    assert replayed(book.log) == book.ledger


def test_a_stop_or_target_fill_without_a_position_changes_no_position() -> None:
    book = Book()
    cloid = book.decide("BTC", "long", 0.1, 50_000.0, 48_500.0, 55_000.0)
    assert book.fill(stop_of(cloid), 48_500.0, T_EXIT) is None
    assert book.ledger.positions == {}


def test_a_second_entry_fill_averages_the_entry_price() -> None:
    book, cloid = opened_long()
    book.record(replace(book.ledger.orders[cloid], cloid="0xmore", status="submitted"))
    added = book.fill("0xmore", 52_000.0, T_EXIT)
    assert added is not None
    assert added.position_id == cloid
    assert added.size == pytest.approx(0.2)
    assert added.entry_price == pytest.approx(51_000.0)
    assert added.fees == pytest.approx(2.25 + 2.34)


# -- the log is the truth -----------------------------------------------------------------------------------------


def full_history() -> Book:
    book = Book()
    btc = book.decide("BTC", "long", 0.1, 50_000.0, 48_500.0, 55_000.0)
    eth = book.decide("ETH", "short", 2.0, 3_000.0, 3_090.0, 2_700.0)
    book.fill(btc, 50_000.0, T_ENTRY)
    book.fill(eth, 3_000.0, T_ENTRY)
    book.record(
        CycleSettled(ts=T_ENTRY, cycle=1, as_of=T_ENTRY, cash=0.0, equity=10_300.0, exposure=0.0, open_positions=2)
    )
    book.fill(target_of(eth), 2_700.0, T_EXIT)
    book.record(
        KillSwitchChanged(ts=T_EXIT, state="REDUCING", previous="ACTIVE", cause="manual", detail="by hand"),
        CycleSettled(ts=T_EXIT, cycle=2, as_of=T_EXIT, cash=0.0, equity=10_100.0, exposure=0.0, open_positions=1),
    )
    return book


def test_folding_the_log_from_scratch_rebuilds_the_same_ledger() -> None:
    book = full_history()
    first, second = replayed(book.log), replayed(book.log)
    assert first == second
    assert first == book.ledger  # a restart replays the log into exactly the book the live run had
    assert set(first.positions) == {"BTC"}
    assert first.positions["BTC"] == book.ledger.positions["BTC"]


def test_cycle_settled_moves_the_peak_equity_only_up() -> None:
    ledger = Ledger(START)
    assert ledger.peak_equity == START
    ledger.fold(full_history().log)
    assert ledger.peak_equity == 10_300.0  # the later settlement at 10,100 does not lower it
    assert (ledger.last_settled_cycle, ledger.last_settled_as_of) == (2, T_EXIT)


def test_kill_switch_changes_set_the_trading_state() -> None:
    ledger = Ledger(START)
    states = [ledger.trading_state]
    ledger.apply(KillSwitchChanged(ts=1, state="HALTED", previous="ACTIVE", cause="drawdown", detail="-20%"))
    states.append(ledger.trading_state)
    ledger.apply(KillSwitchChanged(ts=2, state="REDUCING", previous="HALTED", cause="manual", detail="ease off"))
    states.append(ledger.trading_state)
    ledger.apply(KillSwitchChanged(ts=3, state="ACTIVE", previous="REDUCING", cause="manual", detail="resume"))
    states.append(ledger.trading_state)
    assert states == ["ACTIVE", "HALTED", "REDUCING", "ACTIVE"]


@pytest.mark.parametrize("status", ["filled", "rejected", "cancelled", "duplicate"])
def test_final_orders_are_not_open(status: str) -> None:
    book = Book()
    cloid = book.decide("BTC", "long", 0.1, 50_000.0, 48_500.0, 55_000.0)
    book.record(replace(book.ledger.orders[cloid], status=status))
    assert cloid not in {o.cloid for o in book.ledger.open_orders()}
    assert book.ledger.pending_entry("BTC") is None


def test_orders_await_the_venue_while_pending_or_partly_filled_not_once_submitted_or_final() -> None:
    book = Book()
    cloid = book.decide("BTC", "long", 0.1, 50_000.0, 48_500.0, 55_000.0)
    assert book.ledger.has_orders_awaiting_venue  # all three pending
    for order in book.ledger.open_orders():
        book.record(replace(order, status="submitted"))
    assert not book.ledger.has_orders_awaiting_venue
    book.record(replace(book.ledger.orders[cloid], status="partially_filled", filled_size=0.05))
    assert book.ledger.has_orders_awaiting_venue
    book.record(replace(book.ledger.orders[cloid], status="filled", filled_size=0.1))
    assert not book.ledger.has_orders_awaiting_venue
    assert book.ledger.has_open_orders  # the stop and target, submitted


# -- funding and the day's starting equity --------------------------------------------------------------------------


def test_funding_moves_cash_and_counts_in_the_positions_pnl_at_close() -> None:
    book, cloid = opened_long()
    paid = FundingPaid(
        ts=T_ENTRY, symbol="BTC", rate=0.0001, notional=5_000.0, amount=-0.5, venue="paper", funding_ts=1
    )
    received = replace(paid, rate=-0.00002, amount=0.1)
    book.record(paid, received)
    assert book.ledger.cash == pytest.approx(START - 2.25 - 0.4)
    assert book.ledger.positions["BTC"].funding == pytest.approx(-0.4)
    closed = book.fill(target_of(cloid), 55_000.0, T_EXIT)
    assert closed is not None
    assert closed.pnl == pytest.approx(500.0 - 2.25 - 55_000.0 * 0.1 * TAKER - 0.4)
    assert replayed(book.log) == book.ledger


def test_funding_without_a_position_still_moves_cash() -> None:
    ledger = Ledger(START)
    ledger.apply(FundingPaid(ts=1, symbol="SOL", rate=0.001, notional=100.0, amount=-0.1, venue="paper", funding_ts=1))
    assert ledger.cash == pytest.approx(START - 0.1)


def test_the_days_starting_equity_is_the_first_settled_cycle_of_each_utc_day() -> None:
    day = 86_400_000
    ledger = Ledger(START)

    def settle(cycle: int, as_of: int, equity: float) -> None:
        ledger.apply(
            CycleSettled(ts=0, cycle=cycle, as_of=as_of, cash=equity, equity=equity, exposure=0.0, open_positions=0)
        )

    settle(1, 5 * day + 1, 10_000.0)
    settle(2, 5 * day + 3_600_000, 9_500.0)
    assert (ledger.day, ledger.day_start_equity) == (5, 10_000.0)
    assert ledger.daily_loss_pct(9_500.0, 5 * day + 7_200_000) == pytest.approx(5.0)
    assert ledger.daily_loss_pct(10_500.0, 5 * day + 7_200_000) == 0.0
    assert ledger.daily_loss_pct(9_000.0, 6 * day) == 0.0  # a new day, not settled yet: nothing lost on it
    settle(3, 6 * day, 9_000.0)
    assert (ledger.day, ledger.day_start_equity) == (6, 9_000.0)
