"""The report of a small synthetic run, written through the real event log into SQLite, and read back."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pytest
import trio
from msgspec.structs import replace

from b1e55ed.backtest.report import Breakdown, build_report, to_json, write_report
from b1e55ed.eventlog.sqlite_store import SqliteStore
from b1e55ed.eventlog.store import StoreError
from b1e55ed.messages import (
    Check,
    CycleSettled,
    CycleStarted,
    Decision,
    Event,
    FundingPaid,
    KillSwitchChanged,
    RiskVerdict,
    RuntimeStarted,
    SignalRef,
    TradeDecided,
)
from tests import samples
from tests.eventlog_helpers import running_log

START = 1_704_067_200_000  # 2024-01-01 00:00 UTC
STEP = 6 * 3_600_000
DID = "0xd1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1"
EQUITY = [1000, 1000, 999, 1001, 1000, 991.5, 991.5, 991.5, 995, 990, 991.5, 991.5]


def at(cycle: int) -> int:
    return START + cycle * STEP


def cycle_events(cycle: int) -> list[Event]:
    closes = {"BTC": 100.0 + cycle} | ({"ETH": 10.0} if cycle > 1 else {})
    return [CycleStarted(ts=at(cycle), cycle=cycle, as_of=at(cycle), source="replay", closes=closes)]


def settled(cycle: int) -> CycleSettled:
    holding = 3 <= cycle < 6
    return CycleSettled(
        ts=at(cycle),
        cycle=cycle,
        as_of=at(cycle),
        cash=EQUITY[cycle - 1],
        equity=EQUITY[cycle - 1],
        exposure=206.0 if holding else 0.0,
        open_positions=1 if holding else 0,
    )


def trade_events(cycle: int) -> list[Event]:
    """A momentum long on BTC, decided in cycle 2, filled in 3, paid funding in 4, stopped out in 6."""
    opened = samples.position(
        ts=at(3), position_id=DID, entry_price=103.0, size=2.0, stop=100.0, target=113.0, opened_at=at(3), fees=1.0
    )
    trade = samples.trade(
        size=0.2, entry=102.0, stop=100.0, target=113.0, rationale="momentum +6% over 20 days", strategy="momentum"
    )
    check = Check("max_position", True, "size 20.00% vs limit 25.00%")
    events: dict[int, list[Event]] = {
        2: [
            Decision(
                ts=at(2),
                cycle=2,
                as_of=at(2),
                strategy="momentum",
                symbol="BTC",
                decision_id=DID,
                taken=True,
                reason="momentum long, volume confirms",
                direction="long",
                signals=[SignalRef("momentum", "long", 7)],
                sizing={"size": 0.2},
                trade=trade,
            ),
            RiskVerdict(
                ts=at(2), cycle=2, decision_id=DID, strategy="momentum", symbol="BTC", approved=True, checks=[check]
            ),
            TradeDecided(ts=at(2), trade=trade, cycle=2, decision_id=DID),
        ],
        3: [
            samples.fill(ts=at(3), cloid=DID, size=2.0, price=103.0, fee=1.0),
            opened,
        ],
        4: [
            FundingPaid(
                ts=at(4), symbol="BTC", rate=0.001, notional=208.0, amount=-0.5, venue="paper", funding_ts=at(4)
            )
        ],
        6: [
            samples.fill(ts=at(6), cloid="0xstop", side="sell", size=2.0, price=100.0, fee=1.0, role="stop"),
            replace(
                opened,
                ts=at(6),
                status="stopped",
                exit_price=100.0,
                pnl=-8.5,  # (100 - 103) × 2 - fees 2 - funding 0.5
                closed_at=at(6),
                fees=2.0,
            ),
        ],
        8: [
            KillSwitchChanged(
                ts=at(8), state="HALTED", previous="ACTIVE", cause="drawdown", detail="drawdown 21.0% ≥ limit 20%"
            )
        ],
    }
    return events.get(cycle, [])


def synthetic_run() -> list[Event]:
    events: list[Event] = [RuntimeStarted(ts=START, version="test", mode="paper", config_hash="c0ffee")]
    for cycle in range(1, len(EQUITY) + 1):
        events += [*cycle_events(cycle), *trade_events(cycle), settled(cycle)]
    return events


def write_log(db: Path, events: Sequence[Event]) -> None:
    async def main() -> None:
        store = await SqliteStore.open(db)
        try:
            async with running_log(store) as log:
                await log.append(*events)
        finally:
            await store.close()

    trio.run(main)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "brain.db"
    write_log(path, synthetic_run())
    return path


def test_the_trade_carries_its_decision_fees_funding_and_net_pnl(db: Path) -> None:
    report = build_report(db)
    (trade,) = report.trades
    assert (trade.decision_id, trade.strategy, trade.symbol, trade.status) == (DID, "momentum", "BTC", "stopped")
    assert (trade.pnl, trade.fees, trade.funding) == (-8.5, 2.0, -0.5)
    assert trade.notional == pytest.approx(206.0)
    (decision,) = report.decisions
    assert decision.decision_id == DID
    assert decision.rationale == "momentum +6% over 20 days"
    assert [c.name for c in decision.checks] == ["max_position"]


def test_the_summary_adds_up_the_log(db: Path) -> None:
    summary = build_report(db).summary
    assert summary.starting_equity == 1000
    assert summary.final_equity == 991.5
    assert summary.total_return == pytest.approx(-0.0085)
    assert summary.max_drawdown == pytest.approx(1 - 990 / 1001)
    assert summary.fees_paid == 2.0
    assert summary.funding_paid == 0.5
    assert (summary.closed_trades, summary.open_trades, summary.wins) == (1, 0, 0)
    assert summary.expectancy == -8.5
    assert summary.profit_factor == 0.0
    assert summary.exposure == pytest.approx(3 / 12)
    # BTC 101 → 112 for half, ETH flat from its first close for the other half
    assert summary.buy_and_hold_return == pytest.approx((112 / 101 - 1) / 2)


def test_breakdowns_by_strategy_and_by_symbol(db: Path) -> None:
    report = build_report(db)
    for rows, name in ((report.by_strategy, "momentum"), (report.by_symbol, "BTC")):
        assert rows == [
            Breakdown(
                name=name,
                trades=1,
                open=0,
                wins=0,
                win_rate=0.0,
                pnl=-8.5,
                profit_factor=0.0,
                expectancy=-8.5,
                fees=2.0,
                funding=-0.5,
            )
        ]


def test_the_run_names_its_log_and_its_symbols(db: Path) -> None:
    run = build_report(db).run
    assert run.symbols == ["BTC", "ETH"]
    assert (run.cycles, run.candles, run.days) == (12, 23, 3)
    assert run.config_hashes == ["c0ffee"]
    assert run.events == len(synthetic_run())
    assert re.fullmatch(r"[0-9a-f]{64}", run.head)


def test_the_same_log_gives_byte_identical_json(db: Path, tmp_path: Path) -> None:
    first, _ = write_report(build_report(db), tmp_path / "a")
    second, _ = write_report(build_report(db), tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()
    assert to_json(build_report(db)) == first.read_bytes()


def test_a_halt_is_at_the_top_of_the_page_with_its_time_and_cause(db: Path, tmp_path: Path) -> None:
    report = build_report(db)
    assert [(h.cause, h.ts) for h in report.halts] == [("drawdown", at(8))]
    _, html_path = write_report(report, tmp_path / "out")
    html = html_path.read_text(encoding="utf-8")
    halt = html.index('class="halt"')
    assert halt < html.index("<h2>")
    assert "2024-01-03 00:00 UTC" in html[halt : halt + 300]
    assert "drawdown 21.0% ≥ limit 20%" in html[halt : halt + 300]
    assert html.count("HALTED (drawdown)") == 2  # marked on the equity and drawdown charts


def test_the_page_is_self_contained_and_links_each_trade_to_its_decision(db: Path, tmp_path: Path) -> None:
    _, html_path = write_report(build_report(db), tmp_path / "out")
    html = html_path.read_text(encoding="utf-8")
    assert "http://" not in html
    assert "https://" not in html
    assert "<script" not in html
    assert "<svg" in html
    assert f'href="#d-{DID}"' in html
    assert f'id="d-{DID}"' in html


def test_a_log_without_cycles_still_makes_a_report(tmp_path: Path) -> None:
    db = tmp_path / "empty.db"
    write_log(db, [RuntimeStarted(ts=START, version="test", mode="paper", config_hash="c0ffee")])
    report = build_report(db)
    assert report.summary.starting_equity is None
    assert report.trades == []
    _, html_path = write_report(report, tmp_path / "out")
    assert "no settled cycle" in html_path.read_text(encoding="utf-8")


def test_a_missing_database_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"nothing\.db: no such database"):
        build_report(tmp_path / "nothing.db")
