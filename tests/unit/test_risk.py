"""The risk gate's entry checks: each rejects the trade that breaks it, by name, with its numbers."""

from __future__ import annotations

import pytest

from actors.oms.ledger import Ledger
from actors.oms.risk import entry_checks
from b1e55ed.messages import (
    Check,
    CycleSettled,
    Direction,
    OrderRole,
    OrderStatus,
    OrderUpdated,
    PositionUpdated,
    Trade,
)
from b1e55ed.trading_config import RiskPolicy

EQUITY = 10_000.0
CLOID = "0x" + "ab" * 16
CHECK_NAMES = [
    "trading_state",
    "restricted_symbol",
    "idempotency",
    "one_position_per_symbol",
    "max_position",
    "max_leverage",
    "min_notional",
    "max_open_positions",
    "sector_exposure",
    "daily_loss",
]


def trade(symbol: str = "BTC", size: float = 0.05, entry: float = 50_000.0, direction: Direction = "long") -> Trade:
    sign = 1 if direction == "long" else -1
    return Trade(
        symbol=symbol,
        direction=direction,
        size=size,
        entry=entry,
        stop=entry * (1 - sign * 0.03),
        target=entry * (1 + sign * 0.10),
        rationale="test",
        strategy="confluence",
        conviction=7,
    )


def order(
    cloid: str,
    symbol: str,
    units: float,
    price: float,
    *,
    status: OrderStatus = "pending",
    role: OrderRole = "entry",
    filled_size: float | None = None,
) -> OrderUpdated:
    return OrderUpdated(
        ts=1,
        cloid=cloid,
        status=status,
        symbol=symbol,
        side="long",
        size=units,
        exchange="paper",
        role=role,
        order_side="buy" if role == "entry" else "sell",
        reduce_only=role != "entry",
        reference_price=price,
        filled_size=filled_size,
    )


def position(symbol: str, units: float, price: float, side: Direction = "long") -> PositionUpdated:
    return PositionUpdated(
        ts=1,
        position_id=f"pos-{symbol}",
        symbol=symbol,
        side=side,
        entry_price=price,
        size=units,
        stop=price * 0.97,
        target=price * 1.1,
        status="open",
        opened_at=1,
    )


def check(
    the_trade: Trade | None = None,
    *,
    ledger: Ledger | None = None,
    marks: dict[str, float] | None = None,
    policy: RiskPolicy | None = None,
    state: str = "ACTIVE",
    cloid: str = CLOID,
    as_of: int = 0,
) -> list[Check]:
    return entry_checks(
        the_trade or trade(),
        cloid,
        ledger=ledger or Ledger(EQUITY),
        marks=marks or {},
        policy=policy or RiskPolicy(),
        trading_state=state,
        as_of=as_of,
    )


def failed(checks: list[Check]) -> set[str]:
    return {c.name for c in checks if not c.passed}


def detail(checks: list[Check], name: str) -> str:
    return next(c.detail for c in checks if c.name == name)


def test_a_clean_trade_passes_every_check_in_order() -> None:
    checks = check()
    assert [c.name for c in checks] == CHECK_NAMES
    assert failed(checks) == set()


@pytest.mark.parametrize("state", ["REDUCING", "HALTED"])
def test_kill_switch_rejects_entries(state: str) -> None:
    checks = check(state=state)
    assert failed(checks) == {"trading_state"}
    assert state in detail(checks, "trading_state")


def test_restricted_symbol_is_rejected() -> None:
    checks = check(policy=RiskPolicy(restricted_symbols=("BTC", "DOGE")))
    assert failed(checks) == {"restricted_symbol"}
    assert detail(checks, "restricted_symbol") == "BTC is on the DCG list"
    assert failed(check(trade("ETH", entry=3_000.0), policy=RiskPolicy(restricted_symbols=("BTC",)))) == set()


def test_a_decision_already_ordered_is_a_duplicate() -> None:
    ledger = Ledger(EQUITY)
    ledger.apply(order(CLOID, "BTC", 0.01, 50_000.0, status="cancelled"))
    checks = check(ledger=ledger)
    assert failed(checks) == {"idempotency"}
    assert detail(checks, "idempotency") == f"order {CLOID} already cancelled"
    assert failed(check(ledger=ledger, cloid="0x" + "cd" * 16)) == set()


def test_an_open_position_blocks_a_second_entry_on_the_symbol() -> None:
    ledger = Ledger(EQUITY)
    ledger.apply(position("BTC", 0.01, 50_000.0, side="short"))
    checks = check(ledger=ledger)
    assert failed(checks) == {"one_position_per_symbol"}
    assert detail(checks, "one_position_per_symbol") == "BTC: short position open"
    assert failed(check(trade("ETH", entry=3_000.0), ledger=ledger)) == set()


def test_a_pending_entry_blocks_a_second_entry_on_the_symbol() -> None:
    ledger = Ledger(EQUITY)
    ledger.apply(order("0xother", "BTC", 0.01, 50_000.0, status="submitted"))
    checks = check(ledger=ledger)
    assert failed(checks) == {"one_position_per_symbol"}
    assert detail(checks, "one_position_per_symbol") == "BTC: entry 0xother pending"


def test_a_finished_entry_does_not_block_the_symbol() -> None:
    ledger = Ledger(EQUITY)
    ledger.apply(order("0xold", "BTC", 0.01, 50_000.0, status="rejected"))
    assert failed(check(ledger=ledger)) == set()


def test_max_position_is_fifteen_percent() -> None:
    assert failed(check(trade(size=0.15))) == set()
    checks = check(trade(size=0.16))
    assert failed(checks) == {"max_position"}
    assert detail(checks, "max_position") == "size 16.00% vs limit 15.00%"
    assert failed(check(trade(size=0.16), policy=RiskPolicy(max_position=0.2))) == set()


def test_max_leverage_counts_open_positions_and_this_order() -> None:
    ledger = Ledger(EQUITY)
    ledger.apply(position("ETH", 10.0, 2_900.0))  # $29,000 open: 2.9x
    assert failed(check(trade(size=0.1), ledger=ledger)) == set()  # + $1,000 = 3.0x: at the limit
    checks = check(trade(size=0.15), ledger=ledger)  # + $1,500 = 3.05x
    assert failed(checks) == {"max_leverage"}
    assert "3.05x vs limit 3x" in detail(checks, "max_leverage")


def test_max_leverage_marks_open_positions_to_market() -> None:
    ledger = Ledger(EQUITY)
    ledger.apply(position("ETH", 10.0, 2_000.0))  # $20,000 at entry
    assert failed(check(trade(size=0.05), ledger=ledger)) == set()
    # ETH at 3,000: exposure $30,000 on equity $20,000 (10,000 cash + 10,000 unrealised) is 1.5x, + 5% = 1.55x
    checks = check(trade(size=0.05), ledger=ledger, marks={"ETH": 3_000.0})
    assert "1.55x" in detail(checks, "max_leverage")
    # ETH at 1,200: exposure $12,000 on equity $2,000 (10,000 - 8,000 unrealised) is 6x, + 5% = 6.05x
    checks = check(trade(size=0.05), ledger=ledger, marks={"ETH": 1_200.0})
    assert failed(checks) == {"max_leverage"}
    assert "6.05x" in detail(checks, "max_leverage")


def test_max_leverage_counts_entry_orders_not_yet_filled() -> None:
    """Entries approved earlier (this cycle, or waiting for the next bar's open) will become exposure."""
    ledger = Ledger(EQUITY)
    ledger.apply(position("ETH", 10.0, 2_000.0))  # $20,000 open
    ledger.apply(order("0xsol", "SOL", 60.0, 150.0, status="pending"))  # $9,000 not yet filled
    # 20,000 + 9,000 + 1,500 = 30,500 over 10,000 = 3.05x; without the pending entry it would be 2.15x
    checks = check(trade(size=0.15), ledger=ledger)
    assert failed(checks) == {"max_leverage"}
    text = detail(checks, "max_leverage")
    assert "3.05x vs limit 3x" in text
    assert "pending entries $9,000.00" in text
    assert failed(check(trade(size=0.05), ledger=ledger)) == set()  # 2.95x


def test_pending_entries_are_priced_at_the_mark() -> None:
    ledger = Ledger(EQUITY)
    ledger.apply(order("0xsol", "SOL", 100.0, 150.0, status="submitted"))  # $15,000 at its reference price
    assert "1.55x" in detail(check(trade(size=0.05), ledger=ledger), "max_leverage")
    at_mark = check(trade(size=0.05), ledger=ledger, marks={"SOL": 250.0})  # $25,000 at the mark
    assert "2.55x" in detail(at_mark, "max_leverage")


def test_leverage_ignores_finished_entries_and_reduce_only_orders() -> None:
    ledger = Ledger(EQUITY)
    ledger.apply(position("ETH", 10.0, 2_000.0))  # $20,000 open
    ledger.apply(order("0xgone", "SOL", 60.0, 150.0, status="cancelled"))
    ledger.apply(order("0xstop", "ETH", 10.0, 1_940.0, status="submitted", role="stop"))
    ledger.apply(order("0xtarget", "ETH", 10.0, 2_200.0, status="submitted", role="target"))
    assert "2.15x" in detail(check(trade(size=0.15), ledger=ledger), "max_leverage")


def test_a_partly_filled_entry_counts_only_its_unfilled_rest() -> None:
    ledger = Ledger(EQUITY)
    ledger.apply(position("SOL", 40.0, 150.0))  # the filled part: $6,000
    ledger.apply(order("0xsol", "SOL", 100.0, 150.0, status="partially_filled", filled_size=40.0))  # $9,000 to go
    assert "1.55x" in detail(check(trade(size=0.05), ledger=ledger), "max_leverage")


def test_min_notional_is_ten_dollars() -> None:
    small = Ledger(100.0)
    checks = check(trade(size=0.05), ledger=small)  # $5
    assert failed(checks) == {"min_notional"}
    assert detail(checks, "min_notional") == "notional $5.00 vs minimum $10.00"
    assert failed(check(trade(size=0.1), ledger=small)) == set()  # exactly $10


def test_every_violation_is_named_at_once() -> None:
    ledger = Ledger(EQUITY)
    ledger.apply(order(CLOID, "BTC", 0.01, 50_000.0, status="submitted"))
    ledger.apply(position("ETH", 10.0, 3_000.0))
    checks = check(trade(size=0.5), ledger=ledger, policy=RiskPolicy(restricted_symbols=("BTC",)), state="HALTED")
    assert failed(checks) == {
        "trading_state",
        "restricted_symbol",
        "idempotency",
        "one_position_per_symbol",
        "max_position",
        "max_leverage",
        "sector_exposure",  # 50% of equity in BTC's sector, over 30%
    }


def test_max_open_positions_counts_positions_and_pending_entries() -> None:
    ledger = Ledger(EQUITY)
    ledger.apply(position("ETH", 0.1, 3_000.0))
    ledger.apply(order("0xsol", "SOL", 1.0, 150.0, status="submitted"))
    policy = RiskPolicy(max_open_positions=3)
    assert failed(check(trade(size=0.01), ledger=ledger, policy=policy)) == set()  # ETH, SOL + BTC = 3
    checks = check(trade(size=0.01), ledger=ledger, policy=RiskPolicy(max_open_positions=2))
    assert failed(checks) == {"max_open_positions"}
    assert (
        detail(checks, "max_open_positions")
        == "3 open positions and entries after this order vs limit 2 (ETH, SOL already)"
    )


def test_sector_exposure_sums_the_sectors_positions_pending_entries_and_this_order() -> None:
    ledger = Ledger(EQUITY)
    ledger.apply(position("ETH", 0.5, 3_000.0))  # $1,500 in smart-contract-platform
    ledger.apply(order("0xsol", "SOL", 10.0, 100.0, status="pending"))  # $1,000 in the same sector
    policy = RiskPolicy(sectors={"ETH": "l1", "SOL": "l1", "AVAX": "l1"}, max_sector_exposure=0.30)
    assert failed(check(trade("AVAX", size=0.05, entry=30.0), ledger=ledger, policy=policy)) == set()  # $3,000
    checks = check(trade("AVAX", size=0.06, entry=30.0), ledger=ledger, policy=policy)  # $3,100 > $3,000
    assert failed(checks) == {"sector_exposure"}
    assert detail(checks, "sector_exposure") == (
        "sector l1: $3,100.00 after order (open $1,500.00 + pending entries $1,000.00 + this order $600.00)"
        " vs limit 30% of equity $3,000.00"
    )
    # BTC is in no sector of this map: a sector of its own, which the others do not count towards.
    btc = check(trade("BTC", size=0.15), ledger=ledger, policy=policy)
    assert failed(btc) == set()
    assert detail(btc, "sector_exposure").startswith("sector BTC: $1,500.00")


def test_daily_loss_compares_equity_with_the_days_first_settled_cycle_in_event_time() -> None:
    day = 86_400_000
    ledger = Ledger(EQUITY)
    ledger.apply(
        CycleSettled(
            ts=0, cycle=1, as_of=20 * day + 3_600_000, cash=EQUITY, equity=EQUITY, exposure=0.0, open_positions=0
        )
    )
    ledger.apply(position("ETH", 1.0, 3_000.0))
    at_2500 = {"ETH": 2_500.0}  # -$500: 5% down, the default limit
    checks = check(trade(size=0.01), ledger=ledger, marks=at_2500, as_of=20 * day + 5 * 3_600_000)
    assert failed(checks) == {"daily_loss"}
    assert detail(checks, "daily_loss") == (
        "down 5.00% today (equity $9,500.00 vs $10,000.00 at the day's first cycle) vs limit 5%"
    )
    assert (
        failed(check(trade(size=0.01), ledger=ledger, marks={"ETH": 2_510.0}, as_of=20 * day + 5 * 3_600_000)) == set()
    )
    # The next UTC day starts afresh, whatever the wall clock says.
    assert failed(check(trade(size=0.01), ledger=ledger, marks=at_2500, as_of=21 * day)) == set()
    assert (
        failed(
            check(
                trade(size=0.01),
                ledger=ledger,
                marks=at_2500,
                as_of=20 * day + 5 * 3_600_000,
                policy=RiskPolicy(max_daily_loss_pct=6.0),
            )
        )
        == set()
    )
